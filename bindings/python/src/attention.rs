//! `selfattn.attention`: `torch.nn.functional.scaled_dot_product_attention` on numpy arrays, run
//! by the library's SDPA plan on the GPU and checked against its f64 CPU twin.

use numpy::PyArrayDyn;
use pyo3::prelude::*;
use selfattn::attention::Stage;
use selfattn::compare::{DEFAULT_TOLERANCE, compare_shaped};
use selfattn::cpu;
use selfattn::gpu::row_blocks::{RowBlock, run_row_blocks};
use selfattn::limits;
use selfattn::program::{BufId, Program};
use selfattn::sdpa::{SdpaPlan, SdpaProblem};

use crate::arrays::{float_array, sdpa_mask, to_numpy};
use crate::device::{choice, device};
use crate::errors::Failure;
use crate::run::detached;

/// The output and, when asked for, the weights.
type Outputs<'py> = (
    Bound<'py, PyArrayDyn<f32>>,
    Option<Bound<'py, PyArrayDyn<f32>>>,
);

/// scaled_dot_product_attention(q, k, v) on the GPU, checked against the CPU reference; see the
/// Python wrapper's docstring.
#[pyfunction]
#[pyo3(signature = (q, k, v, mask=None, causal=false, scale=None, need_weights=true, backend=None, adapter=None, tolerance=None))]
#[allow(clippy::too_many_arguments)]
pub fn attention<'py>(
    py: Python<'py>,
    q: &Bound<'py, PyAny>,
    k: &Bound<'py, PyAny>,
    v: &Bound<'py, PyAny>,
    mask: Option<&Bound<'py, PyAny>>,
    causal: bool,
    scale: Option<f64>,
    need_weights: bool,
    backend: Option<&str>,
    adapter: Option<String>,
    tolerance: Option<f64>,
) -> PyResult<Outputs<'py>> {
    let tolerance = tolerance.unwrap_or(DEFAULT_TOLERANCE);
    if !(tolerance.is_finite() && tolerance > 0.0) {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "tolerance must be a positive number, got {tolerance}"
        )));
    }
    let problem = SdpaProblem {
        q: float_array(q, "q")?,
        k: float_array(k, "k")?,
        v: float_array(v, "v")?,
        attn_mask: mask.map(|m| sdpa_mask(m, "mask")).transpose()?,
        causal,
        scale: scale.map(|s| s as f32),
    };
    let choice = choice(backend, adapter)?;
    let tensors = detached(py, || run(&problem, &choice, need_weights, tolerance))?;
    let mut tensors = tensors.into_iter();
    let (shape, output) = tensors.next().expect("the output is always computed");
    let output = to_numpy(py, &shape, output)?;
    let weights = tensors
        .next()
        .map(|(shape, w)| to_numpy(py, &shape, w))
        .transpose()?;
    Ok((output, weights))
}

/// Plans, runs and checks `problem`; returns (shape, values) of the output and, with
/// `need_weights`, of the weights.
fn run(
    problem: &SdpaProblem,
    choice: &selfattn::gpu::context::AdapterChoice,
    need_weights: bool,
    tolerance: f64,
) -> Result<Vec<(Vec<usize>, Vec<f32>)>, Failure> {
    let dims = problem.dims()?;
    if need_weights {
        let bytes = (dims.batch as u64)
            .saturating_mul(dims.l as u64)
            .saturating_mul(dims.s as u64)
            .saturating_mul(4);
        // The read-back weights, their CPU reference (f64) and the numpy copy.
        limits::check_host_bytes(
            "the attention weights and their reference",
            bytes.saturating_mul(4),
            "need_weights=False computes the output without them",
        )?;
    }
    let device = device(choice)?;
    let plan = SdpaPlan::new(problem, dims.clone())?;
    let mut wanted = vec![(
        Stage::Output,
        plan.output_shape(),
        if need_weights {
            plan.output
        } else {
            plan.output_no_weights
        },
    )];
    if need_weights {
        wanted.push((Stage::Weights, plan.weights_shape(), plan.weights));
    }
    let shapes: Vec<Vec<usize>> = wanted.iter().map(|w| w.1.clone()).collect();
    // One block of every query row: the output buffers are checked against the adapter's
    // binding limit, so weights too large for it are a clear error rather than a wrong answer.
    let block = RowBlock {
        ids: wanted.iter().map(|w| w.2).collect(),
        rows: plan.rows.clone(),
        program: plan.program,
        inputs: plan.input_data,
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
    for ((stage, shape, _), (gpu, cpu)) in wanted.iter().zip(run.values.iter().zip(&run.reference))
    {
        let check = compare_shaped(*stage, gpu, shape, cpu, tolerance);
        if !check.passed {
            return Err(Failure::Mismatch(format!(
                "the GPU result on {} disagrees with the CPU reference: {check}",
                device.ctx.describe()
            )));
        }
    }
    Ok(shapes.into_iter().zip(run.values).collect())
}
