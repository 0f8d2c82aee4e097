//! `selfattn model`: a pretrained BERT-family encoder on the GPU, checked against the CPU, its
//! attentions saved and drawn (one head, one layer's heads, or every layer × head).

use super::say;
use super::summary::{gpu_phases, say_named_checks, say_times, verdict};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use selfattn::Result;
use selfattn::attention::Stage;
use selfattn::bert::{BertModel, BertPlan, Tokenized};
use selfattn::compare::{Comparison, compare_shaped};
use selfattn::cpu;
use selfattn::error::Error;
use selfattn::fsutil::{create_dir, write_json, write_output};
use selfattn::gpu::GpuContext;
use selfattn::gpu::execute::{Kernels, Timings, execute};
use selfattn::head_roles::{HeadRole, add_induction, average, measure_rows};
use selfattn::heatmap::Colormap;
use selfattn::npy::write_array;
use selfattn::viewer::{
    HeadScore, MAX_TOTAL_WEIGHTS, ViewerDoc, ViewerItem, head_labels, layer_maps, numbered,
};

use super::Outcome;
use super::inputs::{adapter, check_tolerance};
use super::model_draw::{Selection, draw_sentence};
use crate::cli::ModelArgs;

/// One sentence's results, its padding removed.
pub struct SentenceResult {
    /// The tokenizer's tokens (as transformers' `convert_ids_to_tokens` spells them).
    pub tokens: Vec<String>,
    /// The tokens as pictures and the page show them (byte-level BPE's `Ġ` as a space marker).
    pub labels: Vec<String>,
    /// The layers whose attentions are held, in order (every layer unless a long prompt ran
    /// the others output-only).
    pub layers_held: Vec<usize>,
    /// `Some(h)` when only head h's map is held (then `attentions` is (1, 1, n, n)).
    pub only_head: Option<usize>,
    /// The query positions whose rows are held (`--rows`), sorted; empty when every row is.
    pub query_rows: Vec<usize>,
    /// (layers held, heads, queries, n): queries is n, or `query_rows`' count.
    pub attentions: Vec<f32>,
    /// (layers held, queries, n): each layer's heads averaged, on the GPU (`head_mean.wgsl`);
    /// empty when neither a picture nor a page is drawn.
    pub means: Vec<f32>,
    /// (n, hidden).
    pub hidden: Vec<f32>,
}

impl SentenceResult {
    /// Query rows per map: every token, or the picked rows.
    pub fn queries(&self) -> usize {
        if self.query_rows.is_empty() {
            self.tokens.len()
        } else {
            self.query_rows.len()
        }
    }

    /// The positions of the query rows held.
    pub fn query_positions(&self) -> Vec<usize> {
        if self.query_rows.is_empty() {
            (0..self.tokens.len()).collect()
        } else {
            self.query_rows.clone()
        }
    }

    /// The (queries, n) map of one head of one layer (`heads` per layer).
    pub fn map(&self, heads: usize, layer: usize, head: usize) -> &[f32] {
        let len = self.queries() * self.tokens.len();
        let start = match self.only_head {
            Some(only) => {
                assert_eq!(head, only, "only head {only}'s map was computed");
                0
            }
            None => (self.held(layer) * heads + head) * len,
        };
        &self.attentions[start..start + len]
    }

    /// The (queries, n) average of a layer's heads.
    pub fn head_mean(&self, layer: usize) -> &[f32] {
        let len = self.queries() * self.tokens.len();
        let i = self.held(layer);
        &self.means[i * len..(i + 1) * len]
    }

    /// Where `layer` is among the layers held.
    fn held(&self, layer: usize) -> usize {
        self.layers_held
            .iter()
            .position(|&l| l == layer)
            .expect("a layer whose attentions were computed")
    }
}

