//! `selfattn explain`: the seed's `00_scratch.py` as a guided tour. Every stage is computed on
//! the GPU (all in one submission, each intermediate read back) and checked against the CPU.

use super::{say, say_part};
use selfattn::Result;
use selfattn::attention::{Plan, Stage};
use selfattn::compare::compare;
use selfattn::cpu;
use selfattn::gpu::GpuContext;
use selfattn::gpu::attention::{Kernels, attention};
use selfattn::report;

use super::Outcome;
use super::inputs::{adapter, check_tolerance, example};
use super::summary::stage_verdict;
use crate::cli::ExplainArgs;

/// Largest corner of a matrix printed.
const SHOW: usize = 8;

/// What each stage is, in words and as a formula.
fn describe(stage: Stage, d_k: usize) -> String {
    match stage {
        Stage::Q => "Queries: what each token is looking for.   Q = X · W_Q".into(),
        Stage::K => "Keys: what each token offers to be found by.   K = X · W_K".into(),
        Stage::V => "Values: what each token passes on when attended to.   V = X · W_V".into(),
        Stage::RawScores => {
            "Raw scores: how well each query matches each key.   S = Q · Kᵀ".into()
        }
        Stage::Scores => format!(
            "Scaled scores: divided by √d_k = √{d_k} = {:.4} so their spread does not grow with d_k.   S / √d_k",
            (d_k as f64).sqrt()
        ),
        Stage::Weights => {
            "Attention weights: a softmax along each row (row max subtracted first, for stability), so each row sums to 1.   P = softmax(S / √d_k)".into()
        }
        Stage::Context => "Output: each token's new vector, a weighted sum of the values.   O = P · V".into(),
        Stage::Output => "Output projection back to the model width.   Y = O · W_O".into(),
    }
}

/// Walks through the example stage by stage.
pub fn explain(args: &ExplainArgs) -> Result<Outcome> {
    check_tolerance(args.tolerance)?;
    let example = example(&args.input)?;
    let dims = example.problem.dims()?;
    let ctx = GpuContext::open(&adapter(&args.gpu))?;
    let plan = Plan::new(dims, example.problem.causal, example.problem.wo.is_some());
    let kernels = Kernels::new(&ctx)?;
    let mut stages: Vec<Stage> = Stage::ALL.to_vec();
    if example.problem.wo.is_none() {
        stages.retain(|s| *s != Stage::Output);
    }
    let gpu = attention(&ctx, &kernels, &plan, &example.problem, &stages)?;
    let reference = cpu::attention::attention(&plan, &example.problem);

    say!("Self-attention, step by step, on {}", ctx.describe());
    say!(
        "Sentence: {}  ({} tokens)",
        example.tokens.join(" "),
        dims.n
    );
    say!(
        "\n0. Input embeddings X, one row per token ({}×{}):",
        dims.n,
        dims.d_model
    );
    let x = &example.problem.x;
    say_part!(
        "{}",
        report::matrix(&x.data, x.rows, x.cols, Some(&example.tokens), SHOW)
    );
    if example.problem.causal {
        say!("   (causal: query i may only look at keys j ≤ i)");
    }

    let mut checks = Vec::new();
    for (i, stage) in stages.iter().enumerate() {
        let m = &gpu.results[stage];
        say!(
            "\n{}. {} ({}×{}):",
            i + 1,
            describe(*stage, dims.d_k),
            m.rows,
            m.cols
        );
        say_part!(
            "{}",
            report::matrix(&m.data, m.rows, m.cols, Some(&example.tokens), SHOW)
        );
        let c = compare(*stage, m, &reference[stage], args.tolerance);
        say!("   check: {c}");
        checks.push(c);
    }
    say!(
        "\nAll {} stages ran in one GPU submission: upload {}, GPU {}, read-back {}.",
        stages.len(),
        report::ms(gpu.timings.upload),
        report::ms(gpu.timings.gpu),
        report::ms(gpu.timings.read_back)
    );
    Ok(stage_verdict(&checks))
}
