//! `selfattn bench` as a user meets it: the records it writes for machines (kernel sizes and the
//! BERT forward pass), its refusals, and a progress display that stays out of pipes and logs.

mod common;

use common::cli::{have_gpu, ok, run};
use common::tiny_bert::{TinySizes, write_tiny_bert};
use selfattn::kernels::flash::FlashVariant;
use selfattn::kernels::matmul::MatmulVariant;
use selfattn::kernels::softmax::SoftmaxVariant;

/// No terminal control characters: the progress bar draws only on a terminal.
fn assert_plain(text: &str) {
    assert!(
        !text.contains('\x1b') && !text.contains('\r'),
        "terminal control characters in {text:?}"
    );
}

#[test]
fn kernel_bench_writes_one_record_per_size_and_path() {
    let Some(ctx) = common::gpu() else { return };
    // Where the device has subgroups (lavapipe), "all" also times the shuffle matmul and the
    // softmax variant the device does not choose (with the device's matmul); every output-only
    // kernel the device can run.
    let subgroups = ctx.device.features().contains(wgpu::Features::SUBGROUP);
    let other_softmax = [SoftmaxVariant::PerRow, SoftmaxVariant::Subgroup]
        .into_iter()
        .find(|&v| v != ctx.softmax_variant() && v.fits(&ctx.caps()));
    let flash: Vec<&str> = FlashVariant::ALL
        .into_iter()
        .filter(|&v| v.fits(&ctx.caps()))
        .map(|v| v.name())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &[
            "bench", "--sizes", "5,33", "--d", "7", "--runs", "1", "--kernel", "all", "--json",
            "b.json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_plain(&r.stdout);
    assert_plain(&r.stderr);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("b.json")).unwrap()).unwrap();
    let records = json.as_array().unwrap();
    // naive, blocked and tiled with and without weights, the output-only kernels and the fused
    // path, for each size, plus the subgroup kernels above.
    let per_size = 7 + flash.len() + 2 * subgroups as usize + 2 * other_softmax.is_some() as usize;
    assert_eq!(records.len(), 2 * per_size, "{json:#}");
    for r in records {
        for key in [
            "n",
            "d",
            "heads",
            "batch",
            "kernel",
            "weights",
            "gpu_ms",
            "end_to_end_ms",
            "gflops",
            "adapter",
        ] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
        assert!(r["gflops"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["cpu_ms"].as_f64().unwrap() > 0.0, "{r}");
    }
    let kernels: Vec<&str> = records
        .iter()
        .map(|r| r["kernel"].as_str().unwrap())
        .collect();
    let mut expected = vec!["naive", "naive", "blocked", "blocked", "tiled", "tiled"];
    if subgroups {
        expected.extend(["blocked-shuffle", "blocked-shuffle"]);
    }
    let with_softmax = other_softmax
        .map(|v| format!("{}+{}", ctx.matmul_variant().name(), v.name()))
        .unwrap_or_default();
    if other_softmax.is_some() {
        expected.extend([with_softmax.as_str(), with_softmax.as_str()]);
    }
    expected.extend(flash);
    expected.push("fused");
    assert_eq!(&kernels[..per_size], expected);
}

#[test]
fn a_subgroup_kernel_the_device_cannot_run_is_refused_before_the_table() {
    let Some(ctx) = common::gpu() else { return };
    let dir = tempfile::tempdir().unwrap();
    // (kernel, what its row in the table is called)
    let subgroups = ctx.device.features().contains(wgpu::Features::SUBGROUP);
    // (kernel, what its row in the table is called, whether the device can run it)
    for (kernel, row_name, runs) in [
        ("softmax-subgroup", "+subgroup", subgroups),
        (
            "blocked-shuffle",
            "blocked-shuffle",
            MatmulVariant::Shuffle.fits(&ctx.caps()),
        ),
        (
            "flash-shuffle",
            "flash-shuffle",
            FlashVariant::Shuffle.fits(&ctx.caps()),
        ),
    ] {
        let args = ["bench", "--sizes", "9", "--runs", "1", "--kernel", kernel];
        let r = run(dir.path(), &args);
        if runs {
            assert_eq!(r.code, 0, "{kernel}: {}", r.stderr);
            assert!(r.stdout.contains(row_name), "{kernel}: {}", r.stdout);
        } else {
            assert_eq!(r.code, 1, "{kernel}: {}", r.stderr);
            assert!(
                r.stderr.contains("needs the device's SUBGROUP feature"),
                "{kernel}: {}",
                r.stderr
            );
            assert!(!r.stdout.contains("GPU ms"), "{kernel}: {}", r.stdout);
        }
    }
}

#[test]
fn model_bench_times_every_phase() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_tiny_bert(&dir.path().join("tiny"), TinySizes::default(), 2);
    let out = ok(
        dir.path(),
        &[
            "bench",
            "--model",
            "tiny",
            "--text",
            "the cat sat on the mat . a dog ran",
            "--tokens",
            "8",
            "--runs",
            "2",
            "--json",
            "m.json",
        ],
    );
    assert_plain(&out);
    assert!(out.contains("8 tokens"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("m.json")).unwrap()).unwrap();
    let r = &json[0];
    assert_eq!(r["tokens"], 8);
    assert_eq!(r["layers"], 2);
    let err = r["max_abs_error"].as_f64().unwrap();
    assert!(err < 1e-4, "GPU vs CPU {err}");
    assert!(r["timer"].is_string(), "{r}");
    for key in [
        "tokenize_ms",
        "upload_ms",
        "gpu_ms",
        "read_back_ms",
        "end_to_end_ms",
        "cpu_ms",
        "gflops",
    ] {
        assert!(r[key].as_f64().is_some_and(|v| v > 0.0), "{key} in {r}");
    }
}

#[test]
fn bad_bench_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_bert(&dir.path().join("tiny"), TinySizes::default(), 2);
    for (args, code, needle) in [
        (vec!["bench", "--sizes", "0"], 2, "--sizes"),
        (vec!["bench", "--runs", "0"], 2, "--runs"),
        (vec!["bench", "--tokens", "8"], 2, "--model"),
        (
            vec!["bench", "--model", "tiny", "--tokens", "100"],
            2,
            "at most 24",
        ),
        (
            vec![
                "bench", "--model", "tiny", "--text", "the cat", "--tokens", "9",
            ],
            2,
            "fewer than --tokens 9",
        ),
        (
            vec!["bench", "--sizes", "8", "--json", "nowhere/b.json"],
            1,
            "does not exist",
        ),
        (vec!["bench", "--model", "nowhere"], 1, "is not a folder"),
        (
            vec!["bench", "--model", "tiny", "--sizes", "8"],
            2,
            "--sizes",
        ),
    ] {
        // All refused before an adapter is opened.
        let r = run(dir.path(), &args);
        assert_eq!(r.code, code, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
    }
}
