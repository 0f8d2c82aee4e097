//! `selfattn model --model FILE.gguf` as a user meets it, on a tiny random LLaMA the test
//! writes (2 blocks, 4 heads over 2 KV heads): the files and shapes a good run leaves, causal
//! pictures, readable labels, and for every bad file or prompt the exit code, a message naming
//! the file and the key or tensor, and nothing left behind. With `SELFATTN_SMOLLM2_GGUF`, the
//! real model's saved attentions equal transformers' (`tests/fixtures/smollm2/forward/`).
//!
//! Bad files are refused before an adapter is opened, so those tests run everywhere.

mod common;

use std::path::Path;

use selfattn::npy::read_array;

use common::assert_says;
use common::cli::{files_in, have_gpu, mean_entropy, ok, page_data, run};
use common::gguf_writer::W;
use common::tiny_llama::{tiny_llama_gguf, tiny_metadata, tiny_tensors, with};

fn tiny(dir: &Path) -> String {
    tiny_llama_gguf(dir, "tiny.gguf", &tiny_metadata(), &tiny_tensors(7))
        .display()
        .to_string()
}

#[test]
fn a_tiny_decoder_saves_its_causal_attentions_and_draws_them() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = tiny(dir.path());
    // "ab a b ab": ab, Ġ, a, Ġ, b, Ġab — six tokens.
    let out = ok(
        dir.path(),
        &[
            "model",
            "--model",
            &model,
            "--text",
            "ab a b ab",
            "--save",
            "saved",
            "--html",
            "view.html",
        ],
    );
    assert!(
        out.contains("llama: 2 layers × 4 heads (2 key/value heads)"),
        "{out}"
    );
    assert!(out.contains("Prompt 0: 6 tokens: ab ␣ a ␣ b ␣ab"), "{out}");
    assert!(out.contains("Next token (greedy): "), "{out}");
    let att = read_array(&dir.path().join("saved/attentions.npy"), "a").unwrap();
    assert_eq!(att.shape, [2, 4, 6, 6]);
    for (r, row) in att.data.chunks(6).enumerate() {
        let i = r % 6;
        let sum: f32 = row.iter().sum();
        assert!((sum - 1.0).abs() < 1e-5, "row {r} sums to {sum}");
        // Causal: query i gives nothing to the keys after it, something to those before.
        assert!(row[i + 1..].iter().all(|&w| w == 0.0), "row {r}: {row:?}");
        assert!(row[..=i].iter().all(|&w| w > 0.0), "row {r}: {row:?}");
    }
    let hid = read_array(&dir.path().join("saved/last_hidden_state.npy"), "h").unwrap();
    assert_eq!(hid.shape, [6, 8]);
    let tokens = std::fs::read_to_string(dir.path().join("saved/tokens.txt")).unwrap();
    assert_eq!(tokens, "ab\nĠ\na\nĠ\nb\nĠab\n");
    let page = std::fs::read_to_string(dir.path().join("view.html")).unwrap();
    assert!(
        page.contains("\"causal\":true"),
        "the page hides the causal triangle"
    );
    assert!(dir.path().join("attention_heatmap.png").is_file());

    // One layer's heads, and one head, draw as well.
    for extra in [&["--layer", "1"][..], &["--layer", "0", "--head", "3"]] {
        let mut args = vec![
            "model",
            "--model",
            &model,
            "--text",
            "ab a b ab",
            "--out",
            "one.png",
        ];
        args.extend_from_slice(extra);
        ok(dir.path(), &args);
        assert!(dir.path().join("one.png").is_file());
    }
}

