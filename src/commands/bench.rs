//! `selfattn bench`: how fast the attention kernels run, size by size.
//!
//! The problem is scaled_dot_product_attention on random (batch, heads, N, d) queries, keys and
//! values. The GPU time is a fenced wall clock around the submission of the attention kernels
//! alone (inputs already uploaded, nothing read back inside it); end-to-end adds creating and
//! uploading the buffers and reading the results back. One warm-up run, then the median of
//! `--runs`.

use super::{say, say_part};
use std::io::Write;
use std::time::{Duration, Instant};

use selfattn::Result;
use selfattn::bench::{Record, attention_flops, median};
use selfattn::cpu;
use selfattn::error::Error;
use selfattn::fsutil::{check_file_target, write_output};
use selfattn::gpu::GpuContext;
use selfattn::gpu::execute::{Kernels, execute};
use selfattn::kernels::Variants;
use selfattn::kernels::flash::FlashVariant;
use selfattn::kernels::matmul::MatmulVariant;
use selfattn::kernels::softmax::SoftmaxVariant;
use selfattn::npy::Array;
use selfattn::numpy_rng::NumpyRng;
use selfattn::program::BufId;
use selfattn::sdpa::{SdpaPlan, SdpaProblem};

use super::Outcome;
use super::inputs::adapter;
use crate::cli::{BenchArgs, BenchKernel};

/// How GPU time is measured, as reported.
const FENCED: &str = "fenced wall clock";
const TIMESTAMPS: &str = "timestamp queries";

/// One path to time.
#[derive(Clone)]
struct Path {
    kernel: String,
    /// The kernels it runs.
    variants: Variants,
    weights: bool,
    /// Output only, through the flash step.
    flash: bool,
    /// The fused weights path: the flash step leaving its row statistics, then the weights.
    fused: bool,
}

/// The paths `choice` measures on `ctx` ("auto" takes the adapter's own kernels, "all" every
/// one the adapter can run), each with the device's own [`Variants`] but for what it measures.
fn paths(choice: BenchKernel, ctx: &GpuContext) -> Vec<Path> {
    let device = ctx.variants();
    let caps = ctx.caps();
    let path = |kernel: String, variants: Variants, weights: bool| Path {
        kernel,
        variants,
        weights,
        flash: false,
        fused: false,
    };
    let matmul = |matmul: MatmulVariant| {
        [true, false]
            .map(|weights| path(matmul.name().into(), Variants { matmul, ..device }, weights))
    };
    // The device's matmul with a given softmax kernel.
    let softmax = |softmax: SoftmaxVariant| {
        [true, false].map(|weights| {
            path(
                format!("{}+{}", device.matmul.name(), softmax.name()),
                Variants { softmax, ..device },
                weights,
            )
        })
    };
    let flash = |flash: FlashVariant| Path {
        flash: true,
        ..path(flash.name().into(), Variants { flash, ..device }, false)
    };
    let fused = Path {
        fused: true,
        ..path("fused".into(), device, true)
    };
    match choice {
        BenchKernel::Naive => matmul(MatmulVariant::Naive).to_vec(),
        BenchKernel::Blocked => matmul(MatmulVariant::Blocked).to_vec(),
        BenchKernel::Tiled => matmul(MatmulVariant::Tiled).to_vec(),
        BenchKernel::BlockedShuffle => matmul(MatmulVariant::Shuffle).to_vec(),
        BenchKernel::SoftmaxPerRow => softmax(SoftmaxVariant::PerRow).to_vec(),
        BenchKernel::SoftmaxSubgroup => softmax(SoftmaxVariant::Subgroup).to_vec(),
        BenchKernel::Flash => vec![flash(FlashVariant::PerRow)],
        BenchKernel::FlashTiled => vec![flash(FlashVariant::Tiled)],
        BenchKernel::FlashShuffle => vec![flash(FlashVariant::Shuffle)],
        BenchKernel::Fused => vec![fused],
        BenchKernel::Auto => {
            let mut v = matmul(device.matmul).to_vec();
            v.push(flash(device.flash));
            v
        }
        BenchKernel::All => {
            let mut v = Vec::new();
            for variant in MatmulVariant::ALL {
                // Naive and blocked always, as the baselines.
                if variant.fits(&caps) {
                    v.extend(matmul(variant));
                }
            }
            for other in SoftmaxVariant::ALL {
                if other != device.softmax && other.fits(&caps) {
                    v.extend(softmax(other));
                }
            }
            for variant in FlashVariant::ALL {
                if variant.fits(&caps) {
                    v.push(flash(variant));
                }
            }
            v.push(fused);
            v
        }
    }
}

