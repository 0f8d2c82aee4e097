//! `selfattn.attention`: `torch.nn.functional.scaled_dot_product_attention` on numpy arrays, run
//! by the library's SDPA plan on the GPU and checked against its f64 CPU twin.

use numpy::PyArrayDyn;
use pyo3::prelude::*;
use selfattn::attention::Stage;
use selfattn::npy::BoolMask;
use selfattn::sdpa::{SdpaPlan, SdpaProblem};

use crate::arrays::{float_array, mask, to_numpy};
use crate::checked::{self, Wanted};
use crate::device::choice;
use crate::errors::Failure;
use crate::run::detached;

/// Tensors read back, each as (shape, values).
pub type Tensors = Vec<(Vec<usize>, Vec<f32>)>;

/// The output and, when asked for, the weights.
pub type Outputs<'py> = (
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
    let tolerance = checked::tolerance(tolerance)?;
    let problem = SdpaProblem {
        q: float_array(q, "q")?,
        k: float_array(k, "k")?,
        v: float_array(v, "v")?,
        attn_mask: mask
            .map(|m| self::mask(m, "mask", BoolMask::TrueAllows))
            .transpose()?,
        causal,
        scale: scale.map(|s| s as f32),
    };
    let choice = choice(backend, adapter)?;
    let tensors = detached(py, || run(&problem, &choice, need_weights, tolerance))?;
    outputs(py, tensors)
}

/// The (output, weights) pair from the (shape, values) of the output and maybe the weights.
pub fn outputs(py: Python<'_>, tensors: Tensors) -> PyResult<Outputs<'_>> {
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
) -> Result<Tensors, Failure> {
    let dims = problem.dims()?;
    if need_weights {
        checked::check_host_weights((dims.batch * dims.l) as u64 * dims.s as u64)?;
    }
    let plan = SdpaPlan::new(problem, dims)?;
    let mut wanted = vec![Wanted {
        stage: Stage::Output,
        shape: plan.output_shape(),
        id: if need_weights {
            plan.output
        } else {
            plan.output_no_weights
        },
    }];
    if need_weights {
        wanted.push(Wanted {
            stage: Stage::Weights,
            shape: plan.weights_shape(),
            id: plan.weights,
        });
    }
    let values = checked::run(
        choice,
        (plan.program, plan.input_data, plan.rows),
        &wanted,
        tolerance,
    )?;
    Ok(wanted.into_iter().map(|w| w.shape).zip(values).collect())
}
