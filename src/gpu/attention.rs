//! Single-head attention on the GPU: runs a [`Plan`] and returns the requested stages.

use std::collections::BTreeMap;

use crate::attention::{Attention, Plan, Stage};
use crate::error::Result;
use crate::tensor::Matrix;

use super::GpuContext;
pub use super::execute::{Kernels, Timings};

/// The stages read back from one GPU run.
pub struct GpuRun {
    /// One matrix per requested stage.
    pub results: BTreeMap<Stage, Matrix>,
    /// Phase times.
    pub timings: Timings,
}

/// Runs `plan` for `problem` on the GPU and reads back the stages in `want`.
pub fn attention(
    ctx: &GpuContext,
    kernels: &Kernels,
    plan: &Plan,
    problem: &Attention,
    want: &[Stage],
) -> Result<GpuRun> {
    let ids: Vec<_> = want.iter().map(|s| plan.stages[s]).collect();
    let (values, timings) =
        super::execute::execute(ctx, kernels, &plan.program, &plan.input_data(problem), &ids)?;
    let mut results = BTreeMap::new();
    for (stage, data) in want.iter().zip(values) {
        let (rows, cols) = plan.shape(*stage);
        results.insert(*stage, Matrix::new(rows, cols, data)?);
    }
    Ok(GpuRun { results, timings })
}
