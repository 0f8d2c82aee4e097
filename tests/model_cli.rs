//! `selfattn model` as a user meets it, on a tiny random BERT the test writes: the files and
//! shapes a good run leaves, the three kinds of picture, batches, and for every bad model folder
//! or text the exit code, a message naming the file and the problem, and nothing left behind.
//!
//! Bad models are refused before an adapter is opened, so those tests run everywhere.

mod common;

use std::path::Path;

use selfattn::npy::read_array;

use common::cli::{files_in, have_gpu, ok, run};
use common::tiny_bert::{TinySizes, config_json, write_tiny_bert, write_tiny_bert_with};

fn tiny(dir: &Path) -> String {
    let model = dir.join("tiny-bert");
    write_tiny_bert(&model, TinySizes::default(), 5);
    model.display().to_string()
}

#[test]
fn saves_transformers_shapes_and_draws_the_overview() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = tiny(dir.path());
    let out = ok(
        dir.path(),
        &[
            "model",
            "--model",
            &model,
            "--text",
            "The cat sat on the mat.",
            "--save",
            "saved",
        ],
    );
    assert!(
        out.contains("Sentence 0: 9 tokens: [CLS] the cat sat on the mat . [SEP]"),
        "{out}"
    );
    assert!(
        out.contains("attentions[1]") && out.contains("last_hidden_state"),
        "{out}"
    );
    let s = TinySizes::default();
    let att = read_array(&dir.path().join("saved/attentions.npy"), "a").unwrap();
    assert_eq!(att.shape, [s.layers, s.heads, 9, 9]);
    // Every row of every head is a distribution.
    for row in att.data.chunks(9) {
        let sum: f32 = row.iter().sum();
        assert!((sum - 1.0).abs() < 1e-5, "row sums to {sum}");
    }
    let hid = read_array(&dir.path().join("saved/last_hidden_state.npy"), "h").unwrap();
    assert_eq!(hid.shape, [9, s.hidden]);
    let tokens = std::fs::read_to_string(dir.path().join("saved/tokens.txt")).unwrap();
    assert_eq!(tokens.lines().count(), 9);
    assert_eq!(tokens.lines().nth(2), Some("cat"));
    let png = image::open(dir.path().join("attention_heatmap.png")).unwrap();
    // layers × heads small maps above a zoomed panel: taller than wide is not required, but the
    // picture must be larger than one map.
    assert!(
        png.width() > 400 && png.height() > 400,
        "{}×{}",
        png.width(),
        png.height()
    );
}

#[test]
fn an_encoders_head_roles_are_printed_saved_and_on_the_page_without_induction() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = tiny(dir.path());
    let out = ok(
        dir.path(),
        &[
            "model",
            "--model",
            &model,
            "--text",
            "The cat sat on the mat.",
            "--text",
            "a dog ran",
            "--summary",
            "--save",
            "s",
            "--html",
            "v.html",
            "--no-heatmap",
        ],
    );
    assert!(
        out.contains("Head roles (averaged over 2 text(s); no induction scores: an encoder"),
        "{out}"
    );
    assert!(out.contains("first-token weight (sink)"), "{out}");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s/heads.json")).unwrap())
            .unwrap();
    let heads = saved["heads"].as_array().unwrap();
    let sizes = TinySizes::default();
    assert_eq!(heads.len(), sizes.layers * sizes.heads);
    assert!(heads.iter().all(|h| h["induction"].is_null()));
    // heads.json averages the two sentences' entropies; each page item holds its own.
    let page = common::cli::page_data(&dir.path().join("v.html"));
    let entropy = &page["scores"][0];
    assert_eq!(entropy["name"], "entropy (nats)");
    assert_eq!(
        page["scores"].as_array().unwrap().len(),
        3,
        "no induction score"
    );
    let columns = sizes.heads + 1;
    for h in heads {
        let (l, k) = (
            h["layer"].as_u64().unwrap() as usize,
            h["head"].as_u64().unwrap() as usize,
        );
        let mean = (0..2)
            .map(|i| entropy["values"][i][l * columns + k].as_f64().unwrap())
            .sum::<f64>()
            / 2.0;
        let saved = h["entropy"].as_f64().unwrap();
        assert!((mean - saved).abs() < 1e-12, "L{l} H{k}: {mean} vs {saved}");
    }
    // Each item's own: the first sentence's, from its own saved maps.
    let att = read_array(&dir.path().join("s/0/attentions.npy"), "a").unwrap();
    let n = att.shape[2];
    for l in 0..sizes.layers {
        for k in 0..sizes.heads {
            let map = &att.data[(l * sizes.heads + k) * n * n..][..n * n];
            let own = common::cli::mean_entropy(map, n);
            let shown = entropy["values"][0][l * columns + k].as_f64().unwrap();
            assert!(
                (own - shown).abs() <= 1e-9 * own.max(1.0),
                "L{l} H{k}: {shown} vs {own}"
            );
        }
    }
}

