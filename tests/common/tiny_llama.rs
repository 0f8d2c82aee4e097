//! A tiny LLaMA in GGUF for tests that need no download: the metadata of a 2-block decoder
//! (width 8, 4 heads over 2 KV heads, a 10-token byte-level vocabulary) and, with
//! [`tiny_llama_gguf`], every tensor the forward pass reads, as random F32.

use std::path::{Path, PathBuf};

use selfattn::numpy_rng::NumpyRng;

use super::gguf_writer::{T, W, gguf_bytes, write};

/// The metadata of a small llama: 2 blocks, width 8, 4 heads, 2 KV heads, and a byte-level
/// vocabulary in which "a b" and "Ġ ab" merge.
pub fn tiny_metadata() -> Vec<(&'static str, W)> {
    // Two user-defined tokens: one the vocabulary spells, one stored as raw text (a space).
    let tokens = ["<s>", "</s>", "a", "b", "Ġ", "ab", "Ġab", "Ċ", "<u>", "a b"];
    vec![
        ("general.architecture", W::Str("llama")),
        ("llama.block_count", W::U32(2)),
        ("llama.context_length", W::U32(16)),
        ("llama.embedding_length", W::U32(8)),
        ("llama.feed_forward_length", W::U32(12)),
        ("llama.attention.head_count", W::U32(4)),
        ("llama.attention.head_count_kv", W::U32(2)),
        ("llama.attention.layer_norm_rms_epsilon", W::F32(1e-5)),
        ("llama.rope.freq_base", W::F32(1e4)),
        ("tokenizer.ggml.model", W::Str("gpt2")),
        ("tokenizer.ggml.pre", W::Str("smollm")),
        (
            "tokenizer.ggml.tokens",
            W::Strs(tokens.iter().map(|t| t.to_string()).collect()),
        ),
        (
            "tokenizer.ggml.token_type",
            W::I32s(vec![3, 3, 1, 1, 1, 1, 1, 1, 4, 4]),
        ),
        (
            "tokenizer.ggml.merges",
            W::Strs(vec!["a b".into(), "Ġ ab".into()]),
        ),
        ("tokenizer.ggml.bos_token_id", W::U32(0)),
        ("tokenizer.ggml.eos_token_id", W::U32(1)),
        ("tokenizer.ggml.add_bos_token", W::Bool(false)),
    ]
}

/// `metadata` with `key` set to `value` (added when absent).
pub fn with(
    mut metadata: Vec<(&'static str, W)>,
    key: &'static str,
    value: W,
) -> Vec<(&'static str, W)> {
    metadata.retain(|(k, _)| *k != key);
    metadata.push((key, value));
    metadata
}

/// The tensors of [`tiny_metadata`]'s decoder (GGUF dims, fastest first: a PyTorch (out, in)
/// weight is `[in, out]`), each F32 drawn from `seed`; norms near 1, weights with std 0.5.
pub fn tiny_tensors(seed: u32) -> Vec<T> {
    let (hidden, ffn, kv, vocab) = (8u64, 12u64, 4u64, 10u64);
    let mut rng = NumpyRng::new(seed);
    let mut tensor = |name: String, dims: Vec<u64>, mean: f64, std: f64| {
        let len: u64 = dims.iter().product();
        let data = rng
            .randn(len as usize)
            .iter()
            .flat_map(|v| ((v * std + mean) as f32).to_le_bytes())
            .collect();
        T {
            name,
            dims,
            type_id: 0,
            data,
        }
    };
    let mut tensors = vec![tensor(
        "token_embd.weight".into(),
        vec![hidden, vocab],
        0.0,
        1.0,
    )];
    for i in 0..2 {
        let n = |what: &str| format!("blk.{i}.{what}.weight");
        tensors.extend([
            tensor(n("attn_norm"), vec![hidden], 1.0, 0.1),
            tensor(n("attn_q"), vec![hidden, hidden], 0.0, 0.5),
            tensor(n("attn_k"), vec![hidden, kv], 0.0, 0.5),
            tensor(n("attn_v"), vec![hidden, kv], 0.0, 0.5),
            tensor(n("attn_output"), vec![hidden, hidden], 0.0, 0.5),
            tensor(n("ffn_norm"), vec![hidden], 1.0, 0.1),
            tensor(n("ffn_gate"), vec![hidden, ffn], 0.0, 0.5),
            tensor(n("ffn_up"), vec![hidden, ffn], 0.0, 0.5),
            tensor(n("ffn_down"), vec![ffn, hidden], 0.0, 0.5),
        ]);
    }
    tensors.push(tensor("output_norm.weight".into(), vec![hidden], 1.0, 0.1));
    tensors
}

/// Writes the tiny decoder (`metadata`, usually [`tiny_metadata`], and `tensors`) as
/// `dir/name`.
pub fn tiny_llama_gguf(dir: &Path, name: &str, metadata: &[(&str, W)], tensors: &[T]) -> PathBuf {
    write(dir, name, &gguf_bytes(metadata, tensors))
}
