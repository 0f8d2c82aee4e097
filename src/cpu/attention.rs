//! The CPU reference executor: runs a [`Plan`] with the CPU twins, in f64 throughout.

use std::collections::BTreeMap;

use crate::attention::{Attention, Plan, Stage};

use super::{matmul::matmul, softmax::softmax};

/// Every stage's result in f64, row-major, keyed by stage.
pub type CpuResults = BTreeMap<Stage, Vec<f64>>;

fn widen(values: &[f32]) -> Vec<f64> {
    values.iter().map(|&v| v as f64).collect()
}

/// Runs `plan` on `problem` and returns every stage (raw scores included).
pub fn attention(plan: &Plan, problem: &Attention) -> CpuResults {
    let x = widen(&problem.x.data);
    let run = |p: &crate::gpu::matmul::MatmulParams, a: &[f64], b: &[f64]| {
        let mut c = vec![0.0; p.output_len()];
        matmul(p, a, b, &[], &mut c);
        c
    };
    let q = run(&plan.q, &x, &widen(&problem.wq.data));
    let k = run(&plan.k, &x, &widen(&problem.wk.data));
    let v = run(&plan.v, &x, &widen(&problem.wv.data));
    let raw_scores = run(&plan.raw_scores, &q, &k);
    let scores = run(&plan.scores, &q, &k);
    let mut weights = vec![0.0; scores.len()];
    softmax(&plan.softmax, &scores, &mut weights);
    let context = run(&plan.context, &weights, &v);
    let output = match (&plan.output, &problem.wo) {
        (Some(p), Some(wo)) => run(p, &context, &widen(&wo.data)),
        _ => context.clone(),
    };
    BTreeMap::from([
        (Stage::Q, q),
        (Stage::K, k),
        (Stage::V, v),
        (Stage::RawScores, raw_scores),
        (Stage::Scores, scores),
        (Stage::Weights, weights),
        (Stage::Context, context),
        (Stage::Output, output),
    ])
}
