//! The whole encoder forward pass as one [`Program`]: embeddings and their LayerNorm, then per
//! layer the Q/K/V projections, multi-head attention (`heads::add_heads`, the same block `mha`
//! runs), the output projection with residual + LayerNorm, and the feed-forward (up-projection,
//! exact GELU, down-projection) with residual + LayerNorm.
//!
//! Several sentences run as one batch padded to the longest: padded keys are masked out in the
//! softmax (so every real token's attention and hidden state equal those of the sentence run
//! alone), and padded query rows are computed but never shown.

use crate::error::{Error, Result};
use crate::heads::{HeadsMasks, HeadsShape, add_head_mean, add_heads};
use crate::kernels::embed::EmbedParams;
use crate::kernels::layer_norm::LayerNormParams;
use crate::kernels::matmul::MatmulParams;
use crate::kernels::softmax::MASKED;
use crate::program::{BufId, Program};

use super::config::BertConfig;
use super::weights::{BertWeights, Linear, Norm};

/// One tokenized sentence: ids and token-type ids, `[CLS]` and `[SEP]` included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sequence {
    /// Token ids.
    pub ids: Vec<u32>,
    /// Token-type (segment) ids, one per token.
    pub type_ids: Vec<u32>,
}

/// One sentence's tensors, its padding removed (n its own length).
pub struct SentenceValues {
    /// (layers, heads, n, n).
    pub attentions: Vec<f32>,
    /// (layers, n, n): each layer's attentions averaged over heads.
    pub means: Vec<f32>,
    /// (n, hidden).
    pub hidden: Vec<f32>,
}

/// The program for one batch of sequences, its input data, and where the results are.
pub struct BertPlan {
    /// The dispatches.
    pub program: Program,
    /// Data for the program's inputs, in declaration order.
    pub input_data: Vec<Vec<f32>>,
    /// Sequences in the batch.
    pub batch: usize,
    /// Padded length (the longest sequence).
    pub seq_len: usize,
    /// Each sequence's own length.
    pub lengths: Vec<usize>,
    /// Heads per layer.
    pub heads: usize,
    /// Hidden width.
    pub hidden: usize,
    /// (batch, seq_len, hidden): the last layer's output, transformers' `last_hidden_state`.
    pub last_hidden_state: BufId,
    /// Per layer, (batch, heads, seq_len, seq_len) attention weights.
    pub attentions: Vec<BufId>,
    /// Per layer, the attentions averaged over heads (batch, seq_len, seq_len).
    pub attention_means: Vec<BufId>,
}