/// What the outputs say about the model, whichever its family.
pub struct ModelInfo {
    /// For titles: the folder's or file's name.
    pub name: String,
    /// Its sizes in words, e.g. "bert: 6 layers × 12 heads, hidden 384, feed-forward 1536".
    pub sizes: String,
    /// Layers.
    pub layers: usize,
    /// Heads per layer.
    pub heads: usize,
    /// Hidden width.
    pub hidden: usize,
    /// Whether a query sees only the keys up to itself (a decoder): the hidden triangle is
    /// left blank in pictures and on the page.
    pub causal: bool,
}

/// Runs `model`: a GGUF file is a decoder (`model_llama`), a folder an encoder.
pub fn model(args: &ModelArgs) -> Result<Outcome> {
    if super::model_llama::is_decoder(&args.model) {
        return super::model_llama::model(args);
    }
    let (texts, pictures) = prepare(args)?;
    let decoder_only = [
        (args.generate > 0).then(|| format!("--generate {}", args.generate)),
        args.chat.then(|| "--chat".to_string()),
        args.rows.as_ref().map(|r| format!("--rows {r}")),
    ];
    if let Some(flag) = decoder_only.into_iter().flatten().next() {
        return Err(Error::Usage(format!(
            "{flag}: {} is an encoder (BERT family); {flag} needs a decoder (a LLaMA-family \
             GGUF file or folder)",
            args.model.display()
        )));
    }

    let c = BertModel::load_config(&args.model)?;
    check_selection(args, c.layers, c.heads)?;
    let start = Instant::now();
    let model = BertModel::load(&args.model)?;
    let load_time = start.elapsed();

    let start = Instant::now();
    let tokenized = texts
        .iter()
        .map(|t| {
            model
                .tokenizer
                .encode(t, c.max_positions, !args.no_truncate)
                .map_err(|e| match e {
                    Error::InvalidSize(m) => {
                        Error::InvalidSize(format!("{m}; drop --no-truncate to cut it"))
                    }
                    e => e,
                })
        })
        .collect::<Result<Vec<Tokenized>>>()?;
    let tokenize_time = start.elapsed();
    for (i, t) in tokenized.iter().enumerate() {
        if let Some(n) = t.truncated_from {
            eprintln!(
                "warning: sentence {i} has {n} tokens; truncated to {} (max_position_embeddings)",
                c.max_positions
            );
        }
    }
    if args.html.is_some() {
        // Refused now rather than after the GPU and CPU work (the page holds every map).
        let maps = c.layers * (c.heads + 1);
        let total: usize = tokenized.iter().map(|t| maps * t.tokens.len().pow(2)).sum();
        if total > MAX_TOTAL_WEIGHTS {
            return Err(Error::InvalidSize(format!(
                "--html would hold {total} weights ({} layers × {} heads and their average, per \
                 sentence), more than the viewer's {MAX_TOTAL_WEIGHTS}; run fewer or shorter sentences",
                c.layers, c.heads
            )));
        }
    }
    // Every layer's and head's N×N attentions are read back (and saved, drawn), twice over at
    // the peak; the activations are a few N × hidden matrices per layer.
    let attention_bytes: u64 = tokenized
        .iter()
        .map(|t| (c.layers * c.heads) as u64 * (t.tokens.len() as u64).pow(2) * 4)
        .sum();
    let activation_bytes: u64 = tokenized
        .iter()
        .map(|t| (t.tokens.len() * (4 * c.hidden + c.intermediate)) as u64 * 4)
        .sum();
    selfattn::limits::check_host_bytes(
        &format!(
            "the attentions of {} layers × {} heads for {} sentence(s) and their activations",
            c.layers,
            c.heads,
            tokenized.len()
        ),
        attention_bytes
            .saturating_mul(2)
            .saturating_add(activation_bytes),
        "run fewer or shorter sentences (one --text at a time)",
    )?;
    let sequences: Vec<_> = tokenized.iter().map(|t| t.sequence.clone()).collect();
    let plan = BertPlan::new(&c, model.weights, &sequences)?;

    let ctx = GpuContext::open(&adapter(&args.gpu))?;
    say!("Adapter: {}", ctx.describe());
    let info = ModelInfo {
        name: model_name(&args.model),
        sizes: format!(
            "bert: {} layers × {} heads, hidden {}, feed-forward {}",
            c.layers, c.heads, c.hidden, c.intermediate
        ),
        layers: c.layers,
        heads: c.heads,
        hidden: c.hidden,
        causal: false,
    };
    say!("Model: {} ({})", args.model.display(), info.sizes);
    for (i, t) in tokenized.iter().enumerate() {
        say!(
            "Sentence {i}: {} tokens: {}",
            t.tokens.len(),
            t.tokens.join(" ")
        );
    }
    let kernels = Kernels::new(&ctx)?;
    // The head means only feed the pictures and the page.
    let want = plan.outputs(!args.no_heatmap || args.html.is_some());
    let inputs = plan.inputs();
    let (values, timings) = execute(&ctx, &kernels, &plan.program, &inputs, &want)?;

    let (checks, cpu_time) = if args.no_check {
        say!("\nGPU vs CPU: not checked (--no-check)");
        (Vec::new(), None)
    } else {
        let start = Instant::now();
        let reference = super::progress::while_running("CPU reference (f64 forward pass)", || {
            cpu::execute::execute(&plan.program, &inputs, &want)
        });
        let cpu_time = start.elapsed();
        let checks = check(&plan, &want, &values, &reference, args.tolerance);
        (checks, Some(cpu_time))
    };

    let results = split_sentences(&plan, &tokenized, &values);
    let roles = args.summary.then(|| {
        head_roles(
            &info,
            &results,
            Induction::NotMeaningful(
                "an encoder's tokens also see the copy ahead of them, so the score would not \
                 isolate induction",
            ),
        )
    });
    let outputs = Outputs {
        pictures: &pictures,
        info: &info,
        results: &results,
        checks: &checks,
        adapter: &ctx.describe(),
        roles: roles.as_ref(),
    };
    let draw_time = write_outputs(args, &outputs)?;
    print_times(load_time, tokenize_time, timings, cpu_time, draw_time);
    Ok(verdict(checks.iter().map(|(name, c)| (name.clone(), c))))
}

