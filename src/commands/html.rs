//! `--html FILE`, shared by `run`, `mha` and `sdpa`: check the target up front, collect the run's
//! facts, write the viewer page (see [`selfattn::viewer`]).

use super::say;
use std::path::Path;
use std::time::{Duration, Instant};

use selfattn::Result;
use selfattn::compare::Comparison;
use selfattn::error::Error;
use selfattn::fsutil::check_file_target;
use selfattn::viewer::{ViewerDoc, write_html};

/// Fails early, before any GPU work: `--html` needs the weights, and its file must be writable.
pub fn check_target(html: Option<&Path>, no_weights: bool) -> Result<()> {
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
