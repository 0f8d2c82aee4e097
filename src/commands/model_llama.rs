//! `selfattn model --model FILE.gguf|DIR`: a LLaMA-family decoder (GGUF or Hugging Face folder) on the GPU, one prompt at a time,
//! checked against the CPU, with the same outputs as an encoder (`model.rs`: `--save`,
//! pictures, `--html`) drawn with the causal triangle blank, and the greedy next token.

use super::summary::{gpu_phases, say_named_checks, say_times, verdict};
use super::{say, say_part};
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use selfattn::Result;
use selfattn::attention::Stage;
use selfattn::compare::{Comparison, compare_shaped};
use selfattn::cpu;
use selfattn::error::Error;
use selfattn::fsutil::write_json;
use selfattn::gpu::GpuContext;
use selfattn::gpu::execute::{Kernels, Timings, execute};
use selfattn::llama::{
    Generation, LlamaConfig, LlamaPlan, LlamaSource, LlamaTokenizer, LlamaWeights, PromptData,
    ShownLayers, argmax, generate,
};
use selfattn::program::BufId;
use selfattn::viewer::MAX_TOTAL_WEIGHTS;

use super::Outcome;
use super::inputs::adapter;
use super::model::{
    Induction, ModelInfo, Outputs, SentenceResult, check_selection, head_roles, model_name,
    prepare, write_outputs,
};
use crate::cli::ModelArgs;

/// Whether `path` is a decoder: a LLaMA-family Hugging Face folder or a GGUF file.
pub fn is_decoder(path: &Path) -> bool {
    LlamaSource::is_llama_folder(path) || is_gguf(path)
}

/// Whether `path` is a GGUF file: named `.gguf`, or a file starting with GGUF's magic.
fn is_gguf(path: &Path) -> bool {
    if !path.is_file() {
        return false;
    }
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
    {
        return true;
    }
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"GGUF"
}

