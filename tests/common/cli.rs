//! Running the `selfattn` binary in a temporary folder, for the command-line tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// What a finished run printed and returned.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the binary in `dir` (a temporary folder, so nothing lands in the repository).
pub fn run(dir: &Path, args: &[&str]) -> Run {
    run_with_env(dir, &[], args)
}

/// [`run`] with extra environment variables.
pub fn run_with_env(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    let out = Command::cargo_bin("selfattn")
        .unwrap()
        .current_dir(dir)
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// Runs a command that must succeed; returns its stdout.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let r = run(dir, args);
    assert_eq!(
        r.code, 0,
        "{args:?}\nstdout {}\nstderr {}",
        r.stdout, r.stderr
    );
    assert!(!r.stdout.contains("FAIL"), "{}", r.stdout);
    r.stdout
}

/// Skips (or fails under SELFATTN_REQUIRE_GPU=1) when there is no adapter.
pub fn have_gpu() -> bool {
    super::gpu().is_some()
}

/// Every file and folder under `dir`, relative, sorted.
pub fn files_in(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(root).unwrap().display().to_string());
            if path.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut names = Vec::new();
    walk(dir, dir, &mut names);
    names.sort();
    names
}

/// `n` values of NumPy's `randn` after `np.random.seed(seed)`, as f32.
pub fn randn(n: usize, seed: u32) -> Vec<f32> {
    let mut rng = selfattn::numpy_rng::NumpyRng::new(seed);
    rng.randn(n).into_iter().map(|v| v as f32).collect()
}

/// Writes `data` as a `shape` .npy file `name` in `dir`; returns its path.
pub fn npy(dir: &Path, name: &str, shape: &[usize], data: &[f32]) -> PathBuf {
    let path = dir.join(name);
    selfattn::npy::write_array(&path, shape, data).unwrap();
    path
}

/// Writes a `shape` .npy file of [`randn`] values at `path`.
pub fn write_random_npy(path: &Path, shape: &[usize], seed: u32) {
    let data = randn(shape.iter().product(), seed);
    selfattn::npy::write_array(path, shape, &data).unwrap();
}

/// The metadata a viewer page embeds (its `viewer-data` JSON: tokens, labels, head scores).
pub fn page_data(page: &Path) -> serde_json::Value {
    let html = std::fs::read_to_string(page).unwrap();
    let open = "<script type=\"application/json\" id=\"viewer-data\">";
    let start = html.find(open).expect("a viewer page") + open.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

/// The mean row entropy (nats) of a map of rows `n` keys wide, as the head roles define it.
pub fn mean_entropy(map: &[f32], n: usize) -> f64 {
    let rows = map.len() / n;
    map.chunks(n)
        .map(|row| {
            row.iter()
                .filter(|&&w| w > 0.0)
                .map(|&w| -(w as f64) * (w as f64).ln())
                .sum::<f64>()
        })
        .sum::<f64>()
        / rows as f64
}
