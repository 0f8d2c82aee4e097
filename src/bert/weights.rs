//! A BERT encoder's tensors from `model.safetensors`, checked against the config's sizes.
//!
//! Names follow transformers' `BertModel` (`embeddings.word_embeddings.weight`,
//! `encoder.layer.3.attention.self.query.weight`, …), with or without the `bert.` prefix that
//! task models (`BertForMaskedLM`, …) put in front, and with old checkpoints' LayerNorm
//! `gamma`/`beta` accepted for `weight`/`bias`. Linear weights stay as stored (out × in): the
//! matmul reads them transposed through strides.

use crate::error::Result;
use crate::state_dict::StateDict;

use super::config::BertConfig;

/// A linear layer: weight (out × in) and bias (out).
#[derive(Clone, Debug)]
pub struct Linear {
    /// out × in, row-major, as PyTorch stores it.
    pub weight: Vec<f32>,
    /// out.
    pub bias: Vec<f32>,
}

/// A LayerNorm's scale and shift.
#[derive(Clone, Debug)]
pub struct Norm {
    /// Scale per column.
    pub gamma: Vec<f32>,
    /// Shift per column.
    pub beta: Vec<f32>,
}

/// One encoder layer.
#[derive(Clone, Debug)]
pub struct LayerWeights {
    /// Query projection.
    pub query: Linear,
    /// Key projection.
    pub key: Linear,
    /// Value projection.
    pub value: Linear,
    /// Attention output projection.
    pub attention_out: Linear,
    /// LayerNorm after the attention block.
    pub attention_norm: Norm,
    /// Feed-forward up-projection (hidden → intermediate).
    pub intermediate: Linear,
    /// Feed-forward down-projection (intermediate → hidden).
    pub output: Linear,
    /// LayerNorm after the feed-forward block.
    pub output_norm: Norm,
}

/// Every tensor the encoder forward pass reads.
#[derive(Clone, Debug)]
pub struct BertWeights {
    /// vocab × hidden.
    pub word: Vec<f32>,
    /// max_positions × hidden.
    pub position: Vec<f32>,
    /// type_vocab × hidden.
    pub token_type: Vec<f32>,
    /// LayerNorm after the embeddings.
    pub embedding_norm: Norm,
    /// The layers, first to last.
    pub layers: Vec<LayerWeights>,
}

impl BertWeights {
    /// Reads every tensor of `config`'s encoder from `sd`; a missing tensor or a wrong shape is
    /// an error naming the file and the tensor.
    pub fn from_state_dict(sd: &StateDict, config: &BertConfig) -> Result<Self> {
        let prefix = if !sd.has("embeddings.word_embeddings.weight")
            && sd.has("bert.embeddings.word_embeddings.weight")
        {
            "bert."
        } else {
            ""
        };
        let h = config.hidden;
        let get = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
            Ok(sd.get(&format!("{prefix}{name}"), shape)?.data.clone())
        };
        let linear = |name: &str, out: usize, inp: usize| -> Result<Linear> {
            Ok(Linear {
                weight: get(&format!("{name}.weight"), &[out, inp])?,
                bias: get(&format!("{name}.bias"), &[out])?,
            })
        };
        let norm = |name: &str| -> Result<Norm> {
            let old = format!("{prefix}{name}.gamma");
            if !sd.has(&format!("{prefix}{name}.weight")) && sd.has(&old) {
                return Ok(Norm {
                    gamma: get(&format!("{name}.gamma"), &[h])?,
                    beta: get(&format!("{name}.beta"), &[h])?,
                });
            }
            Ok(Norm {
                gamma: get(&format!("{name}.weight"), &[h])?,
                beta: get(&format!("{name}.bias"), &[h])?,
            })
        };
        let layers = (0..config.layers)
            .map(|i| {
                let l = format!("encoder.layer.{i}");
                Ok(LayerWeights {
                    query: linear(&format!("{l}.attention.self.query"), h, h)?,
                    key: linear(&format!("{l}.attention.self.key"), h, h)?,
                    value: linear(&format!("{l}.attention.self.value"), h, h)?,
                    attention_out: linear(&format!("{l}.attention.output.dense"), h, h)?,
                    attention_norm: norm(&format!("{l}.attention.output.LayerNorm"))?,
                    intermediate: linear(
                        &format!("{l}.intermediate.dense"),
                        config.intermediate,
                        h,
                    )?,
                    output: linear(&format!("{l}.output.dense"), h, config.intermediate)?,
                    output_norm: norm(&format!("{l}.output.LayerNorm"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(BertWeights {
            word: get("embeddings.word_embeddings.weight", &[config.vocab, h])?,
            position: get(
                "embeddings.position_embeddings.weight",
                &[config.max_positions, h],
            )?,
            token_type: get(
                "embeddings.token_type_embeddings.weight",
                &[config.type_vocab, h],
            )?,
            embedding_norm: norm("embeddings.LayerNorm")?,
            layers,
        })
    }
}