#[test]
fn picked_rows_are_saved_and_shown_as_those_rows_of_the_whole_map() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = tiny(d);
    let text = "ab a b ab ba";
    ok(
        d,
        &[
            "model",
            "--model",
            &model,
            "--text",
            text,
            "--save",
            "all",
            "--no-heatmap",
        ],
    );
    let out = ok(
        d,
        &[
            "model",
            "--model",
            &model,
            "--text",
            text,
            "--rows",
            "last,1,3-4",
            "--save",
            "rows",
            "--html",
            "rows.html",
        ],
    );
    let all = read_array(&d.join("all/attentions.npy"), "a").unwrap();
    let n = all.shape[2];
    assert!(n >= 6, "{:?}", all.shape);
    let picked = [1, 3, 4, n - 1];
    assert!(
        out.contains(&format!("Query rows: 4 of {n} (1 3 4 {})", n - 1)),
        "{out}"
    );
    assert!(out.contains("No PNG with --rows"), "{out}");
    assert!(out.contains("query_rows.txt"), "{out}");
    assert!(!d.join("attention_heatmap.png").exists(), "no PNG is drawn");
    let rows = read_array(&d.join("rows/attentions.npy"), "a").unwrap();
    assert_eq!(rows.shape, [2, 4, 4, n]);
    // The very rows of the whole map (the same dot products, one picked-out query each).
    for (m, map) in rows.data.chunks(4 * n).enumerate() {
        for (i, &p) in picked.iter().enumerate() {
            let whole = &all.data[(m * n + p) * n..][..n];
            for (j, (&a, &b)) in map[i * n..(i + 1) * n].iter().zip(whole).enumerate() {
                assert!((a - b).abs() <= 1e-6, "map {m} row {p} key {j}: {a} vs {b}");
            }
        }
    }
    let listed = std::fs::read_to_string(d.join("rows/query_rows.txt")).unwrap();
    assert_eq!(listed, format!("1\n3\n4\n{}\n", n - 1));
    let page = page_data(&d.join("rows.html"));
    let item = &page["items"][0];
    assert_eq!(item["positions"], serde_json::json!(picked));
    // A picked row is labelled with its position and token.
    assert_eq!(
        item["queries"][1].as_str().unwrap(),
        format!("3 {}", item["keys"][3].as_str().unwrap())
    );
    assert_eq!(item["keys"].as_array().unwrap().len(), n);
    let facts = page["facts"].to_string();
    assert!(facts.contains(&format!("4 of {n}")), "{facts}");

    // --summary scores the heads over the picked rows, and heads.json lists them.
    let out = ok(
        d,
        &[
            "model",
            "--model",
            &model,
            "--text",
            text,
            "--rows",
            "last,1,3-4",
            "--summary",
            "--save",
            "sum",
            "--no-heatmap",
        ],
    );
    assert!(out.contains("over the picked query rows only"), "{out}");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("sum/heads.json")).unwrap()).unwrap();
    assert_eq!(saved["query_rows"], serde_json::json!([picked]));
    for role in saved["heads"].as_array().unwrap() {
        let (l, h) = (
            role["layer"].as_u64().unwrap() as usize,
            role["head"].as_u64().unwrap() as usize,
        );
        let map = &rows.data[(l * 4 + h) * 4 * n..][..4 * n];
        let entropy = mean_entropy(map, n);
        let got = role["entropy"].as_f64().unwrap();
        assert!(
            (got - entropy).abs() < 1e-9,
            "L{l} H{h}: {got} vs {entropy}"
        );
        assert!(
            role["induction"].is_number(),
            "a decoder's induction score: {role}"
        );
    }

    // Rows past the prompt, a bad list, and --rows without anything to show it in, exit 2
    // naming the problem and write nothing; --rows with --generate is refused by the parser.
    let before = files_in(d);
    for (extra, needles) in [
        (
            &["--rows", "2,99", "--save", "x"][..],
            &["--rows 2,99", "position 99", "prompt 0"][..],
        ),
        (
            &["--rows", "2-x", "--save", "x"],
            &["'x' is not a position"],
        ),
        (
            &["--rows", "3-1", "--save", "x"],
            &["3-1 (3 to 1) runs backwards"],
        ),
        (&["--rows", "2"], &["--html", "--save"]),
        (
            &["--rows", "2", "--generate", "2", "--save", "x"],
            &["--generate"],
        ),
    ] {
        let mut args = vec!["model", "--model", &model, "--text", text];
        args.extend_from_slice(extra);
        let r = run(d, &args);
        assert_eq!(r.code, 2, "{extra:?}: {}", r.stderr);
        assert_says(&format!("{extra:?}"), &r.stderr, needles);
        assert_eq!(files_in(d), before, "{extra:?} left files");
    }
}