/// Runs `model` on a decoder.
pub fn model(args: &ModelArgs) -> Result<Outcome> {
    if let (Some(rows), None, None) = (&args.rows, &args.html, &args.save) {
        return Err(Error::Usage(format!(
            "--rows {rows}: the picked rows are shown by --html and kept by --save; give one \
             (no PNG is drawn of them)"
        )));
    }
    let (texts, pictures) = prepare(args)?;
    let start = Instant::now();
    let source = LlamaSource::open(&args.model)?;
    let c = source.config()?;
    check_selection(args, c.layers, c.heads)?;
    let tokenizer = source.tokenizer()?;
    let texts = if args.chat {
        texts
            .iter()
            .map(|t| {
                tokenizer.chat(t).unwrap_or_else(|| {
                    Err(Error::InputFile {
                        path: args.model.clone(),
                        message: "--chat: the file has no chat template (tokenizer.chat_template)"
                            .into(),
                    })
                })
            })
            .collect::<Result<Vec<_>>>()?
    } else {
        texts
    };
    let prompts = texts
        .iter()
        .enumerate()
        .map(|(i, t)| prompt_ids(&tokenizer, t, i, (c.context, args.generate), args))
        .collect::<Result<Vec<_>>>()?;
    // --rows: each prompt's picked positions (`last` is its own last token).
    let picked: Option<Vec<Vec<usize>>> = args
        .rows
        .as_ref()
        .map(|rows| {
            prompts
                .iter()
                .enumerate()
                .map(|(i, ids)| {
                    rows.positions(ids.len())
                        .map_err(|e| Error::Usage(format!("--rows {rows}: prompt {i}: {e}")))
                })
                .collect::<Result<Vec<_>>>()
        })
        .transpose()?;
    // Only what is shown needs the N×N weights; a lone --layer forms just that layer's.
    // --layer L --head H alone forms one (N, N) map: what lets thousands of tokens run.
    let shown_only = args.save.is_none() && args.html.is_none();
    let shown = match (args.layer, args.head) {
        (Some(l), Some(h)) if shown_only && args.generate == 0 && !args.summary => {
            ShownLayers::Head(l, h)
        }
        (Some(l), _) if shown_only => ShownLayers::Only(vec![l]),
        _ => ShownLayers::All,
    };
    let (shown_layers, only_head) = match &shown {
        ShownLayers::All | ShownLayers::Rows(_) => ((0..c.layers).collect(), None),
        ShownLayers::Only(l) => (l.clone(), None),
        ShownLayers::Head(l, h) => (vec![*l], Some(*h)),
    };
    check_sizes(args, &c, &prompts, picked.as_deref(), shown_layers.len())?;
    let weights = source.weights(&c)?;
    drop(source);
    let load_time = start.elapsed();

    let ctx = GpuContext::open(&adapter(&args.gpu))?;
    say!("Adapter: {}", ctx.describe());
    let info = ModelInfo {
        name: model_name(&args.model),
        sizes: format!(
            "llama: {} layers × {} heads ({} key/value heads), hidden {}, feed-forward {}",
            c.layers, c.heads, c.kv_heads, c.hidden, c.intermediate
        ),
        layers: c.layers,
        heads: c.heads,
        hidden: c.hidden,
        causal: true,
    };
    say!("Model: {} ({})", args.model.display(), info.sizes);
    let kernels = Kernels::new(&ctx)?;
    let head_means = (!args.no_heatmap && args.rows.is_none()) || args.html.is_some();

    let mut results = Vec::with_capacity(prompts.len());
    let mut generations = Vec::new();
    let mut checks = Vec::new();
    let mut timings = Timings::default();
    let mut step_times = Vec::new();
    let mut cpu_time = (!args.no_check).then_some(Duration::ZERO);
    for (i, ids) in prompts.iter().enumerate() {
        say!(
            "Prompt {i}: {} tokens: {}",
            ids.len(),
            shown_tokens(&tokenizer.labels(ids))
        );
        let prefix = if prompts.len() > 1 {
            format!("prompt {i} ")
        } else {
            String::new()
        };
        let data = PromptData::new(&c, &weights, ids, ids.len() + args.generate)?;
        let shown = match &picked {
            Some(rows) => ShownLayers::Rows(rows[i].clone()),
            None => shown.clone(),
        };
        if let ShownLayers::Rows(rows) = &shown {
            say!(
                "Query rows: {} of {} ({})",
                rows.len(),
                ids.len(),
                shown_tokens(&rows.iter().map(usize::to_string).collect::<Vec<_>>())
            );
        }
        let run = Run {
            c: &c,
            weights: &weights,
            shown: &shown,
            shown_layers: &shown_layers,
            only_head,
            tolerance: args.tolerance,
            prefix: &prefix,
        };
        let (result, prompt_checks) = if args.generate == 0 {
            let plan = LlamaPlan::new(&c, &weights, &data, &[], &shown)?;
            let want = plan.outputs(head_means);
            let inputs = plan.inputs();
            let (values, t) = execute(&ctx, &kernels, &plan.program, &inputs, &want)?;
            add_timings(&mut timings, &t);
            let next = argmax(&values[1]) as u32;
            say!(
                "Next token (greedy): {next} ({:?})",
                tokenizer.decode(&[next])?
            );
            let checks = match &mut cpu_time {
                Some(total) => run.check(&plan, &want, &values, total),
                None => Vec::new(),
            };
            let n = ids.len();
            let held = shown_layers.len();
            let attentions: Vec<f32> = values[2..2 + held].concat();
            debug_assert_eq!(
                attentions.len(),
                held * run.heads_held() * plan.map_rows * n
            );
            let means = if head_means {
                values[2 + held..].concat()
            } else {
                Vec::new()
            };
            (
                run.result(&tokenizer, ids, attentions, means, values[0].clone()),
                checks,
            )
        } else {
            say_part!("Generated (greedy, KV cache on the device): ");
            let mut printed = String::new();
            let mut so_far = Vec::new();
            let generation = generate(
                &ctx,
                &kernels,
                &c,
                &weights,
                &data,
                args.generate,
                &tokenizer.stop,
                &shown,
                |id| {
                    // The text grows by whole characters: print what the decoded text gained.
                    so_far.push(id);
                    let text = tokenizer.decode(&so_far)?;
                    if let Some(new) = text.strip_prefix(printed.as_str()) {
                        say_part!("{new}");
                        // A closed terminal only loses the live echo; the ids are kept.
                        let _ = std::io::stdout().flush();
                        let _ = std::io::stderr().flush();
                    }
                    printed = text;
                    Ok(())
                },
            )?;
            say!("");
            add_timings(&mut timings, &generation.prompt_time);
            step_times.extend(&generation.step_times);
            let all: Vec<u32> = ids.iter().chain(&generation.generated).copied().collect();
            let checks = match &mut cpu_time {
                Some(total) => run.check_generation(&all, &generation, total)?,
                None => Vec::new(),
            };
            let means = if head_means {
                head_means_of(&generation.attentions, c.heads, all.len())
            } else {
                Vec::new()
            };
            let result = run.result(
                &tokenizer,
                &all,
                generation.attentions.clone(),
                means,
                generation.hidden.clone(),
            );
            generations.push((ids.clone(), generation.generated.clone(), printed));
            (result, checks)
        };
        checks.extend(prompt_checks);
        results.push(result);
    }
    if args.no_check {
        say!("\nGPU vs CPU: not checked (--no-check)");
    } else {
        say_named_checks(args.tolerance, "", &checks);
    }
    // Induction needs a text that repeats: a random block of tokens, twice, run and checked
    // like any prompt, before anything is written.
    let period = INDUCTION_PERIOD.min(c.context / 2);
    let induction = if args.summary && period >= 2 {
        let ids = repeated_random_block(&c, period);
        say!("\nInduction sequence: a random block of {period} tokens repeated once");
        let data = PromptData::new(&c, &weights, &ids, ids.len())?;
        let plan = LlamaPlan::new(&c, &weights, &data, &[], &shown)?;
        let want = plan.outputs(false);
        let inputs = plan.inputs();
        let (values, t) = execute(&ctx, &kernels, &plan.program, &inputs, &want)?;
        add_timings(&mut timings, &t);
        let run = Run {
            c: &c,
            weights: &weights,
            shown: &shown,
            shown_layers: &shown_layers,
            only_head,
            tolerance: args.tolerance,
            prefix: "induction sequence ",
        };
        if let Some(total) = &mut cpu_time {
            let induction_checks = run.check(&plan, &want, &values, total);
            say_named_checks(args.tolerance, "", &induction_checks);
            checks.extend(induction_checks);
        }
        Some((values[2..].concat(), ids.len(), period))
    } else {
        None
    };
    let roles = args.summary.then(|| {
        let induction = match &induction {
            Some((attentions, n, period)) => Induction::Measured {
                attentions,
                n: *n,
                period: *period,
            },
            None => Induction::NotMeaningful(
                "the model's context is too short for a repeated block of tokens",
            ),
        };
        head_roles(&info, &results, induction)
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
    if let Some(dir) = &args.save {
        save_generations(dir, &generations)?;
    }
    let mut phases = vec![("load", Some(load_time))];
    phases.extend(gpu_phases(&timings));
    if !step_times.is_empty() {
        let total: Duration = step_times.iter().sum();
        say!(
            "Generation: {} tokens, {:.1} ms per token after the prompt (its pass included above)",
            step_times.len(),
            total.as_secs_f64() * 1e3 / step_times.len() as f64
        );
    }
    phases.extend([("CPU reference", cpu_time), ("heatmap", Some(draw_time))]);
    say_times(&phases);
    Ok(verdict(checks.iter().map(|(name, c)| (name.clone(), c))))
}

/// The ids of prompt `i`, cut with a warning (refused with `--no-truncate`) to what the
/// model's context leaves after the `generate` tokens to come. A chat-templated prompt is
/// encoded without the tokenizer's own special tokens (its template writes them), as
/// transformers' `apply_chat_template(tokenize=True)` does.
fn prompt_ids(
    tokenizer: &LlamaTokenizer,
    text: &str,
    i: usize,
    (window, generate): (usize, usize),
    args: &ModelArgs,
) -> Result<Vec<u32>> {
    let no_truncate = args.no_truncate;
    let context = window.saturating_sub(generate);
    if context == 0 {
        return Err(Error::Usage(format!(
            "--generate {generate}: the model's context is {window} tokens (context_length)"
        )));
    }
    let mut ids = if args.chat {
        tokenizer.encode_without_special(text)?
    } else {
        tokenizer.encode(text)?
    };
    if ids.is_empty() {
        return Err(Error::Usage(format!(
            "prompt {i} has no tokens (its tokenizer produced none)"
        )));
    }
    if ids.len() > context {
        let room = if generate == 0 {
            format!("the model's context is {window} (context_length)")
        } else {
            format!(
                "the model's context of {window} (context_length) leaves {context} before \
                 --generate {generate}"
            )
        };
        if no_truncate {
            return Err(Error::InvalidSize(format!(
                "prompt {i} has {} tokens but {room}; drop --no-truncate to cut it",
                ids.len()
            )));
        }
        eprintln!(
            "warning: prompt {i} has {} tokens; truncated to {context}: {room}",
            ids.len()
        );
        ids.truncate(context);
    }
    Ok(ids)
}

/// Refuses, before the weights are read, a page too large for the viewer or attentions and
/// activations beyond the host's memory.
fn check_sizes(
    args: &ModelArgs,
    c: &LlamaConfig,
    prompts: &[Vec<u32>],
    picked: Option<&[Vec<usize>]>,
    shown: usize,
) -> Result<()> {
    // Every prompt's sequence grows by the tokens generated after it.
    let lengths = prompts.iter().map(|p| (p.len() + args.generate) as u64);
    // Each map's query rows: every position, or the picked ones.
    let queries: Vec<u64> = match picked {
        Some(rows) => rows.iter().map(|r| r.len() as u64).collect(),
        None => lengths.clone().collect(),
    };
    if args.html.is_some() {
        let maps = (c.layers as u64).saturating_mul(c.heads as u64 + 1);
        let total = lengths.clone().zip(&queries).fold(0u64, |t, (n, q)| {
            t.saturating_add(maps.saturating_mul(n * q))
        });
        if total > MAX_TOTAL_WEIGHTS as u64 {
            return Err(Error::InvalidSize(format!(
                "--html would hold {total} weights ({} layers × {} heads and their average, per \
                 prompt), more than the viewer's {MAX_TOTAL_WEIGHTS}; run fewer or shorter \
                 prompts, or pick query rows with --rows",
                c.layers, c.heads
            )));
        }
    }
    // The weights in f32 (on the host and, on a CPU adapter, again as device memory), the shown
    // layers' N×N weights twice over (read back, then kept), a few N × hidden activations.
    // With a CPU check, its f64 pass holds every buffer of the program at twice the bytes.
    let sat = |factors: &[usize]| {
        factors
            .iter()
            .fold(1u64, |p, &f| p.saturating_mul(f as u64))
    };
    let per_layer = sat(&[2, c.hidden, c.hidden])
        .saturating_add(sat(&[2, c.kv_heads, c.head_dim, c.hidden]))
        .saturating_add(sat(&[3, c.hidden, c.intermediate]));
    let weights = sat(&[c.layers])
        .saturating_mul(per_layer)
        .saturating_add(sat(&[c.vocab, c.hidden]))
        .saturating_mul(4);
    let longest = lengths.max().unwrap_or(0);
    let most_queries = queries.iter().copied().max().unwrap_or(0);
    let attention = sat(&[2, shown, c.heads, 4])
        .saturating_mul(most_queries)
        .saturating_mul(longest);
    let activations =
        sat(&[c.layers, 6 * c.hidden + 3 * c.intermediate, 4]).saturating_mul(longest);
    let activations = if args.no_check {
        activations
    } else {
        activations.saturating_mul(3)
    };
    selfattn::limits::check_host_bytes(
        &format!(
            "the weights, the attentions of {shown} layer(s) × {} heads for {longest} tokens and \
             their activations",
            c.heads
        ),
        weights
            .saturating_mul(2)
            .saturating_add(attention)
            .saturating_add(activations),
        "run a shorter prompt, pick one layer with --layer (without --save and --html), or pick \
         query rows with --rows",
    )
}

/// The labels joined, the middle of a long prompt elided.
fn shown_tokens(labels: &[String]) -> String {
    const SHOWN: usize = 48;
    if labels.len() <= SHOWN {
        return labels.join(" ");
    }
    format!(
        "{} … ({} more) … {}",
        labels[..SHOWN / 2].join(" "),
        labels.len() - SHOWN,
        labels[labels.len() - SHOWN / 2..].join(" ")
    )
}

/// Tokens in the block the induction sequence repeats.
const INDUCTION_PERIOD: usize = 25;

/// A random block of `period` ids (seeded, so runs agree; the first ids, where vocabularies
/// keep their special tokens, left out) followed by itself.
fn repeated_random_block(c: &LlamaConfig, period: usize) -> Vec<u32> {
    let low = (c.vocab / 2).min(100) as u32;
    let span = c.vocab as u32 - low;
    let mut rng = selfattn::numpy_rng::NumpyRng::new(0);
    let block: Vec<u32> = (0..period).map(|_| low + (rng.next_u32() % span)).collect();
    block.iter().chain(&block).copied().collect()
}

/// What checking and collecting one prompt's results needs.
struct Run<'a> {
    c: &'a LlamaConfig,
    weights: &'a LlamaWeights,
    shown: &'a ShownLayers,
    shown_layers: &'a [usize],
    /// The one head formed, for `ShownLayers::Head`.
    only_head: Option<usize>,
    tolerance: f64,
    prefix: &'a str,
}

impl Run<'_> {
    /// Heads per shown layer whose maps are held.
    fn heads_held(&self) -> usize {
        if self.only_head.is_some() {
            1
        } else {
            self.c.heads
        }
    }

    /// The prompt's (or the whole sequence's) results.
    fn result(
        &self,
        tokenizer: &LlamaTokenizer,
        ids: &[u32],
        attentions: Vec<f32>,
        means: Vec<f32>,
        hidden: Vec<f32>,
    ) -> SentenceResult {
        SentenceResult {
            tokens: tokenizer.tokens(ids),
            labels: tokenizer.labels(ids),
            layers_held: self.shown_layers.to_vec(),
            only_head: self.only_head,
            query_rows: match self.shown {
                ShownLayers::Rows(rows) => rows.clone(),
                _ => Vec::new(),
            },
            attentions,
            means,
            hidden,
        }
    }

    /// Runs `plan`'s CPU twin (adding its time to `total`) and compares.
    fn check(
        &self,
        plan: &LlamaPlan,
        want: &[BufId],
        values: &[Vec<f32>],
        total: &mut Duration,
    ) -> Vec<(String, Comparison)> {
        let start = Instant::now();
        let inputs = plan.inputs();
        let reference = super::progress::while_running("CPU reference (f64 forward pass)", || {
            cpu::execute::execute(&plan.program, &inputs, want)
        });
        *total += start.elapsed();
        let reference: Vec<&[f64]> = want.iter().map(|id| &reference[id.0][..]).collect();
        self.compare(plan, values, &reference)
    }

    /// Checks a generation against the CPU twin of one forward pass over the whole sequence
    /// (`all`: prompt and generated ids): the KV-cache steps must give the rows, hidden states
    /// and final logits the full pass gives.
    fn check_generation(
        &self,
        all: &[u32],
        g: &Generation,
        total: &mut Duration,
    ) -> Result<Vec<(String, Comparison)>> {
        let data = PromptData::new(self.c, self.weights, all, all.len())?;
        let plan = LlamaPlan::new(self.c, self.weights, &data, &[], self.shown)?;
        let want = plan.outputs(false);
        let start = Instant::now();
        let inputs = plan.inputs();
        let reference = super::progress::while_running(
            "CPU reference (f64 forward pass over the prompt and the generated tokens)",
            || cpu::execute::execute(&plan.program, &inputs, &want),
        );
        *total += start.elapsed();
        let mut reference: Vec<&[f64]> = want.iter().map(|id| &reference[id.0][..]).collect();
        let attentions: Vec<f64> = reference[2..].concat();
        reference.truncate(2);
        reference.push(&attentions);
        let values = [g.hidden.clone(), g.logits.clone(), g.attentions.clone()];
        Ok(self.compare(&plan, &values, &reference))
    }

    /// Compares the hidden state, the logits, and the shown layers' attentions and head means
    /// (each as one (layers, heads, N, N) tensor, so the worst element names its layer) with
    /// `reference`, laid out as `values`: one entry per read-back buffer, or the attentions of
    /// every layer in one.
    fn compare(
        &self,
        plan: &LlamaPlan,
        values: &[Vec<f32>],
        reference: &[&[f64]],
    ) -> Vec<(String, Comparison)> {
        let (n, layers, queries) = (plan.tokens, self.shown_layers.len(), plan.map_rows);
        // One entry holds all layers when the values were joined.
        let per = |entries: usize| if values.len() == 3 { 1 } else { entries };
        let joined = |start: usize, count: usize| -> (Vec<f32>, Vec<f64>) {
            (
                values[start..start + count].concat(),
                reference[start..start + count].concat(),
            )
        };
        // "attentions" is every layer's, "attentions[3]" one layer's.
        let one = match (self.shown_layers, self.only_head) {
            ([l], Some(h)) => format!("[{l}] head {h}"),
            ([l], None) if layers < plan.layers => format!("[{l}]"),
            _ => String::new(),
        };
        let mut parts = vec![
            (
                "last_hidden_state".to_string(),
                Stage::Output,
                vec![n, plan.hidden],
                0,
                1,
            ),
            (
                "logits[-1]".to_string(),
                Stage::Output,
                vec![plan.vocab],
                1,
                1,
            ),
            (
                format!("attentions{one}"),
                Stage::Weights,
                vec![layers, self.heads_held(), queries, n],
                2,
                per(layers),
            ),
        ];
        if values.len() > 2 + layers {
            parts.push((
                format!("head means{one}"),
                Stage::Weights,
                vec![layers, queries, n],
                2 + layers,
                layers,
            ));
        }
        parts
            .into_iter()
            .map(|(name, stage, shape, start, count)| {
                let (gpu, cpu) = joined(start, count);
                let c = compare_shaped(stage, &gpu, &shape, &cpu, self.tolerance);
                (format!("{}{name}", self.prefix), c)
            })
            .collect()
    }
}

