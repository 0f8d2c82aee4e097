//! The SwiGLU kernel (`shaders/swiglu.wgsl`): silu(gate) · up, LLaMA's feed-forward gate.

use bytemuck::{Pod, Zeroable};

use super::step::linear_step;
use crate::program::{BufId, Program, Slot};

/// Parameters of one SwiGLU dispatch.
///
/// Keep in sync with `SwigluParams` in shaders/swiglu.wgsl (same field order, 16-byte padded).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct SwigluParams {
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
    /// Adds silu(`gate`) · `up`, element by element (the two of the same length), writing a new
    /// buffer named `name`.
    pub fn swiglu(&mut self, name: &str, gate: BufId, up: BufId) -> BufId {
        let len = self.spec(gate).len;
        assert_eq!(
            len,
            self.spec(up).len,
            "swiglu's gate and up differ in length"
        );
        let params = SwigluParams {
            len: len as u32,
            ..Default::default()
        };
        self.push_writing(name, len, params, vec![Slot::read(gate), Slot::read(up)])
    }
}

// One invocation per element.
linear_step!(SwigluParams: "swiglu", reads 2, items |p| p.len);
