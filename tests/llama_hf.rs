//! A LLaMA-family decoder from a Hugging Face folder (`config.json`, `model.safetensors`,
//! `tokenizer.json`): a tiny random model transformers wrote (`tests/fixtures/tiny_llama/`,
//! `make_tiny_llama.py`: 2 layers, 4 heads over 2 KV heads, untied LM head; heads of width 2, so
//! it cannot tell the GGUF row order from transformers': `tests/llama_forward.rs` does) whose attentions,
//! last hidden state, last logits and greedy continuation transformers computed. Runs without
//! any download; and every config setting the forward pass does not compute is refused by key.

mod common;

use std::path::Path;

use selfattn::attention::Stage;
use selfattn::compare::compare_shaped;
use selfattn::gpu::execute::{Kernels, execute};
use selfattn::llama::{LlamaConfig, LlamaModel, LlamaPlan, PromptData, ShownLayers, generate};
use selfattn::npy::read_array;

use common::assert_says;
use common::cli::{files_in, have_gpu, mean_entropy, ok, page_data, run};

const FIXTURE: &str = "tests/fixtures/tiny_llama";

fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(Path::new(FIXTURE).join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_u64().unwrap() as u32)
        .collect()
}

fn reference(file: &str) -> (Vec<usize>, Vec<f64>) {
    let a = read_array(&Path::new(FIXTURE).join(file), file).unwrap();
    (a.shape, a.data.iter().map(|&v| v as f64).collect())
}

#[test]
fn a_tiny_hugging_face_llama_matches_transformers() {
    let Some(ctx) = common::gpu() else { return };
    let kernels = Kernels::new(&ctx).expect("kernels compile");
    let model = LlamaModel::load(&Path::new(FIXTURE).join("model")).expect("the folder loads");
    let c = &model.config;
    assert_eq!(
        (c.layers, c.heads, c.kv_heads, c.hidden, c.vocab, c.tied),
        (2, 4, 2, 8, 10, false)
    );
    assert!(model.weights.lm_head.is_some(), "an untied head of its own");
    let e = expected();
    let want_ids = ids(&e["ids"]);
    let got = model.tokenizer.encode(e["text"].as_str().unwrap()).unwrap();
    assert_eq!(got, want_ids, "token ids");
    let n = got.len();
    let data = PromptData::new(c, &model.weights, &got, n).unwrap();
    let plan = LlamaPlan::new(c, &model.weights, &data, &[], &ShownLayers::All).unwrap();
    let want = plan.outputs(false);
    let (values, _) = execute(&ctx, &kernels, &plan.program, &plan.inputs(), &want).unwrap();
    let (shape, hidden) = reference("last_hidden_state.npy");
    let h = compare_shaped(Stage::Output, &values[0], &shape, &hidden, 1e-3);
    assert!(h.passed, "last_hidden_state vs transformers: {h}");
    let (shape, logits) = reference("logits_last.npy");
    let l = compare_shaped(Stage::Output, &values[1], &shape, &logits, 1e-3);
    assert!(l.passed, "logits vs transformers: {l}");
    let (shape, attentions) = reference("attentions.npy");
    assert_eq!(shape, [2, 4, n, n]);
    let a = compare_shaped(
        Stage::Weights,
        &values[2..].concat(),
        &shape,
        &attentions,
        1e-4,
    );
    assert!(a.passed, "attentions vs transformers: {a}");

    let generated = ids(&e["generated_ids"]);
    let data = PromptData::new(c, &model.weights, &got, n + generated.len()).unwrap();
    let g = generate(
        &ctx,
        &kernels,
        c,
        &model.weights,
        &data,
        generated.len(),
        &model.tokenizer.stop,
        &ShownLayers::All,
        |_| Ok(()),
    )
    .unwrap();
    assert_eq!(g.generated, generated, "greedy continuation");
}

/// Rows `picked` of (layers, heads, n, n) `all`, as (layers, heads, rows, n).
fn rows_of(all: &[f64], (layers, heads, n): (usize, usize, usize), picked: &[usize]) -> Vec<f64> {
    let mut out = Vec::with_capacity(layers * heads * picked.len() * n);
    for map in all.chunks(n * n).take(layers * heads) {
        for &r in picked {
            out.extend_from_slice(&map[r * n..(r + 1) * n]);
        }
    }
    out
}

