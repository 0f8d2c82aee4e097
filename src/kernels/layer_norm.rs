//! The LayerNorm kernel (`shaders/layer_norm.wgsl`): BERT's "Add & Norm".

use bytemuck::{Pod, Zeroable};

use super::step::linear_step;
use crate::program::{BufId, Program, Slot};

/// Parameters of one LayerNorm dispatch.
///
/// Keep in sync with `LayerNormParams` in shaders/layer_norm.wgsl (same field order, 16-byte
/// padded).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct LayerNormParams {
    /// Rows normalised.
    pub rows: u32,
    /// Values per row.
    pub cols: u32,
    /// Added to the variance before the square root.
    pub eps: f32,
    /// 1 when the residual is added before normalising.
    pub has_residual: u32,
}

impl LayerNormParams {
    /// Output elements.
    pub fn output_len(&self) -> usize {
        self.rows as usize * self.cols as usize
    }
}

impl Program {
    /// Adds a LayerNorm of `x` (+ `residual`) writing a new buffer named `name`; the params'
    /// residual flag is set from whether `residual` is given.
    pub fn layer_norm(
        &mut self,
        name: &str,
        params: LayerNormParams,
        x: BufId,
        residual: Option<BufId>,
        gamma: BufId,
        beta: BufId,
    ) -> BufId {
        let params = LayerNormParams {
            has_residual: residual.is_some() as u32,
            ..params
        };
        let inputs = vec![
            Slot::read(x),
            Slot::optional(residual),
            Slot::read(gamma),
            Slot::read(beta),
        ];
        self.push_writing(name, params.output_len(), params, inputs)
    }
}

// One invocation per row, three passes over its values.
linear_step!(LayerNormParams: "layer_norm", reads 4,
    items |p| p.rows, loops |p| 3 * p.cols as u64);
