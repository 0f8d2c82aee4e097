//! The rotary position embedding kernel (`shaders/rope.wgsl`): LLaMA's RoPE on the query and
//! key projections, with cos and sin tables from `llama::rope::tables`.

use bytemuck::{Pod, Zeroable};

use super::step::linear_step;
use crate::program::{BufId, Program, Slot};

/// Parameters of one RoPE dispatch.
///
/// Keep in sync with `RopeParams` in shaders/rope.wgsl (same field order, 16-byte padded).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct RopeParams {
    /// Tokens (rows of the projection).
    pub tokens: u32,
    /// Heads per row.
    pub heads: u32,
    /// Width of one head (even).
    pub head_dim: u32,
    /// Position of the first token.
    pub offset: u32,
}

impl RopeParams {
    /// Elements of the input and output: tokens × heads × head_dim.
    pub fn len(&self) -> usize {
        self.tokens as usize * self.heads as usize * self.head_dim as usize
    }

    /// Whether there is nothing to rotate.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Program {
    /// Adds RoPE of `x` ((tokens, heads · head_dim)) with the tables `cos` and `sin`
    /// ((positions, head_dim / 2), positions ≥ tokens + offset), writing a new buffer `name`.
    pub fn rope(
        &mut self,
        name: &str,
        params: RopeParams,
        x: BufId,
        [cos, sin]: [BufId; 2],
    ) -> BufId {
        let angles =
            (params.tokens as usize + params.offset as usize) * (params.head_dim as usize / 2);
        assert_eq!(
            self.spec(x).len,
            params.len(),
            "rope's input is not tokens × heads × head_dim"
        );
        for table in [cos, sin] {
            assert!(
                self.spec(table).len >= angles,
                "rope's tables end before the last position"
            );
        }
        let inputs = vec![Slot::read(x), Slot::read(cos), Slot::read(sin)];
        self.push_writing(name, params.len(), params, inputs)
    }
}

// One invocation per (token, head, pair of values).
linear_step!(RopeParams: "rope", reads 3,
    items |p| p.tokens.saturating_mul(p.heads).saturating_mul(p.head_dim / 2));
