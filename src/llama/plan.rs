//! A decoder's forward pass over one prompt as one [`Program`]: per block RMSNorm, the Q/K/V
//! projections, RoPE on q and k, causal grouped-query attention (`heads::add_heads`, the block
//! BERT and `mha` run), the output projection and the residual; RMSNorm, the SwiGLU
//! feed-forward and the residual; then the final RMSNorm (transformers' `hidden_states[-1]`) and
//! the LM head on the last position (the next token's logits).
//!
//! The embedding lookup is a row copy, done on the host: only the prompt's rows are uploaded.
//! The weights are borrowed, not copied, so a caller can run several plans over one
//! [`LlamaWeights`]. Layers whose attentions are not asked for take the output-only path
//! (online softmax): no (heads, N, N) buffer is formed for them, which is what lets a long
//! prompt run with memory O(N · hidden) plus the layers shown.

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::heads::{HeadsMasks, HeadsShape, add_head_mean, add_heads};
use crate::kernels::matmul::MatmulParams;
use crate::kernels::rms_norm::RmsNormParams;
use crate::kernels::rope::RopeParams;
use crate::program::{BufId, Program};

use super::config::LlamaConfig;
use super::rope;
use super::weights::LlamaWeights;

/// Which layers' attention weights the plan forms (the others run output-only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShownLayers {
    /// Every layer's.
    All,
    /// Only these layers'.
    Only(Vec<usize>),
}

impl ShownLayers {
    fn shows(&self, layer: usize) -> bool {
        match self {
            ShownLayers::All => true,
            ShownLayers::Only(layers) => layers.contains(&layer),
        }
    }
}

/// The program for one prompt, its input data, and where the results are.
pub struct LlamaPlan<'w> {
    /// The dispatches.
    pub program: Program,
    /// Data for the program's inputs, in declaration order (the weights borrowed).
    pub input_data: Vec<Cow<'w, [f32]>>,
    /// Tokens in the prompt.
    pub tokens: usize,
    /// Layers.
    pub layers: usize,
    /// Query heads per layer.
    pub heads: usize,
    /// Hidden width.
    pub hidden: usize,
    /// Vocabulary size (the logits' length).
    pub vocab: usize,
    /// (tokens, hidden): after the final RMSNorm, transformers' `hidden_states[-1]`.
    pub last_hidden_state: BufId,
    /// (vocab): the LM head's logits for the last position.
    pub logits: BufId,
    /// Per layer, (heads, tokens, tokens) attention weights; `None` for a layer not shown.
    pub attentions: Vec<Option<BufId>>,
    /// Per shown layer, the weights averaged over heads (tokens, tokens).
    pub attention_means: Vec<Option<BufId>>,
}