#[test]
fn layer_and_head_pictures_and_a_batch_of_sentences() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = tiny(dir.path());
    std::fs::write(
        dir.path().join("texts.txt"),
        "a dog ran!\n\nThe cat sat on the mat.\n",
    )
    .unwrap();
    let args = [
        "model",
        "--model",
        &model,
        "--text-file",
        "texts.txt",
        "--layer",
        "1",
        "--out",
        "l1.png",
        "--save",
        "batch",
    ];
    let out = ok(dir.path(), &args);
    assert!(out.contains("Sentence 1: 9 tokens"), "{out}");
    assert_eq!(
        files_in(dir.path())
            .into_iter()
            .filter(|f| !f.starts_with("tiny-bert"))
            .collect::<Vec<_>>(),
        [
            "batch",
            "batch/0",
            "batch/0/attentions.npy",
            "batch/0/last_hidden_state.npy",
            "batch/0/tokens.txt",
            "batch/1",
            "batch/1/attentions.npy",
            "batch/1/last_hidden_state.npy",
            "batch/1/tokens.txt",
            "l1_0.png",
            "l1_1.png",
            "texts.txt",
        ]
    );
    // Each sentence is saved without its padding.
    let a0 = read_array(&dir.path().join("batch/0/attentions.npy"), "a").unwrap();
    assert_eq!(a0.shape[2..], [6, 6]);
    let a1 = read_array(&dir.path().join("batch/1/attentions.npy"), "a").unwrap();
    assert_eq!(a1.shape[2..], [9, 9]);

    // The batch's numbers equal the sentence run alone.
    ok(
        dir.path(),
        &[
            "model",
            "--model",
            &model,
            "--text",
            "a dog ran!",
            "--layer",
            "0",
            "--head",
            "1",
            "--out",
            "one.png",
            "--save",
            "alone",
        ],
    );
    let alone = read_array(&dir.path().join("alone/attentions.npy"), "a").unwrap();
    let worst = common::max_abs_diff(&alone.data, &a0.data);
    assert!(worst < 1e-5, "batch vs alone differ by {worst}");
    assert!(dir.path().join("one.png").is_file());
}

#[test]
fn unsupported_or_broken_models_are_named_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = TinySizes::default();
    let check = |model: &Path, code: i32, needles: &[&str]| {
        let m = model.display().to_string();
        let r = run(
            dir.path(),
            &["model", "--model", &m, "--text", "the cat", "--save", "out"],
        );
        assert_eq!(r.code, code, "{needles:?}: {}", r.stderr);
        for n in needles {
            assert!(r.stderr.contains(n), "missing {n:?} in {}", r.stderr);
        }
        assert!(
            !dir.path().join("out").exists() && !dir.path().join("attention_heatmap.png").exists()
        );
    };

    let gpt = dir.path().join("gpt");
    write_tiny_bert(&gpt, s, 1);
    std::fs::write(gpt.join("config.json"), config_json(s, "gpt2")).unwrap();
    check(
        &gpt,
        1,
        &[
            "config.json",
            "model_type 'gpt2' is not supported; supported: bert",
        ],
    );

    let missing = dir.path().join("missing");
    write_tiny_bert_with(&missing, s, 1, |t| {
        t.retain(|(n, _, _)| n != "encoder.layer.1.attention.self.key.bias")
    });
    check(
        &missing,
        1,
        &[
            "model.safetensors",
            "'encoder.layer.1.attention.self.key.bias'",
            "missing",
        ],
    );

    let wrong = dir.path().join("wrong");
    write_tiny_bert_with(&wrong, s, 1, |t| {
        let w = t
            .iter_mut()
            .find(|(n, _, _)| n == "encoder.layer.0.intermediate.dense.weight")
            .unwrap();
        w.1 = vec![s.hidden, s.intermediate];
    });
    check(
        &wrong,
        1,
        &[
            "'encoder.layer.0.intermediate.dense.weight' has shape [6, 7]",
            "[7, 6]",
        ],
    );

    let tok = dir.path().join("tok");
    write_tiny_bert(&tok, s, 1);
    std::fs::write(tok.join("tokenizer.json"), "{ not json").unwrap();
    check(&tok, 1, &["tokenizer.json", "can read"]);

    check(
        &dir.path().join("nowhere"),
        1,
        &["nowhere", "is not a folder"],
    );
}

#[test]
fn long_text_is_truncated_with_a_warning_or_refused() {
    if !have_gpu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = tiny(dir.path());
    // 30 tokens with [CLS] and [SEP]; the tiny model has 24 positions.
    let long = "the cat sat on the mat . ".repeat(4);
    let r = run(
        dir.path(),
        &["model", "--model", &model, "--text", &long, "--save", "cut"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("warning: sentence 0 has 30 tokens; truncated to 24"),
        "{}",
        r.stderr
    );
    let tokens = std::fs::read_to_string(dir.path().join("cut/tokens.txt")).unwrap();
    assert_eq!(tokens.lines().count(), 24);
    assert_eq!(tokens.lines().last(), Some("[SEP]"));

    let r = run(
        dir.path(),
        &[
            "model",
            "--model",
            &model,
            "--text",
            &long,
            "--no-truncate",
            "--out",
            "x.png",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("30 tokens") && r.stderr.contains("at most 24"),
        "{}",
        r.stderr
    );
    assert!(!dir.path().join("x.png").exists());
}

#[test]
fn bad_command_lines_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny(dir.path());
    for (args, needle) in [
        (vec!["model", "--model", &model], "--text"),
        (
            vec!["model", "--model", &model, "--text", "x", "--head", "0"],
            "--layer",
        ),
        (
            vec!["model", "--model", &model, "--text", "x", "--layer", "2"],
            "the model has 2 layers",
        ),
        (
            vec![
                "model", "--model", &model, "--text", "x", "--layer", "0", "--head", "2",
            ],
            "2 heads",
        ),
        (
            vec![
                "model",
                "--model",
                &model,
                "--text",
                "x",
                "--tolerance",
                "0",
            ],
            "--tolerance",
        ),
        (
            vec!["model", "--model", &model, "--text", "x", "--cmap", "jet"],
            "jet",
        ),
    ] {
        let r = run(dir.path(), &args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
    }
    std::fs::write(dir.path().join("empty.txt"), "\n \n").unwrap();
    let r = run(
        dir.path(),
        &["model", "--model", &model, "--text-file", "empty.txt"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("empty.txt holds no sentence"),
        "{}",
        r.stderr
    );
}
