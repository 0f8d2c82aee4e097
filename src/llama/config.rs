//! A LLaMA-family model's sizes, read from a GGUF file's metadata and checked before any
//! weight is read: an architecture other than llama, or sizes that cannot fit together (heads
//! that do not divide the width, KV heads that do not divide the heads), is an error naming the
//! file and the key.

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::gguf::Gguf;

/// The `general.architecture` values read as LLaMA.
pub const SUPPORTED_ARCHITECTURES: &[&str] = &["llama"];

/// The sizes of a LLaMA-family decoder, as transformers' `LlamaConfig` names them.
#[derive(Clone, Debug, PartialEq)]
pub struct LlamaConfig {
    /// Decoder blocks (`llama.block_count`).
    pub layers: usize,
    /// Width of the residual stream (`llama.embedding_length`).
    pub hidden: usize,
    /// Width of the SwiGLU feed-forward (`llama.feed_forward_length`).
    pub intermediate: usize,
    /// Query heads (`llama.attention.head_count`).
    pub heads: usize,
    /// Key and value heads (`llama.attention.head_count_kv`; the query heads when absent),
    /// each shared by `heads / kv_heads` query heads (grouped-query attention).
    pub kv_heads: usize,
    /// Width of one head: `hidden / heads`.
    pub head_dim: usize,
    /// Positions the model was trained for (`llama.context_length`).
    pub context: usize,
    /// Rows of the embedding table (the length of `tokenizer.ggml.tokens`).
    pub vocab: usize,
    /// RMSNorm's ε (`llama.attention.layer_norm_rms_epsilon`).
    pub rms_eps: f64,
    /// RoPE's base θ (`llama.rope.freq_base`, 10,000 when absent as in llama.cpp).
    pub rope_base: f64,
    /// Whether the LM head is the embedding table (a GGUF file without `output.weight`,
    /// `tie_word_embeddings` in a config.json).
    pub tied: bool,
}

impl LlamaConfig {
    /// Reads and checks the sizes of `gguf`.
    pub fn from_gguf(gguf: &Gguf) -> Result<Self> {
        let arch = gguf.string("general.architecture")?;
        if !SUPPORTED_ARCHITECTURES.contains(&arch) {
            return Err(fail(
                gguf,
                format!(
                    "general.architecture is {arch:?}; selfattn reads {} models",
                    SUPPORTED_ARCHITECTURES.join(", ")
                ),
            ));
        }
        let size = |key: &str| -> Result<usize> {
            let v = gguf.uint(&format!("{arch}.{key}"))?;
            usize::try_from(v)
                .ok()
                .filter(|&v| v > 0)
                .ok_or_else(|| fail(gguf, format!("{arch}.{key} is {v}; it must be at least 1")))
        };
        let heads = size("attention.head_count")?;
        let kv_heads = match gguf.get(&format!("{arch}.attention.head_count_kv")) {
            Some(_) => size("attention.head_count_kv")?,
            None => heads,
        };
        let hidden = size("embedding_length")?;
        if !hidden.is_multiple_of(heads) {
            return Err(fail(
                gguf,
                format!(
                    "{arch}.embedding_length {hidden} is not a multiple of \
                     {arch}.attention.head_count {heads}"
                ),
            ));
        }
        if !heads.is_multiple_of(kv_heads) {
            return Err(fail(
                gguf,
                format!(
                    "{arch}.attention.head_count {heads} is not a multiple of \
                     {arch}.attention.head_count_kv {kv_heads}"
                ),
            ));
        }
        let head_dim = hidden / heads;
        if head_dim % 2 == 1 {
            return Err(fail(
                gguf,
                format!(
                    "heads of {head_dim} values ({arch}.embedding_length / head_count) are odd; \
                     RoPE rotates pairs"
                ),
            ));
        }
        if gguf.get(&format!("{arch}.rope.dimension_count")).is_some() {
            let rotated = gguf.uint(&format!("{arch}.rope.dimension_count"))?;
            if rotated != head_dim as u64 {
                return Err(fail(
                    gguf,
                    format!(
                        "{arch}.rope.dimension_count is {rotated}, not the head width {head_dim}: \
                         partial rotary embeddings are not supported"
                    ),
                ));
            }
        }
        let rope_base = match gguf.get(&format!("{arch}.rope.freq_base")) {
            Some(_) => gguf.float(&format!("{arch}.rope.freq_base"))?,
            None => 10_000.0,
        };
        Ok(LlamaConfig {
            layers: size("block_count")?,
            hidden,
            intermediate: size("feed_forward_length")?,
            heads,
            kv_heads,
            head_dim,
            context: size("context_length")?,
            vocab: gguf.strings("tokenizer.ggml.tokens")?.len(),
            rms_eps: gguf.float(&format!("{arch}.attention.layer_norm_rms_epsilon"))?,
            rope_base,
            tied: gguf.info("output.weight").is_none(),
        })
    }

