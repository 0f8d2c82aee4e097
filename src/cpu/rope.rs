//! CPU twin of `shaders/rope.wgsl`: RoPE in f64 with the same cos and sin tables.

use super::step::CpuStep;
use crate::kernels::rope::RopeParams;

/// Rotates each head's pairs (`x[j]`, `x[j + d/2]`) of `x` by the table's angle of its position.
pub fn rope(p: &RopeParams, x: &[f64], cos: &[f64], sin: &[f64], out: &mut [f64]) {
    let (d, half) = (p.head_dim as usize, p.head_dim as usize / 2);
    for token in 0..p.tokens as usize {
        let angles = (token + p.offset as usize) * half;
        for head in 0..p.heads as usize {
            let start = (token * p.heads as usize + head) * d;
            for j in 0..half {
                let (c, s) = (cos[angles + j], sin[angles + j]);
                let (a, b) = (x[start + j], x[start + j + half]);
                out[start + j] = a * c - b * s;
                out[start + j + half] = b * c + a * s;
            }
        }
    }
}

impl CpuStep for RopeParams {
    fn run_cpu(&self, reads: &[&[f64]], writes: &mut [Vec<f64>]) {
        let ([x, cos, sin], [out]) = (reads, writes) else {
            unreachable!("rope binds x, cos and sin and writes the rotated x")
        };
        rope(self, x, cos, sin, out);
    }
}
