//! BERT-family encoders from a Hugging Face model folder (`config.json`, `model.safetensors`,
//! `tokenizer.json`), run forward on the GPU with our kernels and checked against the same
//! forward pass on the CPU.
//!
//! Why: random weights make pictures but teach little; a real model's attention shows what
//! attention does. The forward pass is transformers' `BertModel` in eval mode (no dropout),
//! and `attentions` / `last_hidden_state` match its `output_attentions=True` outputs.

pub mod config;
pub mod plan;
pub mod tokenize;
pub mod weights;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::state_dict::StateDict;

pub use config::{BertConfig, SUPPORTED_MODEL_TYPES};
pub use plan::{BertPlan, Sequence};
pub use tokenize::{BertTokenizer, Tokenized};
pub use weights::BertWeights;

/// A model folder loaded: its config, weights and tokenizer.
pub struct BertModel {
    /// The folder.
    pub dir: PathBuf,
    /// Sizes.
    pub config: BertConfig,
    /// Every tensor of the encoder.
    pub weights: BertWeights,
    /// The model's tokenizer.
    pub tokenizer: BertTokenizer,
}

impl BertModel {
    /// Loads `dir`: `config.json` first (so an unsupported model is refused before its weights
    /// are read), then `tokenizer.json`, then `model.safetensors`.
    pub fn load(dir: &Path) -> Result<Self> {
        let config = Self::load_config(dir)?;
        let tokenizer = BertTokenizer::load(&dir.join("tokenizer.json"))?;
        let sd = StateDict::load(&dir.join("model.safetensors"))?;
        let weights = BertWeights::from_state_dict(&sd, &config)?;
        Ok(BertModel {
            dir: dir.to_path_buf(),
            config,
            weights,
            tokenizer,
        })
    }

    /// Reads only `dir`'s `config.json` (cheap: to check a request against the model's sizes
    /// before its weights are loaded).
    pub fn load_config(dir: &Path) -> Result<BertConfig> {
        if !dir.is_dir() {
            return Err(Error::InputFile {
                path: dir.to_path_buf(),
                message: "is not a folder; a model is a Hugging Face model folder \
                          (config.json, model.safetensors, tokenizer.json)"
                    .into(),
            });
        }
        BertConfig::load(&dir.join("config.json"))
    }
}
