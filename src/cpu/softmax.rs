//! CPU twin of `shaders/softmax.wgsl`: a numerically stable row softmax (row max subtracted) with
//! an optional causal mask; a row whose every key is masked becomes zeros.

use crate::gpu::softmax::SoftmaxParams;

/// Applies the softmax to every row of `scores` (`batch · rows` rows of `cols`), writing `weights`.
pub fn softmax(p: &SoftmaxParams, scores: &[f64], weights: &mut [f64]) {
    for r in 0..(p.batch * p.rows) as usize {
        let query = (r % p.rows as usize) as i64;
        let row = r * p.cols as usize;
        let allowed = |j: usize| p.causal == 0 || (j as i64) <= query + p.causal_offset as i64;
        let mut max = f64::NEG_INFINITY;
        for j in 0..p.cols as usize {
            if allowed(j) {
                max = max.max(scores[row + j]);
            }
        }
        if max == f64::NEG_INFINITY {
            weights[row..row + p.cols as usize].fill(0.0);
            continue;
        }
        let mut sum = 0.0;
        for j in 0..p.cols as usize {
            if allowed(j) {
                sum += (scores[row + j] - max).exp();
            }
        }
        for j in 0..p.cols as usize {
            weights[row + j] = if allowed(j) {
                (scores[row + j] - max).exp() / sum
            } else {
                0.0
            };
        }
    }
}
