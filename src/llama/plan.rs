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
use crate::kernels::softmax::MASKED;
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
    /// Only this (layer, head)'s, as one (1, N, N) map: every layer runs output-only and the
    /// head's q and k columns are picked out for its scores, so a prompt of thousands of tokens
    /// needs one N×N buffer, not heads × N×N per layer (prompts only, no generated tokens).
    Head(usize, usize),
    /// Every layer's and head's weights of these query positions only (sorted, distinct, within
    /// the prompt), as (heads, rows, N) per layer: every layer runs output-only and the rows'
    /// queries are picked out for their scores, so a long prompt needs rows × N per head, not
    /// N×N (prompts only, no generated tokens).
    Rows(Vec<usize>),
}

impl ShownLayers {
    /// Whether `layer`'s weights are formed.
    pub fn shows(&self, layer: usize) -> bool {
        match self {
            ShownLayers::All => true,
            ShownLayers::Only(layers) => layers.contains(&layer),
            ShownLayers::Head(..) | ShownLayers::Rows(_) => false,
        }
    }
}

/// What plans of one prompt borrow besides the weights: its ids, its embedding rows and RoPE's
/// tables for every position it and its continuation may take. Made once, so that every plan of
/// a generation reads the very same data, and the device keeps what was computed from it
/// (`gpu::resident`).
pub struct PromptData {
    /// The prompt's ids.
    pub ids: Vec<u32>,
    /// (tokens, hidden): their embedding rows.
    pub embeds: Vec<f32>,
    /// (positions, head_dim / 2) cosines.
    pub cos: Vec<f32>,
    /// (positions, head_dim / 2) sines.
    pub sin: Vec<f32>,
    /// Positions the tables cover: the prompt and the tokens that may follow it.
    pub positions: usize,
}

impl PromptData {
    /// The data of prompt `ids`, with tables for `positions` (at least its length).
    pub fn new(
        c: &LlamaConfig,
        weights: &LlamaWeights,
        ids: &[u32],
        positions: usize,
    ) -> Result<Self> {
        let n = ids.len();
        if n == 0 {
            return Err(Error::InvalidSize(
                "no tokens to run the model on (the tokenizer produced none)".into(),
            ));
        }
        let positions = positions.max(n);
        if positions > c.context {
            return Err(Error::InvalidSize(format!(
                "{positions} tokens but the model's context is {} (context_length)",
                c.context
            )));
        }
        check_ids(c, ids)?;
        let h = c.hidden;
        let mut embeds = Vec::with_capacity(n * h);
        for &id in ids {
            embeds.extend_from_slice(embedding(weights, h, id));
        }
        let (cos, sin) = rope::tables(c.head_dim, c.rope_base, positions);
        Ok(PromptData {
            ids: ids.to_vec(),
            embeds,
            cos,
            sin,
            positions,
        })
    }
}

/// Where one generated token's results are (it takes position `tokens + its index`).
pub struct DecodeStep {
    /// (1, hidden): its last hidden state.
    pub hidden: BufId,
    /// (vocab): the logits of the token after it.
    pub logits: BufId,
    /// Per layer, its row of attention weights, (heads, 1, position + 1); `None` for a layer
    /// not shown.
    pub attentions: Vec<Option<BufId>>,
}

/// The program for one prompt (and the tokens generated after it so far), its input data, and
/// where the results are.
pub struct LlamaPlan<'w> {
    /// The dispatches.
    pub program: Program,
    /// Data for the program's inputs, in declaration order (the weights borrowed).
    pub input_data: Vec<Cow<'w, [f32]>>,
    /// Tokens in the prompt.
    pub tokens: usize,
    /// Query rows of each prompt map: `tokens`, or the rows picked by [`ShownLayers::Rows`].
    pub map_rows: usize,
    /// Layers.
    pub layers: usize,
    /// Query heads per layer.
    pub heads: usize,
    /// Hidden width.
    pub hidden: usize,
    /// Vocabulary size (the logits' length).
    pub vocab: usize,
    /// (tokens, hidden): the prompt after the final RMSNorm, transformers' `hidden_states[-1]`.
    pub last_hidden_state: BufId,
    /// (vocab): the LM head's logits for the last position (the last generated token's, if any).
    pub logits: BufId,
    /// Per layer, the prompt's (heads, tokens, tokens) attention weights; `None` for a layer
    /// not shown.
    pub attentions: Vec<Option<BufId>>,
    /// Per shown layer, the prompt's weights averaged over heads (tokens, tokens).
    pub attention_means: Vec<Option<BufId>>,
    /// One per generated token, in order: its step with the KV cache.
    pub decoded: Vec<DecodeStep>,
}