/// How a family's induction scores were measured, for `summarize`.
pub enum Induction<'a> {
    /// From a random block of `period` tokens repeated once, its (layers shown, heads, n, n)
    /// attentions.
    Measured {
        /// The attentions of the repeated sequence.
        attentions: &'a [f32],
        /// Its length.
        n: usize,
        /// The repeated block's length.
        period: usize,
    },
    /// Not measured, and why.
    NotMeaningful(&'static str),
}

/// The heads' roles of a run: averaged over its texts, with induction scores when measured.
pub struct RolesSummary {
    /// One per (layer, head) held, layer-major.
    pub roles: Vec<HeadRole>,
    /// How the induction scores were measured, or why there are none.
    pub note: String,
    /// Each text's own roles (without induction scores), which `roles` averages.
    pub per_text: Vec<Vec<HeadRole>>,
}

/// Measures every head's roles in `results` (`--summary`), before anything is written, so the
/// page can show them too.
pub fn head_roles(
    info: &ModelInfo,
    results: &[SentenceResult],
    induction: Induction,
) -> RolesSummary {
    let per_text = measure_texts(results, info.heads);
    let mut roles = average(&per_text);
    let note = match induction {
        Induction::Measured {
            attentions,
            n,
            period,
        } => {
            add_induction(&mut roles, attentions, n, period);
            format!("induction scores from a random block of {period} tokens repeated once")
        }
        Induction::NotMeaningful(why) => format!("no induction scores: {why}"),
    };
    RolesSummary {
        roles,
        note,
        per_text,
    }
}

