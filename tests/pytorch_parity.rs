//! Parity with PyTorch: `selfattn mha` against `torch.nn.MultiheadAttention` and `selfattn sdpa`
//! against `torch.nn.functional.scaled_dot_product_attention`, on the reference fixtures in
//! `tests/fixtures/` (written by `tests/fixtures/make_fixtures.py`, which documents every file
//! and how to regenerate them; `tests/fixtures/check_fixtures.py` re-derives them in NumPy).
//!
//! Every case folder found at run time is run through the binary, and its `output.npy` and
//! `weights.npy` must have exactly PyTorch's shapes and agree element-wise within 1e-5. The
//! folders are discovered rather than listed, so a new fixture is picked up by itself; a minimum
//! count makes a lost fixture a failure instead of a quietly smaller test.
//!
//! GPU-backed runs use whatever adapter `WGPU_BACKEND` selects. Without an adapter they are
//! skipped, unless SELFATTN_REQUIRE_GPU=1.

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use selfattn::npy::read_array;

/// Largest absolute difference allowed between selfattn and PyTorch, per element.
const TOLERANCE: f32 = 1e-5;
/// MHA case folders with expected values (add_bias_kv, the refusal fixture, is not counted).
const MHA_CASES: usize = 18;
/// SDPA case folders.
const SDPA_CASES: usize = 8;
/// The MHA fixture that selfattn must refuse (its state dict has `bias_k` / `bias_v`).
const REFUSED: &str = "add_bias_kv";

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The case folders of `family` ("mha" or "sdpa"), sorted by name.
fn case_dirs(family: &str) -> Vec<PathBuf> {
    let root = fixtures_root().join(family);
    let entries = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot read fixture folder {}: {e}", root.display()));
    let mut dirs: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn case_name(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

/// The case folders that carry expected values, after checking there are at least `minimum`.
fn parity_cases(family: &str, minimum: usize) -> Vec<PathBuf> {
    let dirs: Vec<PathBuf> = case_dirs(family)
        .into_iter()
        .filter(|d| case_name(d) != REFUSED)
        .collect();
    assert!(
        dirs.len() >= minimum,
        "expected at least {minimum} {family} fixtures under {}, found {}: {:?}",
        fixtures_root().join(family).display(),
        dirs.len(),
        dirs.iter().map(|d| case_name(d)).collect::<Vec<_>>()
    );
    dirs
}

/// The extra flags of a case, from its one-line `args.txt` (which may be empty).
fn case_flags(dir: &Path) -> Result<Vec<String>, String> {
    let path = dir.join("args.txt");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(text.split_whitespace().map(str::to_owned).collect())
}

/// Appends `flag <dir>/<file>` when the case has that file.
fn optional_input(args: &mut Vec<String>, dir: &Path, flag: &str, file: &str) {
    let path = dir.join(file);
    if path.exists() {
        args.push(flag.to_owned());
        args.push(path.display().to_string());
    }
}

fn path_arg(path: PathBuf) -> String {
    path.display().to_string()
}

fn mha_args(dir: &Path, save: &Path) -> Result<Vec<String>, String> {
    let mut args = vec![
        "mha".to_owned(),
        "--state-dict".to_owned(),
        path_arg(dir.join("state_dict.safetensors")),
        "--query".to_owned(),
        path_arg(dir.join("query.npy")),
    ];
    optional_input(&mut args, dir, "--key", "key.npy");
    optional_input(&mut args, dir, "--value", "value.npy");
    optional_input(&mut args, dir, "--key-padding-mask", "key_padding_mask.npy");
    optional_input(&mut args, dir, "--attn-mask", "attn_mask.npy");
    args.extend(case_flags(dir)?);
    args.extend([
        "--save".to_owned(),
        path_arg(save.to_path_buf()),
        "--no-heatmap".to_owned(),
    ]);
    Ok(args)
}

fn sdpa_args(dir: &Path, save: &Path) -> Result<Vec<String>, String> {
    let mut args = vec!["sdpa".to_owned()];
    for (flag, file) in [("--q", "q.npy"), ("--k", "k.npy"), ("--v", "v.npy")] {
        args.push(flag.to_owned());
        args.push(path_arg(dir.join(file)));
    }
    optional_input(&mut args, dir, "--attn-mask", "attn_mask.npy");
    args.extend(case_flags(dir)?);
    args.extend([
        "--save".to_owned(),
        path_arg(save.to_path_buf()),
        "--no-heatmap".to_owned(),
    ]);
    Ok(args)
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the binary in `cwd` (a temporary folder, so nothing lands in the repository).
fn run_selfattn(cwd: &Path, args: &[String]) -> Run {
    let out = Command::cargo_bin("selfattn")
        .unwrap()
        .current_dir(cwd)
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// Compares `got` (written by selfattn) with `want` (PyTorch): same shape, every element within
/// TOLERANCE. On failure the message names the worst element's flat index and both values.
fn compare(what: &str, got: &Path, want: &Path) -> Result<(), String> {
    let want = read_array(want, what).map_err(|e| format!("{what}: expected file: {e}"))?;
    let got = read_array(got, what).map_err(|e| format!("{what}: selfattn's file: {e}"))?;
    if got.shape != want.shape {
        return Err(format!(
            "{what}: shape {:?}, PyTorch's is {:?}",
            got.shape, want.shape
        ));
    }
    // NaN counts as an infinite error.
    let err = |(g, w): (&f32, &f32)| {
        let d = (g - w).abs();
        if d.is_nan() { f32::INFINITY } else { d }
    };
    let worst = got
        .data
        .iter()
        .zip(&want.data)
        .map(err)
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1));
    match worst {
        Some((i, e)) if e > TOLERANCE => Err(format!(
            "{what}: max abs err {e:e} > {TOLERANCE:e} at flat index {i} (shape {:?}): \
             selfattn {} vs PyTorch {}",
            want.shape, got.data[i], want.data[i]
        )),
        _ => Ok(()),
    }
}

/// Runs one case; `Err` carries every problem found (the caller adds the case name). With
/// `no_weights`, the output-only path (online softmax) runs and only the output is compared; it
/// must also not write weights.npy.
fn check_case(
    dir: &Path,
    build_args: fn(&Path, &Path) -> Result<Vec<String>, String>,
    no_weights: bool,
) -> Result<(), String> {
    for file in ["args.txt", "expected_output.npy", "expected_weights.npy"] {
        if !dir.join(file).exists() {
            return Err(format!("fixture file {file} is missing"));
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let save = tmp.path().join("out");
    let mut args = build_args(dir, &save)?;
    if no_weights {
        args.push("--no-weights".into());
    }
    let r = run_selfattn(tmp.path(), &args);
    if r.code != 0 {
        return Err(format!(
            "exit code {}\n    args: {}\n    stdout: {}\n    stderr: {}",
            r.code,
            args.join(" "),
            r.stdout.trim(),
            r.stderr.trim()
        ));
    }
    let mut compared = vec![("output", "output.npy", "expected_output.npy")];
    if no_weights {
        if save.join("weights.npy").exists() {
            return Err("--no-weights wrote weights.npy".into());
        }
    } else {
        compared.push(("weights", "weights.npy", "expected_weights.npy"));
    }
    let problems: Vec<String> = compared
        .into_iter()
        .filter_map(|(what, got, want)| compare(what, &save.join(got), &dir.join(want)).err())
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n    "))
    }
}

/// Runs every case and fails once at the end, listing each failing case and why.
fn check_family(
    family: &str,
    cases: &[PathBuf],
    build_args: fn(&Path, &Path) -> Result<Vec<String>, String>,
) {
    let failures: Vec<String> = cases
        .iter()
        .flat_map(|dir| [(dir, false), (dir, true)])
        .filter_map(|(dir, no_weights)| {
            check_case(dir, build_args, no_weights).err().map(|e| {
                let path = if no_weights { " (--no-weights)" } else { "" };
                format!("{family}/{}{path}:\n    {e}", case_name(dir))
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} {family} cases differ from PyTorch:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn fixtures_are_all_present() {
    // No GPU needed: a lost or half-written fixture fails here on every machine.
    for (family, minimum, inputs) in [
        (
            "mha",
            MHA_CASES,
            &["state_dict.safetensors", "query.npy"][..],
        ),
        ("sdpa", SDPA_CASES, &["q.npy", "k.npy", "v.npy"][..]),
    ] {
        let mut missing = Vec::new();
        for dir in parity_cases(family, minimum) {
            for file in
                inputs
                    .iter()
                    .chain(&["args.txt", "expected_output.npy", "expected_weights.npy"])
            {
                if !dir.join(file).exists() {
                    missing.push(format!("{family}/{}/{file}", case_name(&dir)));
                }
            }
        }
        assert!(missing.is_empty(), "missing fixture files: {missing:?}");
    }
    let refused = fixtures_root().join("mha").join(REFUSED);
    for file in ["state_dict.safetensors", "query.npy", "args.txt"] {
        assert!(refused.join(file).exists(), "missing mha/{REFUSED}/{file}");
    }
}

#[test]
fn mha_matches_pytorch_multihead_attention() {
    let cases = parity_cases("mha", MHA_CASES);
    if common::gpu().is_none() {
        return;
    }
    check_family("mha", &cases, mha_args);
}

#[test]
fn sdpa_matches_pytorch_scaled_dot_product_attention() {
    let cases = parity_cases("sdpa", SDPA_CASES);
    if common::gpu().is_none() {
        return;
    }
    check_family("sdpa", &cases, sdpa_args);
}

#[test]
fn mha_refuses_add_bias_kv() {
    if common::gpu().is_none() {
        return;
    }
    let dir = fixtures_root().join("mha").join(REFUSED);
    let tmp = tempfile::tempdir().unwrap();
    let save = tmp.path().join("out");
    let args = mha_args(&dir, &save).unwrap();
    let r = run_selfattn(tmp.path(), &args);
    assert_eq!(
        r.code,
        1,
        "add_bias_kv should be refused with exit code 1\nargs: {}\nstdout: {}\nstderr: {}",
        args.join(" "),
        r.stdout,
        r.stderr
    );
    assert!(
        r.stderr.contains("bias_k"),
        "the refusal should name bias_k:\n{}",
        r.stderr
    );
    assert!(
        !save.join("output.npy").exists(),
        "a refused run must not write output.npy"
    );
}
