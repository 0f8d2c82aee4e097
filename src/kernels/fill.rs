//! The fill kernel (`shaders/fill.wgsl`): one 32-bit pattern into every element of a buffer.
//! The GPU executor runs it on every output before a program's steps, with the NaN poison
//! (`gpu::buffers::POISON`), so the poison costs no host memory. It is not a program step.

use bytemuck::{Pod, Zeroable};

use super::spec::{KernelSpec, Variants};
use super::step::GpuStep;

/// WGSL source, compiled into the binary.
pub const SOURCE: &str = include_str!("../../shaders/fill.wgsl");
/// Invocations per workgroup: the shader's `override WG`, set from here.
pub const WG: u32 = 64;

/// Parameters of one fill dispatch.
///
/// Keep in sync with `FillParams` in shaders/fill.wgsl (same field order, 16-byte padded).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct FillParams {
    /// Elements.
    pub len: u32,
    /// The pattern each one gets.
    pub bits: u32,
    /// Padding to 16 bytes.
    pub _pad0: u32,
    /// Padding to 16 bytes.
    pub _pad1: u32,
}

impl FillParams {
    /// `len` elements of `bits`.
    pub fn new(len: u32, bits: u32) -> Self {
        FillParams {
            len,
            bits,
            ..Default::default()
        }
    }
}

/// The kernel's source: one variant.
pub fn spec(_: &Variants) -> KernelSpec {
    KernelSpec::one("fill", SOURCE, (0, 1), size_of::<FillParams>())
        .with_constants(&[("WG", WG as f64)])
}

impl GpuStep for FillParams {
    fn kernel(&self) -> &'static str {
        "fill"
    }

    fn workgroups(&self, _: &Variants, max_per_dim: u32) -> [u32; 3] {
        super::softmax::fold_groups(self.len.div_ceil(WG), max_per_dim)
    }

    fn loop_iterations(&self, _: &Variants) -> u64 {
        0
    }
}
