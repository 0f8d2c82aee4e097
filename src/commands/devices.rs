//! `selfattn devices`: what wgpu can see on this machine.

use super::say;
use selfattn::Result;
use selfattn::error::Error;
use selfattn::gpu::context::list_adapters;

use super::Outcome;
use crate::cli::GpuArgs;

/// Prints every adapter with its limits and features; errors (exit 4) when there is none.
pub fn devices(args: &GpuArgs) -> Result<Outcome> {
    let adapters = list_adapters(args.backend);
    if adapters.is_empty() {
        return Err(Error::NoAdapter(format!(" (backend {})", args.backend)));
    }
    for (i, adapter) in adapters.iter().enumerate() {
        let info = adapter.get_info();
        let limits = adapter.limits();
        let features = adapter.features();
        let mib = |b: u64| format!("{:.0} MiB", b as f64 / (1 << 20) as f64);
        let has = |f: wgpu::Features| if features.contains(f) { "yes" } else { "no" };
        say!("[{i}] {}", info.name);
        say!("    backend:        {:?}", info.backend);
        say!("    device type:    {:?}", info.device_type);
        say!("    driver:         {} {}", info.driver, info.driver_info);
        say!(
            "    storage binding: {}  (max buffer {})",
            mib(limits.max_storage_buffer_binding_size),
            mib(limits.max_buffer_size)
        );
        say!(
            "    workgroup storage: {} bytes, invocations per workgroup: {}, workgroups per dimension: {}",
            limits.max_compute_workgroup_storage_size,
            limits.max_compute_invocations_per_workgroup,
            limits.max_compute_workgroups_per_dimension
        );
        let subgroups = if features.contains(wgpu::Features::SUBGROUP) {
            format!(
                "yes ({}–{} wide)",
                info.subgroup_min_size, info.subgroup_max_size
            )
        } else {
            "no".to_string()
        };
        say!(
            "    features:       subgroups {subgroups}, timestamps {}, f16 {}",
            has(wgpu::Features::TIMESTAMP_QUERY),
            has(wgpu::Features::SHADER_F16)
        );
    }
    Ok(Outcome::Ok)
}
