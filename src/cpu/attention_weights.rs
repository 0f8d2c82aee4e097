//! CPU twin of `shaders/attention_weights.wgsl`: the weights from an output-only pass's row
//! statistics, w = exp(x − m) / l, in f64.

use super::step::CpuStep;
use crate::kernels::attention_weights::AttentionWeightsParams;
use crate::kernels::flash::{CHUNK, FlashParams};
use crate::kernels::softmax::MASKED_BELOW;

/// Writes the (batch, l, s) weights of `p` into `out` from `stats` ((m, l, found) per row and
/// output chunk, as [`super::flash::flash`] leaves them; chunk 0 is read).
pub fn attention_weights(
    p: &FlashParams,
    q: &[f64],
    k: &[f64],
    mask: &[f64],
    padding: &[f64],
    stats: &[f64],
    out: &mut [f64],
) {
    let u = |x: u32| x as usize;
    let chunks = p.dv.div_ceil(CHUNK) as usize;
    for z in 0..u(p.batch) {
        let (outer, inner) = (z / u(p.heads), z % u(p.heads));
        for i in 0..u(p.l) {
            let at = (z * u(p.l) + i) * chunks * 3;
            let (m, l_sum, found) = (stats[at], stats[at + 1], stats[at + 2] != 0.0);
            let q_base = outer * u(p.q_batch_outer) + inner * u(p.q_batch_inner) + i * u(p.q_row);
            let k_base = outer * u(p.k_batch_outer) + inner * u(p.k_batch_inner);
            let mask_base = outer * u(p.mask_batch) + inner * u(p.mask_head) + i * u(p.mask_row);
            let padding_base = outer * u(p.padding_batch);
            for j in 0..u(p.s) {
                let mut allowed =
                    found && !(p.causal != 0 && j as i64 > i as i64 + p.causal_offset as i64);
                // The masks summed first, then added to the score, as the kernels do.
                let mut bias = 0.0;
                if p.has_mask != 0 {
                    let b = mask[mask_base + j];
                    allowed &= b > MASKED_BELOW as f64;
                    bias += if b > MASKED_BELOW as f64 { b } else { 0.0 };
                }
                if p.has_padding != 0 {
                    let b = padding[padding_base + j];
                    allowed &= b > MASKED_BELOW as f64;
                    bias += if b > MASKED_BELOW as f64 { b } else { 0.0 };
                }
                let dot: f64 = (0..u(p.d))
                    .map(|t| q[q_base + t] * k[k_base + j * u(p.k_row) + t])
                    .sum();
                let x = p.scale as f64 * dot + bias;
                out[(z * u(p.l) + i) * u(p.s) + j] =
                    if allowed { (x - m).exp() / l_sum } else { 0.0 };
            }
        }
    }
}

impl CpuStep for AttentionWeightsParams {
    fn run_cpu(&self, reads: &[&[f64]], writes: &mut [Vec<f64>]) {
        let ([q, k, mask, padding, stats], [out]) = (reads, writes) else {
            unreachable!(
                "attention_weights binds q, k, mask, padding, stats and writes the weights"
            )
        };
        attention_weights(&self.0, q, k, mask, padding, stats, out);
    }
}
