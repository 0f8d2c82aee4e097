//! A LLaMA-family decoder's tensors, dequantised to f32 and checked against the config's sizes.
//!
//! From GGUF, names are llama.cpp's (`token_embd.weight`, `blk.3.attn_q.weight`, …). llama.cpp's
//! converter permutes the rows of each head of Q and K (pairs interleaved, for its own rotary
//! layout); [`unpermute_heads`] undoes that exactly as transformers does when it loads a GGUF
//! (`LlamaTensorProcessor._reverse_permute_weights`), so the rotation `rope.wgsl` applies
//! (rotate_half: value j pairs with j + head_dim/2) gives transformers' numbers. Linear weights
//! stay as stored (out × in): the matmul reads them transposed through strides.

use crate::error::{Error, Result};
use crate::gguf::Gguf;
use crate::state_dict::Tensor;

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

impl LlamaWeights {
    /// Reads every tensor of `gguf` the forward pass needs, checking each shape against `c`.
    /// Errors name the file and tensor: missing, of an unsupported type, or of another shape.
    pub fn from_gguf(gguf: &Gguf, c: &LlamaConfig) -> Result<Self> {
        let get = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
            check_shape(gguf, name, gguf.tensor(name)?, shape)
        };
        let (h, kv) = (c.hidden, c.kv_heads * c.head_dim);
        let mut layers = Vec::with_capacity(c.layers);
        for i in 0..c.layers {
            let n = |what: &str| format!("blk.{i}.{what}.weight");
            let q = get(&n("attn_q"), &[c.heads * c.head_dim, h])?;
            let k = get(&n("attn_k"), &[kv, h])?;
            layers.push(LlamaLayer {
                attn_norm: get(&n("attn_norm"), &[h])?,
                q: unpermute_heads(&q, c.heads, c.head_dim, h),
                k: unpermute_heads(&k, c.kv_heads, c.head_dim, h),
                v: get(&n("attn_v"), &[kv, h])?,
                o: get(&n("attn_output"), &[h, c.heads * c.head_dim])?,
                ffn_norm: get(&n("ffn_norm"), &[h])?,
                gate: get(&n("ffn_gate"), &[c.intermediate, h])?,
                up: get(&n("ffn_up"), &[c.intermediate, h])?,
                down: get(&n("ffn_down"), &[h, c.intermediate])?,
            });
        }
        let lm_head = match gguf.info("output.weight") {
            Some(_) => Some(get("output.weight", &[c.vocab, h])?),
            None => None,
        };
        Ok(LlamaWeights {
            embed: get("token_embd.weight", &[c.vocab, h])?,
            layers,
            final_norm: get("output_norm.weight", &[h])?,
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
