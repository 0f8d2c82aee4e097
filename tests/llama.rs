//! LLaMA-family models from GGUF metadata (`selfattn::llama`): the sizes read and every
//! inconsistency refused naming the file and key, a tiny byte-level BPE tokenizer written
//! here, the decoder's kernels against their CPU twins on awkward sizes, and, with
//! `SELFATTN_SMOLLM2_GGUF` (`.ci/fetch-model smollm2`), SmolLM2's config and tokenizer ids
//! equal to transformers' (`tests/fixtures/smollm2/tokenizer_ids.json`).

mod common;

use std::path::Path;

use common::gguf_writer::{W, gguf_bytes, write};
use common::tiny_llama::{tiny_metadata, with};
use selfattn::attention::Stage;
use selfattn::compare::compare_shaped;
use selfattn::cpu;
use selfattn::gguf::Gguf;
use selfattn::gpu::execute::{Kernels, execute};
use selfattn::kernels::rms_norm::RmsNormParams;
use selfattn::kernels::rope::RopeParams;
use selfattn::llama::{LlamaConfig, LlamaTokenizer};
use selfattn::numpy_rng::NumpyRng;
use selfattn::program::Program;

/// A corrupt case: its name (the file's), its metadata, what the error must say.
type Case = (
    &'static str,
    Vec<(&'static str, W)>,
    &'static [&'static str],
);

fn open(dir: &Path, name: &str, metadata: &[(&str, W)]) -> Gguf {
    Gguf::open(&write(dir, name, &gguf_bytes(metadata, &[]))).unwrap()
}

/// Blocks, width, feed-forward, heads, KV heads, head width, context, vocabulary.
fn sizes(c: &LlamaConfig) -> [usize; 8] {
    [
        c.layers,
        c.hidden,
        c.intermediate,
        c.heads,
        c.kv_heads,
        c.head_dim,
        c.context,
        c.vocab,
    ]
}

#[test]
fn the_sizes_come_from_the_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let c = LlamaConfig::from_gguf(&open(dir.path(), "tiny.gguf", &tiny_metadata())).unwrap();
    assert_eq!(sizes(&c), [2, 8, 12, 4, 2, 2, 16, 10]);
    assert_eq!(c.rope_base, 1e4);
    assert_eq!(c.rms_eps, 1e-5f32 as f64);
}

