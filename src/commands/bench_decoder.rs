//! `selfattn bench --model FILE.gguf`: a LLaMA-family decoder timed in its two phases, one
//! warm-up then medians: prompt processing (the prompt's pass, tokens per second, its upload,
//! GPU and read-back) and greedy generation with the KV cache on the device (ms per new token,
//! the weights already resident).

use super::say;
use std::time::{Duration, Instant};

use selfattn::Result;
use selfattn::bench::median;
use selfattn::cpu;
use selfattn::error::Error;
use selfattn::fsutil::write_output;
use selfattn::gpu::GpuContext;
use selfattn::gpu::execute::{Kernels, execute};
use selfattn::llama::{LlamaPlan, LlamaSource, PromptData, ShownLayers, generate};

use super::Outcome;
use super::bench::{check_json_target, ms};
use super::bench_model::PARAGRAPH;
use super::inputs::adapter;
use crate::cli::BenchArgs;

/// Runs the decoder benchmark.
pub fn bench_decoder(args: &BenchArgs) -> Result<Outcome> {
    let path = args.model.as_ref().expect("called with --model");
    if args.runs == 0 || args.tokens < 1 {
        return Err(Error::Usage(
            "--runs and --tokens must be at least 1".into(),
        ));
    }
    check_json_target(args)?;
    let start = Instant::now();
    let source = LlamaSource::open(path)?;
    let c = source.config()?;
    let tokenizer = source.tokenizer()?;
    let weights = source.weights(&c)?;
    drop(source);
    let load = start.elapsed();
    if args.tokens.saturating_add(args.new_tokens) > c.context {
        return Err(Error::Usage(format!(
            "--tokens {} + --new-tokens {}: the model's context is {} (context_length)",
            args.tokens, args.new_tokens, c.context
        )));
    }
    let text = args.text.as_deref().unwrap_or(PARAGRAPH);
    let mut ids = tokenizer.encode(text)?;
    if ids.len() < args.tokens {
        return Err(Error::Usage(format!(
            "the text has {} tokens, fewer than --tokens {}; give a longer --text",
            ids.len(),
            args.tokens
        )));
    }
    ids.truncate(args.tokens);
    let n = ids.len();
    let ctx = GpuContext::open(&adapter(&args.gpu))?;
    say!("Adapter: {}", ctx.describe());
    if ctx.info.device_type == wgpu::DeviceType::Cpu {
        say!("(a CPU adapter: these are CPU-emulation figures, not GPU speed)");
    }
    say!(
        "Model: {} ({} layers × {} heads over {} key/value heads, hidden {}), a {n}-token prompt \
         (output-only attention, logits read back) then {} greedy tokens; medians of {} runs \
         after a warm-up (loading and dequantising took {:.0} ms)",
        path.display(),
        c.layers,
        c.heads,
        c.kv_heads,
        c.hidden,
        args.new_tokens,
        args.runs,
        ms(load)
    );
    let kernels = Kernels::new(&ctx)?;
    let shown = ShownLayers::Only(Vec::new());
    let data = PromptData::new(&c, &weights, &ids, n + args.new_tokens)?;
    let plan = LlamaPlan::new(&c, &weights, &data, &[], &shown)?;
    let want = plan.outputs(false);
    let inputs = plan.inputs();
    let mut prompt: [Vec<Duration>; 4] = Default::default();
    let mut per_token = Vec::new();
    let mut per_token_gpu = Vec::new();
    let mut last = Vec::new();
    for run in 0..=args.runs {
        let start = Instant::now();
        let (values, t) = execute(&ctx, &kernels, &plan.program, &inputs, &want)?;
        let total = start.elapsed();
        let g = generate(
            &ctx,
            &kernels,
            &c,
            &weights,
            &data,
            args.new_tokens,
            &[],
            &shown,
            |_| Ok(()),
        )?;
        if run > 0 {
            for (phase, d) in prompt.iter_mut().zip([t.upload, t.gpu, t.read_back, total]) {
                phase.push(d);
            }
            let steps: Duration = g.step_times.iter().sum();
            per_token.push(steps / g.step_times.len().max(1) as u32);
            let gpu: Duration = g.step_timings.iter().map(|t| t.gpu).sum();
            per_token_gpu.push(gpu / g.step_timings.len().max(1) as u32);
        }
        last = values;
    }
    let [upload, gpu, read_back, total] = prompt.map(|p| median(&p));
    let step = median(&per_token);
    let step_gpu = median(&per_token_gpu);
    let tokens_per_s = n as f64 / total.as_secs_f64();
    let check = (!args.no_cpu).then(|| {
        let start = Instant::now();
        let reference = super::progress::while_running("CPU reference (f64 prompt pass)", || {
            cpu::execute::execute(&plan.program, &inputs, &want)
        });
        let worst = want
            .iter()
            .zip(&last)
            .flat_map(|(id, gpu)| gpu.iter().zip(&reference[id.0]))
            .map(|(&g, &c)| (g as f64 - c).abs())
            // NaN anywhere is the answer, not a value max() would skip.
            .fold(0.0f64, |m, d| if d.is_nan() || d > m { d } else { m });
        (ms(start.elapsed()), worst)
    });
    say!(
        "\n{:>10} {:>10} {:>12} {:>12} {:>10} {:>14} {:>12} {:>14}",
        "upload ms",
        "GPU ms",
        "read-back ms",
        "prompt ms",
        "tokens/s",
        "ms per token",
        "of it GPU",
        "CPU check ms"
    );
    say!(
        "{:>10.1} {:>10.1} {:>12.3} {:>12.1} {:>10.1} {:>14.1} {:>12.1} {:>14}",
        ms(upload),
        ms(gpu),
        ms(read_back),
        ms(total),
        tokens_per_s,
        ms(step),
        ms(step_gpu),
        check.map_or("skipped".into(), |(t, _)| format!("{t:.1}"))
    );
    if let Some((_, worst)) = check {
        say!("CPU check: largest |GPU − CPU| over the hidden state and the logits {worst:.2e}");
    }
    if let Some(path_out) = &args.json {
        let record = serde_json::json!([{
            "model": path.display().to_string(),
            "prompt_tokens": n,
            "new_tokens": args.new_tokens,
            "upload_ms": ms(upload),
            "gpu_ms": ms(gpu),
            "read_back_ms": ms(read_back),
            "prompt_ms": ms(total),
            "prompt_tokens_per_s": tokens_per_s,
            "ms_per_generated_token": ms(step),
            "gpu_ms_per_generated_token": ms(step_gpu),
            "cpu_ms": check.map(|(t, _)| t),
            "max_abs_error": check.map(|(_, w)| w),
            "adapter": ctx.info.name,
        }]);
        let text = serde_json::to_string_pretty(&record).expect("record serialises");
        write_output(path_out, |w| w.write_all(text.as_bytes()))?;
        say!(
            "\nWrote the record to {}",
            selfattn::fsutil::shown(path_out)
        );
    }
    Ok(Outcome::Ok)
}
