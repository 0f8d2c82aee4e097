//! The fill kernel (`shaders/fill.wgsl`): one 32-bit pattern into every element of a buffer.
//! The GPU executor runs it on every output before a program's steps, with the NaN poison
//! (`gpu::buffers::POISON`), so the poison costs no host memory. It is not a program step.

use bytemuck::{Pod, Zeroable};

use super::step::linear_step;

/// Parameters of one fill dispatch.
///
/// Keep in sync with `FillParams` in shaders/fill.wgsl (same field order, 16-byte padded).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct FillParams {
    /// Elements.
    pub len: u32,
    /// The pattern each one gets.
    pub bits: u32,
    /// Padding to 16 bytes.
    pub _pad0: u32,
    /// Padding to 16 bytes.
    pub _pad1: u32,
}

impl FillParams {
    /// `len` elements of `bits`.
    pub fn new(len: u32, bits: u32) -> Self {
        FillParams {
            len,
            bits,
            ..Default::default()
        }
    }
}

// One invocation per element.
linear_step!(FillParams: "fill", reads 0, items |p| p.len);