#[test]
fn inconsistent_or_foreign_metadata_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<Case> = vec![
        (
            "gpt-neox",
            with(tiny_metadata(), "general.architecture", W::Str("gptneox")),
            &["general.architecture", "gptneox", "llama"],
        ),
        (
            "heads",
            with(tiny_metadata(), "llama.attention.head_count", W::U32(3)),
            &["llama.embedding_length 8", "head_count 3"],
        ),
        (
            "kv heads",
            with(tiny_metadata(), "llama.attention.head_count_kv", W::U32(3)),
            &["head_count 4", "head_count_kv 3"],
        ),
        (
            "odd heads",
            with(tiny_metadata(), "llama.embedding_length", W::U32(12)),
            &["heads of 3 values", "odd"],
        ),
        (
            "partial rotary",
            with(tiny_metadata(), "llama.rope.dimension_count", W::U32(1)),
            &["llama.rope.dimension_count is 1", "head width 2"],
        ),
        (
            "zero",
            with(tiny_metadata(), "llama.block_count", W::U32(0)),
            &["llama.block_count is 0"],
        ),
        (
            "missing",
            tiny_metadata()
                .into_iter()
                .filter(|(k, _)| *k != "llama.feed_forward_length")
                .collect(),
            &["llama.feed_forward_length", "missing"],
        ),
    ];
    for (what, metadata, needles) in cases {
        let gguf = open(dir.path(), &format!("{what}.gguf"), &metadata);
        let err = LlamaConfig::from_gguf(&gguf).expect_err(what).to_string();
        assert!(err.contains(&format!("{what}.gguf")), "{what}: {err}");
        common::assert_says(what, &err, needles);
    }
    let tokenizer_cases: Vec<Case> = vec![
        (
            "spm",
            with(tiny_metadata(), "tokenizer.ggml.model", W::Str("llama")),
            &["tokenizer.ggml.model", "gpt2"],
        ),
        (
            "llama3 split",
            with(tiny_metadata(), "tokenizer.ggml.pre", W::Str("llama-bpe")),
            &["tokenizer.ggml.pre", "llama-bpe"],
        ),
        (
            "bad merge",
            with(
                tiny_metadata(),
                "tokenizer.ggml.merges",
                W::Strs(vec!["ab".into()]),
            ),
            &["tokenizer.ggml.merges[0]"],
        ),
        (
            "bos",
            with(tiny_metadata(), "tokenizer.ggml.bos_token_id", W::U32(99)),
            &["tokenizer.ggml.bos_token_id is 99"],
        ),
        (
            "types",
            with(
                tiny_metadata(),
                "tokenizer.ggml.token_type",
                W::I32s(vec![1]),
            ),
            &["tokenizer.ggml.token_type"],
        ),
    ];
    for (what, metadata, needles) in tokenizer_cases {
        let gguf = open(dir.path(), &format!("{what}.gguf"), &metadata);
        let err = match LlamaTokenizer::from_gguf(&gguf) {
            Ok(_) => panic!("{what}: accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(&format!("{what}.gguf")), "{what}: {err}");
        common::assert_says(what, &err, needles);
    }
}

#[test]
fn a_tiny_byte_level_vocabulary_merges_and_keeps_control_tokens_whole() {
    let dir = tempfile::tempdir().unwrap();
    let t = LlamaTokenizer::from_gguf(&open(dir.path(), "tiny.gguf", &tiny_metadata())).unwrap();
    // "ab ab\n": "a b" merges, then "Ġ ab"; the newline is byte 0x0a, spelled Ċ.
    let ids = t.encode("ab ab\n").unwrap();
    assert_eq!(ids, [5, 6, 7]);
    assert_eq!(t.tokens(&ids), ["ab", "Ġab", "Ċ"]);
    assert_eq!(t.decode(&ids).unwrap(), "ab ab\n");
    // A control token in the text is one id; no BOS unless the file asks.
    assert_eq!(t.encode("<s>ab").unwrap(), [0, 5]);
    assert_eq!((t.bos, t.eos), (Some(0), Some(1)));
    // A user-defined token the vocabulary spells is one id; one it does not (stored as raw
    // text) is not added, as transformers skips it: no id past the table, plain BPE instead.
    assert_eq!(t.encode("<u>").unwrap(), [8]);
    assert_eq!(t.encode("a b").unwrap(), [2, 4, 3]);
    let with_bos = with(
        tiny_metadata(),
        "tokenizer.ggml.add_bos_token",
        W::Bool(true),
    );
    let t = LlamaTokenizer::from_gguf(&open(dir.path(), "bos.gguf", &with_bos)).unwrap();
    assert_eq!(t.encode("ab").unwrap(), [0, 5]);
}

#[test]
fn smollm2_reads_as_transformers_reads_it() {
    let Some(path) = common::smollm2_gguf() else {
        return;
    };
    let gguf = Gguf::open(&path).unwrap();
    let c = LlamaConfig::from_gguf(&gguf).unwrap();
    assert_eq!(sizes(&c), [30, 576, 1536, 9, 3, 64, 8192, 49152]);
    assert_eq!(c.rope_base, 1e5);
    let t = LlamaTokenizer::from_gguf(&gguf).unwrap();
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/smollm2/tokenizer_ids.json")).unwrap();
    for case in fixture["cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let want: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        let tokens: Vec<String> = serde_json::from_value(case["tokens"].clone()).unwrap();
        let ids = t.encode(text).unwrap();
        assert_eq!(ids, want, "{text:?}");
        assert_eq!(t.tokens(&ids), tokens, "{text:?}");
        assert_eq!(
            t.decode(&ids).unwrap(),
            text,
            "{text:?} does not decode back"
        );
    }
    assert_eq!((t.bos, t.eos), (Some(1), Some(2)));
}

#[test]
fn rms_norm_matches_its_cpu_twin_on_awkward_sizes() {
    let Some(ctx) = common::gpu() else { return };
    let kernels = Kernels::new(&ctx).expect("kernels compile");
    let mut rng = NumpyRng::new(17);
    let mut normals = |n: usize, std: f64, mean: f64| -> Vec<f32> {
        rng.randn(n)
            .iter()
            .map(|v| (v * std + mean) as f32)
            .collect()
    };
    // One value, a prime, SmolLM2's width over 67 rows (past one workgroup), and one over.
    for (rows, cols) in [(1usize, 1usize), (3, 5), (67, 576), (2, 577)] {
        let mut p = Program::default();
        let x = p.input("x", rows * cols);
        let w = p.input("weight", cols);
        let y = p.rms_norm("norm", RmsNormParams::new(rows, cols, 1e-5), x, w);
        // An offset mean: a kernel that centred like LayerNorm would be caught.
        let (xs, ws) = (normals(rows * cols, 2.0, 3.0), normals(cols, 1.0, 0.5));
        let inputs: [&[f32]; 2] = [&xs, &ws];
        let (gpu, _) = execute(&ctx, &kernels, &p, &inputs, &[y]).expect("GPU run");
        let reference = cpu::execute::execute(&p, &inputs, &[y]);
        let c = compare_shaped(Stage::Output, &gpu[0], &[rows, cols], &reference[y.0], 1e-5);
        assert!(c.passed, "rms_norm {rows}×{cols}: {c}");
        // The twin is transformers' formula: weight · x · rsqrt(mean(x²) + eps).
        let row = rows - 1;
        let values = &xs[row * cols..(row + 1) * cols];
        let mean_square = values.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / cols as f64;
        let c0 = ws[0] as f64 * values[0] as f64 / (mean_square + 1e-5f32 as f64).sqrt();
        assert!((reference[y.0][row * cols] - c0).abs() <= 1e-12 * c0.abs().max(1.0));
    }
}

#[test]
fn rope_tables_follow_transformers_float32_recipe() {
    let (cos, sin) = selfattn::llama::rope::tables(64, 1e5, 8192);
    assert_eq!((cos.len(), sin.len()), (8192 * 32, 8192 * 32));
    // Position 0 is no rotation; position 1 turns pair j by θ_j = 1e5^(−2j/64).
    assert!(cos[..32].iter().all(|&c| c == 1.0) && sin[..32].iter().all(|&s| s == 0.0));
    for j in 0..32 {
        let theta = 1e5f64.powf(-(2.0 * j as f64) / 64.0);
        assert!((cos[32 + j] as f64 - theta.cos()).abs() < 1e-6, "cos θ_{j}");
        assert!((sin[32 + j] as f64 - theta.sin()).abs() < 1e-6, "sin θ_{j}");
    }
    // The angle is the float32 product p · θ_j, as in transformers (not p · θ_j in f64).
    let (p, j) = (8191usize, 1usize);
    let theta = 1.0f32 / (1e5f64.powf(2.0 / 64.0) as f32);
    assert_eq!(cos[p * 32 + j], ((p as f32 * theta) as f64).cos() as f32);
}

#[test]
fn rope_matches_its_cpu_twin_and_rotates_each_pair() {
    let Some(ctx) = common::gpu() else { return };
    let kernels = Kernels::new(&ctx).expect("kernels compile");
    let mut rng = NumpyRng::new(29);
    // One token of one 2-wide head; a prime of tokens with 3 heads after 5 cached positions;
    // SmolLM2's 9 heads of 64 over 67 tokens (past one workgroup).
    for (tokens, heads, head_dim, offset) in [
        (1usize, 1usize, 2usize, 0usize),
        (7, 3, 10, 5),
        (67, 9, 64, 0),
    ] {
        let positions = tokens + offset;
        let (cos, sin) = selfattn::llama::rope::tables(head_dim, 1e5, positions);
        let params = RopeParams {
            tokens: tokens as u32,
            heads: heads as u32,
            head_dim: head_dim as u32,
            offset: offset as u32,
        };
        let mut p = Program::default();
        let x = p.input("x", params.len());
        let c = p.input("cos", cos.len());
        let s = p.input("sin", sin.len());
        let y = p.rope("rotated", params, x, [c, s]);
        let xs: Vec<f32> = rng.randn(params.len()).iter().map(|&v| v as f32).collect();
        let inputs: [&[f32]; 3] = [&xs, &cos, &sin];
        let (gpu, _) = execute(&ctx, &kernels, &p, &inputs, &[y]).expect("GPU run");
        let reference = cpu::execute::execute(&p, &inputs, &[y]);
        let shape = [tokens, heads * head_dim];
        let cmp = compare_shaped(Stage::Output, &gpu[0], &shape, &reference[y.0], 1e-5);
        assert!(
            cmp.passed,
            "rope {tokens}×{heads}×{head_dim} at {offset}: {cmp}"
        );
        // rotate_half by hand for the last token's last head: pair j is (x[j], x[j + d/2])
        // turned by (offset + token) · θ_j, so its length is kept.
        let (t, h, half) = (tokens - 1, heads - 1, head_dim / 2);
        let start = (t * heads + h) * head_dim;
        for j in 0..half {
            // θ_j and the angle in float32, as transformers computes them.
            let exponent = (2 * j) as f32 / head_dim as f32;
            let theta = 1.0f32 / (1e5f64.powf(exponent as f64) as f32);
            let angle = ((offset + t) as f32 * theta) as f64;
            let (a, b) = (xs[start + j] as f64, xs[start + j + half] as f64);
            let want = [
                a * angle.cos() - b * angle.sin(),
                b * angle.cos() + a * angle.sin(),
            ];
            let got = [reference[y.0][start + j], reference[y.0][start + j + half]];
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-5, "pair {j}: {got:?}, by hand {want:?}");
            }
        }
    }
}

