//! `selfattn mha` and `selfattn sdpa` as a user meets them: the files and shapes a good run
//! writes, and for every bad input the exit code, a message naming what is wrong, and nothing
//! left behind.
//!
//! GPU-backed runs use whatever adapter `WGPU_BACKEND` selects and are skipped without one
//! (unless SELFATTN_REQUIRE_GPU=1). Bad inputs are refused before an adapter is opened, so those
//! tests run everywhere.

mod common;

use std::path::Path;

use npyz::WriterBuilder;
use selfattn::npy::read_array;
use selfattn::state_dict::save_f32;

use common::cli::{files_in, have_gpu, npy, ok, run, run_with_env};

use common::cli::randn as values;

/// A random (…shape) array saved as `name`.
fn random_npy(dir: &Path, name: &str, shape: &[usize], seed: u32) {
    npy(dir, name, shape, &values(shape.iter().product(), seed));
}

/// Saves a bool array of `shape` through npyz.
fn bool_npy(dir: &Path, name: &str, shape: &[usize], data: &[bool]) {
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let mut writer = npyz::WriteOptions::<bool>::new()
        .default_dtype()
        .shape(&shape)
        .writer(std::fs::File::create(dir.join(name)).unwrap())
        .begin_nd()
        .unwrap();
    writer.extend(data.iter().copied()).unwrap();
    writer.finish().unwrap();
}

fn read(path: &Path) -> selfattn::npy::Array {
    read_array(path, &path.display().to_string()).unwrap()
}

type Tensors = Vec<(String, Vec<usize>, Vec<f32>)>;

/// The state_dict() of an `nn.MultiheadAttention(e, heads)` with random values.
fn module(e: usize, seed: u32) -> Tensors {
    let scale = 1.0 / (e as f32).sqrt();
    let draw = |n: usize, s: u32| values(n, seed + s).into_iter().map(|v| v * scale).collect();
    vec![
        ("in_proj_weight".into(), vec![3 * e, e], draw(3 * e * e, 0)),
        ("in_proj_bias".into(), vec![3 * e], draw(3 * e, 1)),
        ("out_proj.weight".into(), vec![e, e], draw(e * e, 2)),
        ("out_proj.bias".into(), vec![e], draw(e, 3)),
    ]
}

fn save_module(dir: &Path, name: &str, tensors: &Tensors) {
    let refs: Vec<(&str, &[usize], &[f32])> = tensors
        .iter()
        .map(|(n, s, d)| (n.as_str(), &s[..], &d[..]))
        .collect();
    save_f32(&dir.join(name), &refs).unwrap();
}

/// Runs a bad input and checks: exit `code`, every needle in stderr, no panic, and nothing
/// written (the folder's listing is unchanged: no output folder, no heatmap, no temporary file).
fn refused(dir: &Path, code: i32, args: &[&str], needles: &[&str]) {
    let before = files_in(dir);
    let r = run(dir, args);
    assert_eq!(
        r.code, code,
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

/// Exit 1: bad input.
fn bad(dir: &Path, args: &[&str], needles: &[&str]) {
    refused(dir, 1, args, needles);
}

/// Exit 2: bad command line.
fn usage(dir: &Path, args: &[&str], needles: &[&str]) {
    refused(dir, 2, args, needles);
}

/// `mha --embed-dim 8 --heads 2 --query q.npy` plus `extra`, saving into `out`.
fn mha_args<'a>(query: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "mha",
        "--embed-dim",
        "8",
        "--heads",
        "2",
        "--query",
        query,
        "--save",
        "out",
    ];
    args.extend(extra);
    args
}

/// Largest |a − b| (NaN if either holds a NaN).
fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    common::max_abs_diff(a, b)
}

