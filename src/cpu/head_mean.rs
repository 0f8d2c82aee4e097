//! CPU twin of `shaders/head_mean.wgsl`: attention weights averaged over heads.

use super::step::CpuStep;
use crate::kernels::head_mean::HeadMeanParams;

/// `mean[b, t] = Σ_h weights[b, h, t] / heads`.
pub fn head_mean(p: &HeadMeanParams, weights: &[f64], mean: &mut [f64]) {
    let len = p.len as usize;
    let heads = p.heads as usize;
    for (i, out) in mean.iter_mut().enumerate().take(p.batch as usize * len) {
        let (b, t) = (i / len, i % len);
        let sum: f64 = (0..heads).map(|h| weights[(b * heads + h) * len + t]).sum();
        *out = sum / heads as f64;
    }
}

impl CpuStep for HeadMeanParams {
    fn run_cpu(&self, reads: &[&[f64]], writes: &mut [Vec<f64>]) {
        let ([weights], [mean]) = (reads, writes) else {
            unreachable!("head_mean binds the weights and writes their mean")
        };
        head_mean(self, weights, mean);
    }
}
