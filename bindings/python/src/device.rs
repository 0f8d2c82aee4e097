//! One GPU device per backend/adapter choice, opened on first use and kept for the life of the
//! process: opening a device and compiling every kernel costs far more than a small attention
//! call, so a notebook's hundredth call must not pay it again.

use std::str::FromStr;
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use selfattn::gpu::GpuContext;
use selfattn::gpu::context::{AdapterChoice, BackendChoice, list_adapters};
use selfattn::gpu::execute::Kernels;

use crate::errors::Failure;

/// An open device with its compiled kernels.
pub struct Device {
    /// The device.
    pub ctx: GpuContext,
    /// Every registered kernel, compiled for it.
    pub kernels: Kernels,
}

/// The devices opened so far, by (backend, adapter name) as asked for.
type Opened = Vec<((BackendChoice, Option<String>), Arc<Device>)>;
static OPENED: Mutex<Opened> = Mutex::new(Vec::new());

/// Parses the `backend=` argument (None = auto: `WGPU_BACKEND`, else every backend).
pub fn backend(name: Option<&str>) -> PyResult<BackendChoice> {
    match name {
        None => Ok(BackendChoice::Auto),
        Some(n) => {
            BackendChoice::from_str(n).map_err(|e| PyValueError::new_err(format!("backend: {e}")))
        }
    }
}

/// The choice the `backend=`/`adapter=` arguments make.
pub fn choice(backend_name: Option<&str>, adapter: Option<String>) -> PyResult<AdapterChoice> {
    Ok(AdapterChoice {
        backend: backend(backend_name)?,
        name: adapter,
    })
}

/// The device for `choice`, opened (and its kernels compiled) on the first call only.
pub fn device(choice: &AdapterChoice) -> Result<Arc<Device>, Failure> {
    let key = (choice.backend, choice.name.clone());
    // A panic while opening poisons the lock; what it guards is still a valid list.
    let mut opened = OPENED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, d)) = opened.iter().find(|(k, _)| *k == key) {
        return Ok(d.clone());
    }
    let ctx = GpuContext::open(choice)?;
    let kernels = Kernels::new(&ctx)?;
    let device = Arc::new(Device { ctx, kernels });
    opened.push((key, device.clone()));
    Ok(device)
}

/// How many devices this process has opened (for the tests: repeated calls must not open more).
#[pyfunction]
pub fn _devices_opened() -> usize {
    OPENED.lock().unwrap_or_else(|e| e.into_inner()).len()
}

/// Every adapter wgpu sees for `backend` (None: every backend, or `WGPU_BACKEND`), as dicts
/// with its name, backend, device type and driver.
#[pyfunction]
#[pyo3(signature = (backend=None))]
pub fn devices<'py>(py: Python<'py>, backend: Option<&str>) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let choice = self::backend(backend)?;
    let infos = crate::run::detached(py, || {
        Ok(list_adapters(choice)
            .iter()
            .map(|a| a.get_info())
            .collect::<Vec<_>>())
    })?;
    infos
        .into_iter()
        .map(|info| {
            let d = PyDict::new(py);
            d.set_item("name", &info.name)?;
            d.set_item("backend", format!("{:?}", info.backend).to_lowercase())?;
            d.set_item("device_type", format!("{:?}", info.device_type))?;
            d.set_item(
                "driver",
                format!("{} {}", info.driver, info.driver_info).trim(),
            )?;
            Ok(d)
        })
        .collect()
}
