//! The weights kernel of the fused weights path (`shaders/attention_weights.wgsl`): the
//! normalised attention weights, written once, from the row statistics an output-only pass
//! leaves behind (its max and sum per query row). It reads the output-only pass's own
//! [`FlashParams`], so the two sweeps cannot disagree on sizes, strides or masks.

use bytemuck::{Pod, Zeroable};

use super::flash::FlashParams;
use super::spec::{KernelSpec, Variants};
use super::step::GpuStep;
use crate::program::{BufId, Program, Slot};

/// WGSL source, compiled into the binary.
pub const SOURCE: &str = include_str!("../../shaders/attention_weights.wgsl");
/// Invocations per workgroup along x (keys) and y (queries); keep in sync with `WG_X`/`WG_Y`.
pub const WG: u32 = 8;
/// Queries and keys per invocation; keep in sync with `TILE`.
pub const TILE: u32 = 8;

/// Elements of the weights `p` describes: (batch, l, s), contiguous.
pub fn weights_len(p: &FlashParams) -> usize {
    p.batch as usize * p.l as usize * p.s as usize
}

/// Workgroups to dispatch: keys along x, queries along y, one z-slice per matrix.
pub fn workgroups(p: &FlashParams) -> [u32; 3] {
    [p.s.div_ceil(WG * TILE), p.l.div_ceil(WG * TILE), p.batch]
}

/// Loop iterations one invocation runs (llvmpipe caps them, see `GpuContext::loop_budget`):
/// the dot products over d, and the store of its 8 × 8 block.
pub fn loop_iterations(p: &FlashParams) -> u64 {
    p.d as u64 + (TILE * TILE + TILE) as u64 + 4
}

/// The kernel's source: one variant.
pub fn spec(_: &Variants) -> KernelSpec {
    KernelSpec::one(
        "attention_weights",
        SOURCE,
        (5, 1),
        size_of::<AttentionWeightsParams>(),
    )
}

impl Program {
    /// The fused weights path: an output-only step (writing the output, named `name`) that
    /// leaves its row statistics, then the weights from them (named `weights_name`, (batch, l,
    /// s) contiguous), written once. Returns (output, weights).
    #[allow(clippy::too_many_arguments)]
    pub fn flash_with_weights(
        &mut self,
        name: &str,
        weights_name: &str,
        params: FlashParams,
        q: BufId,
        k: BufId,
        v: BufId,
        mask: Option<BufId>,
        padding: Option<BufId>,
    ) -> (BufId, BufId) {
        let (out, stats, params) = self.flash_step(name, params, [q, k, v], mask, padding);
        let inputs = vec![
            Slot::read(q),
            Slot::read(k),
            Slot::optional(mask),
            Slot::optional(padding),
            Slot::read(stats),
        ];
        let len = weights_len(&params);
        let step = AttentionWeightsParams(params);
        (out, self.push_writing(weights_name, len, step, inputs))
    }
}

/// The weights step's params: the output-only step's own [`FlashParams`], a type of its own so
/// that the step has its own kernel ([`GpuStep`], `CpuStep`).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct AttentionWeightsParams(pub FlashParams);

impl GpuStep for AttentionWeightsParams {
    fn kernel(&self) -> &'static str {
        "attention_weights"
    }

    fn workgroups(&self, _: &Variants, _: u32) -> [u32; 3] {
        workgroups(&self.0)
    }

    fn loop_iterations(&self, _: &Variants) -> u64 {
        loop_iterations(&self.0)
    }

    fn at_batch_offset(&self, batch_offset: u32) -> Option<Vec<u8>> {
        self.0.at_batch_offset(batch_offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_invocation_per_eight_by_eight_block() {
        let p = FlashParams::single(65, 64, 3, 5, 0.5, false);
        assert_eq!(workgroups(&p), [1, 2, 1]);
        assert_eq!(weights_len(&p), 65 * 64);
    }
}