impl<'w> LlamaPlan<'w> {
    /// Builds the forward pass of `c`'s decoder with `weights` over `prompt`, then one step per
    /// token of `generated` reading the keys and values of every earlier position from the KV
    /// cache (grown by one row per step on the device), forming the attention weights of the
    /// `shown` layers. Rebuilt with one more generated token, the plan repeats every earlier
    /// step exactly, so a `Resident` executor runs only the new one.
    pub fn new(
        c: &LlamaConfig,
        weights: &'w LlamaWeights,
        prompt: &'w PromptData,
        generated: &[u32],
        shown: &ShownLayers,
    ) -> Result<Self> {
        let n = prompt.ids.len();
        if n + generated.len() > prompt.positions {
            return Err(Error::InvalidSize(format!(
                "{} tokens but the prompt's tables cover {} positions",
                n + generated.len(),
                prompt.positions
            )));
        }
        check_ids(c, generated)?;
        let asked = match shown {
            ShownLayers::All => Vec::new(),
            ShownLayers::Only(layers) => layers.clone(),
            ShownLayers::Head(layer, _) => vec![*layer],
            ShownLayers::Rows(_) => Vec::new(),
        };
        if let Some(&l) = asked.iter().find(|&&l| l >= c.layers) {
            return Err(Error::InvalidSize(format!(
                "layer {l} asked for, but the model has {} layers",
                c.layers
            )));
        }
        if let ShownLayers::Head(_, head) = *shown {
            if head >= c.heads {
                return Err(Error::InvalidSize(format!(
                    "head {head} asked for, but the model has {} heads per layer",
                    c.heads
                )));
            }
            if !generated.is_empty() {
                return Err(Error::InvalidSize(
                    "one head's weights are formed for a prompt only, not generated tokens".into(),
                ));
            }
        }
        let mut map_rows = n;
        if let ShownLayers::Rows(rows) = shown {
            if rows.is_empty() || rows.windows(2).any(|w| w[0] >= w[1]) {
                return Err(Error::InvalidSize(format!(
                    "query rows {rows:?}: at least one, in increasing order"
                )));
            }
            if let Some(&r) = rows.iter().find(|&&r| r >= n) {
                return Err(Error::InvalidSize(format!(
                    "query row {r} asked for, but the prompt has {n} tokens (0 to {})",
                    n - 1
                )));
            }
            if !generated.is_empty() {
                return Err(Error::InvalidSize(
                    "picked rows' weights are formed for a prompt only, not generated tokens"
                        .into(),
                ));
            }
            map_rows = rows.len();
        }
        let h = c.hidden;
        let mut b = Builder::default();
        let tables = [
            b.borrowed("rope cos", &prompt.cos),
            b.borrowed("rope sin", &prompt.sin),
        ];
        let x = b.borrowed("inputs_embeds", &prompt.embeds);
        let blocks = Blocks {
            c,
            weights,
            shown,
            tables,
        };
        let prompt_pass = blocks.add(&mut b, x, 0, n, None);
        let last_hidden_state = prompt_pass.hidden;
        let mut logits = b.lm_head("logits (last position)", weights, last_hidden_state, n, h);
        let mut caches = prompt_pass.caches;
        let mut decoded = Vec::with_capacity(generated.len());
        for (j, &id) in generated.iter().enumerate() {
            let position = n + j;
            let x = b.borrowed(
                &format!("embed_tokens[{id}] (position {position})"),
                embedding(weights, h, id),
            );
            let pass = blocks.add(&mut b, x, position, 1, Some(&caches));
            logits = b.lm_head(
                &format!("logits (position {position})"),
                weights,
                pass.hidden,
                1,
                h,
            );
            caches = pass.caches;
            decoded.push(DecodeStep {
                hidden: pass.hidden,
                logits,
                attentions: pass.attentions,
            });
        }
        Ok(LlamaPlan {
            program: b.p,
            input_data: b.data,
            tokens: n,
            map_rows,
            layers: c.layers,
            heads: c.heads,
            hidden: h,
            vocab: c.vocab,
            last_hidden_state,
            logits,
            attentions: prompt_pass.attentions,
            attention_means: prompt_pass.means,
            decoded,
        })
    }

