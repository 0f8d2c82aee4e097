//! Ctrl-C (SIGINT) or SIGTERM at any point of a run — GPU work, drawing, writing — leaves no
//! temporary file behind and no partial target: each output is either absent or complete, and
//! the process exits with 128 + the signal's number.
//!
//! The points are spread over the length of an uninterrupted run, and one more is taken the
//! moment a temporary file appears (polled every millisecond), so writing is hit for certain.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::cli::{files_in, have_gpu};

/// Large enough that each phase takes a while (weights.npy is N²·4 bytes), small enough for CI.
const N: usize = 1100;
const D: usize = 16;

fn start(dir: &Path) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("selfattn"))
        .current_dir(dir)
        .args([
            "run",
            "--embeddings",
            "x.npy",
            "--out",
            "map.png",
            "--html",
            "page.html",
            "--save",
            "saved/deeper",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill with a child's pid and a valid signal number.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

/// Every output is absent or complete; nothing temporary is left; an empty folder the run made
/// is gone.
fn check_outputs(dir: &Path, what: &str) {
    let files = files_in(dir);
    let temporaries: Vec<&String> = files.iter().filter(|f| f.contains(".tmp-")).collect();
    assert!(temporaries.is_empty(), "{what}: left {temporaries:?}");
    if dir.join("map.png").exists() {
        image::open(dir.join("map.png")).unwrap_or_else(|e| panic!("{what}: map.png: {e}"));
    }
    if dir.join("page.html").exists() {
        let page = std::fs::read_to_string(dir.join("page.html")).unwrap();
        assert!(
            page.trim_end().ends_with("</html>"),
            "{what}: page.html cut short"
        );
    }
    for (name, shape) in [("weights.npy", [N, N]), ("output.npy", [N, D])] {
        let path = dir.join("saved/deeper").join(name);
        if path.exists() {
            let a =
                selfattn::npy::read_array(&path, name).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(a.shape, shape, "{what}: {name}");
        }
    }
    for folder in ["saved/deeper", "saved"] {
        let path = dir.join(folder);
        if path.exists() {
            assert!(
                std::fs::read_dir(&path).unwrap().next().is_some(),
                "{what}: the empty folder {folder} the run made is left behind"
            );
        }
    }
}

/// Waits for an interrupted child and checks how it ended.
fn finish(child: Child, sig: i32, what: &str) -> bool {
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    match out.status.code() {
        // The run finished before the signal came: a complete run, not an interruption.
        Some(0) => false,
        Some(code) => {
            assert_eq!(code, 128 + sig, "{what}: {stderr}");
            true
        }
        None => panic!("{what}: killed by a signal the cleanup did not catch: {stderr}"),
    }
}

fn fresh_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = selfattn::numpy_rng::NumpyRng::new(3);
    let x: Vec<f32> = rng.randn(N * D).into_iter().map(|v| v as f32).collect();
    selfattn::npy::write_array(&dir.path().join("x.npy"), &[N, D], &x).unwrap();
    dir
}

#[test]
fn signals_leave_no_temporary_files_and_no_partial_outputs() {
    if !have_gpu() {
        return;
    }
    // An uninterrupted run: its length spaces the signals, and its outputs pass the same check.
    let dir = fresh_dir();
    let begun = Instant::now();
    let out = start(dir.path()).wait_with_output().unwrap();
    let length = begun.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_outputs(dir.path(), "uninterrupted");
    assert!(dir.path().join("saved/deeper/weights.npy").exists());

    let mut interrupted = 0;
    for (i, fraction) in [0.05, 0.2, 0.4, 0.6, 0.8, 0.95].into_iter().enumerate() {
        let sig = if i % 2 == 0 {
            libc::SIGINT
        } else {
            libc::SIGTERM
        };
        let dir = fresh_dir();
        let child = start(dir.path());
        std::thread::sleep(length.mul_f64(fraction));
        signal(&child, sig);
        let what = format!("signal {sig} at {:.0} % of the run", fraction * 100.0);
        interrupted += finish(child, sig, &what) as usize;
        check_outputs(dir.path(), &what);
    }
    assert!(
        interrupted >= 3,
        "only {interrupted} of 6 signals came before the run ended"
    );

    // The moment a temporary file exists: writing is under way.
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let dir = fresh_dir();
        let child = start(dir.path());
        let deadline = Instant::now() + length * 4 + Duration::from_secs(30);
        let seen = loop {
            let files = files_in(dir.path());
            if let Some(t) = files.iter().find(|f| f.contains(".tmp-")) {
                break Some(t.clone());
            }
            if Instant::now() > deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let seen = seen.expect("no temporary file was ever seen");
        signal(&child, sig);
        let what = format!("signal {sig} while {seen} was being written");
        finish(child, sig, &what);
        check_outputs(dir.path(), &what);
    }
}
