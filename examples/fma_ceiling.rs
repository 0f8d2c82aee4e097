//! The arithmetic ceiling of the default adapter: how many GFLOP/s its shaders reach doing
//! nothing but independent vec4 multiply-adds on registers (`shaders/fma_ceiling.wgsl`), with
//! no loads or stores inside the loop. On a CPU adapter (lavapipe, llvmpipe) this bounds what
//! any attention kernel can reach there, whatever its memory access pattern. The dispatch grows
//! until one run takes at least 300 ms; best of 3 after a warm-up, fenced wall clock. A sample
//! of the sums is checked against the same chain computed on the CPU, so a loop the driver cut
//! short (llvmpipe caps loop iterations) cannot pass for speed.
//!
//! `cargo run --release --example fma_ceiling`

use std::time::{Duration, Instant};

use bytemuck::{Pod, Zeroable};
use selfattn::gpu::GpuContext;
use selfattn::gpu::buffers::{poisoned_output, read_back, staging, uniform};
use selfattn::gpu::kernel::Kernel;
use selfattn::kernels::Binding;

/// Steps per invocation: well under llvmpipe's cap of ~65,535 loop iterations.
const ITERATIONS: u32 = 8192;
/// Invocations per workgroup; keep in sync with `WG` in shaders/fma_ceiling.wgsl.
const WORKGROUP: u32 = 64;
/// FLOP per step: 16 vec4 fma.
const FLOP_PER_STEP: f64 = 16.0 * 4.0 * 2.0;

/// Keep in sync with `ProbeParams` in shaders/fma_ceiling.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ProbeParams {
    iterations: u32,
    start: f32,
    factor: f32,
    addend: f32,
}

/// CPU twin of the shader: the sum invocation `index` writes (same accumulators), with each
/// step's multiply-add `fused` (one rounding) or not (two: llvmpipe computes WGSL's `fma` as a
/// multiply and an add, which WGSL allows).
fn fma_chain(p: &ProbeParams, index: u32, fused: bool) -> f32 {
    let s = p.start + index as f32 * 1e-6;
    let mut acc: Vec<f32> = (0..64).map(|j| s + j as f32 * 1e-3).collect();
    for _ in 0..p.iterations {
        for a in acc.iter_mut() {
            *a = if fused {
                a.mul_add(p.factor, p.addend)
            } else {
                *a * p.factor + p.addend
            };
        }
    }
    acc.iter().sum()
}

fn main() -> selfattn::Result<()> {
    let ctx = GpuContext::open(&Default::default())?;
    let source = include_str!("../shaders/fma_ceiling.wgsl");
    let kernel = Kernel::new(
        &ctx.device,
        "fma_ceiling",
        source,
        "fma_ceiling",
        &[Binding::Uniform, Binding::ReadWrite],
    );
    let params = ProbeParams {
        iterations: ITERATIONS,
        start: 0.5,
        factor: 0.9999,
        addend: 1e-4,
    };
    let params_buffer = uniform(&ctx, "probe params", &params);
    println!("{}", ctx.describe());
    let mut groups = 16u32;
    loop {
        let invocations = (groups * WORKGROUP) as usize;
        let sums = poisoned_output(&ctx, "sums", invocations)?;
        let bind_group = kernel.bind(&ctx.device, &[&params_buffer, &sums]);
        let run = || -> selfattn::Result<Duration> {
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                kernel.dispatch(&mut pass, &bind_group, [groups, 1, 1]);
            }
            let start = Instant::now();
            ctx.queue.submit([encoder.finish()]);
            ctx.device
                .poll(wgpu::PollType::wait_indefinitely())
                .map_err(|e| selfattn::error::Error::Mapping(e.to_string()))?;
            Ok(start.elapsed())
        };
        run()?;
        let best = (0..3)
            .map(|_| run())
            .collect::<selfattn::Result<Vec<_>>>()?;
        let best = best.into_iter().min().unwrap();
        if best < Duration::from_millis(300) && groups < 65_535 / 2 {
            groups *= 2;
            continue;
        }
        let flop = invocations as f64 * ITERATIONS as f64 * FLOP_PER_STEP;
        println!(
            "{invocations} invocations × {ITERATIONS} steps × 16 vec4 fma: {:.1} ms, {:.2} GFLOP/s",
            best.as_secs_f64() * 1e3,
            flop / best.as_secs_f64() / 1e9
        );
        // Check a spread of invocations, first and last included.
        let out = staging(&ctx, "sums read-back", invocations);
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(&sums, 0, &out, 0, (invocations * 4) as u64);
        ctx.queue.submit([encoder.finish()]);
        let got = read_back(&ctx, &[(&out, invocations)])?.remove(0);
        // The two roundings of an unfused multiply-add drift 1.2e-4 apart over 8192 steps; a
        // loop cut even 1 % short is off by ~1.7e-3; the order of the final sum, ~1e-7.
        let mut worst = (0.0f32, 0usize);
        for index in (0..invocations)
            .step_by(invocations / 16)
            .chain([invocations - 1])
        {
            let error = [true, false]
                .map(|fused| {
                    let want = fma_chain(&params, index as u32, fused);
                    ((got[index] - want) / want).abs()
                })
                .into_iter()
                .fold(f32::INFINITY, f32::min);
            // (a NaN sum gives INFINITY here: f32::min skips NaN)
            if error > worst.0 {
                worst = (error, index);
            }
        }
        println!(
            "checked against the CPU chain (fused or not): worst relative difference {:.1e} at \
             invocation {}",
            worst.0, worst.1
        );
        assert!(
            worst.0 < 1e-5,
            "the probe's sums differ from the CPU chain: the loop was not run in full"
        );
        return Ok(());
    }
}
