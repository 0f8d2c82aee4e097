//! A LLaMA-family decoder's tensors, dequantised to f32 and checked against the config's sizes.
//!
//! From a Hugging Face folder, names are transformers' (`model.layers.3.self_attn.q_proj.weight`)
//! and rows are in its order. From GGUF, names are llama.cpp's (`token_embd.weight`, `blk.3.attn_q.weight`, …). llama.cpp's
//! converter permutes the rows of each head of Q and K (pairs interleaved, for its own rotary
//! layout); [`unpermute_heads`] undoes that exactly as transformers does when it loads a GGUF
//! (`LlamaTensorProcessor._reverse_permute_weights`), so the rotation `rope.wgsl` applies
//! (rotate_half: value j pairs with j + head_dim/2) gives transformers' numbers. Linear weights
//! stay as stored (out × in): the matmul reads them transposed through strides.

use crate::error::{Error, Result};
use crate::gguf::Gguf;
use crate::state_dict::{StateDict, Tensor};

use super::config::LlamaConfig;

/// One decoder block.
#[derive(Clone, Debug)]
pub struct LlamaLayer {
    /// RMSNorm before attention (hidden).
    pub attn_norm: Vec<f32>,
    /// Query projection ((heads · head_dim) × hidden), in transformers' row order.
    pub q: Vec<f32>,
    /// Key projection ((kv_heads · head_dim) × hidden), in transformers' row order.
    pub k: Vec<f32>,
    /// Value projection ((kv_heads · head_dim) × hidden).
    pub v: Vec<f32>,
    /// Attention output projection (hidden × hidden).
    pub o: Vec<f32>,
    /// RMSNorm before the feed-forward (hidden).
    pub ffn_norm: Vec<f32>,
    /// SwiGLU gate projection (intermediate × hidden).
    pub gate: Vec<f32>,
    /// SwiGLU up projection (intermediate × hidden).
    pub up: Vec<f32>,
    /// Down projection (hidden × intermediate).
    pub down: Vec<f32>,
}

/// Every tensor the decoder's forward pass reads.
#[derive(Clone, Debug)]
pub struct LlamaWeights {
    /// Token embeddings (vocab × hidden).
    pub embed: Vec<f32>,
    /// The blocks, in order.
    pub layers: Vec<LlamaLayer>,
    /// The final RMSNorm (hidden).
    pub final_norm: Vec<f32>,
    /// The LM head (vocab × hidden); `None` when the embeddings are tied (the file has no
    /// `output.weight`), and the head reads `embed`.
    pub lm_head: Option<Vec<f32>>,
}

/// Where a family's tensors are and how they are named.
struct Names {
    /// Block `i`'s tensor `part` (one of [`PARTS`], in its transformers name).
    block: fn(usize, &str) -> String,
    embed: &'static str,
    final_norm: &'static str,
    lm_head: &'static str,
    /// Whether Q and K rows are in llama.cpp's order (GGUF) and must be un-permuted.
    permuted: bool,
}

/// llama.cpp's GGUF names, by transformers' part names.
fn gguf_block(i: usize, part: &str) -> String {
    let what = match part {
        "input_layernorm" => "attn_norm",
        "self_attn.q_proj" => "attn_q",
        "self_attn.k_proj" => "attn_k",
        "self_attn.v_proj" => "attn_v",
        "self_attn.o_proj" => "attn_output",
        "post_attention_layernorm" => "ffn_norm",
        "mlp.gate_proj" => "ffn_gate",
        "mlp.up_proj" => "ffn_up",
        _ => "ffn_down",
    };
    format!("blk.{i}.{what}.weight")
}

/// transformers' names (`LlamaForCausalLM.state_dict()`).
fn hf_block(i: usize, part: &str) -> String {
    format!("model.layers.{i}.{part}.weight")
}

impl LlamaWeights {
    /// Reads every tensor of `gguf` the forward pass needs, checking each shape against `c`.
    /// Errors name the file and tensor: missing, of an unsupported type, or of another shape.
    pub fn from_gguf(gguf: &Gguf, c: &LlamaConfig) -> Result<Self> {
        let names = Names {
            block: gguf_block,
            embed: "token_embd.weight",
            final_norm: "output_norm.weight",
            lm_head: "output.weight",
            permuted: true,
        };
        Self::assemble(
            c,
            &names,
            |name, shape| check_shape(gguf, name, gguf.tensor(name)?, shape),
            |name| gguf.info(name).is_some(),
        )
    }

