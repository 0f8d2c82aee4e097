//! What every command ends its report with: its GPU-vs-CPU comparisons ([`say_checks`]), the
//! phase times ("Times: …") and the verdict. One place, so the commands cannot drift apart in
//! wording.

use super::{Outcome, say};
use std::time::Duration;

use selfattn::compare::Comparison;
use selfattn::gpu::execute::Timings;
use selfattn::report;

/// One line of the GPU-vs-CPU report: a name column before the comparison (when the stage's
/// name alone does not say which tensor it is) and a note after it (e.g. the shape).
pub struct CheckLine<'a> {
    /// Shown left of the comparison, padded to a column.
    pub name: Option<&'a str>,
    /// The comparison.
    pub comparison: &'a Comparison,
    /// Shown right of it.
    pub note: Option<String>,
}

/// [`say_checks`] of named comparisons, the name in the first column.
pub fn say_named_checks(tolerance: f64, qualifier: &str, checks: &[(String, Comparison)]) {
    let lines: Vec<CheckLine> = checks
        .iter()
        .map(|(name, comparison)| CheckLine {
            name: Some(name),
            comparison,
            note: None,
        })
        .collect();
    say_checks("", tolerance, qualifier, &lines);
}

/// Prints "GPU vs CPU (f64) reference{scope}, tolerance T{qualifier}:" and one line per
/// comparison. `scope` says what was compared (", every element", " on 16 sampled query
/// rows …"), `qualifier` how to read the shapes.
pub fn say_checks(scope: &str, tolerance: f64, qualifier: &str, lines: &[CheckLine<'_>]) {
    say!("\nGPU vs CPU (f64) reference{scope}, tolerance {tolerance:.1e}{qualifier}:");
    for line in lines {
        let name = line.name.map_or(String::new(), |n| format!("{n:<18} "));
        let note = line
            .note
            .as_ref()
            .map_or(String::new(), |n| format!("   {n}"));
        say!("  {name}{}{note}", line.comparison);
    }
}

/// The lines of comparisons shown without a name or note.
pub fn plain_lines(checks: &[Comparison]) -> Vec<CheckLine<'_>> {
    checks
        .iter()
        .map(|comparison| CheckLine {
            name: None,
            comparison,
            note: None,
        })
        .collect()
}

/// One phase of the "Times:" line: its name and how long it took (`None`: skipped).
pub type Phase<'a> = (&'a str, Option<Duration>);

/// The GPU executor's three phases: upload, GPU and read-back.
pub fn gpu_phases(t: &Timings) -> [Phase<'static>; 3] {
    [
        ("upload", Some(t.upload)),
        ("GPU", Some(t.gpu)),
        ("read-back", Some(t.read_back)),
    ]
}

/// Prints "Times: name 1.234 ms, …" (a skipped phase reads "skipped").
pub fn say_times(phases: &[Phase<'_>]) {
    let parts: Vec<String> = phases
        .iter()
        .map(|(name, d)| format!("{name} {}", d.map_or("skipped".into(), report::ms)))
        .collect();
    say!("\nTimes: {}", parts.join(", "));
}

/// The outcome of named comparisons: the first failure, described, or Ok.
pub fn verdict<'a>(checks: impl IntoIterator<Item = (String, &'a Comparison)>) -> Outcome {
    match checks.into_iter().find(|(_, c)| !c.passed) {
        None => Outcome::Ok,
        Some((name, c)) => Outcome::Mismatch(format!(
            "GPU and CPU disagree in {name} at element {:?}: GPU {}, CPU {} (|Δ| {:.3e} > allowed {:.1e})",
            c.worst,
            c.worst_gpu,
            c.worst_cpu,
            (c.worst_gpu as f64 - c.worst_cpu).abs(),
            c.allowed
        )),
    }
}

/// The outcome of comparisons named by their stage ("stage 'weights'").
pub fn stage_verdict(checks: &[Comparison]) -> Outcome {
    verdict(
        checks
            .iter()
            .map(|c| (format!("stage '{}'", c.stage.name()), c)),
    )
}
