//! The subcommands. Each returns an [`Outcome`] (or an error) and leaves exit codes to `main`.

pub mod bench;
pub mod bench_model;
pub mod devices;
pub mod explain;
pub mod html;
pub mod inputs;
pub mod mha;
pub mod model;
pub mod model_draw;
pub mod progress;
pub mod run;
pub mod sdpa;
pub mod tensors;

/// What a finished command reports back to `main`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Everything checked out.
    Ok,
    /// The GPU disagreed with the CPU reference; the message names the stage and element.
    Mismatch(String),
}
