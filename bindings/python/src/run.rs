//! Running library work off the GIL, with panics turned into errors rather than aborts.

use std::panic::{AssertUnwindSafe, catch_unwind};

use pyo3::Python;

use crate::errors::Failure;

/// Runs `work` with the GIL released (other Python threads run meanwhile); a panic becomes
/// [`Failure::Panic`], so Python sees a `RuntimeError`, never a crash.
pub fn detached<T, F>(py: Python<'_>, work: F) -> Result<T, Failure>
where
    F: Send + FnOnce() -> Result<T, Failure>,
    T: Send,
{
    py.detach(|| {
        catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(Failure::Panic(message))
        })
    })
}
