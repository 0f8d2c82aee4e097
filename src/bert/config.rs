//! A BERT-family model's `config.json`: the sizes the encoder is built from.
//!
//! Only what changes the computation is read; every setting that would make our forward pass
//! differ from transformers' (another activation, relative position embeddings, a decoder) is
//! refused by name rather than silently computed the BERT way.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};

/// `model_type` values this encoder implements.
pub const SUPPORTED_MODEL_TYPES: &[&str] = &["bert"];

/// The sizes and constants of a BERT encoder.
#[derive(Clone, Debug, PartialEq)]
pub struct BertConfig {
    /// Width of every token's hidden state.
    pub hidden: usize,
    /// Encoder layers.
    pub layers: usize,
    /// Attention heads per layer.
    pub heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate: usize,
    /// Rows of the word-embedding table.
    pub vocab: usize,
    /// Longest input the position table covers.
    pub max_positions: usize,
    /// Rows of the token-type table.
    pub type_vocab: usize,
    /// LayerNorm's eps.
    pub eps: f32,
}

impl BertConfig {
    /// Reads and checks `path` (a `config.json`).
    pub fn load(path: &Path) -> Result<Self> {
        let text = crate::input_file::read_text(path, "model config")?;
        Self::parse(path, &text)
    }

    /// Parses the JSON `text` read from `path` (named in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let json: Value =
            serde_json::from_str(text).map_err(|e| fail(path, format!("not valid JSON ({e})")))?;
        let Some(model_type) = json.get("model_type").and_then(Value::as_str) else {
            return Err(fail(
                path,
                format!(
                    "'model_type' is missing; supported: {}",
                    SUPPORTED_MODEL_TYPES.join(", ")
                ),
            ));
        };
        if !SUPPORTED_MODEL_TYPES.contains(&model_type) {
            return Err(fail(
                path,
                format!(
                    "model_type '{model_type}' is not supported; supported: {}",
                    SUPPORTED_MODEL_TYPES.join(", ")
                ),
            ));
        }
        let size = |key: &str, default: Option<usize>| -> Result<usize> {
            match json.get(key) {
                None => default.ok_or_else(|| fail(path, format!("'{key}' is missing"))),
                Some(v) => v
                    .as_u64()
                    .filter(|&n| n > 0)
                    .map(|n| n as usize)
                    .ok_or_else(|| {
                        fail(path, format!("'{key}' is {v}; expected a positive integer"))
                    }),
            }
        };
        let text_setting = |key: &str, default: &str| {
            json.get(key)
                .and_then(Value::as_str)
                .unwrap_or(default)
                .to_string()
        };
        // transformers' BertConfig defaults, for keys a config may leave out.
        let config = BertConfig {
            hidden: size("hidden_size", Some(768))?,
            layers: size("num_hidden_layers", Some(12))?,
            heads: size("num_attention_heads", Some(12))?,
            intermediate: size("intermediate_size", Some(3072))?,
            vocab: size("vocab_size", Some(30522))?,
            max_positions: size("max_position_embeddings", Some(512))?,
            type_vocab: size("type_vocab_size", Some(2))?,
            eps: json
                .get("layer_norm_eps")
                .map_or(Some(1e-12), Value::as_f64)
                .filter(|e| e.is_finite() && *e >= 0.0)
                .ok_or_else(|| fail(path, "'layer_norm_eps' is not a non-negative number".into()))?
                as f32,
        };
        let act = text_setting("hidden_act", "gelu");
        if act != "gelu" {
            return Err(fail(
                path,
                format!("hidden_act '{act}' is not supported; only 'gelu' (the exact erf GELU)"),
            ));
        }
        let positions = text_setting("position_embedding_type", "absolute");
        if positions != "absolute" {
            return Err(fail(
                path,
                format!("position_embedding_type '{positions}' is not supported; only 'absolute'"),
            ));
        }
        if json.get("is_decoder").and_then(Value::as_bool) == Some(true) {
            return Err(fail(
                path,
                "is_decoder is true; only encoders are supported".into(),
            ));
        }
        // Token ids travel to the GPU as exact f32 integers (shaders/embed.wgsl).
        if config.vocab.max(config.type_vocab) > 1 << 24 {
            return Err(fail(
                path,
                format!(
                    "vocab_size {} is above 2^24, which selfattn does not support",
                    config.vocab
                ),
            ));
        }
        if !config.hidden.is_multiple_of(config.heads) {
            return Err(fail(
                path,
                format!(
                    "hidden_size {} is not divisible by num_attention_heads {}",
                    config.hidden, config.heads
                ),
            ));
        }
        Ok(config)
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }
}

fn fail(path: &Path, message: String) -> Error {
    Error::InputFile {
        path: PathBuf::from(path),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<BertConfig> {
        BertConfig::parse(Path::new("config.json"), text)
    }

    #[test]
    fn reads_minilm_sizes_and_fills_defaults() {
        let c = parse(
            r#"{"model_type":"bert","hidden_size":384,"num_hidden_layers":6,
                "num_attention_heads":12,"intermediate_size":1536,"layer_norm_eps":1e-12}"#,
        )
        .unwrap();
        assert_eq!(
            (c.hidden, c.layers, c.heads, c.intermediate),
            (384, 6, 12, 1536)
        );
        assert_eq!((c.vocab, c.max_positions, c.type_vocab), (30522, 512, 2));
        assert_eq!(c.head_dim(), 32);
    }

    #[test]
    fn refuses_what_it_does_not_implement_by_name() {
        let err = |t: &str| parse(t).unwrap_err().to_string();
        assert!(
            err(r#"{"model_type":"gpt2"}"#).contains("'gpt2' is not supported; supported: bert")
        );
        assert!(err(r#"{}"#).contains("'model_type' is missing; supported: bert"));
        assert!(err(r#"{"model_type":"bert","vocab_size":16777217}"#).contains("above 2^24"));
        assert!(err(r#"{"model_type":"bert","hidden_act":"relu"}"#).contains("hidden_act 'relu'"));
        assert!(
            err(r#"{"model_type":"bert","position_embedding_type":"relative_key"}"#)
                .contains("relative_key")
        );
        assert!(err(r#"{"model_type":"bert","hidden_size":0}"#).contains("'hidden_size' is 0"));
        assert!(
            err(r#"{"model_type":"bert","hidden_size":10,"num_attention_heads":3}"#)
                .contains("not divisible")
        );
        assert!(err("{").contains("not valid JSON"));
    }
}
