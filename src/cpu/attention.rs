//! The CPU reference for a single-head [`Plan`].

use std::collections::BTreeMap;

use crate::attention::{Attention, Plan, Stage};

use super::execute::execute;

/// Every stage's result in f64, row-major, keyed by stage.
pub type CpuResults = BTreeMap<Stage, Vec<f64>>;

/// Runs `plan` on `problem` and returns the stages in `want`.
pub fn attention_stages(plan: &Plan, problem: &Attention, want: &[Stage]) -> CpuResults {
    let ids: Vec<_> = want.iter().map(|s| plan.stages[s]).collect();
    let buffers = execute(&plan.program, &plan.input_data(problem), &ids);
    want.iter()
        .zip(ids)
        .map(|(stage, id)| (*stage, buffers[id.0].clone()))
        .collect()
}

/// Runs `plan` on `problem` and returns every stage (raw scores included).
pub fn attention(plan: &Plan, problem: &Attention) -> CpuResults {
    attention_stages(plan, problem, &Stage::ALL)
}