#[test]
fn bad_decoder_files_and_prompts_exit_1_naming_the_file_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let meta = tiny_metadata;
    let mut tensors_q6k = tiny_tensors(7);
    // ggml type 14 is Q6_K; its data need not be valid, it is refused by type first.
    tensors_q6k[3].type_id = 14;
    tensors_q6k[3].data = vec![0; 8 * 4 * 210 / 256 + 210];
    let mut tensors_short = tiny_tensors(7);
    tensors_short.pop();
    let mut bytes_cut = std::fs::read(tiny(d)).unwrap();
    bytes_cut.truncate(bytes_cut.len() - 40);
    std::fs::write(d.join("cut.gguf"), &bytes_cut).unwrap();
    std::fs::write(
        d.join("magic.gguf"),
        b"GGML\x03\x00\x00\x00 not a gguf file",
    )
    .unwrap();
    let cases: Vec<(String, Vec<&str>, Vec<&str>)> = vec![
        (
            tiny_llama_gguf(
                d,
                "arch.gguf",
                &with(meta(), "general.architecture", W::Str("gptneox")),
                &tiny_tensors(7),
            )
            .display()
            .to_string(),
            vec![],
            vec!["arch.gguf", "general.architecture", "gptneox", "llama"],
        ),
        (
            tiny_llama_gguf(d, "q6k.gguf", &meta(), &tensors_q6k)
                .display()
                .to_string(),
            vec![],
            vec!["q6k.gguf", "blk.0.attn_k.weight", "Q6_K"],
        ),
        (
            tiny_llama_gguf(d, "missing.gguf", &meta(), &tensors_short)
                .display()
                .to_string(),
            vec![],
            vec!["missing.gguf", "output_norm.weight", "missing"],
        ),
        (
            tiny_llama_gguf(
                d,
                "heads.gguf",
                &with(meta(), "llama.attention.head_count_kv", W::U32(3)),
                &tiny_tensors(7),
            )
            .display()
            .to_string(),
            vec![],
            vec!["heads.gguf", "head_count_kv"],
        ),
        (
            d.join("cut.gguf").display().to_string(),
            vec![],
            vec!["cut.gguf"],
        ),
        (
            d.join("magic.gguf").display().to_string(),
            vec![],
            vec!["magic.gguf", "GGUF"],
        ),
        // The tiny model's context is 16 tokens; "a a … a" (11 a's) is 21: a, then Ġ and a.
        (
            tiny(d),
            vec!["--no-truncate"],
            vec!["21 tokens", "context is 16", "--no-truncate"],
        ),
        (tiny(d), vec!["--layer", "2"], vec!["--layer 2", "2 layers"]),
        (
            tiny(d),
            vec!["--chat"],
            vec!["tiny.gguf", "--chat", "tokenizer.chat_template"],
        ),
        (
            tiny(d),
            vec!["--layer", "0", "--head", "4"],
            vec!["--head 4", "4 heads"],
        ),
    ];
    let before = files_in(d);
    for (model, extra, needles) in &cases {
        let mut args = vec![
            "model",
            "--model",
            model,
            "--text",
            "a a a a a a a a a a a",
            "--save",
            "saved",
            "--html",
            "v.html",
        ];
        args.extend_from_slice(extra);
        let r = run(d, &args);
        let what = format!("{model} {extra:?}");
        assert_ne!(r.code, 0, "{what}: {}", r.stdout);
        assert!(
            r.code == 1 || r.code == 2,
            "{what}: exit {}: {}",
            r.code,
            r.stderr
        );
        assert_says(&what, &r.stderr, needles);
        assert_eq!(files_in(d), before, "{what} left files behind");
    }
}

#[test]
fn a_long_prompt_is_truncated_to_the_context_with_a_warning() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = tiny(dir.path());
    let r = run(
        dir.path(),
        &[
            "model",
            "--model",
            &model,
            "--text",
            "a a a a a a a a a a a",
            "--save",
            "s",
            "--no-heatmap",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("prompt 0 has 21 tokens; truncated to 16: the model's context is 16"),
        "{}",
        r.stderr
    );
    let att = read_array(&dir.path().join("s/attentions.npy"), "a").unwrap();
    assert_eq!(att.shape, [2, 4, 16, 16]);
}

#[test]
fn smollm2_saved_attentions_equal_transformers() {
    let Some(gguf) = common::smollm2_gguf() else {
        return;
    };
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let text = "The animal didn't cross the street because it was too tired.";
    let out = ok(
        dir.path(),
        &[
            "model",
            "--model",
            gguf.to_str().unwrap(),
            "--text",
            text,
            "--save",
            "s",
            "--no-heatmap",
        ],
    );
    // transformers' greedy continuation starts with "\n" (id 198).
    assert!(out.contains("Next token (greedy): 198 (\"\\n\")"), "{out}");
    let fixture = Path::new("tests/fixtures/smollm2/forward/tired_animal");
    for (file, tolerance) in [("attentions.npy", 1e-4), ("last_hidden_state.npy", 1e-3)] {
        let got = read_array(&dir.path().join("s").join(file), file).unwrap();
        let want = read_array(&fixture.join(file), file).unwrap();
        assert_eq!(got.shape, want.shape, "{file}");
        let reference: Vec<f64> = want.data.iter().map(|&v| v as f64).collect();
        let c = selfattn::compare::compare_shaped(
            selfattn::attention::Stage::Output,
            &got.data,
            &got.shape,
            &reference,
            tolerance,
        );
        assert!(c.passed, "{file} vs transformers: {c}");
    }
    let tokens = std::fs::read_to_string(dir.path().join("s/tokens.txt")).unwrap();
    assert!(tokens.starts_with("The\nĠanimal\nĠdidn\n't\n"), "{tokens}");
}

