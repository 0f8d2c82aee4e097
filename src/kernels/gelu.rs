//! The GELU kernel (`shaders/gelu.wgsl`): BERT's feed-forward activation, the exact erf form.

use bytemuck::{Pod, Zeroable};

use super::step::linear_step;
use crate::program::{BufId, Program, Slot};

/// Parameters of one GELU dispatch.
///
/// Keep in sync with `GeluParams` in shaders/gelu.wgsl (same field order, 16-byte padded).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct GeluParams {
    /// Elements.
    pub len: u32,
    /// Padding to 16 bytes.
    pub _pad0: u32,
    /// Padding to 16 bytes.
    pub _pad1: u32,
    /// Padding to 16 bytes.
    pub _pad2: u32,
}

impl GeluParams {
    /// Elements of `len`.
    pub fn new(len: u32) -> Self {
        GeluParams {
            len,
            ..Default::default()
        }
    }
}

impl Program {
    /// Adds the GELU of every element of `x` writing a new buffer named `name`.
    pub fn gelu(&mut self, name: &str, x: BufId) -> BufId {
        let len = self.spec(x).len;
        self.push_writing(name, len, GeluParams::new(len as u32), vec![Slot::read(x)])
    }
}

linear_step!(GeluParams: "gelu", reads 1, items |p| p.len);
