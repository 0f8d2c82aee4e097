//! The GPU executor: runs a [`Plan`] with the WGSL kernels.
//!
//! Every stage is recorded into one command buffer; intermediates stay on the GPU and only the
//! stages the caller asks for are copied to staging buffers and read back. Output buffers are
//! poisoned first, so a kernel that skips an element shows up as NaN in the comparison.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::attention::{Attention, Plan, Stage};
use crate::error::{Error, Result};
use crate::tensor::Matrix;

use super::GpuContext;
use super::buffers::{poisoned_output, read_back, staging, uniform, upload};
use super::kernel::check_groups;
use super::matmul::{MatmulKernel, MatmulParams};
use super::softmax::{SoftmaxKernel, SoftmaxParams};

/// Every compiled kernel, built once per device.
pub struct Kernels {
    matmul: MatmulKernel,
    softmax: SoftmaxKernel,
}

impl Kernels {
    /// Compiles all kernels, turning shader or pipeline errors into [`Error::Validation`].
    pub fn new(ctx: &GpuContext) -> Result<Self> {
        let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let kernels = Kernels {
            matmul: MatmulKernel::new(&ctx.device),
            softmax: SoftmaxKernel::new(&ctx.device),
        };
        if let Some(err) = pollster::block_on(scope.pop()) {
            return Err(Error::Validation {
                stage: "kernel compilation".into(),
                message: err.to_string(),
            });
        }
        Ok(kernels)
    }
}

/// Wall-clock time of each phase of a GPU run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timings {
    /// Creating and filling the input and output buffers.
    pub upload: Duration,
    /// From submit until the GPU is idle.
    pub gpu: Duration,
    /// Mapping the staging buffers and copying them out.
    pub read_back: Duration,
}

/// The stages read back from one GPU run.
pub struct GpuRun {
    /// One matrix per requested stage.
    pub results: BTreeMap<Stage, Matrix>,
    /// Phase times.
    pub timings: Timings,
}

/// Records dispatches into one compute pass, keeping each stage's output buffer.
struct Recorder<'a> {
    ctx: &'a GpuContext,
    kernels: &'a Kernels,
    encoder: wgpu::CommandEncoder,
    dummy_bias: wgpu::Buffer,
    outputs: BTreeMap<Stage, (wgpu::Buffer, usize)>,
}

impl Recorder<'_> {
    fn matmul(
        &mut self,
        stage: Stage,
        p: &MatmulParams,
        a: &wgpu::Buffer,
        b: &wgpu::Buffer,
    ) -> Result<wgpu::Buffer> {
        let groups = p.workgroups();
        check_groups(&self.ctx.limits, stage.name(), groups)?;
        let len = p.output_len();
        let out = poisoned_output(self.ctx, stage.name(), len)?;
        let params = uniform(self.ctx, "matmul params", p);
        let kernel = &self.kernels.matmul.0;
        let bind = kernel.bind(&self.ctx.device, &[&params, a, b, &self.dummy_bias, &out]);
        let mut pass = self
            .encoder
            .begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(stage.name()),
                timestamp_writes: None,
            });
        kernel.dispatch(&mut pass, &bind, groups);
        drop(pass);
        self.outputs.insert(stage, (out.clone(), len));
        Ok(out)
    }

    fn softmax(&mut self, p: &SoftmaxParams, scores: &wgpu::Buffer) -> Result<wgpu::Buffer> {
        let groups = p.workgroups(self.ctx.limits.max_compute_workgroups_per_dimension);
        check_groups(&self.ctx.limits, "softmax", groups)?;
        let len = (p.total_rows() * p.cols) as usize;
        let out = poisoned_output(self.ctx, "weights", len)?;
        let params = uniform(self.ctx, "softmax params", p);
        let kernel = &self.kernels.softmax.0;
        let bind = kernel.bind(&self.ctx.device, &[&params, scores, &out]);
        let mut pass = self
            .encoder
            .begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("softmax"),
                timestamp_writes: None,
            });
        kernel.dispatch(&mut pass, &bind, groups);
        drop(pass);
        self.outputs.insert(Stage::Weights, (out.clone(), len));
        Ok(out)
    }
}

