//! The CPU reference for a single-head [`Plan`].

use std::collections::BTreeMap;

use crate::attention::{Attention, Plan, Stage};

use super::execute::execute;

/// Every stage's result in f64, row-major, keyed by stage.
pub type CpuResults = BTreeMap<Stage, Vec<f64>>;

/// Runs `plan` on `problem` and returns the stages in `want`.
pub fn attention_stages(plan: &Plan, problem: &Attention, want: &[Stage]) -> CpuResults {
    let ids: Vec<_> = want.iter().map(|s| plan.stages[s]).collect();
    let buffers = execute(&plan.program, &plan.input_data(problem), &ids);
    want.iter()
        .zip(ids)
        .map(|(stage, id)| (*stage, buffers[id.0].clone()))
        .collect()
}

/// Runs `plan` on `problem` and returns every stage (raw scores included).
pub fn attention(plan: &Plan, problem: &Attention) -> CpuResults {
    attention_stages(plan, problem, &Stage::ALL)
}

/// The reference for a few query rows only, straight from the definition in f64: what a large run
/// is checked against when checking every row would cost far more than the GPU work.
pub struct RowReference {
    /// The rows, in the order given.
    pub rows: Vec<usize>,
    /// Their weights, N each.
    pub weights: Vec<Vec<f64>>,
    /// Their outputs, d_out each.
    pub output: Vec<Vec<f64>>,
}

/// Computes the weights and output of the query rows `rows` of `problem` (shapes already
/// checked by [`Attention::dims`]).
pub fn reference_rows(problem: &Attention, rows: &[usize]) -> RowReference {
    let x = &problem.x;
    let (n, d_model) = (x.rows, x.cols);
    let project = |w: &crate::tensor::Matrix, row: usize| -> Vec<f64> {
        (0..w.cols)
            .map(|c| {
                (0..d_model)
                    .map(|t| x.at(row, t) as f64 * w.at(t, c) as f64)
                    .sum()
            })
            .collect()
    };
    let keys: Vec<Vec<f64>> = (0..n).map(|j| project(&problem.wk, j)).collect();
    let values: Vec<Vec<f64>> = (0..n).map(|j| project(&problem.wv, j)).collect();
    let scale = 1.0 / (problem.wq.cols as f64).sqrt();
    let mut reference = RowReference {
        rows: rows.to_vec(),
        weights: Vec::new(),
        output: Vec::new(),
    };
    for &i in rows {
        let q = project(&problem.wq, i);
        let allowed = |j: usize| !problem.causal || j <= i;
        let scores: Vec<f64> = keys
            .iter()
            .map(|k| scale * q.iter().zip(k).map(|(a, b)| a * b).sum::<f64>())
            .collect();
        let max = (0..n)
            .filter(|&j| allowed(j))
            .map(|j| scores[j])
            .fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = (0..n)
            .filter(|&j| allowed(j))
            .map(|j| (scores[j] - max).exp())
            .sum();
        let weights: Vec<f64> = (0..n)
            .map(|j| {
                if allowed(j) {
                    (scores[j] - max).exp() / sum
                } else {
                    0.0
                }
            })
            .collect();
        let d_v = problem.wv.cols;
        let context: Vec<f64> = (0..d_v)
            .map(|c| (0..n).map(|j| weights[j] * values[j][c]).sum())
            .collect();
        let output = match &problem.wo {
            Some(wo) => (0..wo.cols)
                .map(|c| (0..d_v).map(|t| context[t] * wo.at(t, c) as f64).sum())
                .collect(),
            None => context,
        };
        reference.weights.push(weights);
        reference.output.push(output);
    }
    reference
}