#[test]
fn picked_query_rows_equal_those_rows_of_transformers_attentions() {
    let Some(ctx) = common::gpu() else { return };
    let kernels = Kernels::new(&ctx).expect("kernels compile");
    let model = LlamaModel::load(&Path::new(FIXTURE).join("model")).expect("the folder loads");
    let c = &model.config;
    let e = expected();
    let got = model.tokenizer.encode(e["text"].as_str().unwrap()).unwrap();
    let n = got.len();
    assert!(n >= 5, "{n} tokens");
    let data = PromptData::new(c, &model.weights, &got, n).unwrap();
    let (_, attentions) = reference("attentions.npy");
    let (_, hidden) = reference("last_hidden_state.npy");
    // One row (the first, which sees only itself), a scattered set, and the last alone.
    for picked in [vec![0], vec![1, 3, n - 2], vec![n - 1]] {
        let shown = ShownLayers::Rows(picked.clone());
        let plan = LlamaPlan::new(c, &model.weights, &data, &[], &shown).unwrap();
        assert_eq!(plan.map_rows, picked.len());
        let want = plan.outputs(true);
        assert_eq!(
            want.len(),
            2 + 2 * c.layers,
            "hidden, logits, maps and means"
        );
        let (values, _) = execute(&ctx, &kernels, &plan.program, &plan.inputs(), &want).unwrap();
        let shape = [c.layers, c.heads, picked.len(), n];
        let reference = rows_of(&attentions, (c.layers, c.heads, n), &picked);
        let a = compare_shaped(
            Stage::Weights,
            &values[2..2 + c.layers].concat(),
            &shape,
            &reference,
            1e-4,
        );
        assert!(a.passed, "rows {picked:?} vs transformers: {a}");
        // Every layer ran output-only: the hidden state is still transformers'.
        let h = compare_shaped(Stage::Output, &values[0], &[n, c.hidden], &hidden, 1e-3);
        assert!(h.passed, "rows {picked:?}: last_hidden_state: {h}");
        // Against the f64 twin too, head means included.
        let twin = selfattn::cpu::execute::execute(&plan.program, &plan.inputs(), &want);
        for (i, id) in want.iter().enumerate() {
            let shape = [values[i].len()];
            let t = compare_shaped(Stage::Weights, &values[i], &shape, &twin[id.0], 1e-4);
            assert!(t.passed, "rows {picked:?}, output {i} vs the CPU twin: {t}");
        }
        // The means are each row's mean over heads.
        let means = &values[2 + c.layers];
        for (i, &m) in means.iter().enumerate() {
            let (row, key) = (i / n, i % n);
            let mean = (0..c.heads)
                .map(|h| values[2][(h * picked.len() + row) * n + key] as f64)
                .sum::<f64>()
                / c.heads as f64;
            assert!(
                (m as f64 - mean).abs() < 1e-6,
                "mean [{row}, {key}]: {m} vs {mean}"
            );
        }
    }
    // Rows out of order, repeated or past the prompt, and rows with generated tokens, are refused.
    for (picked, needle) in [
        (vec![2, 1], "increasing order"),
        (vec![1, 1], "increasing order"),
        (vec![], "at least one"),
        (vec![n], "prompt has"),
    ] {
        let e = LlamaPlan::new(c, &model.weights, &data, &[], &ShownLayers::Rows(picked))
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains(needle), "{e}");
    }
    let data = PromptData::new(c, &model.weights, &got, n + 1).unwrap();
    let e = LlamaPlan::new(c, &model.weights, &data, &[1], &ShownLayers::Rows(vec![0]))
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("not generated tokens"), "{e}");
}

#[test]
fn the_model_command_runs_the_folder_and_saves_the_sequence() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = std::fs::canonicalize(Path::new(FIXTURE).join("model")).unwrap();
    let out = ok(
        dir.path(),
        &[
            "model",
            "--model",
            model.to_str().unwrap(),
            "--text",
            expected()["text"].as_str().unwrap(),
            "--generate",
            "2",
            "--save",
            "s",
            "--summary",
            "--html",
            "v.html",
        ],
    );
    // The 16-token context holds a repeated block of 8 for the induction scores.
    assert!(
        out.contains("a random block of 8 tokens repeated once"),
        "{out}"
    );
    assert!(out.contains("induction score"), "{out}");
    assert!(dir.path().join("s/heads.json").is_file());
    assert!(
        out.contains("llama: 2 layers × 4 heads (2 key/value heads)"),
        "{out}"
    );
    let att = read_array(&dir.path().join("s/attentions.npy"), "a").unwrap();
    let n = ids(&expected()["ids"]).len();
    assert!(att.shape[2] > n && att.shape[2] <= n + 2, "{:?}", att.shape);
    assert!(dir.path().join("s/generation.json").is_file());

    // The page colours and orders heads by each sequence's own scores and the model's
    // induction scores, the very numbers heads.json holds; the average column has none.
    let page = page_data(&dir.path().join("v.html"));
    let scores = page["scores"].as_array().unwrap();
    let names: Vec<&str> = scores.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "entropy (nats)",
            "first-token weight",
            "previous-token score",
            "induction score"
        ]
    );
    let (layers, heads, m) = (att.shape[0], att.shape[1], att.shape[2]);
    let columns = heads + 1;
    for l in 0..layers {
        for h in 0..heads {
            let map = &att.data[(l * heads + h) * m * m..][..m * m];
            let shown = scores[0]["values"][0][l * columns + h].as_f64().unwrap();
            let entropy = mean_entropy(map, m);
            assert!(
                (shown - entropy).abs() <= 1e-9 * entropy.max(1.0),
                "L{l} H{h}: {shown} vs {entropy}"
            );
            let first = map.chunks(m).map(|r| r[0] as f64).sum::<f64>() / m as f64;
            let shown = scores[1]["values"][0][l * columns + h].as_f64().unwrap();
            assert!(
                (shown - first).abs() <= 1e-9,
                "L{l} H{h}: {shown} vs {first}"
            );
        }
        for s in scores {
            assert!(
                s["values"][0][l * columns + heads].is_null(),
                "{}",
                s["name"]
            );
        }
    }
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s/heads.json")).unwrap())
            .unwrap();
    for role in saved["heads"].as_array().unwrap() {
        let (l, h) = (
            role["layer"].as_u64().unwrap() as usize,
            role["head"].as_u64().unwrap() as usize,
        );
        assert_eq!(scores[3]["values"][0][l * columns + h], role["induction"]);
    }
}

