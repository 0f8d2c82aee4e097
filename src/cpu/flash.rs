//! CPU twin of `shaders/flash.wgsl`: the online-softmax recurrence, in f64, for any subset of
//! query rows (so a large run can be checked on a sample of rows).

use super::step::CpuStep;
use crate::kernels::flash::FlashParams;
use crate::kernels::softmax::MASKED_BELOW;

/// Computes the output rows `rows` (query indices within every matrix) into `out`, addressed as
/// the kernel addresses them. `None` computes every row. With `stats`, also leaves every row's
/// final (m, l, found) there as the kernels leave them in their state buffer (in every output
/// chunk's slot; m = l = 0 for a row with no allowed key — flash_shuffle.wgsl leaves m at its
/// sentinel there instead; every reader looks at `found` first).
#[allow(clippy::too_many_arguments)]
pub fn flash(
    p: &FlashParams,
    q: &[f64],
    k: &[f64],
    v: &[f64],
    mask: &[f64],
    padding: &[f64],
    rows: Option<&[usize]>,
    out: &mut [f64],
    mut stats: Option<&mut [f64]>,
) {
    let chunks = p.dv.div_ceil(crate::kernels::flash::CHUNK) as usize;
    let all: Vec<usize>;
    let rows = match rows {
        Some(r) => r,
        None => {
            all = (0..p.l as usize).collect();
            &all
        }
    };
    let u = |x: u32| x as usize;
    for z in 0..u(p.batch) {
        let (outer, inner) = (z / u(p.heads), z % u(p.heads));
        for &i in rows {
            let q_base = outer * u(p.q_batch_outer) + inner * u(p.q_batch_inner) + i * u(p.q_row);
            let k_base = outer * u(p.k_batch_outer) + inner * u(p.k_batch_inner);
            let v_base = outer * u(p.v_batch_outer) + inner * u(p.v_batch_inner);
            let o_base = outer * u(p.o_batch_outer) + inner * u(p.o_batch_inner) + i * u(p.o_row);
            let mask_base = outer * u(p.mask_batch) + inner * u(p.mask_head) + i * u(p.mask_row);
            let padding_base = outer * u(p.padding_batch);
            let mut m = f64::NEG_INFINITY;
            let mut l_sum = 0.0;
            let mut acc = vec![0.0f64; u(p.dv)];
            for j in 0..u(p.s) {
                if p.causal != 0 && j as i64 > i as i64 + p.causal_offset as i64 {
                    continue;
                }
                let mut bias = 0.0;
                if p.has_mask != 0 {
                    let b = mask[mask_base + j];
                    if b <= MASKED_BELOW as f64 {
                        continue;
                    }
                    bias += b;
                }
                if p.has_padding != 0 {
                    let b = padding[padding_base + j];
                    if b <= MASKED_BELOW as f64 {
                        continue;
                    }
                    bias += b;
                }
                let dot: f64 = (0..u(p.d))
                    .map(|t| q[q_base + t] * k[k_base + j * u(p.k_row) + t])
                    .sum();
                let x = p.scale as f64 * dot + bias;
                let m_new = m.max(x);
                let correction = (m - m_new).exp();
                let weight = (x - m_new).exp();
                l_sum = l_sum * correction + weight;
                for (c, a) in acc.iter_mut().enumerate() {
                    *a = *a * correction + weight * v[v_base + j * u(p.v_row) + c];
                }
                m = m_new;
            }
            for (c, a) in acc.iter().enumerate() {
                out[o_base + c] = if l_sum > 0.0 { a / l_sum } else { 0.0 };
            }
            if let Some(stats) = stats.as_deref_mut() {
                let found = l_sum > 0.0;
                for chunk in 0..chunks {
                    let at = ((z * u(p.l) + i) * chunks + chunk) * 3;
                    stats[at] = if found { m } else { 0.0 };
                    stats[at + 1] = l_sum;
                    stats[at + 2] = found as u8 as f64;
                }
            }
        }
    }
}

impl CpuStep for FlashParams {
    fn run_cpu(&self, reads: &[&[f64]], writes: &mut [Vec<f64>]) {
        let ([q, k, v, mask, padding], [stats, out]) = (reads, writes) else {
            unreachable!("flash binds q, k, v, mask, padding and writes the state and output")
        };
        flash(self, q, k, v, mask, padding, None, out, Some(stats));
    }
}
