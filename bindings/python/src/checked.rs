//! One program run on the GPU and checked against the library's f64 CPU twin: the rule the
//! library keeps (a GPU result is never trusted alone), for every function that computes.

use std::borrow::Cow;
use std::ops::Range;

use selfattn::attention::Stage;
use selfattn::compare::{DEFAULT_TOLERANCE, compare_shaped};
use selfattn::cpu;
use selfattn::gpu::context::AdapterChoice;
use selfattn::gpu::row_blocks::{RowBlock, run_row_blocks};
use selfattn::program::{BufId, Program};

use crate::device::device;
use crate::errors::Failure;

/// One tensor to read back and check.
pub struct Wanted {
    /// Output or Weights (the library's tolerance rule differs).
    pub stage: Stage,
    /// Its shape, (…, L, ·) with the query rows second to last.
    pub shape: Vec<usize>,
    /// The buffer holding it.
    pub id: BufId,
}

/// The `tolerance=` argument: positive and finite, default the library's.
pub fn tolerance(given: Option<f64>) -> pyo3::PyResult<f64> {
    let t = given.unwrap_or(DEFAULT_TOLERANCE);
    if t.is_finite() && t > 0.0 {
        Ok(t)
    } else {
        Err(pyo3::exceptions::PyValueError::new_err(format!(
            "tolerance must be a positive number, got {t}"
        )))
    }
}

/// Runs `program` (every query row, `rows`) on the device `choice` names, and its CPU twin;
/// returns the wanted tensors, or [`Failure::Mismatch`] naming the first that disagrees beyond
/// `tolerance`. One block of every row: the output buffers are checked against the adapter's
/// binding limit, so weights too large for it are a clear error, never a wrong answer.
pub fn run(
    choice: &AdapterChoice,
    (program, inputs, rows): (Program, Vec<Cow<'_, [f32]>>, Range<usize>),
    wanted: &[Wanted],
    tolerance: f64,
) -> Result<Vec<Vec<f32>>, Failure> {
    let device = device(choice)?;
    let shapes: Vec<Vec<usize>> = wanted.iter().map(|w| w.shape.clone()).collect();
    let block = RowBlock {
        program,
        inputs,
        ids: wanted.iter().map(|w| w.id).collect(),
        rows,
    };
    let reference = |program: &Program, inputs: &[&[f32]], want: &[BufId]| {
        cpu::execute::execute(program, inputs, want)
    };
    let run = run_row_blocks(
        &device.ctx,
        &device.kernels,
        std::iter::once(Ok(block)),
        &shapes,
        (shapes.len(), Some(&reference)),
    )?;
    for (w, (gpu, cpu)) in wanted.iter().zip(run.values.iter().zip(&run.reference)) {
        let check = compare_shaped(w.stage, gpu, &w.shape, cpu, tolerance);
        if !check.passed {
            return Err(Failure::Mismatch(format!(
                "the GPU result on {} disagrees with the CPU reference: {check}",
                device.ctx.describe()
            )));
        }
    }
    Ok(run.values)
}

/// Refuses, before any work, weights of `count` f32 that would not fit the host: they are held
/// four times over (read back, their f64 reference, the numpy copy).
pub fn check_host_weights(count: u64) -> Result<(), Failure> {
    selfattn::limits::check_host_bytes(
        "the attention weights and their reference",
        count.saturating_mul(16),
        "need_weights=False computes the output without them",
    )?;
    Ok(())
}
