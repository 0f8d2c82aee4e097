//! Adapter choice and device creation.
//!
//! The backend and adapter come from flags or from wgpu's own environment variables
//! (`WGPU_BACKEND`, `WGPU_ADAPTER_NAME`), flags winning. When several adapters qualify, a real GPU
//! is preferred over a software one.

use crate::kernels::flash::FlashVariant;
use crate::kernels::matmul::MatmulVariant;
use crate::kernels::softmax::SoftmaxVariant;
use crate::kernels::{DeviceCaps, Variants};
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The `--backend` flag.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackendChoice {
    /// Whatever `WGPU_BACKEND` says, else every backend wgpu was built with.
    #[default]
    Auto,
    /// Vulkan (lavapipe on GPU-less Linux).
    Vulkan,
    /// Metal (macOS).
    Metal,
    /// Direct3D 12 (Windows).
    Dx12,
    /// OpenGL / GLES (llvmpipe through EGL on GPU-less Linux).
    Gl,
}

impl BackendChoice {
    /// All names accepted by [`FromStr`].
    pub const NAMES: [&'static str; 5] = ["auto", "vulkan", "metal", "dx12", "gl"];

    fn backends(self) -> wgpu::Backends {
        match self {
            BackendChoice::Auto => wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all()),
            BackendChoice::Vulkan => wgpu::Backends::VULKAN,
            BackendChoice::Metal => wgpu::Backends::METAL,
            BackendChoice::Dx12 => wgpu::Backends::DX12,
            BackendChoice::Gl => wgpu::Backends::GL,
        }
    }
}

impl FromStr for BackendChoice {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(BackendChoice::Auto),
            "vulkan" | "vk" => Ok(BackendChoice::Vulkan),
            "metal" | "mtl" => Ok(BackendChoice::Metal),
            "dx12" | "d3d12" => Ok(BackendChoice::Dx12),
            "gl" | "gles" | "opengl" => Ok(BackendChoice::Gl),
            other => Err(format!(
                "unknown backend '{other}' (expected one of {})",
                Self::NAMES.join(", ")
            )),
        }
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Vulkan => "vulkan",
            BackendChoice::Metal => "metal",
            BackendChoice::Dx12 => "dx12",
            BackendChoice::Gl => "gl",
        };
        f.write_str(name)
    }
}

/// Which adapter to open: backend plus an optional case-insensitive substring of its name.
#[derive(Clone, Debug, Default)]
pub struct AdapterChoice {
    /// The backend flag.
    pub backend: BackendChoice,
    /// `--adapter NAME`, else `WGPU_ADAPTER_NAME`.
    pub name: Option<String>,
}

impl AdapterChoice {
    fn name_filter(&self) -> Option<String> {
        self.name
            .clone()
            .or_else(|| std::env::var("WGPU_ADAPTER_NAME").ok())
            .filter(|n| !n.trim().is_empty())
            .map(|n| n.to_lowercase())
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        let backends = self.backend.backends();
        if backends != wgpu::Backends::all() {
            parts.push(format!("backend {backends:?}"));
        }
        if let Some(name) = self.name_filter() {
            parts.push(format!("name containing '{name}'"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" for {}", parts.join(" and "))
        }
    }
}

fn instance(backends: wgpu::Backends) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle().with_env();
    desc.backends = backends;
    wgpu::Instance::new(desc)
}

/// Every adapter wgpu sees for the chosen backend(s), in enumeration order.
pub fn list_adapters(backend: BackendChoice) -> Vec<wgpu::Adapter> {
    let instance = instance(backend.backends());
    pollster::block_on(instance.enumerate_adapters(backend.backends()))
}

fn preference(info: &wgpu::AdapterInfo) -> u8 {
    match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    }
}

/// Loop iterations per invocation we allow on llvmpipe (its cap is about 65,535).
pub const LLVMPIPE_LOOP_BUDGET: u64 = 60_000;

/// Environment variable that lowers the storage binding limit selfattn plans with (bytes).
pub const MAX_STORAGE_ENV: &str = "SELFATTN_MAX_STORAGE_BYTES";

/// An open device with the facts about it that the rest of the crate needs.
pub struct GpuContext {
    /// The wgpu device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// Name, backend, driver of the adapter.
    pub info: wgpu::AdapterInfo,
    /// The limits the device was opened with (the adapter's own).
    pub limits: wgpu::Limits,
}

