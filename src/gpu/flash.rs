//! The output-only kernel (`shaders/flash.wgsl`): attention with an online softmax that never
//! stores the N×N weights.

use bytemuck::{Pod, Zeroable};

use super::kernel::{Binding, Kernel};

/// WGSL source, compiled into the binary.
pub const SOURCE: &str = include_str!("../../shaders/flash.wgsl");
/// Invocations per workgroup (one per query row); keep in sync with `WG`.
pub const WG: u32 = 64;
/// Output columns per invocation; keep in sync with `CHUNK`.
pub const CHUNK: u32 = 64;

/// Parameters of one flash dispatch.
///
/// Keep in sync with `FlashParams` in shaders/flash.wgsl (same field order, 16-byte padded).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
#[allow(missing_docs)]
pub struct FlashParams {
    /// Queries per matrix.
    pub l: u32,
    /// Keys per matrix.
    pub s: u32,
    /// Query/key width.
    pub d: u32,
    /// Value (output) width.
    pub dv: u32,
    /// Factor on q·k.
    pub scale: f32,
    /// 1: key j allowed for query i only when j ≤ i + causal_offset.
    pub causal: u32,
    /// Diagonal offset of the causal mask.
    pub causal_offset: i32,
    /// Matrix z is batch element z / heads, head z % heads.
    pub heads: u32,
    /// Number of (batch, head) matrices.
    pub batch: u32,
    /// 1 when the additive attention mask is read.
    pub has_mask: u32,
    /// 1 when the additive key-padding mask is read.
    pub has_padding: u32,
    /// Key-padding offset per batch element.
    pub padding_batch: u32,
    /// Attention-mask offset per batch element.
    pub mask_batch: u32,
    /// Attention-mask offset per head.
    pub mask_head: u32,
    /// Attention-mask offset per query.
    pub mask_row: u32,
    pub q_row: u32,
    pub q_batch_outer: u32,
    pub q_batch_inner: u32,
    pub k_row: u32,
    pub k_batch_outer: u32,
    pub k_batch_inner: u32,
    pub v_row: u32,
    pub v_batch_outer: u32,
    pub v_batch_inner: u32,
    pub o_row: u32,
    pub o_batch_outer: u32,
    pub o_batch_inner: u32,
    /// First key of this dispatch.
    pub key_begin: u32,
    /// One past the last key of this dispatch.
    pub key_end: u32,
    /// 1: this dispatch starts the recurrence (else it resumes from `state` and `out`).
    pub first: u32,
    /// 1: this dispatch finishes it (else it leaves its state for the next key block).
    pub last: u32,
    /// Padding to 16 bytes.
    pub _pad0: u32,
}

impl FlashParams {
    /// One head, row-major Q (l×d), K (s×d), V (s×dv), O (l×dv).
    pub fn single(l: usize, s: usize, d: usize, dv: usize, scale: f32, causal: bool) -> Self {
        FlashParams {
            l: l as u32,
            s: s as u32,
            d: d as u32,
            dv: dv as u32,
            scale,
            causal: causal as u32,
            heads: 1,
            batch: 1,
            q_row: d as u32,
            k_row: d as u32,
            v_row: dv as u32,
            o_row: dv as u32,
            ..Default::default()
        }
    }

    /// The same dispatch over every key in one go (how programs hold it).
    pub fn whole(self) -> Self {
        FlashParams {
            key_begin: 0,
            key_end: self.s,
            first: 1,
            last: 1,
            ..self
        }
    }

    /// The dispatches that stream the keys in blocks of `keys_per_block` (one for all keys when
    /// that is at least `s`).
    pub fn key_blocks(self, keys_per_block: u32) -> Vec<Self> {
        let per = keys_per_block.max(1);
        let mut blocks = Vec::new();
        let mut begin = 0u32;
        loop {
            let end = begin.saturating_add(per).min(self.s);
            blocks.push(FlashParams {
                key_begin: begin,
                key_end: end,
                first: (begin == 0) as u32,
                last: (end == self.s) as u32,
                ..self
            });
            if end >= self.s {
                return blocks;
            }
            begin = end;
        }
    }

    /// Floats of the state buffer the key blocks share: (m, l, found) per row, matrix and chunk.
    pub fn state_len(&self) -> usize {
        self.batch as usize * self.l as usize * self.dv.div_ceil(CHUNK) as usize * 3
    }

    /// Output elements addressed.
    pub fn output_len(&self) -> usize {
        let outer = (self.batch / self.heads.max(1)) as usize;
        let last = (outer.saturating_sub(1)) * self.o_batch_outer as usize
            + (self.heads as usize - 1) * self.o_batch_inner as usize
            + (self.l as usize - 1) * self.o_row as usize;
        last + self.dv as usize
    }

    /// Workgroups: query rows along x, output chunks along y, matrices along z.
    pub fn workgroups(&self) -> [u32; 3] {
        [self.l.div_ceil(WG), self.dv.div_ceil(CHUNK), self.batch]
    }
}

/// The compiled flash pipeline.
pub struct FlashKernel(pub Kernel);

impl FlashKernel {
    /// Compiles the kernel on `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        FlashKernel(Kernel::new(
            device,
            "flash",
            SOURCE,
            "flash",
            &[
                Binding::Uniform,
                Binding::ReadOnly,
                Binding::ReadOnly,
                Binding::ReadOnly,
                Binding::ReadOnly,
                Binding::ReadOnly,
                Binding::ReadWrite,
                Binding::ReadWrite,
            ],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_blocks_cover_every_key_once_first_and_last_marked() {
        let p = FlashParams {
            s: 10,
            ..Default::default()
        };
        let b = p.key_blocks(4);
        let ranges: Vec<_> = b
            .iter()
            .map(|b| (b.key_begin, b.key_end, b.first, b.last))
            .collect();
        assert_eq!(ranges, [(0, 4, 1, 0), (4, 8, 0, 0), (8, 10, 0, 1)]);
        assert_eq!(p.key_blocks(10).len(), 1);
        assert_eq!(p.key_blocks(0).len(), 10);
        assert_eq!(p.whole().key_blocks(u32::MAX)[0], p.whole());
    }

    #[test]
    fn params_size_matches_wgsl() {
        assert_eq!(std::mem::size_of::<FlashParams>(), 128);
    }

    #[test]
    fn single_head_addressing() {
        let p = FlashParams::single(5, 7, 3, 130, 0.5, false);
        assert_eq!(p.output_len(), 5 * 130);
        assert_eq!(p.workgroups(), [1, 3, 1]);
    }
}
