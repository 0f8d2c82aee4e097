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

/// Lines of `path` that use wgpu in code (comments and doc comments do not count).
fn wgpu_uses(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            let code = line.split("//").next().unwrap_or("");
            code.contains("wgpu::")
        })
        .map(|(i, line)| format!("{}:{}: {}", path.display(), i + 1, line.trim()))
        .collect()
}

#[test]
fn only_the_gpu_layer_and_the_command_line_touch_wgpu() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let allowed = |p: &Path| {
        let rel = p.strip_prefix(&src).unwrap();
        rel.starts_with("gpu")
            || rel.starts_with("commands")
            || rel == Path::new("cli.rs")
            || rel == Path::new("main.rs")
    };
    let kernels = files.iter().filter(|p| p.starts_with(src.join("kernels")));
    assert!(kernels.count() >= 8, "src/kernels/ holds the kernels");
    let offenders: Vec<String> = files
        .iter()
        .filter(|p| !allowed(p))
        .flat_map(|p| wgpu_uses(p))
        .collect();
    assert!(
        offenders.is_empty(),
        "wgpu used outside src/gpu/ and the command line:\n{}",
        offenders.join("\n")
    );
}

/// Non-comment lines of `path` that name a command-line flag (`--` and a letter).
fn flag_mentions(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            let code = line.trim_start();
            !code.starts_with("//")
                && code
                    .as_bytes()
                    .windows(3)
                    .any(|w| w[0] == b'-' && w[1] == b'-' && w[2].is_ascii_lowercase())
        })
        .map(|(i, line)| format!("{}:{}: {}", path.display(), i + 1, line.trim()))
        .collect()
}

#[test]
fn library_messages_do_not_name_command_line_flags() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let command_line = |p: &Path| {
        let rel = p.strip_prefix(&src).unwrap();
        rel.starts_with("commands") || rel == Path::new("cli.rs") || rel == Path::new("main.rs")
    };
    let offenders: Vec<String> = files
        .iter()
        .filter(|p| !command_line(p))
        .flat_map(|p| flag_mentions(p))
        .collect();
    assert!(
        offenders.is_empty(),
        "the library names command-line flags (name the parameter, Error::Parameter, and let \
         main.rs show the flag):\n{}",
        offenders.join("\n")
    );
}