/// Prints the heads' roles (`--summary`) and, with `--save`, writes them to DIR/heads.json.
fn summarize(
    args: &ModelArgs,
    info: &ModelInfo,
    results: &[SentenceResult],
    summary: &RolesSummary,
) -> Result<()> {
    let RolesSummary { roles, note, .. } = summary;
    let texts = results.len();
    // With --rows the scores are the picked rows' means.
    let picked = results.iter().any(|r| !r.query_rows.is_empty());
    let over = if picked {
        ", over the picked query rows only"
    } else {
        ""
    };
    say!("\nHead roles (averaged over {texts} text(s){over}; {note}):");
    let top = |name: &str, score: &dyn Fn(&HeadRole) -> Option<f64>, highest: bool| {
        let mut scored: Vec<(f64, &HeadRole)> =
            roles.iter().filter_map(|r| Some((score(r)?, r))).collect();
        if scored.is_empty() {
            return;
        }
        scored.sort_by(|a, b| a.0.total_cmp(&b.0));
        if highest {
            scored.reverse();
        }
        let list: Vec<String> = scored
            .iter()
            .take(5)
            .map(|(s, r)| format!("L{} H{} {s:.3}", r.layer, r.head))
            .collect();
        say!("  {name:<26} {}", list.join(", "));
    };
    top("lowest entropy (nats)", &|r| Some(r.entropy), false);
    top("highest entropy (nats)", &|r| Some(r.entropy), true);
    top("first-token weight (sink)", &|r| Some(r.first_token), true);
    top("previous-token score", &|r| r.previous_token, true);
    top("induction score", &|r| r.induction, true);
    if let Some(dir) = &args.save {
        create_dir(dir)?;
        let mut json = serde_json::json!({
            "model": info.name,
            "texts": texts,
            "note": note,
            "heads": roles,
        });
        if picked {
            json["query_rows"] = results.iter().map(|r| r.query_rows.clone()).collect();
        }
        let path = dir.join("heads.json");
        write_json(&path, &json)?;
        say!("Saved every head's scores in {}", path.display());
    }
    Ok(())
}

/// Every head's roles in each text's maps (all rows, or the picked ones).
fn measure_texts(results: &[SentenceResult], heads: usize) -> Vec<Vec<HeadRole>> {
    results
        .iter()
        .map(|r| {
            let positions = r.query_positions();
            measure_rows(
                &r.attentions,
                &r.layers_held,
                heads,
                &positions,
                r.tokens.len(),
            )
        })
        .collect()
}

/// The scores the page's overview colours and orders heads by: each text's own entropy,
/// first-token weight and previous-token score, and the model's induction scores when
/// `--summary` measured them; `columns` head columns per layer (the heads, then any without a
/// score such as their average). Every layer's maps are held (a page shows every layer).
fn page_scores(
    results: &[SentenceResult],
    info: &ModelInfo,
    columns: usize,
    summary: Option<&RolesSummary>,
) -> Vec<HeadScore> {
    let measured;
    let per_text = match summary {
        Some(s) => &s.per_text,
        None => {
            measured = measure_texts(results, info.heads);
            &measured
        }
    };
    // One value per (layer, column), None where a head has none.
    let grid = |roles: &[HeadRole], value: &dyn Fn(&HeadRole) -> Option<f64>| {
        let mut values = vec![None; info.layers * columns];
        for r in roles {
            values[r.layer * columns + r.head] = value(r);
        }
        values
    };
    let score = |name: &str, about: &str, value: &dyn Fn(&HeadRole) -> Option<f64>| HeadScore {
        name: name.into(),
        about: about.into(),
        values: per_text.iter().map(|roles| grid(roles, value)).collect(),
    };
    let mut scores = vec![
        score(
            "entropy (nats)",
            "the mean over queries of −Σ w·ln w: 0 when each query looks at one key, ln N when \
             it spreads evenly",
            &|r| Some(r.entropy),
        ),
        score(
            "first-token weight",
            "the mean weight on the first token: near 1 for an attention sink",
            &|r| Some(r.first_token),
        ),
        score(
            "previous-token score",
            "the mean weight a token puts on the one before it",
            &|r| r.previous_token,
        ),
    ];
    if let Some(summary) = summary.filter(|s| s.roles.iter().any(|r| r.induction.is_some())) {
        let values = grid(&summary.roles, &|r| r.induction);
        scores.push(HeadScore {
            name: "induction score".into(),
            about: format!(
                "the weight on the token after an earlier copy of the current one ({})",
                summary.note
            ),
            values: vec![values; results.len()],
        });
    }
    scores
}