fn random(shape: &[usize], rng: &mut NumpyRng) -> Array {
    let len = shape.iter().product();
    Array {
        shape: shape.to_vec(),
        data: rng.randn(len).into_iter().map(|v| v as f32).collect(),
    }
}

/// Fails early when `--json` can't be written (see [`check_file_target`]); `-` sends the
/// records to standard output and the table to standard error.
pub fn check_json_target(args: &BenchArgs) -> Result<()> {
    super::claim_stdout(&[("--json", args.json.as_deref())])?;
    match &args.json {
        Some(path) => check_file_target(path),
        None => Ok(()),
    }
}

/// Milliseconds as f64.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs the benchmark.
pub fn bench(args: &BenchArgs) -> Result<Outcome> {
    if args.runs == 0 || args.d == 0 || args.heads == 0 || args.batch == 0 {
        return Err(Error::Usage(
            "--runs, --d, --heads and --batch must be at least 1".into(),
        ));
    }
    if let Some(model) = &args.model
        && super::model_llama::is_decoder(model)
    {
        return super::bench_decoder::bench_decoder(args);
    }
    if args.model.is_some() {
        return super::bench_model::bench_model(args);
    }
    if let Some(n) = args.sizes.iter().find(|&&n| n == 0) {
        return Err(Error::Usage(format!("--sizes must be at least 1, got {n}")));
    }
    check_json_target(args)?;
    // The largest size's weights are read back (and, with the CPU reference, computed in f64).
    if let Some(&n) = args.sizes.iter().max() {
        let matrices = (args.batch * args.heads) as u64;
        let weights = matrices.saturating_mul((n as u64).saturating_pow(2));
        let per_weight = if args.no_cpu { 8 } else { 16 };
        selfattn::limits::check_host_bytes(
            &format!("the {n}×{n} attention weights of {matrices} matrices (--sizes {n})"),
            weights.saturating_mul(per_weight),
            "give smaller --sizes",
        )?;
    }
    let ctx = GpuContext::open(&adapter(&args.gpu))?;
    let adapter_name = ctx.info.name.clone();
    let backend = format!("{:?}", ctx.info.backend);
    say!("Adapter: {}", ctx.describe());
    let timer = if ctx
        .device
        .features()
        .contains(wgpu::Features::TIMESTAMP_QUERY)
    {
        TIMESTAMPS
    } else {
        FENCED
    };
    say!(
        "d = {}, heads = {}, batch = {}{}; GPU time: {timer} around the attention kernels; medians of {} runs after a warm-up",
        args.d,
        args.heads,
        args.batch,
        if args.causal { ", causal" } else { "" },
        args.runs
    );
    if ctx.info.device_type == wgpu::DeviceType::Cpu {
        say!("(a CPU adapter: these are CPU-emulation figures, not GPU speed)");
    }
    let paths = paths(args.kernel, &ctx);
    // Every path's kernels compiled before the table starts, so a variant the device cannot run
    // is refused up front.
    let mut compiled: Vec<(Variants, Kernels)> = Vec::new();
    for path in &paths {
        if !compiled.iter().any(|(v, _)| *v == path.variants) {
            compiled.push((path.variants, Kernels::compile(&ctx, path.variants)?));
        }
    }
    say!(
        "\n{:>6}  {:<24} {:>8}  {:>10}  {:>12}  {:>9}  {:>11}",
        "N",
        "kernel",
        "weights",
        "GPU ms",
        "end-to-end",
        "GFLOP/s",
        "CPU ref ms"
    );
    let mut records = Vec::new();
    let progress = super::progress::bar(args.sizes.len() * paths.len(), "measuring");
    for &n in &args.sizes {
        let mut rng = NumpyRng::new(n as u32);
        let shape = [args.batch, args.heads, n, args.d];
        let problem = SdpaProblem {
            q: random(&shape, &mut rng),
            k: random(&shape, &mut rng),
            v: random(&shape, &mut rng),
            attn_mask: None,
            causal: args.causal,
            scale: None,
        };
        let plan = SdpaPlan::new(&problem, problem.dims()?)?;
        let inputs = plan.inputs();
        let flops = attention_flops(n, args.d, args.heads, args.batch, args.causal);
        let mut n_records = Vec::new();
        for path in &paths {
            let kernels = &compiled
                .iter()
                .find(|(v, _)| *v == path.variants)
                .unwrap()
                .1;
            let want: Vec<BufId> = match (path.flash, path.weights) {
                _ if path.fused => vec![plan.fused_weights, plan.fused_output],
                (true, _) => vec![plan.output_no_weights],
                (false, true) => vec![plan.weights, plan.output],
                (false, false) => vec![plan.output],
            };
            let measured = (|| -> Result<(Duration, Duration)> {
                execute(&ctx, kernels, &plan.program, &inputs, &want)?;
                let mut gpu = Vec::new();
                let mut total = Vec::new();
                for _ in 0..args.runs {
                    let start = Instant::now();
                    let (_, t) = execute(&ctx, kernels, &plan.program, &inputs, &want)?;
                    total.push(start.elapsed());
                    gpu.push(match timer {
                        TIMESTAMPS => t.kernels.unwrap_or(t.gpu),
                        _ => t.gpu,
                    });
                }
                Ok((median(&gpu), median(&total)))
            })();
            progress.inc(1);
            match measured {
                Ok((gpu, total)) => {
                    let r = Record {
                        n,
                        d: args.d,
                        heads: args.heads,
                        batch: args.batch,
                        causal: args.causal,
                        kernel: path.kernel.clone(),
                        weights: path.weights,
                        gpu_ms: ms(gpu),
                        end_to_end_ms: ms(total),
                        gflops: flops / gpu.as_secs_f64() / 1e9,
                        cpu_ms: None,
                        timer: timer.into(),
                        adapter: adapter_name.clone(),
                        backend: backend.clone(),
                    };
                    progress.suspend(|| {
                        say_part!(
                            "{:>6}  {:<24} {:>8}  {:>10.3}  {:>12.3}  {:>9.2}",
                            n,
                            r.kernel,
                            if r.weights { "read" } else { "-" },
                            r.gpu_ms,
                            r.end_to_end_ms,
                            r.gflops
                        );
                        say!();
                        let _ = std::io::stdout().flush();
                    });
                    n_records.push(r);
                }
                Err(e) => progress.suspend(|| say!("{n:>6}  {:<24} skipped: {e}", path.kernel)),
            }
        }
        if !args.no_cpu && !n_records.is_empty() {
            // The flash path alone needs no N×N reference (and, for large N, could not hold one).
            let (what, want) = if paths.iter().all(|p| p.flash) {
                ("output only, online softmax", vec![plan.output_no_weights])
            } else {
                ("weights and output", vec![plan.weights, plan.output])
            };
            let start = Instant::now();
            progress.suspend(|| {
                super::progress::while_running("CPU reference (f64)", || {
                    cpu::execute::execute(&plan.program, &inputs, &want)
                })
            });
            let cpu_ms = ms(start.elapsed());
            progress.suspend(|| say!("{n:>6}  CPU reference (f64, {what}): {cpu_ms:.1} ms"));
            for r in &mut n_records {
                r.cpu_ms = Some(cpu_ms);
            }
        }
        records.extend(n_records);
    }
    progress.finish_and_clear();
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&records).expect("records serialise");
        write_output(path, |w| w.write_all(text.as_bytes()))?;
        say!(
            "\nWrote {} records to {}",
            records.len(),
            selfattn::fsutil::shown(path)
        );
    }
    Ok(Outcome::Ok)
}
