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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
}

impl KernelSpec {
    /// The bindings in order: the params uniform, the inputs, the outputs.
    pub fn bindings(&self) -> Vec<Binding> {
        std::iter::once(Binding::Uniform)
            .chain(std::iter::repeat_n(Binding::ReadOnly, self.reads))
            .chain(std::iter::repeat_n(Binding::ReadWrite, self.writes))
            .collect()
    }
}

/// Which variant of each kernel family runs (chosen per device in `GpuContext`, or forced by
/// `bench` and the tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Variants {
    /// The matmul steps' kernel.
    pub matmul: MatmulVariant,
    /// The output-only steps' kernel.
    pub flash: FlashVariant,
    /// The softmax steps' kernel.
    pub softmax: SoftmaxVariant,
}
