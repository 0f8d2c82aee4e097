//! `selfattn model --model FILE.gguf`: a LLaMA-family decoder on the GPU, one prompt at a time,
//! checked against the CPU, with the same outputs as an encoder (`model.rs`: `--save`,
//! pictures, `--html`) drawn with the causal triangle blank, and the greedy next token.

use super::say;
use super::summary::{CheckLine, gpu_phases, say_checks, say_times, verdict};
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use selfattn::Result;
use selfattn::attention::Stage;
use selfattn::compare::{Comparison, compare_shaped};
use selfattn::cpu;
use selfattn::error::Error;
use selfattn::gguf::Gguf;
use selfattn::gpu::GpuContext;
use selfattn::gpu::execute::{Kernels, Timings, execute};
use selfattn::llama::{LlamaConfig, LlamaPlan, LlamaTokenizer, LlamaWeights, ShownLayers};
use selfattn::viewer::MAX_TOTAL_WEIGHTS;

use super::Outcome;
use super::inputs::adapter;
use super::model::{
    ModelInfo, SentenceResult, check_selection, model_name, prepare, write_outputs,
};
use crate::cli::ModelArgs;

/// Whether `path` is a GGUF file: named `.gguf`, or a file starting with GGUF's magic.
pub fn is_gguf(path: &Path) -> bool {
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
    let (texts, pictures) = prepare(args)?;
    let start = Instant::now();
    let gguf = Gguf::open(&args.model)?;
    let c = LlamaConfig::from_gguf(&gguf)?;
    check_selection(args, c.layers, c.heads)?;
    let tokenizer = LlamaTokenizer::from_gguf(&gguf)?;
    let prompts = texts
        .iter()
        .enumerate()
        .map(|(i, t)| prompt_ids(&tokenizer, t, i, c.context, args.no_truncate))
        .collect::<Result<Vec<_>>>()?;
    // Only what is shown needs the N×N weights; a lone --layer forms just that layer's.
    let shown = match args.layer {
        Some(l) if args.save.is_none() && args.html.is_none() => ShownLayers::Only(vec![l]),
        _ => ShownLayers::All,
    };
    let shown_layers = match &shown {
        ShownLayers::All => (0..c.layers).collect(),
        ShownLayers::Only(l) => l.clone(),
    };
    check_sizes(args, &c, &prompts, shown_layers.len())?;
    let weights = LlamaWeights::from_gguf(&gguf, &c)?;
    drop(gguf);
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
    let head_means = !args.no_heatmap || args.html.is_some();

    let mut results = Vec::with_capacity(prompts.len());
    let mut checks = Vec::new();
    let mut timings = Timings::default();
    let mut cpu_time = (!args.no_check).then_some(Duration::ZERO);
    for (i, ids) in prompts.iter().enumerate() {
        let labels = tokenizer.labels(ids);
        say!("Prompt {i}: {} tokens: {}", ids.len(), labels.join(" "));
        let plan = LlamaPlan::new(&c, &weights, ids, &shown)?;
        let want = plan.outputs(head_means);
        let inputs = plan.inputs();
        let (values, t) = execute(&ctx, &kernels, &plan.program, &inputs, &want)?;
        add_timings(&mut timings, &t);
        let next = argmax(&values[1]);
        say!(
            "Next token (greedy): {} ({:?})",
            next,
            tokenizer.decode(&[next as u32])?
        );
        if let Some(total) = &mut cpu_time {
            let start = Instant::now();
            let reference =
                super::progress::while_running("CPU reference (f64 forward pass)", || {
                    cpu::execute::execute(&plan.program, &inputs, &want)
                });
            *total += start.elapsed();
            let prefix = if prompts.len() > 1 {
                format!("prompt {i} ")
            } else {
                String::new()
            };
            checks.extend(check(
                &plan,
                &shown_layers,
                &want,
                &values,
                &reference,
                args.tolerance,
                &prefix,
            ));
        }
        let n = ids.len();
        let layers_held = shown_layers.len();
        let attentions: Vec<f32> = values[2..2 + layers_held].concat();
        let means = if head_means {
            values[2 + layers_held..].concat()
        } else {
            Vec::new()
        };
        debug_assert_eq!(attentions.len(), layers_held * c.heads * n * n);
        results.push(SentenceResult {
            tokens: tokenizer.tokens(ids),
            labels,
            layers_held: shown_layers.clone(),
            attentions,
            means,
            hidden: values[0].clone(),
        });
    }
    if args.no_check {
        say!("\nGPU vs CPU: not checked (--no-check)");
    } else {
        let lines: Vec<CheckLine> = checks
            .iter()
            .map(|(name, comparison)| CheckLine {
                name: Some(name),
                comparison,
                note: None,
            })
            .collect();
        say_checks("", args.tolerance, "", &lines);
    }
    let draw_time = write_outputs(args, &pictures, &info, &results, &checks, &ctx.describe())?;
    let mut phases = vec![("load", Some(load_time))];
    phases.extend(gpu_phases(&timings));
    phases.extend([("CPU reference", cpu_time), ("heatmap", Some(draw_time))]);
    say_times(&phases);
    Ok(verdict(checks.iter().map(|(name, c)| (name.clone(), c))))
}