    /// The buffers to read back for the prompt: `last_hidden_state`, `logits`, then each shown
    /// layer's attentions, then, with `head_means`, each shown layer's mean over heads.
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

/// Refuses ids beyond the vocabulary.
fn check_ids(c: &LlamaConfig, ids: &[u32]) -> Result<()> {
    match ids.iter().find(|&&id| id as usize >= c.vocab) {
        Some(id) => Err(Error::InvalidSize(format!(
            "token id {id} is outside the model's vocabulary of {}",
            c.vocab
        ))),
        None => Ok(()),
    }
}

/// Token `id`'s embedding row.
fn embedding(weights: &LlamaWeights, hidden: usize, id: u32) -> &[f32] {
    let row = id as usize * hidden;
    &weights.embed[row..row + hidden]
}

/// What the decoder blocks share whatever rows they run on.
struct Blocks<'a, 'w> {
    c: &'a LlamaConfig,
    weights: &'w LlamaWeights,
    shown: &'a ShownLayers,
    tables: [BufId; 2],
}

/// What one pass through every block leaves.
struct Pass {
    /// (rows, hidden) after the final RMSNorm.
    hidden: BufId,
    /// Per layer, the keys (after RoPE) and values of every position so far.
    caches: Vec<(BufId, BufId)>,
    /// Per layer, the (heads, rows, keys) weights of a shown layer.
    attentions: Vec<Option<BufId>>,
    /// Per layer, their mean over heads (for the prompt only).
    means: Vec<Option<BufId>>,
}

impl<'w> Blocks<'_, 'w> {
    /// Every block over `rows` positions from `start`, whose embeddings are `x`: the prompt
    /// (`cache` None, causal) or one generated token reading `cache`, the keys and values of
    /// the positions before it.
    fn add(
        &self,
        b: &mut Builder<'w>,
        mut x: BufId,
        start: usize,
        rows: usize,
        cache: Option<&[(BufId, BufId)]>,
    ) -> Pass {
        let (c, weights) = (self.c, self.weights);
        let (h, dh, n) = (c.hidden, c.head_dim, rows);
        let keys = start + rows;
        let at = if cache.is_some() {
            format!(" (position {start})")
        } else {
            String::new()
        };
        let norm = RmsNormParams::new(n, h, c.rms_eps as f32);
        let shape = HeadsShape {
            batch: 1,
            l: n,
            s: keys,
            heads: c.heads,
            kv_heads: c.kv_heads,
            head_dim: dh,
            value_dim: dh,
            scale: None,
        };
        // The prompt is causal; a generated token sees every earlier position.
        let masks = HeadsMasks {
            causal: cache.is_none(),
            ..Default::default()
        };
        let rope_params = |heads: usize| RopeParams {
            tokens: n as u32,
            heads: heads as u32,
            head_dim: dh as u32,
            offset: start as u32,
        };
        let mut pass = Pass {
            hidden: x,
            caches: Vec::with_capacity(c.layers),
            attentions: Vec::with_capacity(c.layers),
            means: Vec::with_capacity(c.layers),
        };
        for (i, layer) in weights.layers.iter().enumerate() {
            let l = format!("model.layers.{i}");
            let name = |what: &str| format!("{l}.{what}{at}");
            let normed = b.rms_norm(&name("input_layernorm"), norm, x, &layer.attn_norm);
            let q = b.linear(
                &name("self_attn.q_proj"),
                &layer.q,
                (n, c.heads * dh, h),
                normed,
            );
            let k = b.linear(
                &name("self_attn.k_proj"),
                &layer.k,
                (n, c.kv_heads * dh, h),
                normed,
            );
            let v = b.linear(
                &name("self_attn.v_proj"),
                &layer.v,
                (n, c.kv_heads * dh, h),
                normed,
            );
            let q =
                b.p.rope(&name("q (RoPE)"), rope_params(c.heads), q, self.tables);
            let mut k =
                b.p.rope(&name("k (RoPE)"), rope_params(c.kv_heads), k, self.tables);
            let mut v = v;
            if let Some(cache) = cache {
                k = b.p.concat(&name("key cache"), cache[i].0, k);
                v = b.p.concat(&name("value cache"), cache[i].1, v);
            }
            pass.caches.push((k, v));
            let block = add_heads(&mut b.p, (&name(""), "context"), shape, [q, k, v], masks);
            let one_head = match *self.shown {
                ShownLayers::Head(layer, head) if layer == i => Some(head),
                _ => None,
            };
            let picked = match self.shown {
                ShownLayers::Rows(rows) if cache.is_none() => Some(rows),
                _ => None,
            };
            let context = if let Some(rows) = picked {
                let (w, mean) = b.row_weights(&name("picked rows "), shape, rows, [q, k, v]);
                pass.attentions.push(Some(w));
                pass.means.push(Some(mean));
                block.context_no_weights
            } else if let Some(head) = one_head {
                let w =
                    b.one_head_weights(&name(&format!("head {head} ")), c, (n, keys), [q, k], head);
                pass.attentions.push(Some(w));
                pass.means.push(None);
                block.context_no_weights
            } else if self.shown.shows(i) {
                pass.attentions.push(Some(block.weights));
                pass.means.push(cache.is_none().then(|| {
                    add_head_mean(
                        &mut b.p,
                        &name("attention (head mean)"),
                        shape,
                        block.weights,
                    )
                }));
                block.context
            } else {
                pass.attentions.push(None);
                pass.means.push(None);
                block.context_no_weights
            };
            let attended = b.linear(&name("self_attn.o_proj"), &layer.o, (n, h, h), context);
            let x1 = b.p.add(&name("residual (attention)"), x, attended);
            let normed = b.rms_norm(&name("post_attention_layernorm"), norm, x1, &layer.ffn_norm);
            let gate = b.linear(
                &name("mlp.gate_proj"),
                &layer.gate,
                (n, c.intermediate, h),
                normed,
            );
            let up = b.linear(
                &name("mlp.up_proj"),
                &layer.up,
                (n, c.intermediate, h),
                normed,
            );
            let act = b.p.swiglu(&name("mlp (SwiGLU)"), gate, up);
            let down = b.linear(
                &name("mlp.down_proj"),
                &layer.down,
                (n, h, c.intermediate),
                act,
            );
            x = b.p.add(&name("residual (MLP)"), x1, down);
        }
        pass.hidden = b.rms_norm(&format!("model.norm{at}"), norm, x, &weights.final_norm);
        pass
    }
}

