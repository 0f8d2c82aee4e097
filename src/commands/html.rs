//! `--html FILE`, shared by every command that draws: check it, and every other output, up front
//! ([`check_targets`]), collect the run's facts, write the viewer page (see [`selfattn::viewer`]).

use super::say;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use selfattn::Result;
use selfattn::compare::Comparison;
use selfattn::error::Error;
use selfattn::fsutil::{check_dir_target, check_file_target, refuse_stdout};
use selfattn::viewer::{ViewerDoc, write_html};

/// Every output a command will write, checked before any work by [`check_targets`].
pub struct Targets<'a> {
    /// `--out` when a picture is drawn (`None`: no picture).
    pub out: Option<&'a Path>,
    /// The picture files `--out` stands for: itself, or one per text (`FILE_0.png` …).
    pub pictures: &'a [PathBuf],
    /// `--html`.
    pub html: Option<&'a Path>,
    /// `--save`'s folder.
    pub save: Option<&'a Path>,
    /// `--no-weights`: nothing N×N is formed, so nothing can show it.
    pub no_weights: bool,
}

/// Fails early, before any GPU work, when an output can't be written where asked: standard
/// output claimed twice, several pictures asked of `-`, a file or folder that cannot be
/// written, or `--html` without the weights.
pub fn check_targets(t: &Targets) -> Result<()> {
    super::claim_stdout(&[("--out", t.out), ("--html", t.html)])?;
    if let Some(out) = t.out {
        if t.pictures.len() > 1 {
            refuse_stdout(
                out,
                &format!(
                    "for --out with {} texts (one picture each)",
                    t.pictures.len()
                ),
            )?;
        }
        for p in t.pictures {
            check_file_target(p)?;
        }
    }
    if let Some(dir) = t.save {
        check_dir_target(dir)?;
    }
    check_target(t.html, t.no_weights)
}

/// Fails early, before any GPU work: `--html` needs the weights, and its file must be writable.
fn check_target(html: Option<&Path>, no_weights: bool) -> Result<()> {
    let Some(path) = html else {
        return Ok(());
    };
    if no_weights {
        return Err(Error::Usage(format!(
            "--html {} shows the attention weights, which --no-weights never forms; drop one of the two",
            path.display()
        )));
    }
    check_file_target(path)
}

/// The facts every page lists: the adapter, then `shapes`, then one line per GPU-vs-CPU check.
pub fn facts(
    adapter: &str,
    shapes: Vec<(String, String)>,
    checks: &[Comparison],
    tolerance: f64,
) -> Vec<(String, String)> {
    let mut facts = vec![("Adapter".to_string(), adapter.to_string())];
    facts.extend(shapes);
    if checks.is_empty() {
        facts.push(("GPU vs CPU".into(), "not checked".into()));
    }
    for c in checks {
        let line = c.to_string();
        let line = line.trim_start_matches(c.stage.name()).trim_start();
        facts.push((format!("GPU vs CPU (f64): {}", c.stage.name()), line.into()));
    }
    facts.push(("Tolerance".into(), format!("{tolerance:.1e}")));
    facts
}

/// Writes `doc` to `path` and says so; returns the time it took.
pub fn write(path: &Path, doc: &ViewerDoc) -> Result<Duration> {
    let start = Instant::now();
    write_html(path, doc)?;
    say!("Viewer written to {}", selfattn::fsutil::shown(path));
    Ok(start.elapsed())
}