impl<'w> LlamaPlan<'w> {
    /// Builds the forward pass of `c`'s decoder with `weights` over the prompt `ids`, forming
    /// the attention weights of the `shown` layers.
    pub fn new(
        c: &LlamaConfig,
        weights: &'w LlamaWeights,
        ids: &[u32],
        shown: &ShownLayers,
    ) -> Result<Self> {
        let n = ids.len();
        if n == 0 {
            return Err(Error::InvalidSize(
                "no tokens to run the model on (the tokenizer produced none)".into(),
            ));
        }
        if n > c.context {
            return Err(Error::InvalidSize(format!(
                "{n} tokens but the model's context is {} (context_length)",
                c.context
            )));
        }
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= c.vocab) {
            return Err(Error::InvalidSize(format!(
                "token id {id} is outside the model's vocabulary of {}",
                c.vocab
            )));
        }
        if let ShownLayers::Only(layers) = shown
            && let Some(&l) = layers.iter().find(|&&l| l >= c.layers)
        {
            return Err(Error::InvalidSize(format!(
                "layer {l} asked for, but the model has {} layers",
                c.layers
            )));
        }
        let (h, dh) = (c.hidden, c.head_dim);
        let mut b = Builder::default();
        let mut embeddings = Vec::with_capacity(n * h);
        for &id in ids {
            let row = id as usize * h;
            embeddings.extend_from_slice(&weights.embed[row..row + h]);
        }
        let mut x = b.owned("inputs_embeds", embeddings);
        let (cos, sin) = rope::tables(dh, c.rope_base, n);
        let tables = [b.owned("rope cos", cos), b.owned("rope sin", sin)];
        let norm = RmsNormParams::new(n, h, c.rms_eps as f32);
        let shape = HeadsShape {
            batch: 1,
            l: n,
            s: n,
            heads: c.heads,
            kv_heads: c.kv_heads,
            head_dim: dh,
            value_dim: dh,
            scale: None,
        };
        let masks = HeadsMasks {
            causal: true,
            ..Default::default()
        };
        let rope_params = |heads: usize| RopeParams {
            tokens: n as u32,
            heads: heads as u32,
            head_dim: dh as u32,
            offset: 0,
        };
        let mut attentions = Vec::with_capacity(c.layers);
        let mut attention_means = Vec::with_capacity(c.layers);
        for (i, layer) in weights.layers.iter().enumerate() {
            let l = format!("model.layers.{i}");
            let normed = b.rms_norm(&format!("{l}.input_layernorm"), norm, x, &layer.attn_norm);
            let q = b.linear(
                &format!("{l}.self_attn.q_proj"),
                &layer.q,
                (n, c.heads * dh, h),
                normed,
            );
            let k = b.linear(
                &format!("{l}.self_attn.k_proj"),
                &layer.k,
                (n, c.kv_heads * dh, h),
                normed,
            );
            let v = b.linear(
                &format!("{l}.self_attn.v_proj"),
                &layer.v,
                (n, c.kv_heads * dh, h),
                normed,
            );
            let q =
                b.p.rope(&format!("{l} q (RoPE)"), rope_params(c.heads), q, tables);
            let k =
                b.p.rope(&format!("{l} k (RoPE)"), rope_params(c.kv_heads), k, tables);
            let block = add_heads(
                &mut b.p,
                (&format!("{l} "), "context"),
                shape,
                [q, k, v],
                masks,
            );
            let context = if shown.shows(i) {
                attentions.push(Some(block.weights));
                attention_means.push(Some(add_head_mean(
                    &mut b.p,
                    &format!("{l} attention (head mean)"),
                    shape,
                    block.weights,
                )));
                block.context
            } else {
                attentions.push(None);
                attention_means.push(None);
                block.context_no_weights
            };
            let attended = b.linear(
                &format!("{l}.self_attn.o_proj"),
                &layer.o,
                (n, h, h),
                context,
            );
            let x1 = b.p.add(&format!("{l} residual (attention)"), x, attended);
            let normed = b.rms_norm(
                &format!("{l}.post_attention_layernorm"),
                norm,
                x1,
                &layer.ffn_norm,
            );
            let gate = b.linear(
                &format!("{l}.mlp.gate_proj"),
                &layer.gate,
                (n, c.intermediate, h),
                normed,
            );
            let up = b.linear(
                &format!("{l}.mlp.up_proj"),
                &layer.up,
                (n, c.intermediate, h),
                normed,
            );
            let act = b.p.swiglu(&format!("{l}.mlp (SwiGLU)"), gate, up);
            let down = b.linear(
                &format!("{l}.mlp.down_proj"),
                &layer.down,
                (n, h, c.intermediate),
                act,
            );
            x = b.p.add(&format!("{l} residual (MLP)"), x1, down);
        }
        let last_hidden_state = b.rms_norm("model.norm", norm, x, &weights.final_norm);
        let (head_name, head) = match &weights.lm_head {
            Some(w) => ("lm_head", &w[..]),
            None => ("lm_head (tied to embed_tokens)", &weights.embed[..]),
        };
        let head = b.borrowed(&format!("{head_name}.weight"), head);
        let logits = b.p.matmul(
            "logits (last position)",
            MatmulParams {
                a_base: ((n - 1) * h) as u32,
                ..MatmulParams::transposed_b(1, c.vocab, h)
            },
            last_hidden_state,
            head,
            None,
        );
        Ok(LlamaPlan {
            program: b.p,
            input_data: b.data,
            tokens: n,
            layers: c.layers,
            heads: c.heads,
            hidden: h,
            vocab: c.vocab,
            last_hidden_state,
            logits,
            attentions,
            attention_means,
        })
    }

    /// The buffers to read back: `last_hidden_state`, `logits`, then each shown layer's
    /// attentions, then, with `head_means`, each shown layer's mean over heads.
    pub fn outputs(&self, head_means: bool) -> Vec<BufId> {
        let mut want = vec![self.last_hidden_state, self.logits];
        want.extend(self.attentions.iter().flatten());
        if head_means {
            want.extend(self.attention_means.iter().flatten());
        }
        want
    }

    /// The inputs as slices, for the executors.
    pub fn inputs(&self) -> Vec<&[f32]> {
        self.input_data.iter().map(|v| &v[..]).collect()
    }
}

/// The program being built and the data of its inputs.
#[derive(Default)]
struct Builder<'w> {
    p: Program,
    data: Vec<Cow<'w, [f32]>>,
}

impl<'w> Builder<'w> {
    /// Declares an input holding this run's own `values`.
    fn owned(&mut self, name: &str, values: Vec<f32>) -> BufId {
        let id = self.p.input(name, values.len());
        self.data.push(Cow::Owned(values));
        id
    }

    /// Declares an input holding borrowed `values` (a weight).
    fn borrowed(&mut self, name: &str, values: &'w [f32]) -> BufId {
        let id = self.p.input(name, values.len());
        self.data.push(Cow::Borrowed(values));
        id
    }

    /// `x · Wᵀ` for (rows, out, in) with W (out × in), named after the layer's tensor.
    fn linear(
        &mut self,
        name: &str,
        w: &'w [f32],
        (rows, out, inp): (usize, usize, usize),
        x: BufId,
    ) -> BufId {
        let w = self.borrowed(&format!("{name}.weight"), w);
        self.p
            .matmul(name, MatmulParams::transposed_b(rows, out, inp), x, w, None)
    }

    /// RMSNorm of `x` with `weight`.
    fn rms_norm(
        &mut self,
        name: &str,
        params: RmsNormParams,
        x: BufId,
        weight: &'w [f32],
    ) -> BufId {
        let w = self.borrowed(&format!("{name}.weight"), weight);
        self.p.rms_norm(name, params, x, w)
    }
}