/// The program being built and the data of its inputs.
#[derive(Default)]
struct Builder<'w> {
    p: Program,
    data: Vec<Cow<'w, [f32]>>,
}

impl<'w> Builder<'w> {
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

    /// The LM head on the last of `rows` rows of `hidden` (tied to the embeddings when the
    /// model has no head of its own).
    fn lm_head(
        &mut self,
        name: &str,
        weights: &'w LlamaWeights,
        hidden: BufId,
        rows: usize,
        width: usize,
    ) -> BufId {
        let (head_name, head) = match &weights.lm_head {
            Some(w) => ("lm_head.weight", &w[..]),
            None => ("lm_head.weight (tied to embed_tokens)", &weights.embed[..]),
        };
        let vocab = head.len() / width;
        let head = self.borrowed(head_name, head);
        let params = MatmulParams {
            a_base: ((rows - 1) * width) as u32,
            ..MatmulParams::transposed_b(1, vocab, width)
        };
        self.p.matmul(name, params, hidden, head, None)
    }

    /// The (1, rows, keys) causal attention weights of query head `head` alone, from the
    /// layer's `q` (rows, heads · head_dim) and `k` (keys, kv_heads · head_dim): the head's
    /// columns and its key head's are picked out by products with 0/1 selection matrices (exact:
    /// each output is one value times 1 plus zeros), then scored and normalised as
    /// `add_heads` does for every head.
    fn one_head_weights(
        &mut self,
        prefix: &str,
        c: &LlamaConfig,
        (rows, keys): (usize, usize),
        [q, k]: [BufId; 2],
        head: usize,
    ) -> BufId {
        let dh = c.head_dim;
        let group = c.heads / c.kv_heads;
        let select = |heads: usize, which: usize| -> Vec<f32> {
            let mut s = vec![0.0; heads * dh * dh];
            for t in 0..dh {
                s[(which * dh + t) * dh + t] = 1.0;
            }
            s
        };
        let sq = self.owned(
            &format!("{prefix}query columns (selection)"),
            select(c.heads, head),
        );
        let sk = self.owned(
            &format!("{prefix}key columns (selection)"),
            select(c.kv_heads, head / group),
        );
        let q_h = self.p.matmul(
            &format!("{prefix}query"),
            MatmulParams::plain(rows, dh, c.heads * dh),
            q,
            sq,
            None,
        );
        let k_h = self.p.matmul(
            &format!("{prefix}key"),
            MatmulParams::plain(keys, dh, c.kv_heads * dh),
            k,
            sk,
            None,
        );
        let shape = HeadsShape {
            batch: 1,
            l: rows,
            s: keys,
            heads: 1,
            kv_heads: 1,
            head_dim: dh,
            value_dim: dh,
            scale: None,
        };
        let masks = HeadsMasks {
            causal: true,
            causal_offset: (keys - rows) as i32,
            ..Default::default()
        };
        add_heads(
            &mut self.p,
            (prefix, "context"),
            shape,
            [q_h, k_h, k_h],
            masks,
        )
        .weights
    }

