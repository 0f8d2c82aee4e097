//! CPU twin of `shaders/fill.wgsl`: the pattern's f32 value into the first `p.len` elements.

use super::step::CpuStep;
use crate::kernels::fill::FillParams;

/// Fills the first `p.len` elements of `out` with `p.bits` read as an f32.
pub fn fill(p: &FillParams, out: &mut [f64]) {
    out[..p.len as usize].fill(f32::from_bits(p.bits) as f64);
}

impl CpuStep for FillParams {
    fn run_cpu(&self, reads: &[&[f64]], writes: &mut [Vec<f64>]) {
        let ([], [out]) = (reads, writes) else {
            unreachable!("fill binds nothing to read and writes one buffer")
        };
        fill(self, out);
    }
}
