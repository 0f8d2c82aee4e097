//! `selfattn.model`: a BERT-family encoder from a Hugging Face folder, run forward by the
//! library's `BertPlan`, or a LLaMA-family decoder (GGUF file or Hugging Face folder) by its
//! `LlamaPlan`, with greedy generation on the KV cache (`llama::generate`); on the GPU and checked
//! against the CPU twin; every layer's attentions and the last hidden state per text, their
//! padding removed.

use std::borrow::Cow;
use std::path::PathBuf;

use numpy::PyArrayDyn;
use pyo3::prelude::*;
use selfattn::attention::Stage;
use selfattn::bert::{BertModel, BertPlan, Tokenized};
use selfattn::compare::compare_shaped;
use selfattn::gpu::context::AdapterChoice;
use selfattn::llama::{LlamaModel, LlamaPlan, LlamaSource, PromptData, ShownLayers};

use crate::arrays::to_numpy;
use crate::checked::{self, Wanted};
use crate::device::{choice, device};
use crate::errors::Failure;
use crate::run::detached;

/// One text's results: its tokens, (layers, heads, n, n) attentions, (n, hidden) hidden state,
/// the generated ids (a decoder's; n counts them).
type Sentence<'py> = (
    Vec<String>,
    Bound<'py, PyArrayDyn<f32>>,
    Bound<'py, PyArrayDyn<f32>>,
    Vec<u32>,
);

/// What one text gives before it becomes numpy: tokens, attentions, hidden state, generated ids.
type Values = (Vec<String>, Vec<f32>, Vec<f32>, Vec<u32>);

/// The sizes and whether the model is causal, then one result per text.
type Run = (usize, usize, usize, bool, Vec<Values>);

/// Runs the model in `path` over `texts`; returns (layers, heads, hidden, causal, one result
/// per text). See the Python wrapper's docstring.
#[pyfunction]
#[pyo3(signature = (path, texts, generate=0, truncate=true, backend=None, adapter=None, tolerance=None))]
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
pub fn model<'py>(
    py: Python<'py>,
    path: PathBuf,
    texts: Vec<String>,
    generate: usize,
    truncate: bool,
    backend: Option<&str>,
    adapter: Option<String>,
    tolerance: Option<f64>,
) -> PyResult<(usize, usize, usize, bool, Vec<Sentence<'py>>)> {
    let tolerance = checked::tolerance(tolerance)?;
    let choice = choice(backend, adapter)?;
    let (layers, heads, hidden, causal, results) = detached(py, || {
        run(&path, &texts, generate, truncate, &choice, tolerance)
    })?;
    let sentences = results
        .into_iter()
        .map(|(tokens, attentions, state, generated)| {
            let n = tokens.len();
            Ok((
                tokens,
                to_numpy(py, &[layers, heads, n, n], attentions)?,
                to_numpy(py, &[n, hidden], state)?,
                generated,
            ))
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok((layers, heads, hidden, causal, sentences))
}

fn run(
    path: &std::path::Path,
    texts: &[String],
    generate: usize,
    truncate: bool,
    choice: &AdapterChoice,
    tolerance: f64,
) -> Result<Run, Failure> {
    if texts.is_empty() {
        return Err(
            selfattn::Error::InvalidSize("texts is empty: give at least one".into()).into(),
        );
    }
    if LlamaSource::is_llama_folder(path) || path.is_file() {
        return run_decoder(path, texts, generate, truncate, choice, tolerance);
    }
    if generate > 0 {
        return Err(selfattn::Error::InvalidSize(format!(
            "generate={generate}: {} is an encoder (BERT family), which does not generate text",
            path.display()
        ))
        .into());
    }
    let c = BertModel::load_config(path)?;
    let model = BertModel::load(path)?;
    let tokenized = texts
        .iter()
        .map(|t| model.tokenizer.encode(t, c.max_positions, truncate))
        .collect::<selfattn::Result<Vec<Tokenized>>>()?;
    // The padded batch's attentions, read back and held in f64 for the check, dominate.
    let longest = tokenized.iter().map(|t| t.tokens.len()).max().unwrap_or(0) as u64;
    checked::check_host_weights((tokenized.len() * c.layers * c.heads) as u64 * longest * longest)?;
    let sequences: Vec<_> = tokenized.iter().map(|t| t.sequence.clone()).collect();
    let mut plan = BertPlan::new(&c, model.weights, &sequences)?;
    let program = std::mem::take(&mut plan.program);
    let (b, n) = (plan.batch, plan.seq_len);
    let want = plan.outputs(false);
    let wanted: Vec<Wanted> = want
        .iter()
        .enumerate()
        .map(|(i, &id)| Wanted {
            stage: if i == 0 {
                Stage::Output
            } else {
                Stage::Weights
            },
            shape: if i == 0 {
                vec![b, n, plan.hidden]
            } else {
                vec![b, plan.heads, n, n]
            },
            id,
        })
        .collect();
    let inputs: Vec<Cow<'_, [f32]>> = plan
        .input_data
        .iter()
        .map(|d| Cow::Borrowed(&d[..]))
        .collect();
    let values = checked::run(choice, (program, inputs, 0..n), &wanted, tolerance)?;
    let results = tokenized
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let s = plan.sentence(&values, i);
            (t.tokens, s.attentions, s.hidden, Vec::new())
        })
        .collect();
    Ok((c.layers, c.heads, c.hidden, false, results))
}

