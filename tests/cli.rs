//! The command line as a user meets it: output, files, and the exit code of every bad input.
//!
//! GPU-backed runs use whatever adapter `WGPU_BACKEND` selects (CI runs this file on lavapipe
//! Vulkan and on llvmpipe GL). Without an adapter they are skipped, unless SELFATTN_REQUIRE_GPU=1.

mod common;

use std::path::Path;

use selfattn::npy::read_array;

use common::cli::{files_in, have_gpu, npy, randn, run};

/// NumPy's randn values, halved (inputs of a comfortable size for the checks).
fn values(n: usize, seed: u32) -> Vec<f32> {
    randn(n, seed).into_iter().map(|v| v * 0.5).collect()
}

#[test]
fn default_run_prints_the_seed_numbers_and_writes_the_heatmap() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for row in [
        "0.5853   0.2707   0.1440",
        "0.5058   0.0887   0.4056",
        "0.7072   0.1369   0.1558",
        "-1.3033   1.5839  -1.8859",
    ] {
        assert!(r.stdout.contains(row), "missing {row} in\n{}", r.stdout);
    }
    for needle in [
        "Adapter:",
        "max abs err",
        "max |row sum − 1|",
        "upload",
        "CPU reference",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing {needle} in\n{}",
            r.stdout
        );
    }
    assert_eq!(files_in(dir.path()), ["attention_heatmap.png"]);
    let img = image::open(dir.path().join("attention_heatmap.png")).unwrap();
    assert!(img.width() > 100 && img.height() > 100);
}

#[test]
fn save_writes_what_the_gpu_computed() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &["--example", "pytorch", "--save", "out", "--no-heatmap"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let w = read_array(&dir.path().join("out/weights.npy"), "weights").unwrap();
    let o = read_array(&dir.path().join("out/output.npy"), "output").unwrap();
    assert_eq!(w.shape, [4, 4]);
    assert_eq!(o.shape, [4, 8]);
    for row in w.data.chunks(4) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
    // The printed first row equals the saved one.
    let printed = format!("{:>9.4}{:>9.4}", w.data[0], w.data[1]);
    assert!(
        r.stdout.contains(&printed),
        "{printed} not in\n{}",
        r.stdout
    );
    assert!(!dir.path().join("attention_heatmap.png").exists());
}

#[test]
fn text_input_with_causal_mask() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &[
            "--text",
            "The quick brown fox, it jumps!",
            "--causal",
            "--d-model",
            "17",
            "--d-k",
            "5",
            "--save",
            ".",
            "--out",
            "fox.png",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("Tokens (8)"), "{}", r.stdout);
    let w = read_array(&dir.path().join("weights.npy"), "weights").unwrap();
    assert_eq!(w.shape, [8, 8]);
    for i in 0..8 {
        for j in i + 1..8 {
            assert_eq!(w.data[i * 8 + j], 0.0, "causal weight [{i}, {j}]");
        }
    }
    assert_eq!(w.data[0], 1.0);
    assert!(dir.path().join("fox.png").exists());
}

#[test]
fn embeddings_from_npy_with_labels() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    npy(dir.path(), "x.npy", &[5, 7], &values(35, 1));
    npy(dir.path(), "wq.npy", &[7, 3], &values(21, 2));
    // d_v defaults to W_Q's width (3), so W_O is 3×2.
    npy(dir.path(), "wo.npy", &[3, 2], &values(6, 3));
    let r = run(
        dir.path(),
        &[
            "--embeddings",
            "x.npy",
            "--wq",
            "wq.npy",
            "--wo",
            "wo.npy",
            "--tokens",
            "a b c d e",
            "--save",
            "s",
            "--no-heatmap",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("W_O 3×2"), "{}", r.stdout);
    let o = read_array(&dir.path().join("s/output.npy"), "output").unwrap();
    assert_eq!(o.shape, [5, 2]);
}