/// Checks the tolerance and every output path, and reads the texts: what both families do
/// before loading anything. Returns the texts and their pictures' paths.
pub fn prepare(args: &ModelArgs) -> Result<(Vec<String>, Vec<PathBuf>)> {
    check_tolerance(args.tolerance)?;
    let texts = texts(args)?;
    let pictures = picture_paths(&args.out, texts.len());
    super::html::check_targets(&super::html::Targets {
        out: Some(args.out.as_path()).filter(|_| !args.no_heatmap),
        pictures: &pictures,
        html: args.html.as_deref(),
        save: args.save.as_deref(),
        no_weights: false,
    })?;
    Ok((texts, pictures))
}

/// Refuses `--layer` / `--head` beyond the model's sizes.
pub fn check_selection(args: &ModelArgs, layers: usize, heads: usize) -> Result<()> {
    if let Some(l) = args.layer.filter(|&l| l >= layers) {
        return Err(Error::Usage(format!(
            "--layer {l}: the model has {layers} layers (0 to {})",
            layers - 1
        )));
    }
    if let Some(h) = args.head.filter(|&h| h >= heads) {
        return Err(Error::Usage(format!(
            "--head {h}: the model has {heads} heads per layer (0 to {})",
            heads - 1
        )));
    }
    Ok(())
}

/// What a run writes, whichever the family.
pub struct Outputs<'a> {
    /// One picture path per text.
    pub pictures: &'a [PathBuf],
    /// The model.
    pub info: &'a ModelInfo,
    /// One per text.
    pub results: &'a [SentenceResult],
    /// The GPU-vs-CPU checks, named.
    pub checks: &'a [(String, Comparison)],
    /// The adapter, described.
    pub adapter: &'a str,
    /// The heads' roles, with `--summary`.
    pub roles: Option<&'a RolesSummary>,
}

/// Writes what was asked for, whichever the family: `--save`'s arrays, the pictures, the page,
/// and with `--summary` the heads' roles (printed, and saved as heads.json). Returns the time
/// spent drawing.
pub fn write_outputs(args: &ModelArgs, outputs: &Outputs) -> Result<Duration> {
    let Outputs {
        pictures,
        info,
        results,
        checks,
        adapter,
        roles,
    } = *outputs;
    let cmap = args.cmap;
    if let Some(dir) = &args.save {
        save(dir, results, info)?;
    }
    let mut draw_time = Duration::ZERO;
    if !args.no_heatmap && args.rows.is_some() {
        say!("No PNG with --rows: the picked rows are shown by --html and kept by --save");
    } else if !args.no_heatmap {
        let selection = match (args.layer, args.head) {
            (Some(layer), Some(head)) => Selection::Head(layer, head),
            (Some(layer), None) => Selection::Layer(layer),
            _ => Selection::Overview,
        };
        for (r, path) in results.iter().zip(pictures) {
            let start = Instant::now();
            draw_sentence(path, r, info, selection, cmap)?;
            draw_time += start.elapsed();
            say!("Wrote {}", selfattn::fsutil::shown(path));
        }
    }
    if let Some(path) = &args.html {
        let mut facts = vec![
            ("Adapter".to_string(), adapter.to_string()),
            (
                "Model".to_string(),
                format!("{}: {}", info.name, info.sizes),
            ),
        ];
        if checks.is_empty() {
            facts.push(("GPU vs CPU".into(), "not checked (--no-check)".into()));
        }
        for (what, check) in checks {
            facts.push((format!("GPU vs CPU (f64): {what}"), check.to_string()));
        }
        facts.push(("Tolerance".into(), format!("{:.1e}", args.tolerance)));
        if let Some(rows) = &args.rows {
            let counts: Vec<String> = results
                .iter()
                .map(|r| format!("{} of {}", r.queries(), r.tokens.len()))
                .collect();
            facts.push((
                "Query rows".into(),
                format!(
                    "--rows {rows}: {} (each against every key; rerun with other --rows to \
                     see others)",
                    counts.join(", ")
                ),
            ));
        }
        let mut doc = viewer_doc(results, info, cmap, facts);
        doc.head_scores = page_scores(results, info, doc.head_labels.len(), roles);
        draw_time += super::html::write(path, &doc)?;
    }
    if let Some(roles) = roles {
        summarize(args, info, results, roles)?;
    }
    Ok(draw_time)
}