impl BertPlan {
    /// Builds the forward pass of `config`'s encoder with `weights` over `sequences`.
    pub fn new(config: &BertConfig, weights: BertWeights, sequences: &[Sequence]) -> Result<Self> {
        let batch = sequences.len();
        let seq_len = sequences.iter().map(|s| s.ids.len()).max().unwrap_or(0);
        if batch == 0 || seq_len == 0 {
            return Err(Error::InvalidSize("no tokens to run the model on".into()));
        }
        if seq_len > config.max_positions {
            return Err(Error::InvalidSize(format!(
                "{seq_len} tokens but the model's position table has {} rows (max_position_embeddings)",
                config.max_positions
            )));
        }
        let mut ids = Vec::with_capacity(batch * seq_len);
        let mut types = Vec::with_capacity(batch * seq_len);
        let mut padding = Vec::with_capacity(batch * seq_len);
        for (b, s) in sequences.iter().enumerate() {
            if s.ids.is_empty() {
                return Err(Error::InvalidSize(format!(
                    "sentence {b} has no tokens (its tokenizer produced none)"
                )));
            }
            if s.type_ids.len() != s.ids.len() {
                return Err(Error::ShapeMismatch(format!(
                    "sequence {b} has {} ids but {} token-type ids",
                    s.ids.len(),
                    s.type_ids.len()
                )));
            }
            for (&id, &kind) in s.ids.iter().zip(&s.type_ids) {
                if id as usize >= config.vocab || kind as usize >= config.type_vocab {
                    return Err(Error::InvalidSize(format!(
                        "sequence {b}: token id {id} / type {kind} is outside the model's \
                         tables (vocab_size {}, type_vocab_size {})",
                        config.vocab, config.type_vocab
                    )));
                }
            }
            let pad = seq_len - s.ids.len();
            // Padding uses id 0 (BERT's [PAD]); its rows are never looked at.
            ids.extend(s.ids.iter().map(|&i| i as f32).chain((0..pad).map(|_| 0.0)));
            types.extend(
                s.type_ids
                    .iter()
                    .map(|&i| i as f32)
                    .chain((0..pad).map(|_| 0.0)),
            );
            padding.extend((0..seq_len).map(|j| if j < s.ids.len() { 0.0 } else { MASKED }));
        }
        let lengths: Vec<usize> = sequences.iter().map(|s| s.ids.len()).collect();
        let needs_padding = lengths.iter().any(|&n| n != seq_len);

        let h = config.hidden;
        let tokens = batch * seq_len;
        let mut b = Builder::default();
        let ids = b.input("input_ids", ids);
        let types = b.input("token_type_ids", types);
        let padding = needs_padding.then(|| b.input("attention_mask", padding));
        let BertWeights {
            word,
            position,
            token_type,
            embedding_norm,
            layers,
        } = weights;
        let tables = [
            b.input("embeddings.word_embeddings.weight", word),
            b.input("embeddings.position_embeddings.weight", position),
            b.input("embeddings.token_type_embeddings.weight", token_type),
        ];
        let embed = b.p.embed(
            "embeddings",
            EmbedParams {
                tokens: tokens as u32,
                hidden: h as u32,
                vocab: config.vocab as u32,
                positions: config.max_positions as u32,
                seq_len: seq_len as u32,
                type_vocab: config.type_vocab as u32,
                ..Default::default()
            },
            ids,
            types,
            tables,
        );
        let norm = LayerNormParams {
            rows: tokens as u32,
            cols: h as u32,
            eps: config.eps,
            has_residual: 0,
        };
        let mut x = b.layer_norm("embeddings.LayerNorm", norm, embed, None, embedding_norm);

        let shape = HeadsShape {
            batch,
            l: seq_len,
            s: seq_len,
            heads: config.heads,
            kv_heads: config.heads,
            head_dim: config.head_dim(),
            value_dim: config.head_dim(),
            scale: None,
        };
        let masks = HeadsMasks {
            padding,
            ..Default::default()
        };
        let mut attentions = Vec::with_capacity(layers.len());
        let mut attention_means = Vec::with_capacity(layers.len());
        for (i, layer) in layers.into_iter().enumerate() {
            let l = format!("encoder.layer.{i}");
            let q = b.linear(&format!("{l}.attention.self.query"), layer.query, x, tokens);
            let k = b.linear(&format!("{l}.attention.self.key"), layer.key, x, tokens);
            let v = b.linear(&format!("{l}.attention.self.value"), layer.value, x, tokens);
            let block = add_heads(
                &mut b.p,
                (&format!("{l} "), "context"),
                shape,
                [q, k, v],
                masks,
            );
            attentions.push(block.weights);
            attention_means.push(add_head_mean(
                &mut b.p,
                &format!("{l} attention (head mean)"),
                shape,
                block.weights,
            ));
            let attended = b.linear(
                &format!("{l}.attention.output.dense"),
                layer.attention_out,
                block.context,
                tokens,
            );
            let x1 = b.layer_norm(
                &format!("{l}.attention.output.LayerNorm"),
                norm,
                attended,
                Some(x),
                layer.attention_norm,
            );
            let up = b.linear(
                &format!("{l}.intermediate.dense"),
                layer.intermediate,
                x1,
                tokens,
            );
            let act = b.p.gelu(&format!("{l}.intermediate (GELU)"), up);
            let down = b.linear(&format!("{l}.output.dense"), layer.output, act, tokens);
            x = b.layer_norm(
                &format!("{l}.output.LayerNorm"),
                norm,
                down,
                Some(x1),
                layer.output_norm,
            );
        }
        Ok(BertPlan {
            program: b.p,
            input_data: b.data,
            batch,
            seq_len,
            lengths,
            heads: config.heads,
            hidden: h,
            last_hidden_state: x,
            attentions,
            attention_means,
        })
    }

