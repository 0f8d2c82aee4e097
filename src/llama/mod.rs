//! LLaMA-family decoders from a GGUF file or a Hugging Face folder ([`LlamaSource`]): the sizes ([`config`]), the byte-level
//! BPE tokenizer ([`tokenize`]), the tensors with llama.cpp's Q/K permutation undone
//! ([`weights`]), RoPE's tables ([`rope`]), the forward pass as one program ([`plan`]) and
//! greedy generation with the KV cache on the device ([`mod@generate`]).
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

use crate::error::Result;
use crate::gguf::Gguf;
use crate::state_dict::StateDict;

pub use config::{LlamaConfig, SUPPORTED_ARCHITECTURES};
pub use generate::{Generation, argmax, generate};
pub use plan::{LlamaPlan, PromptData, ShownLayers};
pub use tokenize::LlamaTokenizer;
pub use weights::LlamaWeights;

/// Where a decoder comes from: a GGUF file, or a Hugging Face folder (`config.json` with
/// `model_type` llama, `model.safetensors`, `tokenizer.json`). Each part is read on demand, so
/// a bad config is refused before any tensor is read.
pub enum LlamaSource {
    /// A GGUF file, its header read.
    Gguf(Gguf),
    /// A model folder and its parsed `config.json`.
    Folder(PathBuf, serde_json::Value),
}

impl LlamaSource {
    /// Opens `path`: a folder is a Hugging Face model, a file a GGUF one.
    pub fn open(path: &Path) -> Result<Self> {
        if path.is_dir() {
            let config = path.join("config.json");
            let text = crate::input_file::read_text(&config, "model config")?;
            let json = serde_json::from_str(&text).map_err(|e| crate::Error::InputFile {
                path: config,
                message: format!("not valid JSON ({e})"),
            })?;
            return Ok(LlamaSource::Folder(path.to_path_buf(), json));
        }
        Ok(LlamaSource::Gguf(Gguf::open(path)?))
    }

    /// Whether `dir` is a folder whose `config.json` names a LLaMA-family model.
    pub fn is_llama_folder(dir: &Path) -> bool {
        let config = dir.join("config.json");
        if !dir.is_dir() || !config.is_file() {
            return false;
        }
        let Ok(text) = crate::input_file::read_text(&config, "model config") else {
            return false;
        };
        serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|j| j.get("model_type")?.as_str().map(|t| t == "llama"))
            .unwrap_or(false)
    }

    /// The sizes.
    pub fn config(&self) -> Result<LlamaConfig> {
        match self {
            LlamaSource::Gguf(g) => LlamaConfig::from_gguf(g),
            LlamaSource::Folder(dir, _) => LlamaConfig::from_hf_config(&dir.join("config.json")),
        }
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> Result<LlamaTokenizer> {
        match self {
            LlamaSource::Gguf(g) => LlamaTokenizer::from_gguf(g),
            LlamaSource::Folder(dir, json) => LlamaTokenizer::from_hf_folder(dir, json),
        }
    }

    /// Every tensor, dequantised or converted to f32 and checked against `c`.
    pub fn weights(&self, c: &LlamaConfig) -> Result<LlamaWeights> {
        match self {
            LlamaSource::Gguf(g) => LlamaWeights::from_gguf(g, c),
            LlamaSource::Folder(dir, _) => {
                let sd = StateDict::load(&dir.join("model.safetensors"))?;
                LlamaWeights::from_state_dict(&sd, c)
            }
        }
    }
}

/// A decoder loaded: its config, tokenizer and weights (in f32).
pub struct LlamaModel {
    /// The file or folder.
    pub path: PathBuf,
    /// Sizes.
    pub config: LlamaConfig,
    /// The model's tokenizer.
    pub tokenizer: LlamaTokenizer,
    /// Every tensor of the decoder.
    pub weights: LlamaWeights,
}

impl LlamaModel {
    /// Loads `path` (a GGUF file or a Hugging Face folder): the config first (so an unsupported
    /// model is refused before any tensor is read), then the tokenizer, then the tensors.
    pub fn load(path: &Path) -> Result<Self> {
        let source = LlamaSource::open(path)?;
        let config = source.config()?;
        let tokenizer = source.tokenizer()?;
        let weights = source.weights(&config)?;
        Ok(LlamaModel {
            path: path.to_path_buf(),
            config,
            tokenizer,
            weights,
        })
    }
}
