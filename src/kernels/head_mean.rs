//! The head-mean kernel (`shaders/head_mean.wgsl`): weights averaged over heads.

use bytemuck::{Pod, Zeroable};

use super::spec::{KernelSpec, Variants};
use super::step::GpuStep;
use crate::program::{BufId, Program, Slot, Step};

/// WGSL source, compiled into the binary.
pub const SOURCE: &str = include_str!("../../shaders/head_mean.wgsl");
/// Invocations per workgroup: the shader's `override WG`, set from here.
pub const WG: u32 = 64;

/// Parameters of one head-mean dispatch.
///
/// Keep in sync with `HeadMeanParams` in shaders/head_mean.wgsl (same field order, 16-byte padded).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct HeadMeanParams {
    /// Batch elements.
    pub batch: u32,
    /// Heads averaged over.
    pub heads: u32,
    /// Elements of one head's matrix.
    pub len: u32,
    /// Padding to 16 bytes.
    pub _pad0: u32,
}

impl HeadMeanParams {
    /// Output elements.
    pub fn output_len(&self) -> usize {
        self.batch as usize * self.len as usize
    }

    /// Workgroups to dispatch, folded into y when x would exceed `max_per_dim`.
    pub fn workgroups(&self, max_per_dim: u32) -> [u32; 3] {
        super::softmax::fold_groups((self.output_len() as u32).div_ceil(WG), max_per_dim)
    }
}

/// The kernel's source: one variant.
pub fn spec(_: &Variants) -> KernelSpec {
    KernelSpec::one("head_mean", SOURCE, (1, 1), size_of::<HeadMeanParams>())
        .with_constants(&[("WG", WG as f64)])
}

impl Program {
    /// Adds the mean over heads of `weights` writing a new buffer named `name`.
    pub fn head_mean(&mut self, name: &str, params: HeadMeanParams, weights: BufId) -> BufId {
        let out = self.output(name, params.output_len());
        self.push(Step::new(
            params,
            vec![Slot::read(weights), Slot::write(out)],
        ));
        out
    }
}

impl GpuStep for HeadMeanParams {
    fn kernel(&self) -> &'static str {
        "head_mean"
    }

    fn workgroups(&self, _: &Variants, max_per_dim: u32) -> [u32; 3] {
        HeadMeanParams::workgroups(self, max_per_dim)
    }

    fn loop_iterations(&self, _: &Variants) -> u64 {
        self.heads as u64
    }
}