    /// Reads every tensor from a Hugging Face `model.safetensors` (f32, f16 or bf16), by
    /// transformers' names; `lm_head.weight` is read unless `c.tied` (the embeddings serve).
    pub fn from_state_dict(sd: &StateDict, c: &LlamaConfig) -> Result<Self> {
        let names = Names {
            block: hf_block,
            embed: "model.embed_tokens.weight",
            final_norm: "model.norm.weight",
            lm_head: "lm_head.weight",
            permuted: false,
        };
        Self::assemble(
            c,
            &names,
            |name, shape| Ok(sd.get(name, shape)?.data.clone()),
            |name| !c.tied && sd.has(name),
        )
        .and_then(|w| {
            if w.lm_head.is_none() && !c.tied {
                return Err(crate::Error::InputFile {
                    path: sd.path.clone(),
                    message: "tensor 'lm_head.weight' is missing and tie_word_embeddings is \
                              false"
                        .into(),
                });
            }
            Ok(w)
        })
    }

    fn assemble(
        c: &LlamaConfig,
        names: &Names,
        get: impl Fn(&str, &[usize]) -> Result<Vec<f32>>,
        has: impl Fn(&str) -> bool,
    ) -> Result<Self> {
        let (h, kv, q) = (c.hidden, c.kv_heads * c.head_dim, c.heads * c.head_dim);
        let mut layers = Vec::with_capacity(c.layers);
        for i in 0..c.layers {
            let t = |part: &str, shape: &[usize]| get(&(names.block)(i, part), shape);
            let (wq, wk) = (
                t("self_attn.q_proj", &[q, h])?,
                t("self_attn.k_proj", &[kv, h])?,
            );
            let (wq, wk) = if names.permuted {
                (
                    unpermute_heads(&wq, c.heads, c.head_dim, h),
                    unpermute_heads(&wk, c.kv_heads, c.head_dim, h),
                )
            } else {
                (wq, wk)
            };
            layers.push(LlamaLayer {
                attn_norm: t("input_layernorm", &[h])?,
                q: wq,
                k: wk,
                v: t("self_attn.v_proj", &[kv, h])?,
                o: t("self_attn.o_proj", &[h, q])?,
                ffn_norm: t("post_attention_layernorm", &[h])?,
                gate: t("mlp.gate_proj", &[c.intermediate, h])?,
                up: t("mlp.up_proj", &[c.intermediate, h])?,
                down: t("mlp.down_proj", &[h, c.intermediate])?,
            });
        }
        let lm_head = if has(names.lm_head) {
            Some(get(names.lm_head, &[c.vocab, h])?)
        } else {
            None
        };
        Ok(LlamaWeights {
            embed: get(names.embed, &[c.vocab, h])?,
            layers,
            final_norm: get(names.final_norm, &[h])?,
            lm_head,
        })
    }
}

/// Undoes llama.cpp's permutation of a Q or K weight ((heads · head_dim) × cols): within each
/// head, stored row 2i + j (i < head_dim/2, j < 2) is transformers' row j · head_dim/2 + i.
pub fn unpermute_heads(w: &[f32], heads: usize, head_dim: usize, cols: usize) -> Vec<f32> {
    let half = head_dim / 2;
    let mut out = vec![0.0; w.len()];
    for h in 0..heads {
        for i in 0..half {
            for j in 0..2 {
                let from = (h * head_dim + 2 * i + j) * cols;
                let to = (h * head_dim + j * half + i) * cols;
                out[to..to + cols].copy_from_slice(&w[from..from + cols]);
            }
        }
    }
    out
}

fn check_shape(gguf: &Gguf, name: &str, t: Tensor, shape: &[usize]) -> Result<Vec<f32>> {
    if t.shape != shape {
        return Err(Error::InputFile {
            path: gguf.path().to_path_buf(),
            message: format!(
                "tensor {name} has shape {:?}; the metadata's sizes make it {shape:?}",
                t.shape
            ),
        });
    }
    Ok(t.data)
}
