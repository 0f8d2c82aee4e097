//! CPU twin of `shaders/rms_norm.wgsl`: RMSNorm in f64.

use super::step::CpuStep;
use crate::kernels::rms_norm::RmsNormParams;

/// `out = x / √(mean(x²) + eps) · weight` per row.
pub fn rms_norm(p: &RmsNormParams, x: &[f64], weight: &[f64], out: &mut [f64]) {
    let cols = p.cols as usize;
    for row in 0..p.rows as usize {
        let values = &x[row * cols..(row + 1) * cols];
        let mean_square = values.iter().map(|v| v * v).sum::<f64>() / cols as f64;
        let inv_rms = 1.0 / (mean_square + p.eps as f64).sqrt();
        for (c, v) in values.iter().enumerate() {
            out[row * cols + c] = v * inv_rms * weight[c];
        }
    }
}

impl CpuStep for RmsNormParams {
    fn run_cpu(&self, reads: &[&[f64]], writes: &mut [Vec<f64>]) {
        let ([x, weight], [out]) = (reads, writes) else {
            unreachable!("rms_norm binds x and weight and writes the output")
        };
        rms_norm(self, x, weight, out);
    }
}
