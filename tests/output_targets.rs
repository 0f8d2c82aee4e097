//! Every command's outputs land where the path points without damaging what is there: a null
//! or full character device, a FIFO with a reader, a symlink into another folder, a read-only
//! folder, `-` for standard output, and an existing file whose permissions and owner are kept.
//!
//! The special files are made here, in a temporary folder (mknod needs root: CI runs as root,
//! so there every case runs; elsewhere the device cases are skipped with a message). Nothing is
//! ever written under /dev.

mod common;

use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::cli::{files_in, have_gpu, write_random_npy as write_npy};
use common::tiny_bert::{TinySizes, write_tiny_bert};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// One command whose output flag is varied, with the inputs it needs written into the folder.
struct Case {
    name: &'static str,
    /// Arguments before the output flag.
    args: Vec<String>,
    /// The flag that names the output file.
    flag: &'static str,
    /// The first bytes every output of this kind begins with.
    magic: &'static [u8],
}

/// The commands and flags under test, their inputs written into `dir`.
fn cases(dir: &Path) -> Vec<Case> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    write_npy(&dir.join("x.npy"), &[5, 8], 1);
    write_npy(&dir.join("q.npy"), &[3, 4], 2);
    write_npy(&dir.join("k.npy"), &[7, 4], 3);
    write_npy(&dir.join("v.npy"), &[7, 5], 4);
    let model = dir.join("tiny-bert");
    write_tiny_bert(&model, TinySizes::default(), 5);
    let model = model.display().to_string();
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    vec![
        Case {
            name: "run --out",
            args: s(&["run"]),
            flag: "--out",
            magic: PNG,
        },
        Case {
            name: "run --html",
            args: s(&["run", "--no-heatmap"]),
            flag: "--html",
            magic: b"<!DOCTYPE html>",
        },
        Case {
            name: "mha --out",
            args: s(&[
                "mha",
                "--embed-dim",
                "8",
                "--heads",
                "2",
                "--query",
                "x.npy",
            ]),
            flag: "--out",
            magic: PNG,
        },
        Case {
            name: "sdpa --out",
            args: s(&["sdpa", "--q", "q.npy", "--k", "k.npy", "--v", "v.npy"]),
            flag: "--out",
            magic: PNG,
        },
        Case {
            name: "model --out",
            args: s(&["model", "--model", &model, "--text", "the cat sat"]),
            flag: "--out",
            magic: PNG,
        },
        Case {
            name: "bench --json",
            args: s(&["bench", "--sizes", "5", "--runs", "1", "--kernel", "naive"]),
            flag: "--json",
            magic: b"[",
        },
    ]
}

