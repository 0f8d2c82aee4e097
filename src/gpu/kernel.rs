//! The one generic helper every kernel struct is built with: a compute pipeline plus its bind
//! group layout, from WGSL source and a list of binding kinds.
//!
//! Bindings are numbered in the order given, and by convention that order is: the uniform params,
//! the read-only inputs, then the outputs (DESIGN.md §4).

use crate::kernels::{Binding, KernelSpec};

/// A compiled compute kernel: its pipeline and bind group layout.
pub struct Kernel {
    /// Name used for labels and error messages.
    pub label: &'static str,
    /// The compute pipeline.
    pub pipeline: wgpu::ComputePipeline,
    /// The layout its bind group must follow.
    pub layout: wgpu::BindGroupLayout,
    /// The bindings in order (the params uniform first).
    pub bindings: Vec<Binding>,
}

impl Kernel {
    /// Expands `source` ([`crate::shader_source::expand`]: shared modules, unrolled rows),
    /// compiles it and builds the pipeline for entry point `entry` with `bindings`.
    ///
    /// # Panics
    /// If `source` does not expand: the sources are committed and tests/shaders.rs expands
    /// each one, so this is a bug in a shader, not an input.
    pub fn new(
        device: &wgpu::Device,
        label: &'static str,
        source: &str,
        entry: &str,
        bindings: &[Binding],
    ) -> Self {
        Self::with_constants(device, label, source, entry, bindings, &[])
    }

    /// [`Kernel::new`] with the shader's `override` constants set to `constants`.
    pub fn with_constants(
        device: &wgpu::Device,
        label: &'static str,
        source: &str,
        entry: &str,
        bindings: &[Binding],
        constants: &[(&str, f64)],
    ) -> Self {
        let entries: Vec<wgpu::BindGroupLayoutEntry> = bindings
            .iter()
            .enumerate()
            .map(|(i, kind)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match kind {
                        Binding::Uniform => wgpu::BufferBindingType::Uniform,
                        Binding::ReadOnly => wgpu::BufferBindingType::Storage { read_only: true },
                        Binding::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(label),
            entries: &entries,
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(label),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        // Bounds checks stay on. Loop bounding (a hidden counter wgpu adds to every loop so that a
        // shader can never spin forever) is turned off: every loop in shaders/ counts a u32 up to
        // a limit taken from the params or a constant, so it always ends, and on lavapipe the counter halved
        // the speed of the matmul inner loops (2.5 vs 1.4 GFLOP/s for Q·Kᵀ at N = 1024, d = 64).
        let checks = wgpu::ShaderRuntimeChecks {
            force_loop_bounding: false,
            ..wgpu::ShaderRuntimeChecks::checked()
        };
        let source = crate::shader_source::expand(source)
            .unwrap_or_else(|e| panic!("shader {label} does not expand: {e}"));
        // SAFETY: the only runtime check dropped is loop bounding, and every loop in our WGSL
        // is a counted loop with a params- or constant-bounded limit (see above).
        let module = unsafe {
            device.create_shader_module_trusted(
                wgpu::ShaderModuleDescriptor {
                    label: Some(label),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                },
                checks,
            )
        };
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(label),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants,
                ..Default::default()
            },
            cache: None,
        });
        Kernel {
            label,
            pipeline,
            layout,
            bindings: bindings.to_vec(),
        }
    }

    /// Compiles `spec` on `device`.
    pub fn compile(device: &wgpu::Device, spec: &KernelSpec) -> Self {
        Self::compile_source(device, spec, spec.source)
    }

    /// Compiles `source` in place of `spec`'s own (same label, entry point and bindings): for
    /// tests that run a variant with a path forced, e.g. the shuffle kernel without its shared
    /// loads.
    pub fn compile_source(device: &wgpu::Device, spec: &KernelSpec, source: &str) -> Self {
        Self::with_constants(
            device,
            spec.label,
            source,
            spec.entry,
            &spec.bindings(),
            spec.constants,
        )
    }

    /// A bind group with `buffers` bound in order (params, inputs, output).
    pub fn bind(&self, device: &wgpu::Device, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, buffer)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: buffer.as_entire_binding(),
            })
            .collect();
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(self.label),
            layout: &self.layout,
            entries: &entries,
        })
    }

    /// Records one dispatch of this kernel into `pass`.
    pub fn dispatch(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        bind_group: &wgpu::BindGroup,
        groups: [u32; 3],
    ) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, bind_group, &[]);
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
    }
}

/// Errors when a dispatch needs more workgroups in one dimension than the adapter allows.
pub fn check_groups(
    limits: &wgpu::Limits,
    kernel: &str,
    groups: [u32; 3],
) -> crate::error::Result<()> {
    let max = limits.max_compute_workgroups_per_dimension;
    if groups.iter().any(|&g| g > max) {
        return Err(crate::error::Error::InvalidSize(format!(
            "{kernel} needs {groups:?} workgroups but max_compute_workgroups_per_dimension is {max}"
        )));
    }
    Ok(())
}
