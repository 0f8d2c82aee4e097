//! The Python face of selfattn: numpy arrays in and out, the viewer inline in notebooks.
//!
//! Why a separate crate: the main crate stays usable (and buildable) without Python; this cdylib
//! only converts between Python objects and the library's types and calls the library, so there
//! is no second copy of any attention, viewer or drawing logic here. The pure-Python package
//! (`python/selfattn/`) adds docstrings and the input forms (torch tensors, transformers'
//! tuples) on top of the functions registered here.
//!
//! Every call that touches the GPU releases the GIL ([`run::detached`]) and reuses one device
//! per backend/adapter choice ([`device`]); every failure is a Python exception ([`errors`]).

mod arrays;
mod attention;
mod checked;
mod device;
mod errors;
mod mha;
mod model;
mod run;
mod view;

use pyo3::prelude::*;

/// The extension module `selfattn._selfattn`.
#[pymodule]
fn _selfattn(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(attention::attention, m)?)?;
    m.add_function(wrap_pyfunction!(mha::mha, m)?)?;
    m.add_function(wrap_pyfunction!(model::model, m)?)?;
    m.add_function(wrap_pyfunction!(device::devices, m)?)?;
    m.add_function(wrap_pyfunction!(device::_devices_opened, m)?)?;
    m.add_class::<view::Page>()?;
    m.add("DEFAULT_TOLERANCE", selfattn::compare::DEFAULT_TOLERANCE)?;
    Ok(())
}