/// Each layer's mean over heads of (layers, heads, t, t) `attentions`.
fn head_means_of(attentions: &[f32], heads: usize, t: usize) -> Vec<f32> {
    let len = t * t;
    attentions
        .chunks(heads * len)
        .flat_map(|layer| {
            (0..len)
                .map(move |i| (0..heads).map(|h| layer[h * len + i]).sum::<f32>() / heads as f32)
        })
        .collect()
}

/// Writes generation.json (prompt_ids, generated_ids, text) beside each prompt's arrays.
fn save_generations(dir: &Path, generations: &[(Vec<u32>, Vec<u32>, String)]) -> Result<()> {
    for (i, (prompt, generated, text)) in generations.iter().enumerate() {
        let d = if generations.len() == 1 {
            dir.to_path_buf()
        } else {
            dir.join(i.to_string())
        };
        let json = serde_json::json!({
            "prompt_ids": prompt,
            "generated_ids": generated,
            "text": text,
        });
        write_json(&d.join("generation.json"), &json)?;
    }
    if !generations.is_empty() {
        say!("Saved generation.json (prompt_ids, generated_ids, text) beside them");
    }
    Ok(())
}

fn add_timings(total: &mut Timings, t: &Timings) {
    total.upload += t.upload;
    total.gpu += t.gpu;
    total.read_back += t.read_back;
    total.kernels = match (total.kernels, t.kernels) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    };
}
