//! Single-head attention on the GPU: runs a [`Plan`] and returns the requested stages.

use std::collections::BTreeMap;

use crate::attention::{Attention, Plan, Stage};
use crate::error::Result;
use crate::tensor::Matrix;

use super::GpuContext;
pub use super::execute::{Kernels, Timings};
use super::row_blocks::{RowBlock, run_row_blocks};

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

/// Largest weights block one submission holds when the weights are split (16 MiB): with scores,
/// weights and staging per block, device and host memory stay near one N×N matrix.
pub const ROW_BLOCK_BYTES: u64 = 16 << 20;

/// Query rows per block when an N-wide f32 block may take `limit` bytes (at least 1).
pub fn rows_per_block(n: usize, limit: u64) -> usize {
    ((limit / (n.max(1) as u64 * 4)) as usize).clamp(1, n.max(1))
}

/// Whether the weights of `n` tokens are computed in row blocks on `ctx`: when N×N×4 bytes exceed
/// [`ROW_BLOCK_BYTES`] or the adapter's storage binding limit. Returns the rows per block.
pub fn row_blocks_for(ctx: &GpuContext, n: usize) -> Option<usize> {
    let limit = ctx.max_storage_bytes().0.min(ROW_BLOCK_BYTES);
    let bytes = (n as u64).saturating_mul(n as u64).saturating_mul(4);
    (bytes > limit).then(|| rows_per_block(n, limit))
}

/// Runs attention for `problem` block by block, `block_rows` query rows at a time (each block
/// its own [`Plan::row_block`] program and submission, through [`run_row_blocks`]), and
/// assembles the stages in `want` (Weights, Context and/or Output) into full matrices. Nothing N×N is ever allocated on the
/// device; the host holds the assembled results only.
pub fn attention_in_row_blocks(
    ctx: &GpuContext,
    kernels: &Kernels,
    problem: &Attention,
    block_rows: usize,
    want: &[Stage],
) -> Result<GpuRun> {
    let dims = problem.dims()?;
    let n = dims.n;
    let has_wo = problem.wo.is_some();
    let block_rows = block_rows.clamp(1, n);
    // The whole problem's plan only gives each stage's shape; it is never run.
    let whole = Plan::new(dims, problem.causal, has_wo);
    for stage in want {
        if !matches!(stage, Stage::Weights | Stage::Context | Stage::Output) {
            return Err(crate::error::Error::Usage(format!(
                "stage '{}' is not available when the weights are computed in row blocks",
                stage.name()
            )));
        }
    }
    let shapes: Vec<Vec<usize>> = want
        .iter()
        .map(|stage| {
            let (rows, cols) = whole.shape(*stage);
            vec![rows, cols]
        })
        .collect();
    let blocks = (0..n).step_by(block_rows).map(|start| {
        let rows = start..(start + block_rows).min(n);
        let plan = Plan::row_block(dims, problem.causal, has_wo, rows.clone());
        Ok(RowBlock {
            ids: want.iter().map(|s| plan.stages[s]).collect(),
            inputs: plan.row_block_input_data(problem, rows.clone()),
            program: plan.program,
            rows,
        })
    });
    let run = run_row_blocks(ctx, kernels, blocks, &shapes, (0, None))?;
    let (full, timings) = (run.values, run.timings);
    let mut results = BTreeMap::new();
    for (stage, data) in want.iter().zip(full) {
        let (rows, cols) = whole.shape(*stage);
        results.insert(*stage, Matrix::new(rows, cols, data)?);
    }
    Ok(GpuRun { results, timings })
}