struct Outcome {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

/// Runs the binary in `dir` with `args` then `flag target`.
fn run_case(
    dir: &Path,
    case: &Case,
    target: &str,
    configure: impl FnOnce(&mut Command),
) -> Outcome {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("selfattn"));
    cmd.current_dir(dir)
        .args(&case.args)
        .args([case.flag, target])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    configure(&mut cmd);
    let out = cmd.output().unwrap();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn mknod_char(path: &Path, major: u32, minor: u32) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid path in our temporary folder; makedev/mknod take plain integers.
    let rc = unsafe {
        libc::mknod(
            c.as_ptr(),
            libc::S_IFCHR | 0o666,
            libc::makedev(major, minor),
        )
    };
    assert_eq!(
        rc,
        0,
        "mknod {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid path in our temporary folder.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

/// No temporary file (".name.tmp-…") anywhere under `dir`.
fn assert_no_temporaries(dir: &Path, case: &str) {
    let left: Vec<String> = files_in(dir)
        .into_iter()
        .filter(|f| f.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{case}: temporary files left: {left:?}");
}

fn assert_ok(case: &Case, kind: &str, r: &Outcome) {
    assert_eq!(r.code, 0, "{} into {kind}: {}", case.name, r.stderr);
}

#[test]
fn null_and_full_devices_are_written_through_never_replaced() {
    if !have_gpu() {
        return;
    }
    if !is_root() {
        eprintln!("skipping: mknod needs root (CI runs as root, so it runs there)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for case in cases(d) {
        let null = d.join("null");
        let full = d.join("full");
        mknod_char(&null, 1, 3);
        mknod_char(&full, 1, 7);

        let r = run_case(d, &case, "null", |_| {});
        assert_ok(&case, "a null device", &r);
        let meta = fs::symlink_metadata(&null).unwrap();
        assert!(
            meta.file_type().is_char_device(),
            "{}: null replaced",
            case.name
        );
        assert_eq!(meta.rdev(), libc::makedev(1, 3));

        let r = run_case(d, &case, "full", |_| {});
        assert_eq!(r.code, 1, "{} into a full device: {}", case.name, r.stderr);
        assert!(
            r.stderr.contains("full") && r.stderr.contains("No space left"),
            "{}: {}",
            case.name,
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        assert!(
            fs::symlink_metadata(&full)
                .unwrap()
                .file_type()
                .is_char_device()
        );
        assert_no_temporaries(d, case.name);
        fs::remove_file(&null).unwrap();
        fs::remove_file(&full).unwrap();
    }
}

#[test]
fn a_fifo_with_a_reader_gets_the_bytes_and_stays_a_fifo() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for case in cases(d) {
        let fifo = d.join("pipe");
        mkfifo(&fifo);
        let reader_path = fifo.clone();
        let (send, received) = std::sync::mpsc::channel();
        // A reader that never sees a writer (the FIFO replaced by a file) stays blocked in
        // open: the test waits a bounded time for it rather than for ever.
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            fs::File::open(&reader_path)
                .unwrap()
                .read_to_end(&mut bytes)
                .unwrap();
            let _ = send.send(bytes);
        });
        let r = run_case(d, &case, "pipe", |_| {});
        assert_ok(&case, "a FIFO", &r);
        let got = received
            .recv_timeout(std::time::Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{}: the FIFO's reader got nothing", case.name));
        assert!(
            got.starts_with(case.magic),
            "{}: the reader got {} bytes starting {:?}",
            case.name,
            got.len(),
            &got[..got.len().min(16)]
        );
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
        assert_no_temporaries(d, case.name);
        fs::remove_file(&fifo).unwrap();
    }
}

#[test]
fn a_symlink_is_followed_and_stays_a_link() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir(d.join("real")).unwrap();
    for case in cases(d) {
        // A relative link to a file that does not exist yet, then (second run) to one that does.
        symlink("real/target", d.join("link")).unwrap();
        for round in ["new", "existing"] {
            let r = run_case(d, &case, "link", |_| {});
            assert_ok(&case, "a symlink", &r);
            assert!(
                fs::symlink_metadata(d.join("link"))
                    .unwrap()
                    .file_type()
                    .is_symlink(),
                "{} ({round}): the link was replaced",
                case.name
            );
            let written = fs::read(d.join("real/target")).unwrap();
            assert!(written.starts_with(case.magic), "{} ({round})", case.name);
            assert_no_temporaries(d, case.name);
        }
        fs::remove_file(d.join("link")).unwrap();
        fs::remove_file(d.join("real/target")).unwrap();
    }
    // A link into a folder that does not exist is refused up front, naming the link.
    symlink("missing/target.png", d.join("dangling.png")).unwrap();
    let case = &cases(d)[0];
    let r = run_case(d, case, "dangling.png", |_| {});
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("dangling.png") && r.stderr.contains("missing"),
        "{}",
        r.stderr
    );
}

#[test]
fn standard_output_holds_the_file_alone() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for case in cases(d) {
        let before = files_in(d);
        let r = run_case(d, &case, "-", |_| {});
        assert_ok(&case, "-", &r);
        assert!(
            r.stdout.starts_with(case.magic),
            "{}: stdout starts {:?}",
            case.name,
            String::from_utf8_lossy(&r.stdout[..r.stdout.len().min(40)])
        );
        assert!(
            r.stderr.contains("standard output"),
            "{}: {}",
            case.name,
            r.stderr
        );
        assert_eq!(files_in(d), before, "{}: wrote a file", case.name);
    }
    // The same file to standard output twice is refused before any work.
    let case = &cases(d)[0];
    let r = run_case(d, case, "-", |c| {
        c.args(["--html", "-"]);
    });
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--out and --html"), "{}", r.stderr);
}

