//! numpy arrays in and out. Inputs are float32 or float64 of any strides (read in C order, so a
//! transposed or sliced view is made contiguous here); anything else is refused with a
//! `ValueError` naming the tensor and its dtype. Outputs are new float32 C-order arrays.

use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{IntoPyArray, PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use selfattn::npy::{Array, BoolMask, Mask, bool_mask, float_mask};

/// Reads `obj` (a float32/float64 numpy array) as the library's f32 array, `name` naming it in
/// errors. float64 values are rounded to f32 (what the GPU computes with).
pub fn float_array(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Array> {
    if let Ok(a) = obj.cast::<PyArrayDyn<f32>>() {
        let ro = a.try_readonly().map_err(|e| borrow_error(name, e))?;
        let view = ro.as_array();
        return Ok(Array {
            shape: view.shape().to_vec(),
            data: view.iter().copied().collect(),
        });
    }
    if let Ok(a) = obj.cast::<PyArrayDyn<f64>>() {
        let ro = a.try_readonly().map_err(|e| borrow_error(name, e))?;
        let view = ro.as_array();
        return Ok(Array {
            shape: view.shape().to_vec(),
            data: view.iter().map(|&x| x as f32).collect(),
        });
    }
    Err(refused(obj, name, "float32 or float64"))
}

/// Reads a mask, bool (`meaning` says what True is: for `scaled_dot_product_attention` True =
/// take part, for `nn.MultiheadAttention` True = masked) or float (added to the scores, −inf
/// masking), as the library's additive mask.
pub fn mask(obj: &Bound<'_, PyAny>, name: &str, meaning: BoolMask) -> PyResult<Mask> {
    if let Ok(a) = obj.cast::<PyArrayDyn<bool>>() {
        let ro = a.try_readonly().map_err(|e| borrow_error(name, e))?;
        let view = ro.as_array();
        let values: Vec<bool> = view.iter().copied().collect();
        return Ok(bool_mask(view.shape().to_vec(), &values, meaning));
    }
    if obj.cast::<PyArrayDyn<f32>>().is_ok() || obj.cast::<PyArrayDyn<f64>>().is_ok() {
        let a = float_array(obj, name)?;
        return float_mask(a.shape, a.data, name).map_err(crate::errors::library);
    }
    Err(refused(obj, name, "bool, float32 or float64"))
}

/// `obj` as a numpy array: arrays as they are, anything else (a torch tensor, a list) through
/// `numpy.asarray`, so its dtype is checked like an array's.
pub fn as_numpy<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if obj.cast::<PyUntypedArray>().is_ok() {
        return Ok(obj.clone());
    }
    let numpy = obj.py().import("numpy")?;
    numpy.call_method1("asarray", (obj,))
}

/// A new float32 numpy array of `shape` holding `data` (C order).
pub fn to_numpy<'py>(
    py: Python<'py>,
    shape: &[usize],
    data: Vec<f32>,
) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    let a = ArrayD::from_shape_vec(IxDyn(shape), data)
        .map_err(|e| PyValueError::new_err(format!("output of shape {shape:?}: {e}")))?;
    Ok(a.into_pyarray(py))
}

/// The error for an argument that is not an array of the accepted dtypes.
fn refused(obj: &Bound<'_, PyAny>, name: &str, accepted: &str) -> PyErr {
    match obj.cast::<PyUntypedArray>() {
        Ok(a) => {
            let dtype = a
                .dtype()
                .str()
                .map(|s| s.to_string())
                .unwrap_or_else(|_| "?".into());
            PyValueError::new_err(format!(
                "{name} has dtype {dtype}; selfattn takes {accepted} arrays \
                 (convert with {name}.astype(numpy.float32))"
            ))
        }
        Err(_) => {
            let kind = obj
                .get_type()
                .name()
                .map(|s| s.to_string())
                .unwrap_or_else(|_| "?".into());
            PyValueError::new_err(format!(
                "{name} must be a numpy array ({accepted}), got {kind}"
            ))
        }
    }
}

fn borrow_error(name: &str, e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("{name} cannot be read: {e}"))
}