#[test]
fn swiglu_matches_its_cpu_twin_on_awkward_sizes() {
    let Some(ctx) = common::gpu() else { return };
    let kernels = Kernels::new(&ctx).expect("kernels compile");
    let mut rng = NumpyRng::new(31);
    for len in [1usize, 61, 1537] {
        let mut p = Program::default();
        let gate = p.input("gate", len);
        let up = p.input("up", len);
        let y = p.swiglu("gated", gate, up);
        // Wide gates, so both of silu's tails (e^(−g) overflowing, and vanishing) are run.
        let mut gs: Vec<f32> = rng.randn(len).iter().map(|&v| (v * 30.0) as f32).collect();
        gs[0] = -100.0;
        let us: Vec<f32> = rng.randn(len).iter().map(|&v| v as f32).collect();
        let inputs: [&[f32]; 2] = [&gs, &us];
        let (gpu, _) = execute(&ctx, &kernels, &p, &inputs, &[y]).expect("GPU run");
        let reference = cpu::execute::execute(&p, &inputs, &[y]);
        let c = compare_shaped(Stage::Output, &gpu[0], &[len], &reference[y.0], 1e-5);
        assert!(c.passed, "swiglu {len}: {c}");
        // silu by its definition, for one element.
        let (g, u) = (gs[len - 1] as f64, us[len - 1] as f64);
        let want = g * u / (1.0 + (-g).exp());
        assert!((reference[y.0][len - 1] - want).abs() <= 1e-12 * want.abs().max(1.0));
    }
}

