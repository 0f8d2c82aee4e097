//! SmolLM2-135M-Instruct's forward pass on the GPU against transformers: every kept layer's
//! attentions within 1e-4, the last hidden state within 1e-3 relative, the last position's
//! logits, the greedy next token and the greedy continuation generated with the KV cache, on
//! the prompts of `tests/fixtures/smollm2/forward/`
//! (`make_forward.py`: transformers 5.25 loading the same GGUF, eager attention, float32).
//! Needs `SELFATTN_SMOLLM2_GGUF` (`.ci/fetch-model smollm2`); skipped without it unless
//! `SELFATTN_REQUIRE_MODEL=1`.

mod common;

use std::path::Path;

use selfattn::attention::Stage;
use selfattn::compare::compare_shaped;
use selfattn::cpu;
use selfattn::gpu::execute::{Kernels, execute};
use selfattn::llama::{LlamaModel, LlamaPlan, PromptData, ShownLayers, generate};
use selfattn::npy::read_array;

fn fixtures() -> serde_json::Value {
    let path = Path::new("tests/fixtures/smollm2/forward/forward.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("forward.json")).expect("json")
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .expect("an array of ids")
        .iter()
        .map(|i| i.as_u64().expect("an id") as u32)
        .collect()
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |best, i| if v[i] > v[best] { i } else { best })
}