/// `--out -` into a pipe whose reader has gone: a clear error and exit 1 (EPIPE), not a silent
/// death by SIGPIPE, since the picture was not delivered.
#[test]
fn standard_output_closed_is_an_error() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let case = &cases(d)[0];
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("selfattn"))
        .current_dir(d)
        .args(&case.args)
        .args(["--out", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{:?} {stderr}", out.status);
    assert!(
        stderr.contains("standard output") && stderr.contains("Broken pipe"),
        "{stderr}"
    );
}

#[test]
fn an_existing_file_keeps_its_permissions_and_owner() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for case in cases(d) {
        let file = d.join("kept");
        fs::write(&file, b"old").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();
        if is_root() {
            std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
        }
        let r = run_case(d, &case, "kept", |_| {});
        assert_ok(&case, "an existing file", &r);
        let meta = fs::metadata(&file).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o640, "{}", case.name);
        if is_root() {
            assert_eq!((meta.uid(), meta.gid()), (65534, 65534), "{}", case.name);
        }
        assert!(fs::read(&file).unwrap().starts_with(case.magic));
        fs::remove_file(&file).unwrap();
    }
}

/// A folder the user may not write in is refused before any work, naming it, and nothing is
/// created. As root (CI) every folder is writable, so the run drops to user `nobody` with
/// setpriv for this one.
#[test]
fn a_read_only_folder_is_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
    let cases = cases(d);
    let ro = d.join("ro");
    fs::create_dir(&ro).unwrap();
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).unwrap();
    let runtime = d.join("runtime");
    fs::create_dir(&runtime).unwrap();
    fs::set_permissions(&runtime, fs::Permissions::from_mode(0o777)).unwrap();
    let setpriv = Path::new("/usr/bin/setpriv");
    if is_root() && !setpriv.exists() {
        panic!("running as root, this test needs /usr/bin/setpriv (util-linux) to drop to nobody");
    }
    for case in &cases {
        let r = run_case(d, case, "ro/out", |c| {
            c.env("XDG_RUNTIME_DIR", &runtime);
            if is_root() {
                let program = PathBuf::from(c.get_program());
                let args: Vec<_> = c.get_args().map(|a| a.to_owned()).collect();
                let mut wrapped = Command::new(setpriv);
                wrapped
                    .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                    .arg(program)
                    .args(args)
                    .current_dir(c.get_current_dir().unwrap())
                    .env("XDG_RUNTIME_DIR", &runtime)
                    .stdin(Stdio::null());
                *c = wrapped;
                c.stdout(Stdio::piped()).stderr(Stdio::piped());
            }
        });
        assert_eq!(r.code, 1, "{}: {}", case.name, r.stderr);
        assert!(
            r.stderr.contains("ro/out") && r.stderr.contains("not writable"),
            "{}: {}",
            case.name,
            r.stderr
        );
        assert!(fs::read_dir(&ro).unwrap().next().is_none(), "{}", case.name);
    }
}

/// `--save DIR`: the folder may be a symlink to a folder, and a file in it a symlink or a null
/// device; each is followed or written through like any other output.
#[test]
fn save_folder_files_follow_the_same_rules() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir_all(d.join("elsewhere/real")).unwrap();
    symlink("elsewhere", d.join("saved")).unwrap();
    symlink("real/weights.npy", d.join("elsewhere/weights.npy")).unwrap();
    if is_root() {
        mknod_char(&d.join("elsewhere/output.npy"), 1, 3);
    }
    let r = common::cli::run(d, &["run", "--no-heatmap", "--save", "saved"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        fs::symlink_metadata(d.join("saved"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let link = fs::symlink_metadata(d.join("elsewhere/weights.npy")).unwrap();
    assert!(link.file_type().is_symlink());
    assert!(
        fs::read(d.join("elsewhere/real/weights.npy"))
            .unwrap()
            .starts_with(b"\x93NUMPY")
    );
    if is_root() {
        let dev = fs::symlink_metadata(d.join("elsewhere/output.npy")).unwrap();
        assert!(dev.file_type().is_char_device());
    }
    assert_no_temporaries(d, "run --save");
}
