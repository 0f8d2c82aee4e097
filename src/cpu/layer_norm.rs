//! CPU twin of `shaders/layer_norm.wgsl`: LayerNorm of x (+ residual), biased variance.

use super::step::CpuStep;
use crate::kernels::layer_norm::LayerNormParams;

/// `out = (y − mean) / sqrt(var + eps) · gamma + beta` per row, y = x (+ residual).
pub fn layer_norm(
    p: &LayerNormParams,
    x: &[f64],
    residual: &[f64],
    gamma: &[f64],
    beta: &[f64],
    out: &mut [f64],
) {
    let cols = p.cols as usize;
    let value = |i: usize| {
        if p.has_residual == 1 {
            x[i] + residual[i]
        } else {
            x[i]
        }
    };
    for row in 0..p.rows as usize {
        let start = row * cols;
        let mean = (start..start + cols).map(value).sum::<f64>() / cols as f64;
        let var = (start..start + cols)
            .map(|i| (value(i) - mean).powi(2))
            .sum::<f64>()
            / cols as f64;
        let inv_std = 1.0 / (var + p.eps as f64).sqrt();
        for c in 0..cols {
            out[start + c] = (value(start + c) - mean) * inv_std * gamma[c] + beta[c];
        }
    }
}

impl CpuStep for LayerNormParams {
    fn run_cpu(&self, reads: &[&[f64]], writes: &mut [Vec<f64>]) {
        let ([x, residual, gamma, beta], [out]) = (reads, writes) else {
            unreachable!("layer_norm binds x, residual, gamma, beta and writes the output")
        };
        layer_norm(self, x, residual, gamma, beta, out);
    }
}