#[test]
fn add_matches_its_cpu_twin_on_awkward_sizes() {
    let Some(ctx) = common::gpu() else { return };
    let kernels = Kernels::new(&ctx).expect("kernels compile");
    let mut rng = NumpyRng::new(37);
    for len in [1usize, 67, 577] {
        let mut p = Program::default();
        let a = p.input("a", len);
        let b = p.input("b", len);
        let y = p.add("sum", a, b);
        let xs: Vec<f32> = rng.randn(2 * len).iter().map(|&v| v as f32).collect();
        let inputs: [&[f32]; 2] = [&xs[..len], &xs[len..]];
        let (gpu, _) = execute(&ctx, &kernels, &p, &inputs, &[y]).expect("GPU run");
        let reference = cpu::execute::execute(&p, &inputs, &[y]);
        let c = compare_shaped(Stage::Output, &gpu[0], &[len], &reference[y.0], 1e-6);
        assert!(c.passed, "add {len}: {c}");
        let last = xs[len - 1] as f64 + xs[2 * len - 1] as f64;
        assert_eq!(reference[y.0][len - 1], last);
    }
}

/// One grouped-query attention case: sizes, the causal offset and which masks it carries.
struct GqaCase {
    l: usize,
    s: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    value_dim: usize,
    causal: Option<i32>,
    padding: bool,
    per_head_mask: bool,
}

