//! CPU twin of `shaders/matmul.wgsl`: C = alpha · A · B (+ bias), with the same strided,
//! batched addressing, accumulating in f64.

use super::step::CpuStep;
use crate::kernels::matmul::MatmulParams;

/// Computes every C element the kernel would, from the same params. `a`, `b`, `bias` are the
/// kernel's inputs; `c` must be large enough for the params' addressing.
pub fn matmul(p: &MatmulParams, a: &[f64], b: &[f64], bias: &[f64], c: &mut [f64]) {
    for z in 0..p.batch_outer * p.batch_inner {
        let (outer, inner) = (z / p.batch_inner, z % p.batch_inner);
        let a_base = p.a_base + outer * p.a_batch_outer + inner * p.a_batch_inner;
        let b_base = outer * p.b_batch_outer + inner * p.b_batch_inner;
        let c_base = outer * p.c_batch_outer + inner * p.c_batch_inner;
        for i in 0..p.m {
            for j in 0..p.n {
                let mut acc = 0.0f64;
                for k in 0..p.k {
                    let av = a[(a_base + i * p.a_row + k * p.a_col) as usize];
                    let bv = b[(b_base + k * p.b_row + j * p.b_col) as usize];
                    acc += av * bv;
                }
                let mut value = p.alpha as f64 * acc;
                if p.has_bias != 0 {
                    value += bias[j as usize];
                }
                c[(c_base + i * p.c_row + j) as usize] = value;
            }
        }
    }
}

impl CpuStep for MatmulParams {
    fn run_cpu(&self, reads: &[&[f64]], writes: &mut [Vec<f64>]) {
        let ([a, b, bias], [c]) = (reads, writes) else {
            unreachable!("matmul binds a, b, bias and writes c")
        };
        matmul(self, a, b, bias, c);
    }
}
