//! Greedy generation with the KV cache on the device: the prompt runs once; then each new token
//! runs one step that reads every earlier position's keys and values from the cache, grown by
//! one row per step on the GPU (`concat.wgsl`). Nothing of the prompt is recomputed and the
//! cache is never read back.
//!
//! How: every step's plan is the prompt's plan plus one decode block per token so far
//! ([`LlamaPlan`]), built from the same borrowed data, so the resident executor
//! (`gpu::resident`) finds every earlier block's results kept and runs only the new one. The
//! weights are uploaded once for the whole generation.

use std::time::{Duration, Instant};

use crate::error::Result;
use crate::gpu::GpuContext;
use crate::gpu::execute::{Kernels, Timings, execute_resident};
use crate::gpu::resident::Resident;

use super::config::LlamaConfig;
use super::plan::{LlamaPlan, PromptData, ShownLayers};
use super::weights::LlamaWeights;

/// What a generation computed, for the prompt and the tokens after it (T = prompt + generated).
pub struct Generation {
    /// The generated ids, in order (the stop token included when one ended the generation).
    pub generated: Vec<u32>,
    /// (layers shown, heads, T, T): every position's attention weights, zero above the diagonal.
    pub attentions: Vec<f32>,
    /// (T, hidden): every position's last hidden state.
    pub hidden: Vec<f32>,
    /// The logits after the last generated token (of the token that would come next).
    pub logits: Vec<f32>,
    /// The prompt's pass (its upload of the weights included).
    pub prompt_time: Timings,
    /// Each generated token's step, wall clock (building its plan included).
    pub step_times: Vec<Duration>,
    /// Each step's executor phases (upload, GPU, read-back).
    pub step_timings: Vec<Timings>,
}

/// Continues `prompt` greedily for up to `max_new` tokens (stopping after any id of `stop`), calling
/// `on_token` with each new id as soon as it is known. The attentions of the `shown` layers are
/// read back row by row.
#[allow(clippy::too_many_arguments)]
pub fn generate<'w>(
    ctx: &GpuContext,
    kernels: &Kernels,
    c: &LlamaConfig,
    weights: &'w LlamaWeights,
    prompt: &'w PromptData,
    max_new: usize,
    stop: &[u32],
    shown: &ShownLayers,
    mut on_token: impl FnMut(u32) -> Result<()>,
) -> Result<Generation> {
    let n = prompt.ids.len();
    let total = n + max_new;
    let layers: Vec<usize> = (0..c.layers).filter(|&l| shown.shows(l)).collect();
    let heads = c.heads;
    let mut resident = Resident::default();

    let plan = LlamaPlan::new(c, weights, prompt, &[], shown)?;
    let want = plan.outputs(false);
    let (values, prompt_time) = execute_resident(
        ctx,
        kernels,
        &plan.program,
        &plan.input_data,
        &want,
        &mut resident,
    )?;
    // Rows kept per (layer, head) as they come: row i has i + 1 weights.
    let mut rows: Vec<Vec<Vec<f32>>> = vec![Vec::with_capacity(total); layers.len() * heads];
    for (k, layer) in values[2..].iter().enumerate() {
        for hd in 0..heads {
            for i in 0..n {
                let start = (hd * n + i) * n;
                rows[k * heads + hd].push(layer[start..start + i + 1].to_vec());
            }
        }
    }
    let mut hidden = values[0].clone();
    let mut logits = values[1].clone();
    let mut generated = Vec::with_capacity(max_new);
    let mut step_times = Vec::with_capacity(max_new);
    let mut step_timings = Vec::with_capacity(max_new);
    while generated.len() < max_new {
        let next = argmax(&logits) as u32;
        generated.push(next);
        on_token(next)?;
        // The new token's own step: its hidden state, its attention row, the logits after it.
        let start = Instant::now();
        let plan = LlamaPlan::new(c, weights, prompt, &generated, shown)?;
        let step = plan.decoded.last().expect("one step per generated token");
        let mut want = vec![step.hidden, step.logits];
        want.extend(step.attentions.iter().flatten());
        let (values, t) = execute_resident(
            ctx,
            kernels,
            &plan.program,
            &plan.input_data,
            &want,
            &mut resident,
        )?;
        step_times.push(start.elapsed());
        step_timings.push(t);
        let keys = n + generated.len();
        for (k, layer) in values[2..].iter().enumerate() {
            for hd in 0..heads {
                rows[k * heads + hd].push(layer[hd * keys..(hd + 1) * keys].to_vec());
            }
        }
        hidden.extend_from_slice(&values[0]);
        logits = values[1].clone();
        if stop.contains(&next) {
            break;
        }
    }
    let t = n + generated.len();
    let mut attentions = vec![0.0; layers.len() * heads * t * t];
    for (m, matrix) in rows.iter().enumerate() {
        for (i, row) in matrix.iter().enumerate() {
            let start = (m * t + i) * t;
            attentions[start..start + row.len()].copy_from_slice(row);
        }
    }
    Ok(Generation {
        generated,
        attentions,
        hidden,
        logits,
        prompt_time,
        step_times,
        step_timings,
    })
}

/// The index of the largest value (the first of equals), as `torch.argmax`.
pub fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |best, i| if v[i] > v[best] { i } else { best })
}
