//! What a kernel is before a device compiles it: its WGSL source, entry point and bindings
//! ([`KernelSpec`]), and which variant of each kernel family a device runs ([`Variants`]).
//! Nothing here touches wgpu; `gpu::kernel::Kernel::compile` turns a spec into a pipeline.

use super::flash::FlashVariant;
use super::matmul::MatmulVariant;
use super::softmax::SoftmaxVariant;

/// What a binding slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    /// A uniform buffer (the params struct).
    Uniform,
    /// A read-only storage buffer (an input).
    ReadOnly,
    /// A read-write storage buffer (an output).
    ReadWrite,
}

/// A kernel as source: everything needed to compile it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KernelSpec {
    /// The kernel family's name, which [`GpuStep::kernel`](super::GpuStep::kernel) returns
    /// (one per entry of [`REGISTRY`](super::REGISTRY), whatever the variant).
    pub name: &'static str,
    /// The variant's name, for labels and error messages.
    pub label: &'static str,
    /// The WGSL, before `shader_source::expand`.
    pub source: &'static str,
    /// The entry point.
    pub entry: &'static str,
    /// Read-only storage buffers it binds after the params uniform (the step's inputs).
    pub reads: usize,
    /// Read-write storage buffers it binds after those (the step's outputs).
    pub writes: usize,
    /// Bytes of its params struct (`size_of` the Rust mirror; tests/shaders.rs checks the
    /// WGSL's uniform struct against it).
    pub params_size: usize,
    /// Values of the shader's `override` constants (sizes the Rust side also computes with,
    /// e.g. the workgroup size), set at pipeline creation so they are written once, here.
    pub constants: &'static [(&'static str, f64)],
}

impl KernelSpec {
    /// A kernel with one variant, whose label and entry point are its name.
    pub const fn one(
        name: &'static str,
        source: &'static str,
        (reads, writes): (usize, usize),
        params_size: usize,
    ) -> Self {
        KernelSpec {
            name,
            label: name,
            source,
            entry: name,
            reads,
            writes,
            params_size,
            constants: &[],
        }
    }

    /// The same kernel with its `override` constants set to `constants`.
    pub const fn with_constants(self, constants: &'static [(&'static str, f64)]) -> Self {
        KernelSpec { constants, ..self }
    }

    /// The bindings in order: the params uniform, the inputs, the outputs.
    pub fn bindings(&self) -> Vec<Binding> {
        std::iter::once(Binding::Uniform)
            .chain(std::iter::repeat_n(Binding::ReadOnly, self.reads))
            .chain(std::iter::repeat_n(Binding::ReadWrite, self.writes))
            .collect()
    }
}

/// What a device offers that a kernel variant may need: `GpuContext::caps` reads it from the
/// adapter's type, features and limits, so that choosing a variant needs no wgpu.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceCaps {
    /// A CPU adapter (lavapipe, llvmpipe): every invocation is one SIMD lane.
    pub cpu: bool,
    /// wgpu's SUBGROUP feature.
    pub subgroups: bool,
    /// The smallest and largest subgroup size (0 without subgroups).
    pub subgroup_sizes: (u32, u32),
    /// `max_compute_workgroup_storage_size`, bytes.
    pub workgroup_storage: u32,
    /// `max_compute_invocations_per_workgroup`.
    pub invocations_per_workgroup: u32,
    /// `max_compute_workgroup_size_x` and `_y`.
    pub workgroup_size_xy: (u32, u32),
}

impl DeviceCaps {
    /// WebGPU's default compute limits, for a device of the given kind and subgroups.
    pub fn webgpu_defaults(cpu: bool, subgroups: bool, subgroup_sizes: (u32, u32)) -> Self {
        DeviceCaps {
            cpu,
            subgroups,
            subgroup_sizes,
            workgroup_storage: 16_384,
            invocations_per_workgroup: 256,
            workgroup_size_xy: (256, 256),
        }
    }

    /// The subgroup feature and sizes, as error messages describe them.
    pub fn describe_subgroups(&self) -> String {
        if self.subgroups {
            format!(
                "SUBGROUP, subgroups {}–{} wide",
                self.subgroup_sizes.0, self.subgroup_sizes.1
            )
        } else {
            "no SUBGROUP".into()
        }
    }
}

/// Which variant of each kernel family runs: the one kernel choice the executor, `bench` and
/// the tests share ([`Variants::for_device`] is the device's own, the default everywhere).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Variants {
    /// The matmul steps' kernel.
    pub matmul: MatmulVariant,
    /// The output-only steps' kernel.
    pub flash: FlashVariant,
    /// The softmax steps' kernel.
    pub softmax: SoftmaxVariant,
}

impl Variants {
    /// The variants a device runs by default (see each family's `for_device`).
    pub fn for_device(caps: &DeviceCaps) -> Self {
        Variants {
            matmul: MatmulVariant::for_device(caps),
            flash: FlashVariant::for_device(caps),
            softmax: SoftmaxVariant::for_device(caps),
        }
    }

    /// Why a device with `caps` cannot run these variants (what the first one it lacks needs),
    /// or `None` when it can.
    pub fn missing(&self, caps: &DeviceCaps) -> Option<String> {
        let lacks = |name: &str, needs: String| {
            Some(format!(
                "the {name} kernel needs {needs} (this device: {})",
                caps.describe_subgroups()
            ))
        };
        if !self.matmul.fits(caps) {
            lacks(
                &format!("{} matmul", self.matmul.name()),
                self.matmul.needs(),
            )
        } else if !self.flash.fits(caps) {
            lacks(self.flash.name(), self.flash.needs())
        } else if !self.softmax.fits(caps) {
            lacks(
                &format!("{} softmax", self.softmax.name()),
                "the device's SUBGROUP feature".into(),
            )
        } else {
            None
        }
    }
}
