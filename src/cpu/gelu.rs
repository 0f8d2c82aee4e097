//! CPU twin of `shaders/gelu.wgsl`: the exact GELU, 0.5 · x · (1 + erf(x / √2)), with libm's
//! f64 erf (the WGSL uses a 1.2e-7 Chebyshev fit; this is the reference it is checked against).

use super::step::CpuStep;
use crate::kernels::gelu::GeluParams;

/// GELU of the first `p.len` elements.
pub fn gelu(p: &GeluParams, x: &[f64], out: &mut [f64]) {
    for i in 0..p.len as usize {
        out[i] = 0.5 * x[i] * (1.0 + libm::erf(x[i] * std::f64::consts::FRAC_1_SQRT_2));
    }
}

impl CpuStep for GeluParams {
    fn run_cpu(&self, reads: &[&[f64]], writes: &mut [Vec<f64>]) {
        let ([x], [out]) = (reads, writes) else {
            unreachable!("gelu binds x and writes the activations")
        };
        gelu(self, x, out);
    }
}