#[test]
fn token_labels_from_a_file() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    npy(dir.path(), "x.npy", &[3, 5], &values(15, 21));
    std::fs::write(dir.path().join("tokens.txt"), "alpha\n\nbeta\n  gamma  \n").unwrap();
    let r = run(
        dir.path(),
        &[
            "--embeddings",
            "x.npy",
            "--tokens-file",
            "tokens.txt",
            "--no-heatmap",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("Tokens (3): alpha | beta | gamma"),
        "{}",
        r.stdout
    );
    // A file with the wrong number of labels is refused, naming both counts.
    std::fs::write(dir.path().join("two.txt"), "a\nb\n").unwrap();
    bad(
        dir.path(),
        &["--embeddings", "x.npy", "--tokens-file", "two.txt"],
        &["2 token labels", "3 rows"],
    );
    bad(
        dir.path(),
        &["--embeddings", "x.npy", "--tokens-file", "missing.txt"],
        &["missing.txt"],
    );
}

#[test]
fn explain_walks_every_stage() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &["explain"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for needle in [
        "Q = X · W_Q",
        "K = X · W_K",
        "V = X · W_V",
        "S = Q · Kᵀ",
        "√d_k",
        "softmax",
        "O = P · V",
        "-3.5213",
        "0.5853",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing {needle} in\n{}",
            r.stdout
        );
    }
    assert_eq!(r.stdout.matches("check:").count(), 7, "{}", r.stdout);
    assert!(!r.stdout.contains("FAIL"));
}

#[test]
fn tolerance_beyond_reach_exits_3_naming_stage_and_element() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &["--tolerance", "1e-15", "--no-heatmap"]);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("stage 'weights'") && r.stderr.contains("element ["),
        "{}",
        r.stderr
    );
}

#[test]
fn missing_adapter_exits_4_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &["--adapter", "no-such-adapter-xyz"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("mesa-vulkan-drivers"), "{}", r.stderr);
    assert!(files_in(dir.path()).is_empty());
}

#[test]
fn devices_lists_adapters_and_limits() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &["devices"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for needle in [
        "backend:",
        "device type:",
        "storage binding",
        "subgroups",
        "timestamps",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing {needle} in\n{}",
            r.stdout
        );
    }
}

/// Runs a bad input and checks: exit 1, every `needle` in stderr, no file left behind except
/// the inputs.
fn bad(dir: &Path, args: &[&str], needles: &[&str]) {
    let before = files_in(dir);
    let r = run(dir, args);
    assert_eq!(
        r.code, 1,
        "{args:?}\nstdout {}\nstderr {}",
        r.stdout, r.stderr
    );
    for n in needles {
        assert!(
            r.stderr.contains(n),
            "{args:?}: missing '{n}' in: {}",
            r.stderr
        );
    }
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert_eq!(files_in(dir), before, "{args:?} left files behind");
}

#[test]
fn bad_inputs_exit_1_with_clear_messages() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut with_nan = values(12, 4);
    with_nan[7] = f32::NAN;
    npy(d, "nan.npy", &[3, 4], &with_nan);
    let mut with_inf = values(12, 5);
    with_inf[2] = f32::NEG_INFINITY;
    npy(d, "inf_wq.npy", &[4, 3], &with_inf);
    npy(d, "x.npy", &[3, 4], &values(12, 6));
    npy(d, "w53.npy", &[5, 3], &values(15, 7));
    npy(d, "w42.npy", &[4, 2], &values(8, 8));
    npy(d, "w43.npy", &[4, 3], &values(12, 13));
    npy(d, "wo_bad.npy", &[5, 2], &values(10, 9));
    npy(d, "empty.npy", &[0, 4], &[]);
    npy(d, "vec.npy", &[4], &values(4, 10));
    let full = npy(d, "trunc.npy", &[3, 4], &values(12, 11));
    let bytes = std::fs::read(&full).unwrap();
    std::fs::write(&full, &bytes[..bytes.len() - 8]).unwrap();
    npyz::to_file_1d(d.join("ints.npy"), vec![1i64, 2, 3]).unwrap();
    std::fs::write(d.join("garbage.npy"), b"this is not numpy").unwrap();

    bad(
        d,
        &["--embeddings", "nan.npy"],
        &["X (embeddings)", "[1, 3]", "NaN"],
    );
    bad(
        d,
        &["--embeddings", "x.npy", "--wq", "inf_wq.npy"],
        &["W_Q", "[0, 2]", "inf"],
    );
    bad(
        d,
        &["--embeddings", "x.npy", "--wq", "w53.npy"],
        &["3×4", "5×3", "W_Q"],
    );
    bad(
        d,
        &[
            "--embeddings",
            "x.npy",
            "--wk",
            "w42.npy",
            "--wq",
            "w53.npy",
        ],
        &["5×3"],
    );
    bad(
        d,
        &[
            "--embeddings",
            "x.npy",
            "--wq",
            "w43.npy",
            "--wk",
            "w42.npy",
        ],
        &["W_Q", "W_K", "4×3", "4×2"],
    );
    bad(
        d,
        &["--embeddings", "x.npy", "--wo", "wo_bad.npy"],
        &["W_O", "5×2", "W_V"],
    );
    bad(d, &["--embeddings", "empty.npy"], &["0×4"]);
    bad(d, &["--embeddings", "vec.npy"], &["vec.npy", "2-D"]);
    bad(d, &["--embeddings", "trunc.npy"], &["trunc.npy"]);
    bad(d, &["--embeddings", "ints.npy"], &["ints.npy", "float"]);
    bad(
        d,
        &["--embeddings", "garbage.npy"],
        &["garbage.npy", "not a valid .npy"],
    );
    bad(d, &["--embeddings", "missing.npy"], &["missing.npy"]);
    bad(
        d,
        &["--embeddings", "x.npy", "--tokens", "only two"],
        &["2 token labels", "3 rows"],
    );
    bad(
        d,
        &["--text", "hello world", "--d-model", "0"],
        &["--d-model"],
    );
    bad(d, &["--text", "   "], &["no tokens"]);
    bad(d, &["--out", "no/such/folder/map.png"], &["no/such/folder"]);
    bad(d, &["--out", "."], &["folder"]);
}

