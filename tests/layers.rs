//! The layering ARCHITECTURE.md describes, enforced: only `src/gpu/` and the command line
//! touch wgpu, so the kernels' params, the programs, the CPU twins and the problems can be
//! used (and tested, and wrapped for Python) without a GPU stack.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The non-comment lines of `path` that `matches`, each as "path:line: text".
fn code_lines(path: &Path, matches: impl Fn(&str) -> bool) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            let code = line.trim_start();
            !code.starts_with("//") && matches(code.split("//").next().unwrap_or(""))
        })
        .map(|(i, line)| format!("{}:{}: {}", path.display(), i + 1, line.trim()))
        .collect()
}

/// Lines of `path` that use wgpu in code.
fn wgpu_uses(path: &Path) -> Vec<String> {
    code_lines(path, |code| code.contains("wgpu::"))
}

/// Lines of `path` that name a command-line flag (`--` and a letter).
fn flag_mentions(path: &Path) -> Vec<String> {
    code_lines(path, |code| {
        code.as_bytes()
            .windows(3)
            .any(|w| w[0] == b'-' && w[1] == b'-' && w[2].is_ascii_lowercase())
    })
}

/// Every line of src/ outside the folders and files `exempt` (relative to src/) that
/// `offends`.
fn offenders(exempt: &[&str], offends: fn(&Path) -> Vec<String>) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(
        files
            .iter()
            .filter(|p| p.starts_with(src.join("kernels")))
            .count()
            >= 8,
        "src/kernels/ holds the kernels"
    );
    files
        .iter()
        .filter(|p| {
            let rel = p.strip_prefix(&src).unwrap();
            !exempt.iter().any(|e| rel.starts_with(e))
        })
        .flat_map(|p| offends(p))
        .collect()
}

/// The command line: the only place that knows the flags.
const COMMAND_LINE: [&str; 3] = ["commands", "cli.rs", "main.rs"];

#[test]
fn only_the_gpu_layer_and_the_command_line_touch_wgpu() {
    let found = offenders(&[&COMMAND_LINE[..], &["gpu"]].concat(), wgpu_uses);
    assert!(
        found.is_empty(),
        "wgpu used outside src/gpu/ and the command line:\n{}",
        found.join("\n")
    );
}

#[test]
fn library_messages_do_not_name_command_line_flags() {
    let found = offenders(&COMMAND_LINE, flag_mentions);
    assert!(
        found.is_empty(),
        "the library names command-line flags (name the parameter, Error::Parameter, and let \
         main.rs show the flag):\n{}",
        found.join("\n")
    );
}
