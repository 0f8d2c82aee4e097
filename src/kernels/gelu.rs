//! The GELU kernel (`shaders/gelu.wgsl`): BERT's feed-forward activation, the exact erf form.

use bytemuck::{Pod, Zeroable};

use super::spec::{KernelSpec, Variants};
use super::step::GpuStep;
use crate::program::{BufId, Program, Slot, Step};

/// WGSL source, compiled into the binary.
pub const SOURCE: &str = include_str!("../../shaders/gelu.wgsl");
/// Invocations per workgroup: the shader's `override WG`, set from here.
pub const WG: u32 = 64;

/// Parameters of one GELU dispatch.
///
/// Keep in sync with `GeluParams` in shaders/gelu.wgsl (same field order, 16-byte padded).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct GeluParams {
    /// Elements.
    pub len: u32,
    /// Padding to 16 bytes.
    pub _pad0: u32,
    /// Padding to 16 bytes.
    pub _pad1: u32,
    /// Padding to 16 bytes.
    pub _pad2: u32,
}

impl GeluParams {
    /// Elements of `len`.
    pub fn new(len: u32) -> Self {
        GeluParams {
            len,
            ..Default::default()
        }
    }

    /// Workgroups to dispatch, folded into y when x would exceed `max_per_dim`.
    pub fn workgroups(&self, max_per_dim: u32) -> [u32; 3] {
        super::softmax::fold_groups(self.len.div_ceil(WG), max_per_dim)
    }
}

/// The kernel's source: one variant.
pub fn spec(_: &Variants) -> KernelSpec {
    KernelSpec::one("gelu", SOURCE, (1, 1), size_of::<GeluParams>())
        .with_constants(&[("WG", WG as f64)])
}

impl Program {
    /// Adds the GELU of every element of `x` writing a new buffer named `name`.
    pub fn gelu(&mut self, name: &str, x: BufId) -> BufId {
        let len = self.spec(x).len;
        let params = GeluParams::new(len as u32);
        let out = self.output(name, len);
        self.push(Step::new(params, vec![Slot::read(x), Slot::write(out)]));
        out
    }
}

impl GpuStep for GeluParams {
    fn kernel(&self) -> &'static str {
        "gelu"
    }

    fn workgroups(&self, _: &Variants, max_per_dim: u32) -> [u32; 3] {
        GeluParams::workgroups(self, max_per_dim)
    }

    fn loop_iterations(&self, _: &Variants) -> u64 {
        0
    }
}