#[test]
fn unsupported_settings_of_a_folder_are_refused_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(FIXTURE).join("model/config.json")).unwrap(),
    )
    .unwrap();
    let cases: [(&str, serde_json::Value, &[&str]); 5] = [
        ("hidden_act", "gelu".into(), &["hidden_act", "gelu", "silu"]),
        ("attention_bias", true.into(), &["attention_bias"]),
        (
            "num_key_value_heads",
            3.into(),
            &["num_key_value_heads", "divide"],
        ),
        ("head_dim", 4.into(), &["head_dim"]),
        (
            "rope_scaling",
            serde_json::json!({"rope_type": "linear", "factor": 2.0}),
            &["rope_scaling"],
        ),
    ];
    for (key, value, needles) in cases {
        let mut c = config.clone();
        c[key] = value;
        let path = dir.path().join(format!("{key}.json"));
        std::fs::write(&path, c.to_string()).unwrap();
        let err = LlamaConfig::from_hf_config(&path).unwrap_err().to_string();
        assert_says(key, &err, needles);
        assert_says(key, &err, &[path.file_name().unwrap().to_str().unwrap()]);
    }
    // Through the command: exit 1, the folder's config named, nothing written.
    let folder = dir.path().join("bad");
    std::fs::create_dir(&folder).unwrap();
    let mut c = config.clone();
    c["hidden_act"] = "relu".into();
    std::fs::write(folder.join("config.json"), c.to_string()).unwrap();
    let before = files_in(dir.path());
    let r = run(
        dir.path(),
        &[
            "model",
            "--model",
            folder.to_str().unwrap(),
            "--text",
            "ab",
            "--save",
            "s",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_says("relu", &r.stderr, &["config.json", "hidden_act"]);
    assert_eq!(files_in(dir.path()), before);
}

#[test]
fn generation_stops_at_any_id_the_folder_lists_as_eos() {
    let Some(ctx) = common::gpu() else { return };
    let kernels = Kernels::new(&ctx).expect("kernels compile");
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("model");
    std::fs::create_dir(&folder).unwrap();
    for file in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(
            Path::new(FIXTURE).join("model").join(file),
            folder.join(file),
        )
        .unwrap();
    }
    // transformers' greedy ids are [2, 2, 3, 2, 2]; with 9 and 3 listed as EOS (as Llama 3
    // lists three) generation ends after the 3, and generation_config.json wins over config.json.
    let config = std::fs::read_to_string(folder.join("config.json")).unwrap();
    let config = config.replace("\"eos_token_id\": 1,", "\"eos_token_id\": [1, 2],");
    std::fs::write(folder.join("config.json"), config).unwrap();
    std::fs::write(
        folder.join("generation_config.json"),
        r#"{"eos_token_id": [9, 3]}"#,
    )
    .unwrap();
    let model = LlamaModel::load(&folder).unwrap();
    assert_eq!(model.tokenizer.stop, [9, 3]);
    assert_eq!(
        model.tokenizer.eos,
        Some(1),
        "the EOS token is config.json's first"
    );
    let c = &model.config;
    let ids = ids(&expected()["ids"]);
    let data = PromptData::new(c, &model.weights, &ids, ids.len() + 5).unwrap();
    let g = generate(
        &ctx,
        &kernels,
        c,
        &model.weights,
        &data,
        5,
        &model.tokenizer.stop,
        &ShownLayers::All,
        |_| Ok(()),
    )
    .unwrap();
    assert_eq!(g.generated, [2, 2, 3]);
    assert_eq!(g.hidden.len(), (ids.len() + 3) * c.hidden);
}