fn assert_rows_sum_to_one(w: &[f32], s: usize) {
    for (r, row) in w.chunks(s).enumerate() {
        let sum: f32 = row.iter().sum();
        assert!((sum - 1.0).abs() < 1e-5, "row {r} sums to {sum}: {row:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Good runs
// ---------------------------------------------------------------------------------------------

#[test]
fn mha_saves_pytorch_shapes_and_draws_the_heatmap() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    random_npy(d, "q.npy", &[2, 5, 8], 1);
    let stdout = ok(d, &mha_args("q.npy", &[]));
    assert!(
        stdout.contains("embed_dim 8, 2 head(s) of 4") && stdout.contains("N 2, L 5, S 5"),
        "{stdout}"
    );
    let output = read(&d.join("out/output.npy"));
    let weights = read(&d.join("out/weights.npy"));
    assert_eq!(output.shape, [2, 5, 8]);
    assert_eq!(weights.shape, [2, 5, 5]);
    assert_rows_sum_to_one(&weights.data, 5);
    assert!(output.data.iter().all(|v| v.is_finite()));
    let png = image::open(d.join("attention_heatmap.png")).unwrap();
    assert!(png.width() > 100 && png.height() > 100);

    // --per-head: (N, H, L, S), whose mean over heads is the weights saved above.
    std::fs::remove_dir_all(d.join("out")).unwrap();
    ok(d, &mha_args("q.npy", &["--per-head", "--no-heatmap"]));
    let per_head = read(&d.join("out/weights.npy"));
    assert_eq!(per_head.shape, [2, 2, 5, 5]);
    assert_rows_sum_to_one(&per_head.data, 5);
    let mut mean = vec![0.0f32; 2 * 25];
    for b in 0..2 {
        for t in 0..25 {
            mean[b * 25 + t] =
                (per_head.data[(b * 2) * 25 + t] + per_head.data[(b * 2 + 1) * 25 + t]) / 2.0;
        }
    }
    assert!(max_diff(&mean, &weights.data) < 1e-6);
    // The heads differ (else the per-head files would prove little).
    assert!(max_diff(&per_head.data[..25], &per_head.data[25..50]) > 1e-3);
    assert_eq!(read(&d.join("out/output.npy")).data, output.data);
}

#[test]
fn mha_unbatched_cross_attention_drops_the_batch_axis() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    random_npy(d, "q.npy", &[5, 8], 2);
    random_npy(d, "k.npy", &[3, 8], 3);
    ok(d, &mha_args("q.npy", &["--key", "k.npy", "--no-heatmap"]));
    assert_eq!(read(&d.join("out/output.npy")).shape, [5, 8]);
    let w = read(&d.join("out/weights.npy"));
    assert_eq!(w.shape, [5, 3]);
    assert_rows_sum_to_one(&w.data, 3);
    assert!(!d.join("attention_heatmap.png").exists());

    std::fs::remove_dir_all(d.join("out")).unwrap();
    ok(d, &mha_args("q.npy", &["--per-head", "--no-heatmap"]));
    assert_eq!(read(&d.join("out/weights.npy")).shape, [2, 5, 5]);
}

#[test]
fn mha_batch_index_picks_the_drawn_element() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    random_npy(d, "q.npy", &[2, 4, 8], 4);
    let draw = |index: &str, out: &str| {
        ok(
            d,
            &[
                "mha",
                "--embed-dim",
                "8",
                "--heads",
                "2",
                "--query",
                "q.npy",
                "--batch-index",
                index,
                "--out",
                out,
            ],
        );
        image::open(d.join(out)).unwrap().to_rgba8()
    };
    let first = draw("0", "b0.png");
    let second = draw("1", "b1.png");
    assert_eq!(first.dimensions(), second.dimensions());
    assert!(
        first != second,
        "batch elements 0 and 1 drew the same picture"
    );
    let mut files = files_in(d);
    files.retain(|f| f.ends_with(".png"));
    assert_eq!(files, ["b0.png", "b1.png"]);
}

#[test]
fn mha_state_dict_with_a_key_padding_mask() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    save_module(d, "sd.safetensors", &module(8, 5));
    random_npy(d, "q.npy", &[2, 5, 8], 6);
    // Batch element 0 ignores key 1; batch element 1 ignores every key (a fully masked row).
    let mut kpm = vec![false; 10];
    kpm[1] = true;
    kpm[5..].fill(true);
    bool_npy(d, "kpm.npy", &[2, 5], &kpm);
    let stdout = ok(
        d,
        &[
            "mha",
            "--state-dict",
            "sd.safetensors",
            "--heads",
            "4",
            "--query",
            "q.npy",
            "--key-padding-mask",
            "kpm.npy",
            "--save",
            "out",
            "--no-heatmap",
        ],
    );
    assert!(stdout.contains("key_padding_mask [2, 5] bool"), "{stdout}");
    let w = read(&d.join("out/weights.npy"));
    assert_eq!(w.shape, [2, 5, 5]);
    for i in 0..5 {
        let row = &w.data[i * 5..(i + 1) * 5];
        assert_eq!(row[1], 0.0, "ignored key, row {i}: {row:?}");
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert_eq!(&w.data[25 + i * 5..25 + (i + 1) * 5], [0.0; 5]);
    }
    // The fully masked batch element's output is out_proj.bias.
    let bias = module(8, 5)[3].2.clone();
    let o = read(&d.join("out/output.npy"));
    for i in 0..5 {
        assert_eq!(&o.data[(5 + i) * 8..(6 + i) * 8], &bias[..]);
    }
}

