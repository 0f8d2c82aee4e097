//! A LLaMA-family model's sizes, read from a GGUF file's metadata and checked before any
//! weight is read: an architecture other than llama, or sizes that cannot fit together (heads
//! that do not divide the width, KV heads that do not divide the heads), is an error naming the
//! file and the key.

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
        })
    }
}

fn fail(gguf: &Gguf, message: String) -> Error {
    Error::InputFile {
        path: gguf.path().to_path_buf(),
        message,
    }
}
