//! `--html FILE` on `run`, `mha` and `sdpa` as a user meets it: the page is written (with or
//! without the PNG), holds every map it should, and every refusal comes before any work, with
//! the right exit code and nothing left behind. The page's behaviour in a browser is tested in
//! `viewer_browser.rs`.
//!
//! GPU-backed runs are skipped without an adapter, unless SELFATTN_REQUIRE_GPU=1.

mod common;

use std::path::Path;

use selfattn::npy::write_array;

use common::cli::{ok, run};

/// The folder's entries (not recursive), sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn inputs(dir: &Path) {
    let v = |n: usize, salt: usize| -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 37 + salt * 11) % 19) as f32 - 9.0) * 0.1)
            .collect()
    };
    write_array(&dir.join("x.npy"), &[2, 4, 8], &v(64, 0)).unwrap();
    // sdpa: (batch 2, heads 3, L 4, E 8).
    write_array(&dir.join("q.npy"), &[2, 3, 4, 8], &v(192, 1)).unwrap();
    write_array(&dir.join("k.npy"), &[2, 3, 4, 8], &v(192, 2)).unwrap();
    write_array(&dir.join("v.npy"), &[2, 3, 4, 8], &v(192, 3)).unwrap();
}

const MHA: [&str; 7] = [
    "mha",
    "--embed-dim",
    "8",
    "--heads",
    "2",
    "--query",
    "x.npy",
];
const SDPA: [&str; 7] = ["sdpa", "--q", "q.npy", "--k", "k.npy", "--v", "v.npy"];

fn with<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(extra).copied().collect()
}

/// Exit `code`, every needle in stderr, no "Adapter:" line (refused before any GPU work), no
/// panic, nothing written.
fn refused(dir: &Path, code: i32, args: &[&str], needles: &[&str]) {
    let before = files_in(dir);
    let r = run(dir, args);
    assert_eq!(r.code, code, "{args:?}\n{}\n{}", r.stdout, r.stderr);
    for n in needles {
        assert!(r.stderr.contains(n), "{args:?}: no '{n}' in {}", r.stderr);
    }
    assert!(
        !r.stdout.contains("Adapter:"),
        "{args:?} ran on the GPU first"
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert_eq!(files_in(dir), before, "{args:?} left files behind");
}

#[test]
fn html_without_weights_is_a_usage_error_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    inputs(d);
    let needles = ["--html", "--no-weights"];
    refused(d, 2, &["--no-weights", "--html", "v.html"], &needles);
    refused(d, 2, &["run", "--no-weights", "--html", "v.html"], &needles);
    refused(
        d,
        2,
        &with(&MHA, &["--no-weights", "--html", "v.html"]),
        &needles,
    );
    refused(
        d,
        2,
        &with(&SDPA, &["--no-weights", "--html", "v.html"]),
        &needles,
    );
}

#[test]
fn unwritable_html_target_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    inputs(d);
    std::fs::create_dir(d.join("folder.html")).unwrap();
    for target in ["missing/v.html", "folder.html"] {
        refused(d, 1, &["--html", target], &["cannot write", target]);
        refused(d, 1, &with(&MHA, &["--html", target]), &[target]);
        refused(d, 1, &with(&SDPA, &["--html", target]), &[target]);
    }
}

fn page(dir: &Path, name: &str) -> String {
    let html = std::fs::read_to_string(dir.join(name)).unwrap();
    assert!(
        html.contains("Content-Security-Policy"),
        "{name} has no CSP"
    );
    assert!(html.trim_end().ends_with("</html>"), "{name} is cut short");
    html
}

/// The ids of the page's weight maps, in order.
fn maps(html: &str) -> Vec<String> {
    html.match_indices("type=\"application/octet-stream\" id=\"")
        .map(|(at, m)| {
            let rest = &html[at + m.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

#[test]
fn run_writes_the_page_with_or_without_the_png() {
    if common::gpu().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stdout = ok(d, &["--no-heatmap", "--html", "v.html"]);
    assert!(stdout.contains("Viewer written to v.html"), "{stdout}");
    assert_eq!(files_in(d), ["v.html"]);
    let html = page(d, "v.html");
    assert_eq!(maps(&html), ["w-0-0-0"]);
    for needle in [
        "\"I\"",
        "\"love\"",
        "\"AI\"",
        "Self-Attention Heatmap (NumPy)",
    ] {
        assert!(html.contains(needle), "page lacks {needle}");
    }
    ok(d, &["--example", "pytorch", "--html", "p.html"]);
    assert_eq!(files_in(d), ["attention_heatmap.png", "p.html", "v.html"]);
    assert!(page(d, "p.html").contains("\"colormap\":\"blues\""));
}

#[test]
fn mha_page_holds_every_head_and_the_average_of_every_batch_element() {
    if common::gpu().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    inputs(d);
    ok(d, &with(&MHA, &["--no-heatmap", "--html", "m.html"]));
    assert_eq!(files_in(d)[..2], ["k.npy", "m.html"]);
    assert!(!d.join("attention_heatmap.png").exists());
    let html = page(d, "m.html");
    assert_eq!(
        maps(&html),
        [
            "w-0-0-0", "w-0-0-1", "w-0-0-2", "w-1-0-0", "w-1-0-1", "w-1-0-2"
        ]
    );
    assert!(html.contains("\"heads\":[\"Head 0\",\"Head 1\",\"Average\"]"));
    // 4 × 4 f32 = 64 bytes = 88 base64 characters per map.
    let start = html.find("id=\"w-1-0-2\">").unwrap() + "id=\"w-1-0-2\">".len();
    assert_eq!(html[start..].find("</script>"), Some(88));
    // With the PNG too.
    ok(d, &with(&MHA, &["--per-head", "--html", "m2.html"]));
    assert!(d.join("attention_heatmap.png").exists());
    assert_eq!(maps(&page(d, "m2.html")).len(), 6);
}

#[test]
fn sdpa_page_has_batch_elements_and_heads_from_the_leading_axes() {
    if common::gpu().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    inputs(d);
    let stdout = ok(d, &with(&SDPA, &["--causal", "--html", "s.html"]));
    assert!(stdout.contains("Viewer written to s.html"), "{stdout}");
    let html = page(d, "s.html");
    let ids = maps(&html);
    assert_eq!(ids.len(), 2 * 4, "2 batch elements × (3 heads + average)");
    assert_eq!(ids[7], "w-1-0-3");
    assert!(html.contains("\"causal\":true"));
    assert!(html.contains("\"label\":\"batch element 1\""));
    // --show-masked draws the triangle in the page too.
    ok(
        d,
        &with(&SDPA, &["--causal", "--show-masked", "--html", "s.html"]),
    );
    assert!(page(d, "s.html").contains("\"causal\":false"));
}