#[test]
fn smollm2_matches_transformers_on_every_prompt() {
    let Some(path) = common::smollm2_gguf() else {
        return;
    };
    let Some(ctx) = common::gpu() else { return };
    let kernels = Kernels::new(&ctx).expect("kernels compile");
    let model = LlamaModel::load(&path).expect("SmolLM2 loads");
    let c = &model.config;
    let fixtures = fixtures();
    let prompts = fixtures["prompts"].as_object().expect("prompts");
    assert_eq!(prompts.len(), 4, "the fixture's prompts");
    // The chat prompt is transformers' apply_chat_template of one user message.
    let chat = model
        .tokenizer
        .chat("What is attention in one sentence?")
        .expect("SmolLM2 has a chat template")
        .expect("it renders");
    assert_eq!(chat, prompts["chat"]["text"].as_str().unwrap());
    for (name, f) in prompts {
        let dir = Path::new("tests/fixtures/smollm2/forward").join(name);
        let text = f["text"].as_str().expect("text");
        let want_ids = ids(&f["ids"]);
        let got_ids = model.tokenizer.encode(text).expect("tokenizes");
        assert_eq!(got_ids, want_ids, "{name}: token ids");
        let layers: Vec<usize> = ids(&f["layers"]).iter().map(|&l| l as usize).collect();
        let data = PromptData::new(c, &model.weights, &got_ids, got_ids.len()).expect("data");
        let shown = ShownLayers::Only(layers.clone());
        let plan = LlamaPlan::new(c, &model.weights, &data, &[], &shown).expect("plan");
        let want = plan.outputs(false);
        let inputs = plan.inputs();
        let (values, _) = execute(&ctx, &kernels, &plan.program, &inputs, &want).expect("GPU run");
        let n = got_ids.len();

        let hidden = read_array(&dir.join("last_hidden_state.npy"), "last_hidden_state").unwrap();
        assert_eq!(hidden.shape, [n, c.hidden]);
        let reference: Vec<f64> = hidden.data.iter().map(|&v| v as f64).collect();
        // 1e-3 relative: |gpu − transformers| ≤ 1e-3 · (1 + |transformers|) element by element.
        let h = compare_shaped(Stage::Output, &values[0], &[n, c.hidden], &reference, 1e-3);
        assert!(h.passed, "{name}: last_hidden_state vs transformers: {h}");

        let logits = read_array(&dir.join("logits_last.npy"), "logits").unwrap();
        let reference: Vec<f64> = logits.data.iter().map(|&v| v as f64).collect();
        let l = compare_shaped(Stage::Output, &values[1], &[c.vocab], &reference, 1e-3);
        assert!(
            l.passed,
            "{name}: last position's logits vs transformers: {l}"
        );
        let generated = ids(&f["generated_ids"]);
        assert_eq!(
            argmax(&values[1]) as u32,
            generated[0],
            "{name}: the greedy next token"
        );

        let attentions = read_array(&dir.join("attentions.npy"), "attentions").unwrap();
        let per_layer = c.heads * n * n;
        assert_eq!(attentions.shape, [layers.len(), c.heads, n, n]);
        for (k, &layer) in layers.iter().enumerate() {
            let reference: Vec<f64> = attentions.data[k * per_layer..(k + 1) * per_layer]
                .iter()
                .map(|&v| v as f64)
                .collect();
            let a = compare_shaped(
                Stage::Weights,
                &values[2 + k],
                &[c.heads, n, n],
                &reference,
                1e-4,
            );
            assert!(a.passed, "{name}: attentions[{layer}] vs transformers: {a}");
        }
        eprintln!("{name}: {n} tokens, hidden {h}, logits {l}");

        // The GPU against its own f64 twin, on the shortest prompt (the twin is slow).
        if n <= 13 {
            let twin = cpu::execute::execute(&plan.program, &inputs, &want);
            let t = compare_shaped(
                Stage::Output,
                &values[0],
                &[n, c.hidden],
                &twin[want[0].0],
                1e-3,
            );
            assert!(t.passed, "{name}: last_hidden_state vs the CPU twin: {t}");
        }

        // One head alone (the long-context path): the same map, from its picked-out columns.
        let (layer, head) = (layers[layers.len() - 1], c.heads - 2);
        let one = LlamaPlan::new(
            c,
            &model.weights,
            &data,
            &[],
            &ShownLayers::Head(layer, head),
        )
        .expect("plan");
        let one_want = one.outputs(false);
        assert_eq!(one_want.len(), 3, "hidden, logits and one map");
        let (one_values, _) =
            execute(&ctx, &kernels, &one.program, &one.inputs(), &one_want).expect("GPU run");
        let k = layers.len() - 1;
        let start = (k * c.heads + head) * n * n;
        let reference: Vec<f64> = attentions.data[start..start + n * n]
            .iter()
            .map(|&v| v as f64)
            .collect();
        let a = compare_shaped(Stage::Weights, &one_values[2], &[n, n], &reference, 1e-4);
        assert!(
            a.passed,
            "{name}: layer {layer} head {head} alone vs transformers: {a}"
        );
        // Every layer output-only: the hidden state still equals transformers'.
        let hidden_ref: Vec<f64> = hidden.data.iter().map(|&v| v as f64).collect();
        let h1 = compare_shaped(
            Stage::Output,
            &one_values[0],
            &[n, c.hidden],
            &hidden_ref,
            1e-3,
        );
        assert!(
            h1.passed,
            "{name}: last_hidden_state, every layer output-only: {h1}"
        );

        // Picked query rows (the long-context page's path): those rows of transformers' maps.
        let picked = [0, n / 2, n - 1];
        let rows = LlamaPlan::new(
            c,
            &model.weights,
            &data,
            &[],
            &ShownLayers::Rows(picked.to_vec()),
        )
        .expect("plan");
        let rows_want = rows.outputs(false);
        let (rows_values, _) =
            execute(&ctx, &kernels, &rows.program, &rows.inputs(), &rows_want).expect("GPU run");
        for (k, &layer) in layers.iter().enumerate() {
            let reference: Vec<f64> = (0..c.heads)
                .flat_map(|h| {
                    let map = &attentions.data[(k * c.heads + h) * n * n..][..n * n];
                    picked
                        .iter()
                        .flat_map(move |&r| map[r * n..(r + 1) * n].to_vec())
                })
                .map(|v| v as f64)
                .collect();
            let a = compare_shaped(
                Stage::Weights,
                &rows_values[2 + layer],
                &[c.heads, picked.len(), n],
                &reference,
                1e-4,
            );
            assert!(
                a.passed,
                "{name}: rows {picked:?} of layer {layer} vs transformers: {a}"
            );
        }

        // Greedy generation with the KV cache: transformers' generate(do_sample=False) ids.
        let data = PromptData::new(c, &model.weights, &got_ids, n + generated.len()).expect("data");
        let mut streamed = Vec::new();
        let g = generate(
            &ctx,
            &kernels,
            c,
            &model.weights,
            &data,
            generated.len(),
            &model.tokenizer.stop,
            &ShownLayers::Only(vec![]),
            |id| {
                streamed.push(id);
                Ok(())
            },
        )
        .expect("generation");
        assert_eq!(g.generated, generated, "{name}: greedy continuation");
        assert_eq!(streamed, generated, "{name}: ids streamed as they came");
        assert_eq!(g.hidden.len(), (n + generated.len()) * c.hidden);
    }
}