impl GpuContext {
    /// Opens the best adapter matching `choice`, with the adapter's full limits.
    pub fn open(choice: &AdapterChoice) -> Result<Self> {
        let filter = choice.name_filter();
        let mut adapters: Vec<wgpu::Adapter> = list_adapters(choice.backend)
            .into_iter()
            .filter(|a| match &filter {
                Some(f) => a.get_info().name.to_lowercase().contains(f),
                None => true,
            })
            .collect();
        adapters.sort_by_key(|a| preference(&a.get_info()));
        let adapter = adapters
            .into_iter()
            .next()
            .ok_or_else(|| Error::NoAdapter(choice.describe()))?;
        let info = adapter.get_info();
        log::info!(
            "adapter: {} ({:?}, {:?}, driver {} {})",
            info.name,
            info.backend,
            info.device_type,
            info.driver,
            info.driver_info
        );
        let limits = adapter.limits();
        // Timestamps let `bench` time the kernels on the GPU's own clock where the adapter has one;
        // subgroups let the softmax reduce a row across invocations.
        let features =
            adapter.features() & (wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::SUBGROUP);
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("selfattn"),
            required_features: features,
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| Error::DeviceRequest {
            adapter: info.name.clone(),
            message: e.to_string(),
        })?;
        Ok(GpuContext {
            device,
            queue,
            info,
            limits,
        })
    }

    /// One line naming the adapter and backend, for reports.
    pub fn describe(&self) -> String {
        format!(
            "{} ({:?}, {:?})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }

    /// How many loop iterations one invocation may run in total, when the driver caps it:
    /// Mesa's llvmpipe (behind lavapipe and Mesa's software GL) ends an invocation's loops after
    /// about 65,535 iterations summed over all its loops, silently (found here: the output-only
    /// kernel wrote only its first column once S·(d + d_v) passed ~63,000). Kernels whose loop
    /// counts grow with the problem are split or refused against this budget, kept below the
    /// cap for a margin. `None`: no known cap.
    pub fn loop_budget(&self) -> Option<u64> {
        let llvmpipe = self.info.name.to_lowercase().contains("llvmpipe")
            || self.info.device_type == wgpu::DeviceType::Cpu;
        llvmpipe.then_some(LLVMPIPE_LOOP_BUDGET)
    }

    /// The adapter's smallest and largest subgroup size (0 where it has no subgroups).
    pub fn subgroup_sizes(&self) -> (u32, u32) {
        (self.info.subgroup_min_size, self.info.subgroup_max_size)
    }

    /// What this device offers the kernel variants.
    pub fn caps(&self) -> DeviceCaps {
        DeviceCaps {
            cpu: self.info.device_type == wgpu::DeviceType::Cpu,
            subgroups: self.device.features().contains(wgpu::Features::SUBGROUP),
            subgroup_sizes: self.subgroup_sizes(),
            workgroup_storage: self.limits.max_compute_workgroup_storage_size,
            invocations_per_workgroup: self.limits.max_compute_invocations_per_workgroup,
            workgroup_size_xy: (
                self.limits.max_compute_workgroup_size_x,
                self.limits.max_compute_workgroup_size_y,
            ),
        }
    }

    /// The kernel variants this device runs by default ([`Variants::for_device`]).
    pub fn variants(&self) -> Variants {
        Variants::for_device(&self.caps())
    }

    /// The matmul kernel for this device.
    pub fn matmul_variant(&self) -> MatmulVariant {
        self.variants().matmul
    }

    /// The output-only kernel for this device.
    pub fn flash_variant(&self) -> FlashVariant {
        self.variants().flash
    }

    /// The softmax kernel for this device.
    pub fn softmax_variant(&self) -> SoftmaxVariant {
        self.variants().softmax
    }

    /// The largest buffer we may bind as storage: the smaller of the two limits, with its name.
    /// [`MAX_STORAGE_ENV`] lowers it (never raises it), to try the row-block paths of a device
    /// with smaller limits on small problems.
    pub fn max_storage_bytes(&self) -> (u64, &'static str) {
        let binding = self.limits.max_storage_buffer_binding_size;
        let device = if binding <= self.limits.max_buffer_size {
            (binding, "max_storage_buffer_binding_size")
        } else {
            (self.limits.max_buffer_size, "max_buffer_size")
        };
        match std::env::var(MAX_STORAGE_ENV).map(|v| v.trim().parse::<u64>()) {
            Ok(Ok(lower)) if lower < device.0 => (lower.max(4), MAX_STORAGE_ENV),
            Ok(Err(_)) => {
                static WARNED: std::sync::Once = std::sync::Once::new();
                WARNED.call_once(|| {
                    log::warn!("{MAX_STORAGE_ENV} is not a number of bytes; ignored")
                });
                device
            }
            _ => device,
        }
    }

    /// Errors when a storage buffer of `bytes` for `what` exceeds the adapter's limits.
    pub fn check_storage_size(&self, what: &str, bytes: u64) -> Result<()> {
        // The kernels index with u32, so no buffer may hold more than 2^32 − 1 elements.
        let (limit, limit_name) = match self.max_storage_bytes() {
            (limit, _) if limit / 4 > u32::MAX as u64 => (
                u32::MAX as u64 * 4,
                "the kernels' u32 indexing (2^32 − 1 elements)",
            ),
            other => other,
        };
        if bytes > limit {
            return Err(Error::BufferTooLarge {
                what: what.to_string(),
                needed: bytes,
                limit_name,
                limit,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_round_trip() {
        for name in BackendChoice::NAMES {
            let parsed: BackendChoice = name.parse().unwrap();
            assert_eq!(parsed.to_string(), name);
        }
        assert!(
            "cuda"
                .parse::<BackendChoice>()
                .unwrap_err()
                .contains("cuda")
        );
    }
}