/// Grouped-query attention by its definition in f64: query head h reads key and value head
/// h / (heads / kv_heads). Returns ((heads, L, S) weights, (L, heads · value_dim) context).
fn gqa_by_hand(
    c: &GqaCase,
    [q, k, v]: [&[f32]; 3],
    padding: &[f32],
    mask: &[f32],
) -> (Vec<f64>, Vec<f64>) {
    let group = c.heads / c.kv_heads;
    let scale = 1.0 / (c.head_dim as f64).sqrt();
    let mut weights = vec![0.0; c.heads * c.l * c.s];
    let mut context = vec![0.0; c.l * c.heads * c.value_dim];
    for h in 0..c.heads {
        let g = h / group;
        for i in 0..c.l {
            let scores: Vec<f64> = (0..c.s)
                .map(|j| {
                    let allowed = c.causal.is_none_or(|off| j as i32 <= i as i32 + off);
                    if !allowed {
                        return f64::NEG_INFINITY;
                    }
                    let dot: f64 = (0..c.head_dim)
                        .map(|t| {
                            q[i * c.heads * c.head_dim + h * c.head_dim + t] as f64
                                * k[j * c.kv_heads * c.head_dim + g * c.head_dim + t] as f64
                        })
                        .sum();
                    let mut score = dot * scale;
                    if c.padding {
                        score += padding[j] as f64;
                    }
                    if c.per_head_mask {
                        score += mask[(h * c.l + i) * c.s + j] as f64;
                    }
                    score
                })
                .collect();
            let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let total: f64 = scores.iter().map(|s| (s - max).exp()).sum();
            for j in 0..c.s {
                let w = (scores[j] - max).exp() / total;
                weights[(h * c.l + i) * c.s + j] = w;
                for t in 0..c.value_dim {
                    context[i * c.heads * c.value_dim + h * c.value_dim + t] +=
                        w * v[j * c.kv_heads * c.value_dim + g * c.value_dim + t] as f64;
                }
            }
        }
    }
    (weights, context)
}

