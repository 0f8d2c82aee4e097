//! CPU twin of `shaders/swiglu.wgsl`: silu(gate) · up in f64.

use super::step::CpuStep;
use crate::kernels::swiglu::SwigluParams;

/// silu(gate) · up of the first `p.len` elements.
pub fn swiglu(p: &SwigluParams, gate: &[f64], up: &[f64], out: &mut [f64]) {
    for i in 0..p.len as usize {
        out[i] = gate[i] / (1.0 + (-gate[i]).exp()) * up[i];
    }
}

impl CpuStep for SwigluParams {
    fn run_cpu(&self, reads: &[&[f64]], writes: &mut [Vec<f64>]) {
        let ([gate, up], [out]) = (reads, writes) else {
            unreachable!("swiglu binds gate and up and writes the product")
        };
        swiglu(self, gate, up, out);
    }
}
