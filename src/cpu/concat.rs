//! CPU twin of `shaders/concat.wgsl`: a followed by b.

use super::step::CpuStep;
use crate::kernels::concat::ConcatParams;

/// out = a[..a_len] then b[..b_len].
pub fn concat(p: &ConcatParams, a: &[f64], b: &[f64], out: &mut [f64]) {
    let (la, lb) = (p.a_len as usize, p.b_len as usize);
    out[..la].copy_from_slice(&a[..la]);
    out[la..la + lb].copy_from_slice(&b[..lb]);
}

impl CpuStep for ConcatParams {
    fn run_cpu(&self, reads: &[&[f64]], writes: &mut [Vec<f64>]) {
        let ([a, b], [out]) = (reads, writes) else {
            unreachable!("concat binds a and b and writes them one after the other")
        };
        concat(self, a, b, out);
    }
}