/// The viewer's page: one item per sentence, every layer, every head plus their average.
fn viewer_doc(
    results: &[SentenceResult],
    info: &ModelInfo,
    cmap: Colormap,
    facts: Vec<(String, String)>,
) -> ViewerDoc {
    let (name, layers, heads) = (&info.name, info.layers, info.heads);
    let head_labels = head_labels(heads, Some("average"));
    let items = results
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let len = r.queries() * r.tokens.len();
            let weights = layer_maps(Some(&r.attentions), Some(&r.means), (layers, heads, len));
            // Picked rows are labelled with their positions.
            let query_tokens = if r.query_rows.is_empty() {
                r.labels.clone()
            } else {
                r.query_rows
                    .iter()
                    .map(|&p| format!("{p} {}", r.labels[p]))
                    .collect()
            };
            ViewerItem {
                label: format!("Sentence {i}"),
                query_tokens,
                key_tokens: r.labels.clone(),
                weights,
                query_positions: r.query_rows.clone(),
            }
        })
        .collect();
    ViewerDoc {
        title: format!("{name}: attention of every layer and head"),
        facts,
        causal: info.causal,
        colormap: cmap,
        layer_labels: numbered("Layer", layers),
        head_labels,
        items,
        head_scores: Vec::new(),
    }
}

/// The sentences from --text or --text-file.
fn texts(args: &ModelArgs) -> Result<Vec<String>> {
    let texts: Vec<String> = match &args.text_file {
        Some(path) => selfattn::input_file::read_lines(path, "sentences")?,
        None => args.text.clone(),
    };
    if texts.is_empty() {
        let from = match &args.text_file {
            Some(p) => format!("{} holds no sentence", p.display()),
            None => "no --text given".into(),
        };
        return Err(Error::Usage(from));
    }
    Ok(texts)
}

/// FILE for one sentence; FILE_0.png, FILE_1.png … for several.
fn picture_paths(out: &Path, count: usize) -> Vec<PathBuf> {
    if count == 1 {
        return vec![out.to_path_buf()];
    }
    let stem = out.file_stem().unwrap_or_default().to_string_lossy();
    let ext = out
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (0..count)
        .map(|i| out.with_file_name(format!("{stem}_{i}{ext}")))
        .collect()
}

/// The folder's or file's name, for titles ("all-MiniLM-L6-v2" rather than a cache path's
/// "model").
pub fn model_name(dir: &Path) -> String {
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    match name(dir) {
        Some(n) if n != "model" => n,
        _ => dir
            .parent()
            .and_then(name)
            .unwrap_or_else(|| "model".into()),
    }
}

