//! CPU twin of `shaders/softmax.wgsl`: a numerically stable row softmax (row max subtracted) with
//! the causal, additive attention and key-padding masks; a row whose every key is masked becomes
//! zeros.

use super::step::CpuStep;
use crate::kernels::softmax::{MASKED_BELOW, SoftmaxParams};

/// Applies the softmax to every row of `scores` (`batch · rows` rows of `cols`), writing
/// `weights`. `mask` and `padding` are read only when the params say they are present.
pub fn softmax(
    p: &SoftmaxParams,
    scores: &[f64],
    mask: &[f64],
    padding: &[f64],
    weights: &mut [f64],
) {
    let cols = p.cols as usize;
    for r in 0..(p.batch * p.rows) as usize {
        let z = r / p.rows as usize;
        let query = r % p.rows as usize;
        let (b, h) = (z / p.heads as usize, z % p.heads as usize);
        let base = r * cols;
        let mask_base =
            b * p.mask_batch as usize + h * p.mask_head as usize + query * p.mask_row as usize;
        let padding_base = b * p.padding_batch as usize;
        let masked = |j: usize| -> Option<f64> {
            if p.causal != 0 && j as i64 > query as i64 + p.causal_offset as i64 {
                return None;
            }
            let mut s = scores[base + j];
            for (present, values, at) in [
                (p.has_mask, mask, mask_base + j),
                (p.has_padding, padding, padding_base + j),
            ] {
                if present != 0 {
                    let m = values[at];
                    if m <= MASKED_BELOW as f64 {
                        return None;
                    }
                    s += m;
                }
            }
            Some(s)
        };
        let max = (0..cols)
            .filter_map(masked)
            .fold(f64::NEG_INFINITY, f64::max);
        if max == f64::NEG_INFINITY {
            weights[base..base + cols].fill(0.0);
            continue;
        }
        let sum: f64 = (0..cols).filter_map(masked).map(|s| (s - max).exp()).sum();
        for j in 0..cols {
            weights[base + j] = masked(j).map_or(0.0, |s| (s - max).exp() / sum);
        }
    }
}

impl CpuStep for SoftmaxParams {
    fn run_cpu(&self, reads: &[&[f64]], writes: &mut [Vec<f64>]) {
        let ([scores, mask, padding], [weights]) = (reads, writes) else {
            unreachable!("softmax binds scores, mask, padding and writes the weights")
        };
        softmax(self, scores, mask, padding, weights);
    }
}
