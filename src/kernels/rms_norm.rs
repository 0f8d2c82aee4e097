//! The RMSNorm kernel (`shaders/rms_norm.wgsl`): LLaMA's norm before attention, before the
//! feed-forward and at the end, x / √(mean(x²) + ε) · weight.

use bytemuck::{Pod, Zeroable};

use super::step::linear_step;
use crate::program::{BufId, Program, Slot};

/// Parameters of one RMSNorm dispatch.
///
/// Keep in sync with `RmsNormParams` in shaders/rms_norm.wgsl (same field order, 16-byte
/// padded).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct RmsNormParams {
    /// Rows normalised.
    pub rows: u32,
    /// Values per row.
    pub cols: u32,
    /// Added to the mean square before the square root.
    pub eps: f32,
    /// Padding to 16 bytes.
    pub _pad0: u32,
}

impl RmsNormParams {
    /// `rows` rows of `cols` values, with `eps`.
    pub fn new(rows: usize, cols: usize, eps: f32) -> Self {
        RmsNormParams {
            rows: rows as u32,
            cols: cols as u32,
            eps,
            _pad0: 0,
        }
    }
}

impl Program {
    /// Adds the RMSNorm of each row of `x`, scaled by `weight` (one value per column), writing
    /// a new buffer named `name`.
    pub fn rms_norm(
        &mut self,
        name: &str,
        params: RmsNormParams,
        x: BufId,
        weight: BufId,
    ) -> BufId {
        let len = params.rows as usize * params.cols as usize;
        self.push_writing(name, len, params, vec![Slot::read(x), Slot::read(weight)])
    }
}

// One invocation per row, two passes over its values.
linear_step!(RmsNormParams: "rms_norm", reads 2, items |p| p.rows, loops |p| 2 * p.cols as u64);
