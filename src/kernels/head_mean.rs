//! The head-mean kernel (`shaders/head_mean.wgsl`): weights averaged over heads.

use bytemuck::{Pod, Zeroable};

use super::step::LinearStep;
use crate::program::{BufId, Program, Slot};

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
}

impl Program {
    /// Adds the mean over heads of `weights` writing a new buffer named `name`.
    pub fn head_mean(&mut self, name: &str, params: HeadMeanParams, weights: BufId) -> BufId {
        self.push_writing(name, params.output_len(), params, vec![Slot::read(weights)])
    }
}

/// One invocation per output element, a loop over the heads.
impl LinearStep for HeadMeanParams {
    const KERNEL: &'static str = "head_mean";
    const SOURCE: &'static str = include_str!("../../shaders/head_mean.wgsl");
    const BINDINGS: (usize, usize) = (1, 1);
    const WG: u32 = 64;

    fn items(&self) -> u32 {
        self.batch.saturating_mul(self.len)
    }

    fn loops_per_item(&self) -> u64 {
        self.heads as u64
    }
}
