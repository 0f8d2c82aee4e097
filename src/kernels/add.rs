//! The residual-add kernel (`shaders/add.wgsl`): a + b element by element, LLaMA's residual
//! stream (BERT folds its residual into `layer_norm` instead; a decoder adds before its norm).

use bytemuck::{Pod, Zeroable};

use super::step::linear_step;
use crate::program::{BufId, Program, Slot};

/// Parameters of one add dispatch.
///
/// Keep in sync with `AddParams` in shaders/add.wgsl (same field order, 16-byte padded).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct AddParams {
    /// Elements.
    pub len: u32,
    /// Padding to 16 bytes.
    pub _pad0: u32,
    /// Padding to 16 bytes.
    pub _pad1: u32,
    /// Padding to 16 bytes.
    pub _pad2: u32,
}

impl Program {
    /// Adds `a` + `b`, element by element (the two of the same length), writing a new buffer
    /// named `name`.
    pub fn add(&mut self, name: &str, a: BufId, b: BufId) -> BufId {
        let len = self.spec(a).len;
        assert_eq!(len, self.spec(b).len, "add's operands differ in length");
        let params = AddParams {
            len: len as u32,
            ..Default::default()
        };
        self.push_writing(name, len, params, vec![Slot::read(a), Slot::read(b)])
    }
}

// One invocation per element.
linear_step!(AddParams: "add", reads 2, items |p| p.len);
