//! Shared test helpers: opening the adapter under CI's rules.
#![allow(dead_code)]

pub mod cli;
pub mod gguf_writer;
pub mod tiny_bert;
pub mod tiny_llama;

use selfattn::gpu::buffers::{read_back, staging};
use selfattn::gpu::execute::Kernels;
use selfattn::gpu::kernel::Kernel;
use selfattn::gpu::{AdapterChoice, GpuContext};
use selfattn::kernels::Variants;
use selfattn::kernels::flash::FlashVariant;
use selfattn::kernels::matmul::MatmulVariant;
use selfattn::kernels::softmax::SoftmaxVariant;

/// Panics unless `err` (the error of case `what`) says each of `needles`.
pub fn assert_says(what: &str, err: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            err.contains(needle),
            "{what}: {err:?} does not say {needle:?}"
        );
    }
}

/// The SmolLM2 GGUF file `SELFATTN_SMOLLM2_GGUF` names (`.ci/fetch-model smollm2`). Without it
/// the test is skipped with a message, unless `SELFATTN_REQUIRE_MODEL=1` (as in CI), when it
/// fails.
pub fn smollm2_gguf() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("SELFATTN_SMOLLM2_GGUF");
    if path.is_none() {
        assert!(
            std::env::var("SELFATTN_REQUIRE_MODEL").as_deref() != Ok("1"),
            "SELFATTN_REQUIRE_MODEL=1 but SELFATTN_SMOLLM2_GGUF is not set"
        );
        eprintln!(
            "skipped: set SELFATTN_SMOLLM2_GGUF to the SmolLM2 GGUF (.ci/fetch-model smollm2)"
        );
    }
    path.map(Into::into)
}

/// Environment variable that makes a missing adapter a test failure (set by `.ci/run`).
pub const REQUIRE_GPU: &str = "SELFATTN_REQUIRE_GPU";

/// Opens the adapter chosen by `WGPU_BACKEND` / `WGPU_ADAPTER_NAME`. Without an adapter the test
/// is skipped with a message, unless `SELFATTN_REQUIRE_GPU=1`, when it fails.
pub fn gpu() -> Option<GpuContext> {
    match GpuContext::open(&AdapterChoice::default()) {
        Ok(ctx) => Some(ctx),
        Err(e) => {
            if std::env::var(REQUIRE_GPU).is_ok_and(|v| v == "1") {
                panic!("{REQUIRE_GPU}=1 but no adapter: {e}");
            }
            eprintln!("skipping GPU test: {e}");
            None
        }
    }
}

/// The largest |a − b|; a NaN anywhere makes it NaN (so a `<` bound fails), unequal lengths panic.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).fold(0.0f32, |m, (x, y)| {
        let d = (x - y).abs();
        if m.is_nan() || d.is_nan() {
            f32::NAN
        } else {
            m.max(d)
        }
    })
}

/// The kernels the adapter chooses, plus one set per output-only variant the adapter can run,
/// one per other fast matmul variant and one per other softmax variant, so every kernel meets
/// the property tests whatever the adapter would pick.
pub struct TestKernels {
    /// The adapter's own variants with the matmul the test asks for.
    pub chosen: Kernels,
    /// One set per runnable [`FlashVariant`], with the blocked matmul.
    pub flash: Vec<Kernels>,
    /// One set per fast matmul variant (blocked, tiled, blocked-shuffle) other than `chosen`'s.
    pub matmul: Vec<Kernels>,
    /// One set per softmax variant the device can run other than `chosen`'s.
    pub softmax: Vec<Kernels>,
}

impl TestKernels {
    /// Compiles them; panics when a kernel does not compile.
    pub fn new(ctx: &GpuContext, matmul: MatmulVariant) -> Self {
        let caps = ctx.caps();
        let compile = |variants: Variants| Kernels::compile(ctx, variants).expect("compiles");
        let device = Variants {
            matmul,
            ..ctx.variants()
        };
        let flash = FlashVariant::ALL
            .into_iter()
            .filter(|v| v.fits(&caps))
            .map(|flash| {
                compile(Variants {
                    matmul: MatmulVariant::Blocked,
                    flash,
                    ..device
                })
            })
            .collect();
        let others = [
            MatmulVariant::Blocked,
            MatmulVariant::Tiled,
            MatmulVariant::Shuffle,
        ]
        .into_iter()
        .filter(|&v| v != matmul && v.fits(&caps))
        .map(|matmul| compile(Variants { matmul, ..device }))
        .collect();
        let softmax = SoftmaxVariant::ALL
            .into_iter()
            .filter(|&v| v != device.softmax && v.fits(&caps))
            .map(|softmax| compile(Variants { softmax, ..device }))
            .collect();
        TestKernels {
            chosen: compile(device),
            flash,
            matmul: others,
            softmax,
        }
    }

    /// The kernel sets besides `chosen` that run the weights path (matmul and softmax).
    pub fn others(&self) -> impl Iterator<Item = &Kernels> {
        self.matmul.iter().chain(&self.softmax)
    }
}

/// Names a kernel set's weights-path kernels, for failure messages.
pub fn describe(kernels: &Kernels) -> String {
    format!(
        "{} matmul, {} softmax",
        kernels.matmul_variant().name(),
        kernels.softmax_variant().name()
    )
}

impl std::ops::Deref for TestKernels {
    type Target = Kernels;
    fn deref(&self) -> &Kernels {
        &self.chosen
    }
}

/// Copies `buffer` (`len` f32) out through a staging buffer after the work in `encoder`.
pub fn finish_and_read(
    ctx: &GpuContext,
    mut encoder: wgpu::CommandEncoder,
    buffer: &wgpu::Buffer,
    len: usize,
) -> Vec<f32> {
    let dst = staging(ctx, "test read-back", len);
    encoder.copy_buffer_to_buffer(buffer, 0, &dst, 0, (len * 4) as u64);
    ctx.queue.submit([encoder.finish()]);
    read_back(ctx, &[(&dst, len)]).expect("read back").remove(0)
}

/// One dispatch of `kernel` with `bindings` (params, inputs, output) and `groups`; returns the
/// output buffer's `out_len` values.
pub fn dispatch(
    ctx: &GpuContext,
    kernel: &Kernel,
    bindings: &[&wgpu::Buffer],
    groups: [u32; 3],
    out_len: usize,
) -> Vec<f32> {
    let bind = kernel.bind(&ctx.device, bindings);
    let mut encoder = ctx
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("test"),
        });
    {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("test"),
            timestamp_writes: None,
        });
        kernel.dispatch(&mut pass, &bind, groups);
    }
    let out = bindings.last().expect("an output binding");
    finish_and_read(ctx, encoder, out, out_len)
}
