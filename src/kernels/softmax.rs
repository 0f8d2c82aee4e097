//! The softmax kernels: scaled scores to attention weights. Two kernels share the parameters,
//! bindings and masks: `shaders/softmax.wgsl` (one row per invocation, no workgroup memory: on
//! CPU adapters a workgroup reduction was 5× slower, DESIGN.md §6) and
//! `shaders/softmax_subgroup.wgsl` (one row per workgroup, neighbouring invocations on
//! neighbouring keys, subgroup reductions), which needs the SUBGROUP feature.
//! [`SoftmaxVariant::for_device`] chooses.

use bytemuck::{Pod, Zeroable};

use super::spec::{DeviceCaps, KernelSpec, Variants};
use super::step::GpuStep;
use crate::program::{BufId, Program, Slot};

/// WGSL source, compiled into the binary.
pub const SOURCE: &str = include_str!("../../shaders/softmax.wgsl");
/// WGSL source of the subgroup-reduction kernel.
pub const SUBGROUP_SOURCE: &str = include_str!("../../shaders/softmax_subgroup.wgsl");
/// Invocations per workgroup (one per row; in the subgroup kernel, per row's workgroup); keep in
/// sync with both kernels' `WG`.
pub const WG: u32 = 64;

/// Which softmax kernel runs the softmax steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SoftmaxVariant {
    /// `softmax.wgsl`: one row per invocation.
    #[default]
    PerRow,
    /// `softmax_subgroup.wgsl`: one row per workgroup, subgroup reductions.
    Subgroup,
}

impl SoftmaxVariant {
    /// Every variant, in the order reports list them.
    pub const ALL: [SoftmaxVariant; 2] = [SoftmaxVariant::PerRow, SoftmaxVariant::Subgroup];

    /// The name used in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SoftmaxVariant::PerRow => "per-row",
            SoftmaxVariant::Subgroup => "subgroup",
        }
    }

    /// Whether a device with `caps` can run this variant.
    pub fn fits(self, caps: &DeviceCaps) -> bool {
        match self {
            SoftmaxVariant::PerRow => true,
            SoftmaxVariant::Subgroup => caps.subgroups,
        }
    }

    /// Loop iterations one invocation runs for rows of `cols` keys (llvmpipe caps them, see
    /// `GpuContext::loop_budget`): three sweeps over its keys, and for the subgroup kernel the
    /// two loops over the WG slots.
    pub fn loop_iterations(self, cols: u32) -> u64 {
        match self {
            SoftmaxVariant::PerRow => 3 * cols as u64,
            SoftmaxVariant::Subgroup => 3 * cols.div_ceil(WG) as u64 + 2 * WG as u64,
        }
    }

    /// The variant for a device: the subgroup kernel on GPUs with subgroups; one row per
    /// invocation on CPU adapters (where the subgroup kernel's barriers made it 2.4× slower on
    /// lavapipe) and devices without them.
    pub fn for_device(caps: &DeviceCaps) -> Self {
        if !caps.cpu && SoftmaxVariant::Subgroup.fits(caps) {
            SoftmaxVariant::Subgroup
        } else {
            SoftmaxVariant::PerRow
        }
    }
}

/// Mask values at or below this exclude the key (keep in sync with `MASKED_BELOW` in the WGSL).
pub const MASKED_BELOW: f32 = -1e30;
/// What the host writes for "not allowed" (PyTorch's bool True in MHA masks, or -inf).
pub const MASKED: f32 = f32::MIN;

