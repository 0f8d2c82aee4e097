//! LLaMA-family decoders (issue 15) from a GGUF file: the sizes ([`config`]), the byte-level
//! BPE tokenizer ([`tokenize`]), the tensors with llama.cpp's Q/K permutation undone
//! ([`weights`]), RoPE's tables ([`rope`]), the forward pass as one program ([`plan`]) and
//! greedy generation with the KV cache on the device ([`generate`]).
//!
//! Why: a decoder is what most people now mean by a transformer; its attention (causal,
//! rotary positions, key heads shared by groups of query heads) is computed here exactly as
//! transformers' `LlamaForCausalLM` in eval mode computes it from the same file.

pub mod chat;
pub mod config;
pub mod generate;
pub mod plan;
pub mod rope;
pub mod tokenize;
pub mod weights;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::Result;
use crate::gguf::Gguf;

pub use config::{LlamaConfig, SUPPORTED_ARCHITECTURES};
pub use generate::{Generation, argmax, generate};
pub use plan::{LlamaPlan, PromptData, ShownLayers};
pub use tokenize::LlamaTokenizer;
pub use weights::LlamaWeights;

/// A GGUF decoder loaded: its config, tokenizer and weights (dequantised to f32 on load).
pub struct LlamaModel {
    /// The file.
    pub path: PathBuf,
    /// Sizes.
    pub config: LlamaConfig,
    /// The model's tokenizer.
    pub tokenizer: LlamaTokenizer,
    /// Every tensor of the decoder.
    pub weights: LlamaWeights,
    /// Seconds spent dequantising (part of loading).
    pub dequantise_seconds: f64,
}

impl LlamaModel {
    /// Loads `path`: the metadata first (so an unsupported model is refused before any tensor
    /// is dequantised), then the tokenizer, then the tensors.
    pub fn load(path: &Path) -> Result<Self> {
        let gguf = Gguf::open(path)?;
        let config = LlamaConfig::from_gguf(&gguf)?;
        let tokenizer = LlamaTokenizer::from_gguf(&gguf)?;
        let start = Instant::now();
        let weights = LlamaWeights::from_gguf(&gguf, &config)?;
        Ok(LlamaModel {
            path: path.to_path_buf(),
            config,
            tokenizer,
            weights,
            dequantise_seconds: start.elapsed().as_secs_f64(),
        })
    }
}