#[test]
fn sdpa_four_dimensional_input_with_a_broadcast_mask() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    random_npy(d, "q.npy", &[2, 3, 4, 5], 7);
    random_npy(d, "k.npy", &[2, 3, 6, 5], 8);
    random_npy(d, "v.npy", &[2, 3, 6, 7], 9);
    // (L, S) bool, True = take part: query 0 may not see key 5.
    let mut allow = vec![true; 24];
    allow[5] = false;
    bool_npy(d, "mask.npy", &[4, 6], &allow);
    let args = [
        "sdpa",
        "--q",
        "q.npy",
        "--k",
        "k.npy",
        "--v",
        "v.npy",
        "--attn-mask",
        "mask.npy",
        "--save",
        "out",
        "--batch-index",
        "1",
        "--out",
        "heads.png",
    ];
    ok(d, &args);
    let o = read(&d.join("out/output.npy"));
    let w = read(&d.join("out/weights.npy"));
    assert_eq!(o.shape, [2, 3, 4, 7]);
    assert_eq!(w.shape, [2, 3, 4, 6]);
    assert_rows_sum_to_one(&w.data, 6);
    for z in 0..6 {
        assert_eq!(w.data[z * 24 + 5], 0.0, "slice {z}: key 5 of query 0");
        assert!(w.data[z * 24 + 6 + 5] > 0.0, "slice {z}: key 5 of query 1");
    }
    assert!(d.join("heads.png").exists());
    // Two batch elements (the last leading axis is drawn as panels): index 2 is out of range.
    let mut too_far = args.to_vec();
    too_far[12] = "2";
    std::fs::remove_dir_all(d.join("out")).unwrap();
    std::fs::remove_file(d.join("heads.png")).unwrap();
    usage(d, &too_far, &["--batch-index 2", "2 batch element"]);
}

/// Weights larger than the storage binding limit are computed in blocks of query rows (here the
/// limit is lowered through SELFATTN_MAX_STORAGE_BYTES so that a small problem splits into
/// ragged blocks): the saved tensors equal those of one whole run, causal mask and a per-head
/// float mask included, and each block is checked against the CPU reference.
#[test]
fn sdpa_weights_beyond_the_binding_limit_run_in_row_blocks() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Every buffer must fit the lowered limit too: K (2784 bytes), V (2088), a block's mask and
    // weights (3480).
    let (lead, l, s, e, ev) = ([2usize, 3usize], 37usize, 29usize, 4usize, 3usize);
    random_npy(d, "q.npy", &[lead[0], lead[1], l, e], 17);
    random_npy(d, "k.npy", &[lead[0], lead[1], s, e], 18);
    random_npy(d, "v.npy", &[lead[0], lead[1], s, ev], 19);
    // (heads, L, S) float mask, broadcast over the batch axis.
    random_npy(d, "mask.npy", &[lead[1], l, s], 20);
    let args = |save: &'static str| {
        vec![
            "sdpa",
            "--q",
            "q.npy",
            "--k",
            "k.npy",
            "--v",
            "v.npy",
            "--attn-mask",
            "mask.npy",
            "--causal",
            "--no-heatmap",
            "--save",
            save,
        ]
    };
    let whole = ok(d, &args("whole"));
    assert!(!whole.contains("blocks of"), "{whole}");
    // One row of the weights is 6 × 29 × 4 = 696 bytes: 5 rows per block, 8 blocks, the last of 2.
    let limit = (6 * s * 4 * 5 + 3).to_string();
    let r = run_with_env(
        d,
        &[("SELFATTN_MAX_STORAGE_BYTES", &limit)],
        &args("blocks"),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("8 blocks of up to 5 query rows"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("FAIL"), "{}", r.stdout);
    for file in ["output.npy", "weights.npy"] {
        let a = read(&d.join("whole").join(file));
        let b = read(&d.join("blocks").join(file));
        assert_eq!(a.shape, b.shape, "{file}");
        let diff = max_diff(&a.data, &b.data);
        assert!(
            diff <= 1e-6,
            "{file}: blocks differ from the whole run by {diff}"
        );
    }
    // Causal: query 0 (first block) sees key 0 only.
    let w = read(&d.join("blocks/weights.npy"));
    assert!(
        (w.data[0] - 1.0).abs() < 1e-6 && w.data[1] == 0.0,
        "{:?}",
        &w.data[..3]
    );
    // A limit below one row of weights is refused, naming the limit; nothing is written.
    let before = files_in(d);
    let r = run_with_env(d, &[("SELFATTN_MAX_STORAGE_BYTES", "600")], &args("never"));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("one query row of the weights")
            && r.stderr.contains("SELFATTN_MAX_STORAGE_BYTES"),
        "{}",
        r.stderr
    );
    assert_eq!(files_in(d), before);
}