/// Compares the hidden state and each layer's attentions with the CPU reference.
fn check(
    plan: &BertPlan,
    want: &[selfattn::program::BufId],
    values: &[Vec<f32>],
    reference: &[Vec<f64>],
    tolerance: f64,
) -> Vec<(String, Comparison)> {
    let (b, n) = (plan.batch, plan.seq_len);
    let mut checks = Vec::new();
    for (i, (id, v)) in want.iter().zip(values).enumerate() {
        let layers = plan.attentions.len();
        let (name, stage, shape) = if i == 0 {
            (
                "last_hidden_state".to_string(),
                Stage::Output,
                vec![b, n, plan.hidden],
            )
        } else if i <= layers {
            (
                format!("attentions[{}]", i - 1),
                Stage::Weights,
                vec![b, plan.heads, n, n],
            )
        } else {
            (
                format!("head mean[{}]", i - 1 - layers),
                Stage::Weights,
                vec![b, n, n],
            )
        };
        checks.push((
            name,
            compare_shaped(stage, v, &shape, &reference[id.0], tolerance),
        ));
    }
    say_named_checks(tolerance, " (padded batch shapes)", &checks);
    checks
}

/// Cuts each sentence out of the padded batch, with its tokens.
fn split_sentences(
    plan: &BertPlan,
    tokenized: &[Tokenized],
    values: &[Vec<f32>],
) -> Vec<SentenceResult> {
    tokenized
        .iter()
        .enumerate()
        .map(|(b, t)| {
            let v = plan.sentence(values, b);
            SentenceResult {
                tokens: t.tokens.clone(),
                labels: t.tokens.clone(),
                layers_held: (0..plan.attentions.len()).collect(),
                only_head: None,
                query_rows: Vec::new(),
                attentions: v.attentions,
                means: v.means,
                hidden: v.hidden,
            }
        })
        .collect()
}

/// Writes each sentence's arrays and tokens (into DIR, or DIR/i with several sentences).
fn save(dir: &Path, results: &[SentenceResult], info: &ModelInfo) -> Result<()> {
    let (heads, hidden) = (info.heads, info.hidden);
    create_dir(dir)?;
    for (i, r) in results.iter().enumerate() {
        let d = if results.len() == 1 {
            dir.to_path_buf()
        } else {
            let d = dir.join(i.to_string());
            create_dir(&d)?;
            d
        };
        let n = r.tokens.len();
        write_array(
            &d.join("attentions.npy"),
            &[r.layers_held.len(), heads, r.queries(), n],
            &r.attentions,
        )?;
        if !r.query_rows.is_empty() {
            write_output(&d.join("query_rows.txt"), |w| {
                for p in &r.query_rows {
                    writeln!(w, "{p}")?;
                }
                Ok(())
            })?;
        }
        write_array(&d.join("last_hidden_state.npy"), &[n, hidden], &r.hidden)?;
        write_output(&d.join("tokens.txt"), |w| {
            for t in &r.tokens {
                writeln!(w, "{t}")?;
            }
            Ok(())
        })?;
    }
    let picked = if results.iter().any(|r| !r.query_rows.is_empty()) {
        " ((layers, heads, rows, N) for the query rows in query_rows.txt)"
    } else {
        ""
    };
    say!(
        "Saved attentions.npy{picked}, last_hidden_state.npy and tokens.txt in {}{}",
        dir.display(),
        if results.len() > 1 {
            format!(" (one folder per sentence, 0 to {})", results.len() - 1)
        } else {
            String::new()
        }
    );
    Ok(())
}

pub fn print_times(
    load: Duration,
    tokenize: Duration,
    t: Timings,
    cpu: Option<Duration>,
    draw: Duration,
) {
    let mut phases = vec![("load", Some(load)), ("tokenize", Some(tokenize))];
    phases.extend(gpu_phases(&t));
    phases.extend([("CPU reference", cpu), ("heatmap", Some(draw))]);
    say_times(&phases);
}
