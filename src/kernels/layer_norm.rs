//! The LayerNorm kernel (`shaders/layer_norm.wgsl`): BERT's "Add & Norm".

use bytemuck::{Pod, Zeroable};

use super::spec::{KernelSpec, Variants};
use super::step::GpuStep;
use crate::program::{BufId, Program, Slot, Step};

/// WGSL source, compiled into the binary.
pub const SOURCE: &str = include_str!("../../shaders/layer_norm.wgsl");
/// Invocations per workgroup (one per row); keep in sync with `WG`.
pub const WG: u32 = 64;

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

    /// Workgroups to dispatch, folded into y when x would exceed `max_per_dim`.
    pub fn workgroups(&self, max_per_dim: u32) -> [u32; 3] {
        super::softmax::fold_groups(self.rows.div_ceil(WG), max_per_dim)
    }
}

/// The kernel's source: one variant.
pub fn spec(_: &Variants) -> KernelSpec {
    KernelSpec::one("layer_norm", SOURCE, (4, 1), size_of::<LayerNormParams>())
        .with_constants(&[("WG", WG as f64)])
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
        let out = self.output(name, params.output_len());
        let slots = vec![
            Slot::read(x),
            Slot::optional(residual),
            Slot::read(gamma),
            Slot::read(beta),
            Slot::write(out),
        ];
        self.push(Step::new(params, slots));
        out
    }
}

impl GpuStep for LayerNormParams {
    fn kernel(&self) -> &'static str {
        "layer_norm"
    }

    fn workgroups(&self, _: &Variants, max_per_dim: u32) -> [u32; 3] {
        LayerNormParams::workgroups(self, max_per_dim)
    }

    fn loop_iterations(&self, _: &Variants) -> u64 {
        3 * self.cols as u64
    }
}