    /// The (heads, rows, keys) causal attention weights of the query positions `rows` alone, and
    /// their mean over heads, from the layer's `q` (keys, heads · head_dim) and `k`, `v` (keys,
    /// kv_heads · head_dim) of `shape`: the rows of q are picked out by a product with a 0/1
    /// selection matrix (exact: each output is one value times 1 plus zeros), and the causal
    /// mask, which a block of scattered rows cannot take from an offset, is an additive (rows,
    /// keys) mask hiding the keys after each row's position.
    fn row_weights(
        &mut self,
        prefix: &str,
        shape: HeadsShape,
        rows: &[usize],
        [q, k, v]: [BufId; 3],
    ) -> (BufId, BufId) {
        let (keys, width) = (shape.s, shape.heads * shape.head_dim);
        let mut select = vec![0.0; rows.len() * keys];
        let mut mask = vec![0.0; rows.len() * keys];
        for (i, &r) in rows.iter().enumerate() {
            select[i * keys + r] = 1.0;
            mask[i * keys + r + 1..(i + 1) * keys].fill(MASKED);
        }
        let select = self.owned(&format!("{prefix}(selection)"), select);
        let mask = self.owned(&format!("{prefix}causal mask"), mask);
        let q_rows = self.p.matmul(
            &format!("{prefix}query"),
            MatmulParams::plain(rows.len(), width, keys),
            select,
            q,
            None,
        );
        let shape = HeadsShape {
            l: rows.len(),
            ..shape
        };
        let masks = HeadsMasks {
            attn_mask: Some(mask),
            ..Default::default()
        };
        let weights = add_heads(
            &mut self.p,
            (prefix, "context"),
            shape,
            [q_rows, k, v],
            masks,
        )
        .weights;
        let mean = add_head_mean(&mut self.p, &format!("{prefix}(head mean)"), shape, weights);
        (weights, mean)
    }

    /// Declares an input holding this plan's own `values`.
    fn owned(&mut self, name: &str, values: Vec<f32>) -> BufId {
        let id = self.p.input(name, values.len());
        self.data.push(Cow::Owned(values));
        id
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