/// Runs `plan` for `problem` on the GPU and reads back the stages in `want`.
pub fn attention(
    ctx: &GpuContext,
    kernels: &Kernels,
    plan: &Plan,
    problem: &Attention,
    want: &[Stage],
) -> Result<GpuRun> {
    let oom = ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let validation = ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
    let result = record_and_run(ctx, kernels, plan, problem, want);
    let validation_error = pollster::block_on(validation.pop());
    let oom_error = pollster::block_on(oom.pop());
    if let Some(err) = validation_error.or(oom_error) {
        return Err(Error::Validation {
            stage: "attention".into(),
            message: err.to_string(),
        });
    }
    result
}

fn record_and_run(
    ctx: &GpuContext,
    kernels: &Kernels,
    plan: &Plan,
    problem: &Attention,
    want: &[Stage],
) -> Result<GpuRun> {
    let mut timings = Timings::default();
    let start = Instant::now();
    let x = upload(ctx, "X", &problem.x.data)?;
    let wq = upload(ctx, "W_Q", &problem.wq.data)?;
    let wk = upload(ctx, "W_K", &problem.wk.data)?;
    let wv = upload(ctx, "W_V", &problem.wv.data)?;
    let wo = match &problem.wo {
        Some(wo) => Some(upload(ctx, "W_O", &wo.data)?),
        None => None,
    };
    let mut rec = Recorder {
        ctx,
        kernels,
        encoder: ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("attention"),
            }),
        dummy_bias: upload(ctx, "no bias", &[])?,
        outputs: BTreeMap::new(),
    };
    let q = rec.matmul(Stage::Q, &plan.q, &x, &wq)?;
    let k = rec.matmul(Stage::K, &plan.k, &x, &wk)?;
    let v = rec.matmul(Stage::V, &plan.v, &x, &wv)?;
    if want.contains(&Stage::RawScores) {
        rec.matmul(Stage::RawScores, &plan.raw_scores, &q, &k)?;
    }
    let scores = rec.matmul(Stage::Scores, &plan.scores, &q, &k)?;
    let weights = rec.softmax(&plan.softmax, &scores)?;
    let context = rec.matmul(Stage::Context, &plan.context, &weights, &v)?;
    match (&plan.output, &wo) {
        (Some(p), Some(wo)) => {
            rec.matmul(Stage::Output, p, &context, wo)?;
        }
        _ => {
            let entry = rec.outputs[&Stage::Context].clone();
            rec.outputs.insert(Stage::Output, entry);
        }
    }

    let mut copies = Vec::new();
    for &stage in want {
        let (buffer, len) = &rec.outputs[&stage];
        let dst = staging(ctx, stage.name(), *len);
        rec.encoder
            .copy_buffer_to_buffer(buffer, 0, &dst, 0, (*len * 4) as u64);
        copies.push((stage, dst, *len));
    }
    timings.upload = start.elapsed();

    let start = Instant::now();
    ctx.queue.submit([rec.encoder.finish()]);
    ctx.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Error::Mapping(e.to_string()))?;
    timings.gpu = start.elapsed();

    let start = Instant::now();
    let refs: Vec<(&wgpu::Buffer, usize)> = copies.iter().map(|(_, b, len)| (b, *len)).collect();
    let values = read_back(ctx, &refs)?;
    timings.read_back = start.elapsed();

    let mut results = BTreeMap::new();
    for ((stage, _, _), data) in copies.iter().zip(values) {
        let (rows, cols) = plan.shape(*stage);
        results.insert(*stage, Matrix::new(rows, cols, data)?);
    }
    Ok(GpuRun { results, timings })
}
