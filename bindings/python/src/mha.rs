//! `selfattn.mha`: `torch.nn.MultiheadAttention(batch_first=True)` in eval mode, its parameters
//! from a safetensors file or a dict of numpy arrays under PyTorch's names, run by the library's
//! MHA plan and checked against its CPU twin.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use selfattn::attention::Stage;
use selfattn::mha::{MhaPlan, MhaProblem, MhaWeights};
use selfattn::npy::BoolMask;
use selfattn::state_dict::{StateDict, Tensor};

use crate::arrays::{float_array, mask};
use crate::attention::{Outputs, outputs};
use crate::checked::{self, Wanted};
use crate::device::choice;
use crate::errors::{Failure, library};
use crate::run::detached;

/// The module's parameters: a dict name → array becomes the library's [`StateDict`] (so its
/// shape checks and messages are the same as for a file); anything else is a safetensors path.
fn load_state_dict(obj: &Bound<'_, PyAny>) -> PyResult<StateDict> {
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut tensors = BTreeMap::new();
        for (name, value) in dict.iter() {
            let name: String = name.extract().map_err(|_| {
                pyo3::exceptions::PyValueError::new_err(
                    "state_dict's keys must be strings (PyTorch's parameter names)",
                )
            })?;
            let value = crate::arrays::as_numpy(&value)?;
            let a = float_array(&value, &format!("state_dict['{name}']"))?;
            tensors.insert(
                name,
                Tensor {
                    shape: a.shape,
                    data: a.data,
                },
            );
        }
        return Ok(StateDict {
            path: PathBuf::from("state_dict (dict)"),
            tensors,
            other_dtypes: BTreeMap::new(),
        });
    }
    let path: PathBuf = obj.extract().map_err(|_| {
        pyo3::exceptions::PyValueError::new_err(format!(
            "state_dict must be a safetensors file's path or a dict of arrays, got {}",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    StateDict::load(&path).map_err(library)
}

/// nn.MultiheadAttention's forward on the GPU, checked against the CPU reference; see the
/// Python wrapper's docstring.
#[pyfunction]
#[pyo3(signature = (state_dict, query, key=None, value=None, *, heads, key_padding_mask=None, attn_mask=None, causal=false, need_weights=true, average_weights=true, backend=None, adapter=None, tolerance=None))]
#[allow(clippy::too_many_arguments)]
pub fn mha<'py>(
    py: Python<'py>,
    state_dict: &Bound<'py, PyAny>,
    query: &Bound<'py, PyAny>,
    key: Option<&Bound<'py, PyAny>>,
    value: Option<&Bound<'py, PyAny>>,
    heads: usize,
    key_padding_mask: Option<&Bound<'py, PyAny>>,
    attn_mask: Option<&Bound<'py, PyAny>>,
    causal: bool,
    need_weights: bool,
    average_weights: bool,
    backend: Option<&str>,
    adapter: Option<String>,
    tolerance: Option<f64>,
) -> PyResult<Outputs<'py>> {
    let tolerance = checked::tolerance(tolerance)?;
    let sd = load_state_dict(state_dict)?;
    let problem = MhaProblem {
        weights: MhaWeights::from_state_dict(&sd).map_err(library)?,
        heads,
        query: float_array(query, "query")?,
        key: key.map(|k| float_array(k, "key")).transpose()?,
        value: value.map(|v| float_array(v, "value")).transpose()?,
        key_padding_mask: key_padding_mask
            .map(|m| mask(m, "key_padding_mask", BoolMask::TrueMasks))
            .transpose()?,
        attn_mask: attn_mask
            .map(|m| mask(m, "attn_mask", BoolMask::TrueMasks))
            .transpose()?,
        causal,
    };
    let choice = choice(backend, adapter)?;
    let tensors = detached(py, || {
        let dims = problem.dims()?;
        if need_weights {
            let count = (dims.n * dims.heads * dims.l) as u64 * dims.s as u64;
            checked::check_host_weights(count)?;
        }
        let plan = MhaPlan::new(&problem, dims);
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
                shape: plan.weights_shape(!average_weights),
                id: if average_weights {
                    plan.weights_mean
                } else {
                    plan.weights_per_head
                },
            });
        }
        let values = checked::run(
            &choice,
            (plan.program, plan.input_data, plan.rows),
            &wanted,
            tolerance,
        )?;
        Ok::<_, Failure>(wanted.into_iter().map(|w| w.shape).zip(values).collect())
    })?;
    outputs(py, tensors)
}
