//! selfattn: self-attention, softmax(Q·Kᵀ/√d_k)·V, in WGSL compute shaders on any GPU wgpu reaches,
//! checked against an f64 CPU reference and drawn as a heatmap.
//!
//! The pieces: [`attention`] defines the problem and the plan of kernel dispatches; [`gpu`] runs
//! the plan with WGSL kernels; [`cpu`] runs the same plan with f64 twins; [`compare`] measures how
//! far apart they are; [`heatmap`] draws the weights.

pub mod attention;
pub mod bench;
pub mod bert;
pub mod compare;
pub mod cpu;
pub mod error;
pub mod examples;
pub mod fsutil;
pub mod gguf;
pub mod gpu;
pub mod head_roles;
pub mod heads;
pub mod heatmap;
pub mod input_file;
pub mod kernels;
pub mod limits;
pub mod llama;
pub mod mha;
pub mod npy;
pub mod numpy_rng;
pub mod program;
pub mod report;
pub mod sdpa;
pub mod shader_source;
pub mod state_dict;
pub mod tensor;
pub mod tokenizer_file;
pub mod verify;
pub mod viewer;

pub use error::{Error, Result};