    /// Reads and checks a Hugging Face `config.json` (`model_type` llama) at `path`. Settings
    /// our forward pass does not compute (another activation, biases, scaled RoPE, a head width
    /// other than hidden / heads) are refused by key.
    pub fn from_hf_config(path: &Path) -> Result<Self> {
        let text = crate::input_file::read_text(path, "model config")?;
        let fail = |message: String| Error::InputFile {
            path: path.to_path_buf(),
            message,
        };
        let json: Value =
            serde_json::from_str(&text).map_err(|e| fail(format!("not valid JSON ({e})")))?;
        let model_type = json.get("model_type").and_then(Value::as_str).unwrap_or("");
        if model_type != "llama" {
            return Err(fail(format!(
                "model_type {model_type:?} is not a LLaMA-family decoder (llama)"
            )));
        }
        let size = |key: &str, default: Option<usize>| -> Result<usize> {
            match json.get(key) {
                None | Some(Value::Null) => {
                    default.ok_or_else(|| fail(format!("'{key}' is missing")))
                }
                Some(v) => v
                    .as_u64()
                    .filter(|&n| n > 0)
                    .map(|n| n as usize)
                    .ok_or_else(|| fail(format!("'{key}' is {v}; expected a positive integer"))),
            }
        };
        let number = |v: Option<&Value>, key: &str, default: f64| -> Result<f64> {
            match v {
                None | Some(Value::Null) => Ok(default),
                Some(v) => v
                    .as_f64()
                    .ok_or_else(|| fail(format!("'{key}' is {v}; expected a number"))),
            }
        };
        let heads = size("num_attention_heads", None)?;
        let kv_heads = size("num_key_value_heads", Some(heads))?;
        let hidden = size("hidden_size", None)?;
        if !hidden.is_multiple_of(heads) || !heads.is_multiple_of(kv_heads) {
            return Err(fail(format!(
                "hidden_size {hidden}, num_attention_heads {heads} and num_key_value_heads \
                 {kv_heads} do not divide one another"
            )));
        }
        let head_dim = hidden / heads;
        if size("head_dim", Some(head_dim))? != head_dim || head_dim % 2 == 1 {
            return Err(fail(format!(
                "head_dim must be hidden_size / num_attention_heads = {head_dim}, and even"
            )));
        }
        if let Some(act) = json.get("hidden_act").and_then(Value::as_str)
            && act != "silu"
        {
            return Err(fail(format!(
                "hidden_act {act:?}: only silu (SwiGLU) is computed"
            )));
        }
        for key in ["attention_bias", "mlp_bias"] {
            if json.get(key).and_then(Value::as_bool) == Some(true) {
                return Err(fail(format!("'{key}' is true: biases are not computed")));
            }
        }
        // transformers 5 keeps RoPE's settings in rope_parameters, earlier ones at the top.
        let rope = json.get("rope_parameters").filter(|v| !v.is_null());
        let rope_type = rope
            .and_then(|r| r.get("rope_type"))
            .and_then(Value::as_str)
            .unwrap_or("default");
        if rope_type != "default" || json.get("rope_scaling").is_some_and(|v| !v.is_null()) {
            return Err(fail(format!(
                "rope type {rope_type:?} / rope_scaling: only the default RoPE is computed"
            )));
        }
        let rope_base = number(
            rope.and_then(|r| r.get("rope_theta"))
                .or(json.get("rope_theta")),
            "rope_theta",
            10_000.0,
        )?;
        Ok(LlamaConfig {
            layers: size("num_hidden_layers", None)?,
            hidden,
            intermediate: size("intermediate_size", None)?,
            heads,
            kv_heads,
            head_dim,
            context: size("max_position_embeddings", None)?,
            vocab: size("vocab_size", None)?,
            rms_eps: number(json.get("rms_norm_eps"), "rms_norm_eps", 1e-6)?,
            rope_base,
            tied: json
                .get("tie_word_embeddings")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }
}

fn fail(gguf: &Gguf, message: String) -> Error {
    Error::InputFile {
        path: gguf.path().to_path_buf(),
        message,
    }
}
