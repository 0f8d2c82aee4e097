//! The concatenation kernel (`shaders/concat.wgsl`): a followed by b, how a decoder's KV cache
//! grows by one position's row per generated token on the device (the cache is never read back
//! or rebuilt from the prompt).

use bytemuck::{Pod, Zeroable};

use super::step::linear_step;
use crate::program::{BufId, Program, Slot};

/// Parameters of one concatenation.
///
/// Keep in sync with `ConcatParams` in shaders/concat.wgsl (same field order, 16-byte padded).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct ConcatParams {
    /// Elements of a (first in the output).
    pub a_len: u32,
    /// Elements of b (after them).
    pub b_len: u32,
    /// Padding to 16 bytes.
    pub _pad0: u32,
    /// Padding to 16 bytes.
    pub _pad1: u32,
}

impl Program {
    /// Adds `a` followed by `b` (e.g. the rows of a cache and one new row), writing a new buffer
    /// named `name`.
    pub fn concat(&mut self, name: &str, a: BufId, b: BufId) -> BufId {
        let (a_len, b_len) = (self.spec(a).len, self.spec(b).len);
        let params = ConcatParams {
            a_len: a_len as u32,
            b_len: b_len as u32,
            ..Default::default()
        };
        self.push_writing(
            name,
            a_len + b_len,
            params,
            vec![Slot::read(a), Slot::read(b)],
        )
    }
}

// One invocation per output element.
linear_step!(ConcatParams: "concat", reads 2, items |p| p.a_len.saturating_add(p.b_len));