/// Parameters of one softmax dispatch.
///
/// Keep in sync with `SoftmaxParams` in shaders/softmax.wgsl (same field order, 16-byte padded).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct SoftmaxParams {
    /// Query rows per (batch, head) matrix.
    pub rows: u32,
    /// Keys per row.
    pub cols: u32,
    /// Number of rows×cols matrices stored back to back (batch × heads).
    pub batch: u32,
    /// 1: key j is allowed for query i only when j ≤ i + causal_offset.
    pub causal: u32,
    /// Diagonal offset of the causal mask (0 = top-left aligned, as PyTorch's `is_causal`).
    pub causal_offset: i32,
    /// Heads per batch element: matrix z is batch element z / heads, head z % heads.
    pub heads: u32,
    /// 1 when the additive attention mask is read.
    pub has_mask: u32,
    /// 1 when the additive key-padding mask is read.
    pub has_padding: u32,
    /// Attention-mask offset per batch element (0 to broadcast).
    pub mask_batch: u32,
    /// Attention-mask offset per head (0 to broadcast).
    pub mask_head: u32,
    /// Attention-mask offset per query row (0 to broadcast).
    pub mask_row: u32,
    /// Key-padding-mask offset per batch element.
    pub padding_batch: u32,
}

impl Default for SoftmaxParams {
    fn default() -> Self {
        SoftmaxParams {
            rows: 1,
            cols: 1,
            batch: 1,
            causal: 0,
            causal_offset: 0,
            heads: 1,
            has_mask: 0,
            has_padding: 0,
            mask_batch: 0,
            mask_head: 0,
            mask_row: 0,
            padding_batch: 0,
        }
    }
}

impl SoftmaxParams {
    /// Total number of rows across the batch.
    pub fn total_rows(&self) -> u32 {
        self.rows.saturating_mul(self.batch)
    }

    /// Workgroups to dispatch, folded into y when x would exceed `max_per_dim`.
    pub fn workgroups(&self, max_per_dim: u32) -> [u32; 3] {
        self.workgroups_for(SoftmaxVariant::PerRow, max_per_dim)
    }

    /// Workgroups `variant` dispatches (a row per invocation, or a row per workgroup), folded
    /// into y when x would exceed `max_per_dim`.
    pub fn workgroups_for(&self, variant: SoftmaxVariant, max_per_dim: u32) -> [u32; 3] {
        let groups = match variant {
            SoftmaxVariant::PerRow => self.total_rows().div_ceil(WG),
            SoftmaxVariant::Subgroup => self.total_rows(),
        };
        super::step::fold_groups(groups, max_per_dim)
    }
}

/// The source of the variant `variants` chooses.
pub fn spec(variants: &Variants) -> KernelSpec {
    let (label, source, entry) = match variants.softmax {
        SoftmaxVariant::PerRow => ("softmax", SOURCE, "softmax"),
        SoftmaxVariant::Subgroup => ("softmax (subgroup)", SUBGROUP_SOURCE, "softmax_subgroup"),
    };
    KernelSpec {
        name: "softmax",
        label,
        source,
        entry,
        reads: 3,
        writes: 1,
        params_size: size_of::<SoftmaxParams>(),
        constants: &[],
    }
}

impl Program {
    /// Adds a softmax over `scores` writing a new buffer named `name`; returns that buffer. The
    /// params' mask flags are set from whether `mask` / `padding` are given.
    pub fn softmax(
        &mut self,
        name: &str,
        params: SoftmaxParams,
        scores: BufId,
        mask: Option<BufId>,
        padding: Option<BufId>,
    ) -> BufId {
        let params = SoftmaxParams {
            has_mask: mask.is_some() as u32,
            has_padding: padding.is_some() as u32,
            ..params
        };
        let len = params.total_rows() as usize * params.cols as usize;
        let inputs = vec![
            Slot::read(scores),
            Slot::optional(mask),
            Slot::optional(padding),
        ];
        self.push_writing(name, len, params, inputs)
    }
}

impl GpuStep for SoftmaxParams {
    fn kernel(&self) -> &'static str {
        "softmax"
    }

    fn workgroups(&self, variants: &Variants, max_per_dim: u32) -> [u32; 3] {
        self.workgroups_for(variants.softmax, max_per_dim)
    }

    fn loop_iterations(&self, variants: &Variants) -> u64 {
        variants.softmax.loop_iterations(self.cols)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workgroups_fold_into_y() {
        let p = SoftmaxParams {
            rows: 64 * 10,
            cols: 1,
            batch: 1,
            ..Default::default()
        };
        assert_eq!(p.workgroups(65535), [10, 1, 1]);
        assert_eq!(p.workgroups(4), [4, 3, 1]);
    }
}
