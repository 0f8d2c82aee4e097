//! Every kernel's one home: `src/kernels/<kernel>.rs` holds its params struct (mirrored in its
//! WGSL file), its [`KernelSpec`] (source, entry point, bindings; per variant where it has
//! several), its [`GpuStep`] (workgroups, loop cost, dispatches) and its `Program` builder,
//! which lists the step's buffers in binding order. Its f64 twin is `src/cpu/<kernel>.rs`
//! (`CpuStep`). Nothing here touches wgpu, so `program`, `cpu` and `npy` do not either.
//!
//! [`REGISTRY`] is the one list of kernels: the GPU executor compiles every entry, for the
//! device's [`Variants`], and looks a step's kernel up by name.

pub mod add;
pub mod attention_weights;
pub mod concat;
pub mod embed;
pub mod fill;
pub mod flash;
pub mod gelu;
pub mod head_mean;
pub mod layer_norm;
pub mod matmul;
pub mod rms_norm;
pub mod rope;
pub mod softmax;
pub mod spec;
pub mod step;
pub mod swiglu;

pub use spec::{Binding, DeviceCaps, KernelSpec, Variants};
pub use step::{Dispatch, GpuStep, LinearStep, linear_spec};

/// Every kernel, one registration line each: the spec of the variant `Variants` chooses
/// (`linear_spec` makes a [`LinearStep`] kernel's from its impl).
pub const REGISTRY: &[fn(&Variants) -> KernelSpec] = &[
    matmul::spec,
    softmax::spec,
    flash::spec,
    attention_weights::spec,
    linear_spec::<head_mean::HeadMeanParams>,
    linear_spec::<embed::EmbedParams>,
    linear_spec::<layer_norm::LayerNormParams>,
    linear_spec::<gelu::GeluParams>,
    linear_spec::<rms_norm::RmsNormParams>,
    linear_spec::<rope::RopeParams>,
    linear_spec::<swiglu::SwigluParams>,
    linear_spec::<add::AddParams>,
    linear_spec::<concat::ConcatParams>,
    linear_spec::<fill::FillParams>,
];
