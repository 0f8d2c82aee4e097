//! The embedding kernel (`shaders/embed.wgsl`): word + position + token-type rows per token.

use bytemuck::{Pod, Zeroable};

use super::step::linear_step;
use crate::program::{BufId, Program, Slot};

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
        let [word, position, token_type] = tables.map(Slot::read);
        let inputs = vec![
            Slot::read(ids),
            Slot::read(types),
            word,
            position,
            token_type,
        ];
        self.push_writing(name, params.output_len(), params, inputs)
    }
}

// One invocation per output element.
linear_step!(EmbedParams: "embed", reads 5, items |p| p.tokens.saturating_mul(p.hidden));
