//! CPU twin of `shaders/add.wgsl`: a + b in f64.

use super::step::CpuStep;
use crate::kernels::add::AddParams;

/// a + b of the first `p.len` elements.
pub fn add(p: &AddParams, a: &[f64], b: &[f64], out: &mut [f64]) {
    for i in 0..p.len as usize {
        out[i] = a[i] + b[i];
    }
}

impl CpuStep for AddParams {
    fn run_cpu(&self, reads: &[&[f64]], writes: &mut [Vec<f64>]) {
        let ([a, b], [out]) = (reads, writes) else {
            unreachable!("add binds a and b and writes their sum")
        };
        add(self, a, b, out);
    }
}