#[test]
fn grouped_query_attention_shares_key_heads_on_every_path() {
    use selfattn::heads::{HeadsMasks, HeadsShape, add_heads};
    let Some(ctx) = common::gpu() else { return };
    let kernels = Kernels::new(&ctx).expect("kernels compile");
    let mut rng = NumpyRng::new(41);
    let cases = [
        // The smallest group: one query, one key, two query heads over one key head.
        GqaCase {
            l: 1,
            s: 1,
            heads: 2,
            kv_heads: 1,
            head_dim: 2,
            value_dim: 2,
            causal: None,
            padding: false,
            per_head_mask: false,
        },
        // SmolLM2's grouping (9 over 3), causal, value width unlike the key width.
        GqaCase {
            l: 7,
            s: 7,
            heads: 9,
            kv_heads: 3,
            head_dim: 8,
            value_dim: 5,
            causal: Some(0),
            padding: false,
            per_head_mask: false,
        },
        // The last 5 query rows of 11 (a row block or a cached prefix), with a padding row.
        GqaCase {
            l: 5,
            s: 11,
            heads: 4,
            kv_heads: 2,
            head_dim: 3,
            value_dim: 3,
            causal: Some(6),
            padding: true,
            per_head_mask: false,
        },
        // A mask per head, no causal triangle, head width 64 past one workgroup of keys.
        GqaCase {
            l: 13,
            s: 67,
            heads: 6,
            kv_heads: 2,
            head_dim: 64,
            value_dim: 64,
            causal: None,
            padding: false,
            per_head_mask: true,
        },
    ];
    for c in &cases {
        let name = format!(
            "L {} S {} heads {}/{} d {}/{}",
            c.l, c.s, c.heads, c.kv_heads, c.head_dim, c.value_dim
        );
        let mut draw = |n: usize| -> Vec<f32> { rng.randn(n).iter().map(|&v| v as f32).collect() };
        let q = draw(c.l * c.heads * c.head_dim);
        let k = draw(c.s * c.kv_heads * c.head_dim);
        let v = draw(c.s * c.kv_heads * c.value_dim);
        let padding = draw(c.s);
        let mask = draw(c.heads * c.l * c.s);
        let mut p = Program::default();
        let ids = [
            p.input("q", q.len()),
            p.input("k", k.len()),
            p.input("v", v.len()),
        ];
        let mut data: Vec<&[f32]> = vec![&q, &k, &v];
        let padding_id = c.padding.then(|| p.input("padding", c.s));
        if c.padding {
            data.push(&padding);
        }
        let mask_id = c.per_head_mask.then(|| p.input("mask", mask.len()));
        if c.per_head_mask {
            data.push(&mask);
        }
        let shape = HeadsShape {
            batch: 1,
            l: c.l,
            s: c.s,
            heads: c.heads,
            kv_heads: c.kv_heads,
            head_dim: c.head_dim,
            value_dim: c.value_dim,
            scale: None,
        };
        let masks = HeadsMasks {
            causal: c.causal.is_some(),
            causal_offset: c.causal.unwrap_or(0),
            attn_mask: mask_id,
            per_head: c.per_head_mask,
            padding: padding_id,
        };
        let out = add_heads(&mut p, ("", "context"), shape, ids, masks);
        let want = [
            out.weights,
            out.context,
            out.context_no_weights,
            out.fused_context,
            out.fused_weights,
        ];
        let (gpu, _) = execute(&ctx, &kernels, &p, &data, &want).expect("GPU run");
        let reference = cpu::execute::execute(&p, &data, &want);
        let (weights, context) = gqa_by_hand(c, [&q, &k, &v], &padding, &mask);
        let weights_shape = [c.heads, c.l, c.s];
        let context_shape = [c.l, c.heads * c.value_dim];
        for (i, id) in want.iter().enumerate() {
            let (what, shape, by_hand) = match i {
                0 | 4 => ("weights", &weights_shape[..], &weights),
                _ => ("context", &context_shape[..], &context),
            };
            let stage = if i == 0 || i == 4 {
                Stage::Weights
            } else {
                Stage::Output
            };
            let twin = compare_shaped(stage, &gpu[i], shape, &reference[id.0], 1e-5);
            assert!(
                twin.passed,
                "{name}, path {i} ({what}) vs its CPU twin: {twin}"
            );
            let hand = compare_shaped(stage, &gpu[i], shape, by_hand, 1e-5);
            assert!(hand.passed, "{name}, path {i} ({what}) vs by hand: {hand}");
        }
    }
}

#[test]
fn concat_matches_its_cpu_twin_on_awkward_sizes() {
    let Some(ctx) = common::gpu() else { return };
    let kernels = Kernels::new(&ctx).expect("kernels compile");
    let mut rng = NumpyRng::new(43);
    // One value after one; a cache of 7 rows of 192 and one new row; 67 after 577 (past one
    // workgroup, not a multiple of it).
    for (a_len, b_len) in [(1usize, 1usize), (7 * 192, 192), (577, 67)] {
        let mut p = Program::default();
        let a = p.input("a", a_len);
        let b = p.input("b", b_len);
        let y = p.concat("joined", a, b);
        let xs: Vec<f32> = rng.randn(a_len + b_len).iter().map(|&v| v as f32).collect();
        let inputs: [&[f32]; 2] = [&xs[..a_len], &xs[a_len..]];
        let (gpu, _) = execute(&ctx, &kernels, &p, &inputs, &[y]).expect("GPU run");
        let reference = cpu::execute::execute(&p, &inputs, &[y]);
        let c = compare_shaped(
            Stage::Output,
            &gpu[0],
            &[a_len + b_len],
            &reference[y.0],
            1e-6,
        );
        assert!(c.passed, "concat {a_len} + {b_len}: {c}");
        // A copy: a's values, then b's, bit for bit.
        assert!(
            gpu[0]
                .iter()
                .zip(&xs)
                .all(|(g, x)| g.to_bits() == x.to_bits())
        );
    }
}