/// The ids of prompt `i`, cut to the model's context with a warning (refused with
/// `--no-truncate`).
fn prompt_ids(
    tokenizer: &LlamaTokenizer,
    text: &str,
    i: usize,
    context: usize,
    no_truncate: bool,
) -> Result<Vec<u32>> {
    let mut ids = tokenizer.encode(text)?;
    if ids.is_empty() {
        return Err(Error::Usage(format!(
            "prompt {i} has no tokens (its tokenizer produced none)"
        )));
    }
    if ids.len() > context {
        if no_truncate {
            return Err(Error::InvalidSize(format!(
                "prompt {i} has {} tokens but the model's context is {context} \
                 (context_length); drop --no-truncate to cut it",
                ids.len()
            )));
        }
        eprintln!(
            "warning: prompt {i} has {} tokens; truncated to {context} (context_length)",
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
    shown: usize,
) -> Result<()> {
    if args.html.is_some() {
        let maps = c.layers * (c.heads + 1);
        let total: usize = prompts.iter().map(|p| maps * p.len().pow(2)).sum();
        if total > MAX_TOTAL_WEIGHTS {
            return Err(Error::InvalidSize(format!(
                "--html would hold {total} weights ({} layers × {} heads and their average, per \
                 prompt), more than the viewer's {MAX_TOTAL_WEIGHTS}; run fewer or shorter prompts",
                c.layers, c.heads
            )));
        }
    }
    // The weights in f32 (on the host and, on a CPU adapter, again as device memory), the shown
    // layers' N×N weights twice over (read back, then kept), a few N × hidden activations.
    let weights = (c.layers
        * (2 * c.hidden * c.hidden
            + 2 * c.kv_heads * c.head_dim * c.hidden
            + 3 * c.hidden * c.intermediate)
        + c.vocab * c.hidden) as u64
        * 4;
    let longest = prompts.iter().map(Vec::len).max().unwrap_or(0) as u64;
    let attention = 2 * (shown * c.heads) as u64 * longest * longest * 4;
    let activations = longest * (6 * c.hidden + 3 * c.intermediate) as u64 * 4;
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
        "run a shorter prompt, or pick one layer with --layer (without --save and --html)",
    )
}

/// Compares the hidden state, the logits, and the shown layers' attentions and head means
/// (each as one (layers, heads, N, N) tensor, so the worst element names its layer) with the CPU.
fn check(
    plan: &LlamaPlan,
    shown: &[usize],
    want: &[selfattn::program::BufId],
    values: &[Vec<f32>],
    reference: &[Vec<f64>],
    tolerance: f64,
    prefix: &str,
) -> Vec<(String, Comparison)> {
    let (n, layers) = (plan.tokens, shown.len());
    let joined = |range: std::ops::Range<usize>| -> (Vec<f32>, Vec<f64>) {
        let gpu = values[range.clone()].concat();
        let cpu = want[range]
            .iter()
            .flat_map(|id| reference[id.0].iter().copied())
            .collect();
        (gpu, cpu)
    };
    // "attentions" is every layer's, "attentions[3]" one layer's.
    let one = match shown {
        [l] if layers < plan.layers => format!("[{l}]"),
        _ => String::new(),
    };
    let mut parts = vec![
        (
            "last_hidden_state".to_string(),
            Stage::Output,
            vec![n, plan.hidden],
            0..1,
        ),
        (
            "logits (last token)".to_string(),
            Stage::Output,
            vec![plan.vocab],
            1..2,
        ),
        (
            format!("attentions{one}"),
            Stage::Weights,
            vec![layers, plan.heads, n, n],
            2..2 + layers,
        ),
    ];
    if values.len() > 2 + layers {
        parts.push((
            format!("head means{one}"),
            Stage::Weights,
            vec![layers, n, n],
            2 + layers..2 + 2 * layers,
        ));
    }
    parts
        .into_iter()
        .map(|(name, stage, shape, range)| {
            let (gpu, cpu) = joined(range);
            let c = compare_shaped(stage, &gpu, &shape, &cpu, tolerance);
            (format!("{prefix}{name}"), c)
        })
        .collect()
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

/// The index of the largest value (the first of equals), as `torch.argmax`.
fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |best, i| if v[i] > v[best] { i } else { best })
}