/// The same for `mha`: self-attention (each block's key and value stay the whole query), causal,
/// a per-head float attention mask and a key-padding mask; every head saved and the mean drawn,
/// then the mean saved.
#[test]
fn mha_weights_beyond_the_binding_limit_run_in_row_blocks() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (n, heads, l, e) = (2usize, 2usize, 23usize, 8usize);
    save_module(d, "sd.safetensors", &module(e, 31));
    random_npy(d, "q.npy", &[n, l, e], 32);
    random_npy(d, "mask.npy", &[n * heads, l, l], 33);
    let mut kpm = vec![false; n * l];
    kpm[3] = true;
    kpm[l + 7] = true;
    bool_npy(d, "kpm.npy", &[n, l], &kpm);
    // Saving every head (the mean is computed for the picture only), then saving the mean.
    for per_head in [true, false] {
        let args = |save: &'static str| {
            let mut a = vec![
                "mha",
                "--state-dict",
                "sd.safetensors",
                "--heads",
                "2",
                "--query",
                "q.npy",
                "--attn-mask",
                "mask.npy",
                "--key-padding-mask",
                "kpm.npy",
                "--causal",
                "--save",
                save,
                "--out",
                "heads.png",
            ];
            if per_head {
                a.push("--per-head");
            }
            a
        };
        let whole = ok(d, &args("whole"));
        assert!(!whole.contains("blocks of"), "{whole}");
        // A row of every head's weights is 2 × 2 × 23 × 4 = 368 bytes: 4 rows per block, 6
        // blocks, the last of 3; the query, projections and context (1472 bytes) fit too.
        let limit = (n * heads * l * 4 * 4 + 3).to_string();
        let r = run_with_env(
            d,
            &[("SELFATTN_MAX_STORAGE_BYTES", &limit)],
            &args("blocks"),
        );
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains("6 blocks of up to 4 query rows"),
            "{}",
            r.stdout
        );
        assert!(!r.stdout.contains("FAIL"), "{}", r.stdout);
        for file in ["output.npy", "weights.npy"] {
            let a = read(&d.join("whole").join(file));
            let b = read(&d.join("blocks").join(file));
            let want_shape = match (file, per_head) {
                ("output.npy", _) => vec![n, l, e],
                (_, true) => vec![n, heads, l, l],
                (_, false) => vec![n, l, l],
            };
            assert_eq!((&a.shape, &b.shape), (&want_shape, &want_shape), "{file}");
            let diff = max_diff(&a.data, &b.data);
            assert!(
                diff <= 1e-6,
                "{file} (per head {per_head}): blocks differ from the whole run by {diff}"
            );
        }
        assert!(d.join("heads.png").exists());
        std::fs::remove_dir_all(d.join("whole")).unwrap();
        std::fs::remove_dir_all(d.join("blocks")).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Bad inputs
// ---------------------------------------------------------------------------------------------

