//! `selfattn bench --model DIR`: a BERT-family encoder's forward pass timed phase by phase
//! (tokenize, upload, GPU, read-back of the hidden state and every layer's attentions, and the
//! f64 CPU reference), one warm-up then medians, like the kernel benchmark.

use super::say;
use std::time::{Duration, Instant};

use selfattn::Result;
use selfattn::bench::median;
use selfattn::bert::{BertConfig, BertModel, BertPlan};
use selfattn::cpu;
use selfattn::error::Error;
use selfattn::fsutil::write_output;
use selfattn::gpu::GpuContext;
use selfattn::gpu::execute::{Kernels, execute};

use super::Outcome;
use super::bench::{check_json_target, ms};
use super::inputs::adapter;
use crate::cli::BenchArgs;

/// Plain English long enough for 128 tokens and more (the default input).
pub const PARAGRAPH: &str = "Attention lets every word in a sentence look at every other word and \
decide how much each one matters for its own meaning. A pronoun looks back at the noun it stands \
for, a verb looks at its subject and its object, and punctuation often collects the attention \
that no other word needs. Researchers draw these weights as heatmaps, one per head and layer, \
to see which patterns a trained model has learned: some heads attend to the previous word, some \
to the next one, some to the separator token at the end, and a few follow the grammar of the \
sentence in surprisingly clean ways. Looking at real models, rather than random weights, is the \
best way to build an intuition for what the computation does, and checking every number against \
a slow but simple reference is the best way to trust it. The same kernels run on laptops, phones \
and data-centre cards.";

/// FLOPs of one forward pass over `n` tokens (multiply-adds counted as 2): per layer the four
/// projections, the feed-forward, and attention's 4·N²·hidden.
pub fn forward_flops(c: &BertConfig, n: usize) -> f64 {
    let (n, h, i) = (n as f64, c.hidden as f64, c.intermediate as f64);
    c.layers as f64 * (2.0 * n * (4.0 * h * h + 2.0 * h * i) + 4.0 * n * n * h)
}

/// Runs the model benchmark.
pub fn bench_model(args: &BenchArgs) -> Result<Outcome> {
    let dir = args.model.as_ref().expect("called with --model");
    if args.runs == 0 || args.tokens < 2 {
        return Err(Error::Usage(
            "--runs must be at least 1 and --tokens at least 2".into(),
        ));
    }
    check_json_target(args)?;
    let start = Instant::now();
    let model = BertModel::load(dir)?;
    let load = start.elapsed();
    let c = model.config.clone();
    if args.tokens > c.max_positions {
        return Err(Error::Usage(format!(
            "--tokens {}: the model takes at most {} (max_position_embeddings)",
            args.tokens, c.max_positions
        )));
    }
    let text = args.text.as_deref().unwrap_or(PARAGRAPH);
    let mut tokenize_times = Vec::new();
    let mut tokenized = None;
    for _ in 0..=args.runs {
        let start = Instant::now();
        tokenized = Some(model.tokenizer.encode(text, args.tokens, true)?);
        tokenize_times.push(start.elapsed());
    }
    let tokenized = tokenized.expect("at least one run");
    let n = tokenized.sequence.ids.len();
    if n != args.tokens {
        return Err(Error::Usage(format!(
            "the text has {n} tokens, fewer than --tokens {}; give a longer --text",
            args.tokens
        )));
    }
    let plan = BertPlan::new(&c, model.weights, &[tokenized.sequence])?;
    let ctx = GpuContext::open(&adapter(&args.gpu))?;
    say!("Adapter: {}", ctx.describe());
    if ctx.info.device_type == wgpu::DeviceType::Cpu {
        say!("(a CPU adapter: these are CPU-emulation figures, not GPU speed)");
    }
    say!(
        "Model: {} ({} layers × {} heads, hidden {}), {n} tokens, weights and every layer's \
         attentions read back; medians of {} runs after a warm-up (loading took {:.0} ms)",
        dir.display(),
        c.layers,
        c.heads,
        c.hidden,
        args.runs,
        ms(load)
    );
    let kernels = Kernels::new(&ctx)?;
    let want = plan.outputs(false);
    let inputs = plan.inputs();
    let timer = if ctx
        .device
        .features()
        .contains(wgpu::Features::TIMESTAMP_QUERY)
    {
        "timestamp queries"
    } else {
        "fenced wall clock"
    };
    let mut phases: [Vec<Duration>; 4] = Default::default();
    let mut last = Vec::new();
    for run in 0..=args.runs {
        let start = Instant::now();
        let (values, t) = execute(&ctx, &kernels, &plan.program, &inputs, &want)?;
        if run > 0 {
            phases[0].push(t.upload);
            phases[1].push(t.kernels.unwrap_or(t.gpu));
            phases[2].push(t.read_back);
            phases[3].push(start.elapsed());
        }
        last = values;
    }
    let [upload, gpu, read_back, total] = phases.map(|p| median(&p));
    let tokenize = median(&tokenize_times[1..]);
    // The CPU check: the f64 forward pass, and the largest |GPU − CPU| over every output.
    let check = (!args.no_cpu).then(|| {
        let start = Instant::now();
        let reference = super::progress::while_running("CPU reference (f64 forward pass)", || {
            cpu::execute::execute(&plan.program, &inputs, &want)
        });
        let worst = want
            .iter()
            .zip(&last)
            .flat_map(|(id, gpu)| gpu.iter().zip(&reference[id.0]))
            .map(|(&g, &c)| (g as f64 - c).abs())
            .fold(0.0f64, |m, d| {
                if m.is_nan() || d.is_nan() {
                    f64::NAN
                } else {
                    m.max(d)
                }
            });
        (ms(start.elapsed()), worst)
    });
    let cpu_ms = check.map(|(t, _)| t);
    let gflops = forward_flops(&c, n) / gpu.as_secs_f64() / 1e9;
    say!("GPU time: {timer}");
    say!(
        "\n{:>12} {:>10} {:>10} {:>12} {:>12} {:>10} {:>14}",
        "tokenize ms",
        "upload ms",
        "GPU ms",
        "read-back ms",
        "end-to-end",
        "GFLOP/s",
        "CPU check ms"
    );
    say!(
        "{:>12.3} {:>10.3} {:>10.3} {:>12.3} {:>12.3} {:>10.2} {:>14}",
        ms(tokenize),
        ms(upload),
        ms(gpu),
        ms(read_back),
        ms(total),
        gflops,
        cpu_ms.map_or("skipped".into(), |v| format!("{v:.1}"))
    );
    if let Some((_, worst)) = check {
        say!(
            "CPU check: largest |GPU − CPU| over the hidden state and every attention {worst:.2e}"
        );
    }
    if let Some(path) = &args.json {
        let record = serde_json::json!([{
            "model": dir.display().to_string(),
            "tokens": n,
            "layers": c.layers,
            "heads": c.heads,
            "hidden": c.hidden,
            "tokenize_ms": ms(tokenize),
            "upload_ms": ms(upload),
            "gpu_ms": ms(gpu),
            "read_back_ms": ms(read_back),
            "end_to_end_ms": ms(total),
            "gflops": gflops,
            "cpu_ms": cpu_ms,
            "max_abs_error": check.map(|(_, w)| w),
            "timer": timer,
            "adapter": ctx.info.name,
        }]);
        let text = serde_json::to_string_pretty(&record).expect("record serialises");
        write_output(path, |w| w.write_all(text.as_bytes()))?;
        say!("\nWrote the record to {}", selfattn::fsutil::shown(path));
    }
    Ok(Outcome::Ok)
}