#[test]
fn beyond_the_adapter_limits_exits_1_naming_the_limit() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // 40 000 tokens: the 40 000² weights need 6.4 GB. The GPU side would run in row blocks,
    // but the whole matrix is refused on the host, naming the limit and the way out.
    let n = 40_000;
    npy(dir.path(), "long.npy", &[n, 1], &values(n, 12));
    bad(
        dir.path(),
        &["--embeddings", "long.npy", "--no-heatmap"],
        &[
            "40000×40000 attention weights",
            "6400000000 bytes",
            "host limit",
            "--no-weights",
        ],
    );
}

/// `--no-weights`: the output only, checked; the weights said never to be stored, and no
/// heatmap or weights file written.
#[test]
fn output_only_run_stores_no_weights() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &["--no-weights", "--save", "out"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("weights 3×3 never stored (--no-weights)"),
        "{}",
        r.stdout
    );
    // The output compared and passed; no weights compared.
    let rows: Vec<&str> = r.stdout.lines().map(str::trim).collect();
    assert!(
        rows.iter()
            .any(|l| l.starts_with("output") && l.ends_with(" ok")),
        "{}",
        r.stdout
    );
    assert!(
        !rows.iter().any(|l| l.starts_with("weights")),
        "{}",
        r.stdout
    );
    let saved = files_in(&dir.path().join("out"));
    assert!(!saved.is_empty(), "nothing saved");
    assert!(
        saved.iter().all(|f| !f.contains("weights")),
        "weights saved: {saved:?}"
    );
    assert!(!dir.path().join("attention_heatmap.png").exists());
}

#[test]
fn command_line_mistakes_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--tolerance", "-1"],
        vec!["--cmap", "rainbow"],
        vec!["--backend", "cuda"],
        vec!["--no-such-flag"],
        vec!["--wq", "w.npy"],
    ] {
        let r = run(dir.path(), &args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(!r.stderr.is_empty());
    }
    assert!(files_in(dir.path()).is_empty());
}

/// `selfattn explain | true`: the reader is gone before the first line is printed. The process
/// must end quietly (SIGPIPE, as `cat` does), not panic with "failed printing to stdout".
#[cfg(unix)]
#[test]
fn closed_stdout_ends_quietly_without_a_panic() {
    use std::os::unix::process::ExitStatusExt;
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("selfattn"))
        .current_dir(dir.path())
        .arg("explain")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.signal(), Some(13), "{:?} {stderr}", out.status);
}

#[test]
fn help_explains_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &["--help"]);
    assert_eq!(r.code, 0);
    for needle in [
        "Exit codes",
        "--causal",
        "--embeddings",
        "--tolerance",
        "WGPU_BACKEND",
        "explain",
        "devices",
    ] {
        assert!(r.stdout.contains(needle), "missing {needle}");
    }
}