#[test]
fn mha_bad_inputs_exit_1_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    random_npy(d, "q.npy", &[2, 5, 8], 10);
    random_npy(d, "k3.npy", &[3, 5, 8], 11);
    let mut with_nan = values(80, 12);
    with_nan[7] = f32::NAN;
    npy(d, "nan.npy", &[2, 5, 8], &with_nan);
    npy(d, "kpm24.npy", &[2, 4], &[0.0; 8]);
    npy(d, "am54.npy", &[5, 4], &[0.0; 20]);
    npy(d, "am355.npy", &[3, 5, 5], &[0.0; 75]);
    npyz::to_file_1d(d.join("int_mask.npy"), vec![0i32; 10]).unwrap();
    let good = module(8, 13);
    save_module(d, "good.safetensors", &good);
    let without =
        |name: &str| -> Tensors { good.iter().filter(|t| t.0 != name).cloned().collect() };
    save_module(d, "no_out.safetensors", &without("out_proj.weight"));
    let mut wrong = without("in_proj_weight");
    wrong.push(("in_proj_weight".into(), vec![24, 7], values(168, 14)));
    save_module(d, "wrong_in.safetensors", &wrong);
    let mut nan = good.clone();
    nan[3].2[3] = f32::NAN;
    save_module(d, "nan.safetensors", &nan);
    let mut inf = good.clone();
    inf[0].2[10] = f32::INFINITY;
    save_module(d, "inf.safetensors", &inf);
    std::fs::write(d.join("garbage.safetensors"), b"{\"not\": \"safetensors\"}").unwrap();

    let with_sd = |sd: &'static str| -> Vec<&'static str> {
        vec![
            "mha",
            "--state-dict",
            sd,
            "--heads",
            "2",
            "--query",
            "q.npy",
            "--save",
            "out",
        ]
    };
    // The good module runs past every check these tests make (it fails only for want of a GPU,
    // exit 4, or succeeds): the refusals below are each due to the one thing changed.
    if have_gpu() {
        ok(d, &with_sd("good.safetensors"));
        std::fs::remove_dir_all(d.join("out")).unwrap();
        std::fs::remove_file(d.join("attention_heatmap.png")).unwrap();
    }

    bad(
        d,
        &with_sd("no_out.safetensors"),
        &[
            "no_out.safetensors",
            "'out_proj.weight'",
            "[8, 8]",
            "missing",
        ],
    );
    bad(
        d,
        &with_sd("wrong_in.safetensors"),
        &["'in_proj_weight'", "[24, 7]", "[24, 8]"],
    );
    bad(
        d,
        &with_sd("nan.safetensors"),
        &["'out_proj.bias'", "nan.safetensors", "NaN", "3 (flat)"],
    );
    bad(
        d,
        &with_sd("inf.safetensors"),
        &["'in_proj_weight'", "inf", "10 (flat)"],
    );
    bad(
        d,
        &with_sd("garbage.safetensors"),
        &["garbage.safetensors", "not a valid safetensors"],
    );
    bad(
        d,
        &[
            "mha",
            "--embed-dim",
            "8",
            "--heads",
            "3",
            "--query",
            "q.npy",
            "--save",
            "out",
        ],
        &["embed_dim 8", "not divisible", "--heads 3"],
    );
    bad(
        d,
        &mha_args("q.npy", &["--key-padding-mask", "kpm24.npy"]),
        &["key_padding_mask", "[2, 4]", "[2, 5]"],
    );
    bad(
        d,
        &mha_args("q.npy", &["--attn-mask", "am54.npy"]),
        &["attn_mask", "[5, 4]", "(5, 5)", "(4, 5, 5)"],
    );
    bad(
        d,
        &mha_args("q.npy", &["--attn-mask", "am355.npy"]),
        &["attn_mask", "[3, 5, 5]", "(4, 5, 5)"],
    );
    bad(
        d,
        &mha_args("q.npy", &["--key-padding-mask", "int_mask.npy"]),
        &["key_padding_mask", "int_mask.npy", "<i4", "bool"],
    );
    bad(
        d,
        &mha_args("q.npy", &["--attn-mask", "int_mask.npy"]),
        &["attn_mask", "<i4"],
    );
    bad(
        d,
        &mha_args("q.npy", &["--key", "k3.npy"]),
        &["batch sizes differ", "query 2", "key 3"],
    );
    bad(d, &mha_args("nan.npy", &[]), &["query", "NaN", "7 (flat)"]);
    bad(d, &mha_args("missing.npy", &[]), &["missing.npy"]);
    // Output paths that can't be written are refused before the run, so no heatmap is drawn
    // for a --save that would fail afterwards.
    let with_save = |save: &'static str| -> Vec<&'static str> {
        vec![
            "mha",
            "--embed-dim",
            "8",
            "--heads",
            "2",
            "--query",
            "q.npy",
            "--save",
            save,
        ]
    };
    bad(d, &with_save("q.npy"), &["q.npy", "not a folder"]);
    bad(d, &with_save("q.npy/sub"), &["q.npy/sub", "not a folder"]);
    bad(
        d,
        &mha_args("q.npy", &["--out", "no/such/map.png"]),
        &["no/such/map.png", "does not exist"],
    );
}

