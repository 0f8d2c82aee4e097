//! A tiny random BERT model folder written by the tests themselves (config.json,
//! model.safetensors, tokenizer.json), so the model code is tested without any download.
//!
//! The tokenizer mirrors all-MiniLM-L6-v2's: a lowercasing BERT normalizer, WordPiece with
//! `##` pieces, [CLS]/[SEP] added by the post-processor, and a fixed padding + truncation in the
//! file that selfattn must turn off (transformers' `tokenizer(text)` ignores them too).
#![allow(dead_code)]

use std::path::Path;

use selfattn::numpy_rng::NumpyRng;
use selfattn::state_dict::save_f32;

/// The vocabulary, in id order.
pub const VOCAB: &[&str] = &[
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "sat", "on", "mat", ".", "un", "##believ",
    "##able", "a", "dog", ",", "!", "ran",
];

/// Sizes of a tiny model.
#[derive(Clone, Copy, Debug)]
pub struct TinySizes {
    pub hidden: usize,
    pub heads: usize,
    pub layers: usize,
    pub intermediate: usize,
    pub max_positions: usize,
}

impl Default for TinySizes {
    fn default() -> Self {
        // A few hundred parameters per layer; head_dim 3 and widths that divide no tile.
        TinySizes {
            hidden: 6,
            heads: 2,
            layers: 2,
            intermediate: 7,
            max_positions: 24,
        }
    }
}

/// Every tensor name and shape of a BertModel of `s` (with the `bert.` prefix when asked).
pub fn tensor_shapes(s: TinySizes, prefix: &str) -> Vec<(String, Vec<usize>)> {
    let h = s.hidden;
    let mut t = vec![
        (
            "embeddings.word_embeddings.weight".to_string(),
            vec![VOCAB.len(), h],
        ),
        (
            "embeddings.position_embeddings.weight".into(),
            vec![s.max_positions, h],
        ),
        ("embeddings.token_type_embeddings.weight".into(), vec![2, h]),
        ("embeddings.LayerNorm.weight".into(), vec![h]),
        ("embeddings.LayerNorm.bias".into(), vec![h]),
    ];
    for i in 0..s.layers {
        let l = format!("encoder.layer.{i}");
        for (name, out, inp) in [
            ("attention.self.query", h, h),
            ("attention.self.key", h, h),
            ("attention.self.value", h, h),
            ("attention.output.dense", h, h),
            ("intermediate.dense", s.intermediate, h),
            ("output.dense", h, s.intermediate),
        ] {
            t.push((format!("{l}.{name}.weight"), vec![out, inp]));
            t.push((format!("{l}.{name}.bias"), vec![out]));
        }
        for name in ["attention.output.LayerNorm", "output.LayerNorm"] {
            t.push((format!("{l}.{name}.weight"), vec![h]));
            t.push((format!("{l}.{name}.bias"), vec![h]));
        }
    }
    t.into_iter()
        .map(|(n, s)| (format!("{prefix}{n}"), s))
        .collect()
}

/// Writes a tiny model into `dir` with weights drawn from `seed`; `edit` may change the tensor
/// list (drop one, change a shape) before it is saved.
pub fn write_tiny_bert_with(
    dir: &Path,
    s: TinySizes,
    seed: u32,
    edit: impl FnOnce(&mut Vec<(String, Vec<usize>, Vec<f32>)>),
) {
    let mut rng = NumpyRng::new(seed);
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = tensor_shapes(s, "")
        .into_iter()
        .map(|(name, shape)| {
            let len: usize = shape.iter().product();
            // LayerNorm scales near 1 so the signal survives; everything else N(0, 0.5²).
            let data = (0..len)
                .map(|_| {
                    let g = rng.gauss() as f32;
                    if name.ends_with("LayerNorm.weight") {
                        1.0 + 0.1 * g
                    } else {
                        0.5 * g
                    }
                })
                .collect();
            (name, shape, data)
        })
        .collect();
    edit(&mut tensors);
    let refs: Vec<(&str, &[usize], &[f32])> = tensors
        .iter()
        .map(|(n, s, d)| (n.as_str(), &s[..], &d[..]))
        .collect();
    std::fs::create_dir_all(dir).unwrap();
    save_f32(&dir.join("model.safetensors"), &refs).unwrap();
    std::fs::write(dir.join("config.json"), config_json(s, "bert")).unwrap();
    std::fs::write(dir.join("tokenizer.json"), tokenizer_json()).unwrap();
}

/// Writes a tiny model with untouched tensors.
pub fn write_tiny_bert(dir: &Path, s: TinySizes, seed: u32) {
    write_tiny_bert_with(dir, s, seed, |_| {});
}

/// A config.json for `s` with the given model_type.
pub fn config_json(s: TinySizes, model_type: &str) -> String {
    format!(
        r#"{{
  "architectures": ["BertModel"],
  "model_type": "{model_type}",
  "hidden_size": {},
  "num_hidden_layers": {},
  "num_attention_heads": {},
  "intermediate_size": {},
  "hidden_act": "gelu",
  "max_position_embeddings": {},
  "type_vocab_size": 2,
  "vocab_size": {},
  "layer_norm_eps": 1e-12,
  "position_embedding_type": "absolute"
}}"#,
        s.hidden,
        s.layers,
        s.heads,
        s.intermediate,
        s.max_positions,
        VOCAB.len()
    )
}

/// A BERT WordPiece tokenizer.json over [`VOCAB`], with a fixed padding to 16 and truncation at
/// 16 baked in (as all-MiniLM-L6-v2's file has at 128).
pub fn tokenizer_json() -> String {
    let vocab: Vec<String> = VOCAB
        .iter()
        .enumerate()
        .map(|(i, t)| format!("\"{t}\": {i}"))
        .collect();
    let added: Vec<String> = VOCAB[..4]
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                r#"{{"id": {i}, "content": "{t}", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}}"#
            )
        })
        .collect();
    format!(
        r###"{{
  "version": "1.0",
  "truncation": {{"direction": "Right", "max_length": 16, "strategy": "LongestFirst", "stride": 0}},
  "padding": {{"strategy": {{"Fixed": 16}}, "direction": "Right", "pad_to_multiple_of": null, "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"}},
  "added_tokens": [{}],
  "normalizer": {{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true}},
  "pre_tokenizer": {{"type": "BertPreTokenizer"}},
  "post_processor": {{"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]}},
  "decoder": {{"type": "WordPiece", "prefix": "##", "cleanup": true}},
  "model": {{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": {{{}}}}}
}}"###,
        added.join(", "),
        vocab.join(", ")
    )
}
