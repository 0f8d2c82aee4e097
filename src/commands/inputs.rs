//! Turning the input flags into an [`Example`] and the GPU flags into an adapter choice.

use selfattn::Result;
use selfattn::error::Error;
use selfattn::examples::{self, DrawSizes, Example, NpyInputs};
use selfattn::gpu::AdapterChoice;

use crate::cli::{GpuArgs, InputArgs, SeedExample};

/// Builds the problem the flags describe (the seed NumPy example when none is given).
pub fn example(args: &InputArgs) -> Result<Example> {
    if let Some(text) = &args.text {
        let d_k = args.d_k.unwrap_or(args.d_model);
        let sizes = DrawSizes {
            d_model: args.d_model,
            d_k,
            d_v: args.d_v.unwrap_or(d_k),
        };
        return examples::from_text(text, args.seed, sizes, args.causal);
    }
    if let Some(embeddings) = &args.embeddings {
        let labels = match (&args.tokens, &args.tokens_file) {
            (Some(t), _) => Some(t.split_whitespace().map(String::from).collect()),
            (None, Some(path)) => Some(selfattn::input_file::read_lines(path, "token labels")?),
            (None, None) => None,
        };
        let inputs = NpyInputs {
            embeddings: embeddings.clone(),
            wq: args.wq.clone(),
            wk: args.wk.clone(),
            wv: args.wv.clone(),
            wo: args.wo.clone(),
        };
        return examples::from_npy(&inputs, labels, args.seed, args.d_k, args.d_v, args.causal);
    }
    Ok(match args.example.unwrap_or(SeedExample::Numpy) {
        SeedExample::Numpy => examples::seed_numpy(args.causal),
        SeedExample::Pytorch => examples::seed_pytorch(args.seed, args.causal),
    })
}

/// The adapter the flags ask for.
pub fn adapter(args: &GpuArgs) -> AdapterChoice {
    AdapterChoice {
        backend: args.backend,
        name: args.adapter.clone(),
    }
}

/// Errors unless `tolerance` is a positive finite number.
pub fn check_tolerance(tolerance: f64) -> Result<()> {
    if !(tolerance.is_finite() && tolerance > 0.0) {
        return Err(Error::Usage(format!(
            "--tolerance must be a positive number, got {tolerance}"
        )));
    }
    Ok(())
}
