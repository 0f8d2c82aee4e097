//! What every command ends its report with: the phase times ("Times: …") and the verdict of
//! its GPU-vs-CPU comparisons. One place, so the commands cannot drift apart in wording.

use super::{Outcome, say};
use std::time::Duration;

use selfattn::compare::Comparison;
use selfattn::gpu::execute::Timings;
use selfattn::report;

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
