//! Library errors as Python exceptions: what the caller got wrong is `ValueError`, what the GPU
//! or driver did is `RuntimeError`, a file that cannot be written is `OSError`; the message is
//! the library's own.

use pyo3::PyErr;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use selfattn::Error;

/// A failure of one call: the library's error, or one the bindings detect themselves.
#[derive(Debug)]
pub enum Failure {
    /// Anything the library reports.
    Library(Error),
    /// The GPU result disagrees with the CPU reference beyond the tolerance.
    Mismatch(String),
    /// A panic inside the library, caught before it reached Python.
    Panic(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Library(e)
    }
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> PyErr {
        match f {
            Failure::Library(e) => library(e),
            Failure::Mismatch(m) => PyRuntimeError::new_err(m),
            Failure::Panic(m) => PyRuntimeError::new_err(format!("selfattn panicked: {m}")),
        }
    }
}

/// The exception for a library error.
pub fn library(e: Error) -> PyErr {
    let message = e.to_string();
    match e {
        Error::NoAdapter(_)
        | Error::DeviceRequest { .. }
        | Error::BufferTooLarge { .. }
        | Error::Mapping(_)
        | Error::Validation { .. } => PyRuntimeError::new_err(message),
        Error::OutputFile { .. } => PyOSError::new_err(message),
        Error::ShapeMismatch(_)
        | Error::NonFinite { .. }
        | Error::Parameter { .. }
        | Error::InvalidSize(_)
        | Error::InputFile { .. }
        | Error::Usage(_) => PyValueError::new_err(message),
    }
}