/// A decoder over each text in turn: its prompt pass, or with `generate` its greedy
/// continuation on the device's KV cache, then the whole sequence's pass checked against the
/// CPU twin, and the cached steps' attentions and hidden states against that pass.
fn run_decoder(
    path: &std::path::Path,
    texts: &[String],
    generate: usize,
    truncate: bool,
    choice: &AdapterChoice,
    tolerance: f64,
) -> Result<Run, Failure> {
    let model = LlamaModel::load(path)?;
    let (c, weights) = (&model.config, &model.weights);
    let room = c.context.saturating_sub(generate);
    if room == 0 {
        return Err(selfattn::Error::InvalidSize(format!(
            "generate={generate}: the model's context is {} tokens",
            c.context
        ))
        .into());
    }
    let mut results = Vec::with_capacity(texts.len());
    for (i, text) in texts.iter().enumerate() {
        let mut ids = model.tokenizer.encode(text)?;
        if ids.len() > room {
            if !truncate {
                return Err(selfattn::Error::InvalidSize(format!(
                    "text {i} has {} tokens; with generate={generate} the model's context of {} \
                     leaves room for {room} (truncate=True cuts it)",
                    ids.len(),
                    c.context
                ))
                .into());
            }
            ids.truncate(room);
        }
        checked::check_host_weights(
            (c.layers * c.heads) as u64 * ((ids.len() + generate) as u64).pow(2),
        )?;
        let generated = if generate > 0 {
            let device = device(choice)?;
            let data = PromptData::new(c, weights, &ids, ids.len() + generate)?;
            Some(selfattn::llama::generate(
                &device.ctx,
                &device.kernels,
                c,
                weights,
                &data,
                generate,
                &model.tokenizer.stop,
                &ShownLayers::All,
                |_| Ok(()),
            )?)
        } else {
            None
        };
        let all: Vec<u32> = ids
            .iter()
            .chain(generated.iter().flat_map(|g| &g.generated))
            .copied()
            .collect();
        let n = all.len();
        let data = PromptData::new(c, weights, &all, n)?;
        let plan = LlamaPlan::new(c, weights, &data, &[], &ShownLayers::All)?;
        let mut wanted = vec![Wanted {
            stage: Stage::Output,
            shape: vec![n, c.hidden],
            id: plan.last_hidden_state,
        }];
        wanted.extend(plan.attentions.iter().flatten().map(|&id| Wanted {
            stage: Stage::Weights,
            shape: vec![c.heads, n, n],
            id,
        }));
        let LlamaPlan {
            program,
            input_data,
            ..
        } = plan;
        let values = checked::run(choice, (program, input_data, 0..n), &wanted, tolerance)?;
        let attentions = values[1..].concat();
        let (hidden, attentions) = match generated {
            None => (values[0].clone(), attentions),
            Some(g) => {
                // The KV-cache steps must give what the whole pass (checked above) gives.
                for (what, cached, full, shape, stage) in [
                    (
                        "hidden states",
                        &g.hidden,
                        &values[0],
                        vec![n, c.hidden],
                        Stage::Output,
                    ),
                    (
                        "attentions",
                        &g.attentions,
                        &attentions,
                        vec![c.layers, c.heads, n, n],
                        Stage::Weights,
                    ),
                ] {
                    let reference: Vec<f64> = full.iter().map(|&v| v as f64).collect();
                    let check = compare_shaped(stage, cached, &shape, &reference, tolerance);
                    if !check.passed {
                        return Err(Failure::Mismatch(format!(
                            "text {i}: the {what} of the KV-cache steps disagree with one pass \
                             over the whole sequence: {check}"
                        )));
                    }
                }
                (g.hidden, g.attentions)
            }
        };
        let generated = all[ids.len()..].to_vec();
        results.push((model.tokenizer.tokens(&all), attentions, hidden, generated));
    }
    Ok((c.layers, c.heads, c.hidden, true, results))
}