    /// The buffers to read back: `last_hidden_state`, then each layer's attentions, then, with
    /// `head_means` (for pictures and pages), each layer's mean over heads.
    pub fn outputs(&self, head_means: bool) -> Vec<BufId> {
        let mut want = vec![self.last_hidden_state];
        want.extend(&self.attentions);
        if head_means {
            want.extend(&self.attention_means);
        }
        want
    }

    /// Sentence `b` cut out of the padded batch, from `values` read back in [`BertPlan::outputs`]
    /// order (its means empty when they were not read).
    pub fn sentence(&self, values: &[Vec<f32>], b: usize) -> SentenceValues {
        let (big_n, heads, h, n) = (self.seq_len, self.heads, self.hidden, self.lengths[b]);
        let layers = self.attentions.len();
        // Rows 0..n of matrix `m`, each cut to its first n keys.
        let cut = |into: &mut Vec<f32>, values: &[f32], m: usize| {
            for q in 0..n {
                let row = (m * big_n + q) * big_n;
                into.extend_from_slice(&values[row..row + n]);
            }
        };
        let mut attentions = Vec::with_capacity(layers * heads * n * n);
        for layer in &values[1..1 + layers] {
            for head in 0..heads {
                cut(&mut attentions, layer, b * heads + head);
            }
        }
        let mut means = Vec::with_capacity(layers * n * n);
        for layer in &values[1 + layers..] {
            cut(&mut means, layer, b);
        }
        let start = b * big_n * h;
        SentenceValues {
            attentions,
            means,
            hidden: values[0][start..start + n * h].to_vec(),
        }
    }

    /// The inputs as slices, for the executors.
    pub fn inputs(&self) -> Vec<&[f32]> {
        self.input_data.iter().map(|v| &v[..]).collect()
    }
}

/// The program being built and the data of its inputs.
#[derive(Default)]
struct Builder {
    p: Program,
    data: Vec<Vec<f32>>,
}

impl Builder {
    /// Declares an input buffer holding `values`.
    fn input(&mut self, name: &str, values: Vec<f32>) -> BufId {
        let id = self.p.input(name, values.len());
        self.data.push(values);
        id
    }

    /// `x · Wᵀ + b` for `rows` rows of `x`, named after the layer's tensors.
    fn linear(&mut self, name: &str, l: Linear, x: BufId, rows: usize) -> BufId {
        let out = l.bias.len();
        let inp = l.weight.len() / out.max(1);
        let w = self.input(&format!("{name}.weight"), l.weight);
        let b = self.input(&format!("{name}.bias"), l.bias);
        self.p.matmul(
            name,
            MatmulParams::transposed_b(rows, out, inp),
            x,
            w,
            Some(b),
        )
    }

    /// LayerNorm of `x` (+ `residual`) with `norm`'s scale and shift.
    fn layer_norm(
        &mut self,
        name: &str,
        params: LayerNormParams,
        x: BufId,
        residual: Option<BufId>,
        norm: Norm,
    ) -> BufId {
        let gamma = self.input(&format!("{name}.weight"), norm.gamma);
        let beta = self.input(&format!("{name}.bias"), norm.beta);
        self.p.layer_norm(name, params, x, residual, gamma, beta)
    }
}
