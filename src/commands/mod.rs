//! The subcommands. Each returns an [`Outcome`] (or an error) and leaves exit codes to `main`.

pub mod bench;
pub mod bench_decoder;
pub mod bench_model;
pub mod devices;
pub mod explain;
pub mod html;
pub mod inputs;
pub mod mha;
pub mod model;
pub mod model_draw;
pub mod model_llama;
pub mod progress;
pub mod run;
pub mod sdpa;
pub mod summary;
pub mod tensors;

/// What a finished command reports back to `main`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Everything checked out.
    Ok,
    /// The GPU disagreed with the CPU reference; the message names the stage and element.
    Mismatch(String),
}

/// Whether the report goes to standard error, because standard output carries a data file
/// (`--out -`, `--html -`, `--json -`).
static REPORT_ON_STDERR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes one report line (as `println!`) to standard output, or to standard error once an
/// output file has claimed standard output ([`claim_stdout`]).
macro_rules! say {
    ($($arg:tt)*) => {
        if $crate::commands::report_on_stderr() {
            eprintln!($($arg)*)
        } else {
            println!($($arg)*)
        }
    };
}

/// [`say!`] without the newline (as `print!`).
macro_rules! say_part {
    ($($arg:tt)*) => {
        if $crate::commands::report_on_stderr() {
            eprint!($($arg)*)
        } else {
            print!($($arg)*)
        }
    };
}

pub(crate) use {say, say_part};

/// Whether [`say!`] writes to standard error.
pub fn report_on_stderr() -> bool {
    REPORT_ON_STDERR.load(std::sync::atomic::Ordering::Relaxed)
}

/// Called up front with every output flag that names one file (flag, path): if one is `-`, the
/// report moves to standard error so that standard output holds that file's bytes alone; two
/// `-` at once are refused (their bytes would be mixed).
pub fn claim_stdout(outputs: &[(&str, Option<&std::path::Path>)]) -> selfattn::Result<()> {
    let to_stdout: Vec<&str> = outputs
        .iter()
        .filter(|(_, p)| p.is_some_and(|p| p.as_os_str() == "-"))
        .map(|(flag, _)| *flag)
        .collect();
    if to_stdout.len() > 1 {
        return Err(selfattn::Error::Usage(format!(
            "{} each name '-' (standard output): only one output can go there",
            to_stdout.join(" and ")
        )));
    }
    if !to_stdout.is_empty() {
        REPORT_ON_STDERR.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(())
}