#[test]
fn generation_saves_the_whole_sequence_and_its_ids() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = tiny(dir.path());
    // The tiny model's context is 16: 6 prompt tokens and 5 generated fit.
    let out = ok(
        dir.path(),
        &[
            "model",
            "--model",
            &model,
            "--text",
            "ab a b ab",
            "--generate",
            "5",
            "--save",
            "s",
            "--out",
            "g.png",
        ],
    );
    assert!(
        out.contains("Generated (greedy, KV cache on the device): "),
        "{out}"
    );
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("s/generation.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["prompt_ids"], serde_json::json!([5, 4, 2, 4, 3, 6]));
    let generated = json["generated_ids"].as_array().unwrap();
    // EOS (id 1) may end it early.
    assert!(!generated.is_empty() && generated.len() <= 5, "{json}");
    let t = 6 + generated.len();
    let att = read_array(&dir.path().join("s/attentions.npy"), "a").unwrap();
    assert_eq!(att.shape, [2, 4, t, t]);
    for (r, row) in att.data.chunks(t).enumerate() {
        let i = r % t;
        let sum: f32 = row.iter().sum();
        assert!((sum - 1.0).abs() < 1e-5, "row {r} sums to {sum}");
        assert!(row[i + 1..].iter().all(|&w| w == 0.0), "row {r}: {row:?}");
    }
    let tokens = std::fs::read_to_string(dir.path().join("s/tokens.txt")).unwrap();
    assert_eq!(tokens.lines().count(), t);
    // The GPU's KV-cache steps were checked against one CPU pass over the whole sequence.
    assert!(
        out.contains("attentions ") && !out.contains("FAIL"),
        "{out}"
    );
}

#[test]
fn an_encoder_refuses_to_generate() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("bert");
    common::tiny_bert::write_tiny_bert(&model, common::tiny_bert::TinySizes::default(), 5);
    let r = run(
        dir.path(),
        &[
            "model",
            "--model",
            model.to_str().unwrap(),
            "--text",
            "hi",
            "--generate",
            "3",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_says(
        "encoder",
        &r.stderr,
        &["--generate 3", "encoder", "decoder"],
    );
    assert!(!dir.path().join("attention_heatmap.png").exists());
    let r = run(
        dir.path(),
        &[
            "model",
            "--model",
            model.to_str().unwrap(),
            "--text",
            "hi there",
            "--rows",
            "1",
            "--save",
            "s",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_says(
        "encoder rows",
        &r.stderr,
        &["--rows 1", "encoder", "decoder"],
    );
    assert!(!dir.path().join("s").exists());
}

#[test]
fn bench_times_a_decoders_prompt_and_its_generated_tokens() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = tiny(dir.path());
    let out = ok(
        dir.path(),
        &[
            "bench",
            "--model",
            &model,
            "--text",
            "a a a a a",
            "--tokens",
            "7",
            "--new-tokens",
            "3",
            "--runs",
            "1",
            "--json",
            "b.json",
        ],
    );
    assert!(
        out.contains("tokens/s") && out.contains("ms per token"),
        "{out}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("b.json")).unwrap()).unwrap();
    let r = &json[0];
    assert_eq!(
        (r["prompt_tokens"].as_u64(), r["new_tokens"].as_u64()),
        (Some(7), Some(3))
    );
    for key in [
        "prompt_ms",
        "prompt_tokens_per_s",
        "ms_per_generated_token",
        "max_abs_error",
    ] {
        assert!(r[key].as_f64().is_some_and(|v| v > 0.0), "{key}: {r}");
    }
    assert!(r["max_abs_error"].as_f64().unwrap() < 1e-3, "{r}");
    // Longer than the 16-token context with what it generates: refused before any work.
    let r = run(
        dir.path(),
        &[
            "bench",
            "--model",
            &model,
            "--text",
            "a a a a a a a a",
            "--tokens",
            "15",
            "--new-tokens",
            "2",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_says(
        "bench",
        &r.stderr,
        &["--tokens 15", "--new-tokens 2", "context is 16"],
    );
}

#[test]
fn a_chat_template_that_writes_the_bos_gets_exactly_one() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The file adds a BOS itself, and its template writes one: transformers encodes the
    // rendered template without special tokens, so the prompt starts with one BOS.
    let metadata = with(
        with(
            tiny_metadata(),
            "tokenizer.ggml.add_bos_token",
            W::Bool(true),
        ),
        "tokenizer.chat_template",
        W::Str("{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}"),
    );
    let model = tiny_llama_gguf(dir.path(), "chat.gguf", &metadata, &tiny_tensors(7));
    let model = model.to_str().unwrap();
    let out = ok(
        dir.path(),
        &[
            "model",
            "--model",
            model,
            "--chat",
            "--text",
            "ab",
            "--no-heatmap",
        ],
    );
    assert!(out.contains("Prompt 0: 2 tokens: <s> ab\n"), "{out}");
    // Without --chat the file's own BOS is added.
    let out = ok(
        dir.path(),
        &["model", "--model", model, "--text", "ab", "--no-heatmap"],
    );
    assert!(out.contains("Prompt 0: 2 tokens: <s> ab\n"), "{out}");
}
