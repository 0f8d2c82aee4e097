//! The head-mean kernel (`shaders/head_mean.wgsl`): weights averaged over heads.

use bytemuck::{Pod, Zeroable};

use super::step::linear_step;
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

// One invocation per output element, a loop over the heads.
linear_step!(HeadMeanParams: "head_mean", reads 1, items |p| p.batch.saturating_mul(p.len), loops |p| p.heads as u64);