#[test]
fn sdpa_bad_inputs_exit_1_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    random_npy(d, "q.npy", &[2, 3, 4, 5], 20);
    random_npy(d, "k.npy", &[2, 3, 6, 5], 21);
    random_npy(d, "v.npy", &[2, 3, 6, 7], 22);
    random_npy(d, "k_lead.npy", &[2, 2, 6, 5], 23);
    npy(d, "mask246.npy", &[2, 4, 6], &[0.0; 48]);
    npy(d, "mask_ok.npy", &[3, 4, 6], &[0.0; 72]);
    let args = |k: &'static str, mask: Option<&'static str>| {
        let mut a = vec![
            "sdpa", "--q", "q.npy", "--k", k, "--v", "v.npy", "--save", "out",
        ];
        if let Some(m) = mask {
            a.extend(["--attn-mask", m]);
        }
        a
    };
    if have_gpu() {
        // (3, L, S) broadcasts against (2, 3, L, S): the same run with the good mask passes.
        ok(d, &args("k.npy", Some("mask_ok.npy")));
        std::fs::remove_dir_all(d.join("out")).unwrap();
        std::fs::remove_file(d.join("attention_heatmap.png")).unwrap();
    }
    bad(
        d,
        &args("k_lead.npy", None),
        &["leading dimensions", "[2, 3, 4, 5]", "[2, 2, 6, 5]"],
    );
    bad(
        d,
        &args("k.npy", Some("mask246.npy")),
        &[
            "attn_mask",
            "[2, 4, 6]",
            "does not broadcast",
            "[2, 3, 4, 6]",
        ],
    );
    let mut into_a_file = args("k.npy", None);
    into_a_file[8] = "v.npy";
    bad(d, &into_a_file, &["v.npy", "not a folder"]);
}

// ---------------------------------------------------------------------------------------------
// Command-line mistakes and help
// ---------------------------------------------------------------------------------------------

#[test]
fn command_line_mistakes_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    random_npy(d, "q.npy", &[2, 5, 8], 30);
    save_module(d, "sd.safetensors", &module(8, 31));
    usage(
        d,
        &["mha", "--heads", "2", "--query", "q.npy", "--save", "out"],
        &["--state-dict", "--embed-dim"],
    );
    usage(
        d,
        &[
            "mha",
            "--embed-dim",
            "0",
            "--heads",
            "1",
            "--query",
            "q.npy",
        ],
        &["--embed-dim"],
    );
    usage(
        d,
        &mha_args("q.npy", &["--batch-index", "2"]),
        &["--batch-index 2", "out of range", "2 element"],
    );
    usage(
        d,
        &mha_args("q.npy", &["--cmap", "rainbow"]),
        &["rainbow", "viridis"],
    );
    usage(
        d,
        &mha_args("q.npy", &["--state-dict", "sd.safetensors"]),
        &["--state-dict", "--embed-dim"],
    );
    usage(
        d,
        &["mha", "--embed-dim", "8", "--query", "q.npy"],
        &["--heads"],
    );
}

#[test]
fn mha_help_says_fully_masked_rows_give_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &["mha", "--help"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let help = r.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for needle in [
        "every key is masked gets zero weights",
        "PyTorch gives NaN",
        "--key-padding-mask",
        "--attn-mask",
        "--per-head",
    ] {
        assert!(
            help.contains(needle),
            "missing '{needle}' in:\n{}",
            r.stdout
        );
    }
    let r = run(dir.path(), &["sdpa", "--help"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let help = r.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains("zero weights") && help.contains("NaN"),
        "{help}"
    );
    assert!(files_in(dir.path()).is_empty());
}
