//! `selfattn.model`: a BERT-family encoder from a Hugging Face folder, run forward by the
//! library's `BertPlan` on the GPU and checked against its CPU twin; every layer's attentions and
//! the last hidden state per text, their padding removed.

use std::borrow::Cow;
use std::path::PathBuf;

use numpy::PyArrayDyn;
use pyo3::prelude::*;
use selfattn::attention::Stage;
use selfattn::bert::{BertModel, BertPlan, Tokenized};

use crate::arrays::to_numpy;
use crate::checked::{self, Wanted};
use crate::device::choice;
use crate::errors::Failure;
use crate::run::detached;

/// One text's results: its tokens, (layers, heads, n, n) attentions, (n, hidden) hidden state.
type Sentence<'py> = (
    Vec<String>,
    Bound<'py, PyArrayDyn<f32>>,
    Bound<'py, PyArrayDyn<f32>>,
);

/// What one text gives before it becomes numpy: tokens, attentions, hidden state.
type Values = (Vec<String>, Vec<f32>, Vec<f32>);

/// Runs the encoder in `path` over `texts`; returns (layers, heads, hidden, one result per
/// text). See the Python wrapper's docstring.
#[pyfunction]
#[pyo3(signature = (path, texts, truncate=true, backend=None, adapter=None, tolerance=None))]
#[allow(clippy::type_complexity)]
pub fn model<'py>(
    py: Python<'py>,
    path: PathBuf,
    texts: Vec<String>,
    truncate: bool,
    backend: Option<&str>,
    adapter: Option<String>,
    tolerance: Option<f64>,
) -> PyResult<(usize, usize, usize, Vec<Sentence<'py>>)> {
    let tolerance = checked::tolerance(tolerance)?;
    let choice = choice(backend, adapter)?;
    let (layers, heads, hidden, results) =
        detached(py, || run(&path, &texts, truncate, &choice, tolerance))?;
    let sentences = results
        .into_iter()
        .map(|(tokens, attentions, state)| {
            let n = tokens.len();
            Ok((
                tokens,
                to_numpy(py, &[layers, heads, n, n], attentions)?,
                to_numpy(py, &[n, hidden], state)?,
            ))
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok((layers, heads, hidden, sentences))
}

fn run(
    path: &std::path::Path,
    texts: &[String],
    truncate: bool,
    choice: &selfattn::gpu::context::AdapterChoice,
    tolerance: f64,
) -> Result<(usize, usize, usize, Vec<Values>), Failure> {
    if texts.is_empty() {
        return Err(
            selfattn::Error::InvalidSize("texts is empty: give at least one".into()).into(),
        );
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
            (t.tokens, s.attentions, s.hidden)
        })
        .collect();
    Ok((c.layers, c.heads, c.hidden, results))
}
