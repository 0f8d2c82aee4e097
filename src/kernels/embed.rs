//! The embedding kernel (`shaders/embed.wgsl`): word + position + token-type rows per token.

use bytemuck::{Pod, Zeroable};

use super::spec::{KernelSpec, Variants};
use super::step::GpuStep;
use crate::program::{BufId, Program, Slot, Step};

/// WGSL source, compiled into the binary.
pub const SOURCE: &str = include_str!("../../shaders/embed.wgsl");
/// Invocations per workgroup: the shader's `override WG`, set from here.
pub const WG: u32 = 64;

/// Parameters of one embedding dispatch.
///
/// Keep in sync with `EmbedParams` in shaders/embed.wgsl (same field order, 16-byte padded).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct EmbedParams {
    /// Tokens over all batch elements.
    pub tokens: u32,
    /// Embedding width.
    pub hidden: u32,
    /// Rows of the word table.
    pub vocab: u32,
    /// Rows of the position table.
    pub positions: u32,
    /// Tokens per batch element (a token's position is its index modulo this).
    pub seq_len: u32,
    /// Rows of the token-type table.
    pub type_vocab: u32,
    /// Padding to 16 bytes.
    pub _pad0: u32,
    /// Padding to 16 bytes.
    pub _pad1: u32,
}

impl EmbedParams {
    /// Output elements.
    pub fn output_len(&self) -> usize {
        self.tokens as usize * self.hidden as usize
    }

    /// Workgroups to dispatch, folded into y when x would exceed `max_per_dim`.
    pub fn workgroups(&self, max_per_dim: u32) -> [u32; 3] {
        let len = self.tokens.saturating_mul(self.hidden);
        super::softmax::fold_groups(len.div_ceil(WG), max_per_dim)
    }
}

/// The kernel's source: one variant.
pub fn spec(_: &Variants) -> KernelSpec {
    KernelSpec::one("embed", SOURCE, (5, 1), size_of::<EmbedParams>())
        .with_constants(&[("WG", WG as f64)])
}

impl Program {
    /// Adds the embedding lookup writing a new buffer named `name`; `tables` are the word
    /// (vocab × hidden), position and token-type tables. `ids` and `types` are exact integers
    /// stored as f32.
    pub fn embed(
        &mut self,
        name: &str,
        params: EmbedParams,
        ids: BufId,
        types: BufId,
        tables: [BufId; 3],
    ) -> BufId {
        let out = self.output(name, params.output_len());
        let [word, position, token_type] = tables.map(Slot::read);
        let slots = vec![
            Slot::read(ids),
            Slot::read(types),
            word,
            position,
            token_type,
            Slot::write(out),
        ];
        self.push(Step::new(params, slots));
        out
    }
}

impl GpuStep for EmbedParams {
    fn kernel(&self) -> &'static str {
        "embed"
    }

    fn workgroups(&self, _: &Variants, max_per_dim: u32) -> [u32; 3] {
        EmbedParams::workgroups(self, max_per_dim)
    }

    fn loop_iterations(&self, _: &Variants) -> u64 {
        0
    }
}
