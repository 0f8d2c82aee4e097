//! Sizes beyond host memory are refused before any work, on every command, with a message that
//! names the size, the limit and the flag that avoids it. `SELFATTN_HOST_MEMORY` stands in for a
//! small machine, so the refusals are tested at sizes that run quickly; without it the same
//! check uses the memory the machine has now (a unit test in src/limits.rs).

mod common;

use std::path::Path;

use common::cli::{files_in, run_with_env, write_random_npy as write_npy};
use common::tiny_bert::{TinySizes, write_tiny_bert};

/// Runs `args` under a host memory limit of `limit`; it must be refused (exit 1) before any GPU
/// work, naming the limit and `hint`, and write nothing.
fn refused(dir: &Path, limit: &str, args: &[&str], hint: &str) {
    let before = files_in(dir);
    let r = run_with_env(dir, &[("SELFATTN_HOST_MEMORY", limit)], args);
    assert_eq!(r.code, 1, "{args:?}: {}\n{}", r.stderr, r.stdout);
    for needle in [
        "host memory",
        &format!("SELFATTN_HOST_MEMORY={limit}"),
        hint,
    ] {
        assert!(
            r.stderr.contains(needle),
            "{args:?}: no {needle:?} in {}",
            r.stderr
        );
    }
    assert!(
        !r.stdout.contains("Adapter:"),
        "{args:?}: work began: {}",
        r.stdout
    );
    assert_eq!(files_in(dir), before, "{args:?} wrote files");
}

#[test]
fn every_command_refuses_what_the_host_cannot_hold() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_npy(&d.join("x.npy"), &[300, 8], 1);
    write_npy(&d.join("q.npy"), &[2, 300, 4], 2);
    write_npy(&d.join("v.npy"), &[2, 300, 3], 3);
    write_tiny_bert(&d.join("tiny"), TinySizes::default(), 5);
    let weights_hint = "--no-weights";
    refused(d, "64K", &["run", "--embeddings", "x.npy"], weights_hint);
    refused(
        d,
        "64K",
        &[
            "mha",
            "--embed-dim",
            "8",
            "--heads",
            "2",
            "--query",
            "x.npy",
        ],
        weights_hint,
    );
    refused(
        d,
        "64K",
        &["sdpa", "--q", "q.npy", "--k", "q.npy", "--v", "v.npy"],
        weights_hint,
    );
    // Above each of the tiny model's files (they are read whole, and checked too), below what
    // a 19-token sentence's attentions and activations take.
    refused(
        d,
        "8K",
        &[
            "model",
            "--model",
            "tiny",
            "--text",
            "the cat sat on the mat . the dog ran on the mat . a cat sat , un",
        ],
        "fewer or shorter sentences",
    );
    refused(d, "64K", &["bench", "--sizes", "5,300"], "smaller --sizes");
    // Input files are read whole, so one larger than the limit is refused before it is read.
    refused(
        d,
        "1K",
        &["model", "--model", "tiny", "--text", "the cat"],
        "tokenizer.json) is read whole",
    );

    // The same runs fit a limit large enough: the estimate is not a blanket refusal.
    let r = run_with_env(
        d,
        &[("SELFATTN_HOST_MEMORY", "64K")],
        &["run", "--embeddings", "x.npy", "--no-weights"],
    );
    assert!(!r.stderr.contains("host memory"), "{}", r.stderr);
}

#[test]
fn a_viewer_page_beyond_its_limit_is_refused_up_front() {
    // 2^28 weights is the most one page may hold; (N = 16,385)² is just past it with one map.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_npy(&d.join("x.npy"), &[16_385, 1], 4);
    let before = files_in(d);
    let r = common::cli::run(d, &["run", "--embeddings", "x.npy", "--html", "page.html"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("--html would hold") && r.stderr.contains("drop --html"),
        "{}",
        r.stderr
    );
    assert!(!r.stdout.contains("Adapter:"), "{}", r.stdout);
    assert_eq!(files_in(d), before);
}

#[test]
fn a_bad_limit_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let r = run_with_env(dir.path(), &[("SELFATTN_HOST_MEMORY", "lots")], &["run"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("SELFATTN_HOST_MEMORY"), "{}", r.stderr);
}
