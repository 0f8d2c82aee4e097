//! The GPU executor: runs a [`Program`] with the WGSL kernels.
//!
//! All steps are recorded into one command buffer; intermediates stay on the GPU and only the
//! buffers the caller asks for are copied to staging buffers and read back. Steps that nothing
//! asked for depends on are skipped. Output buffers are poisoned first, filled with NaN on the
//! device (`shaders/fill.wgsl`, no host copy of the poison), so a kernel that skips an element
//! shows up as NaN in the comparison. wgpu's validation and out-of-memory errors are
//! captured with error scopes and returned, never panicked on.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::program::{BufId, Program, Slot};

use super::GpuContext;
use super::buffers::{POISON, output, read_back, staging, uniform_bytes, upload};
use super::kernel::{Kernel, check_groups};
use super::resident::{Resident, keys};
use crate::kernels::fill::FillParams;
use crate::kernels::flash::FlashVariant;
use crate::kernels::matmul::MatmulVariant;
use crate::kernels::softmax::SoftmaxVariant;
use crate::kernels::step::ParamsBytes;
use crate::kernels::{Binding, GpuStep, REGISTRY, Variants};

/// Every kernel of the [`REGISTRY`], compiled once per device in the chosen [`Variants`].
pub struct Kernels {
    variants: Variants,
    compiled: Vec<(&'static str, Kernel)>,
}

impl Kernels {
    /// Compiles all kernels in the device's own [`Variants`] ([`GpuContext::variants`]),
    /// turning shader or pipeline errors into [`Error::Validation`].
    pub fn new(ctx: &GpuContext) -> Result<Self> {
        Self::compile(ctx, ctx.variants())
    }

    /// Compiles all kernels in `variants`. Errors when the device cannot run one.
    pub fn compile(ctx: &GpuContext, variants: Variants) -> Result<Self> {
        if let Some(missing) = variants.missing(&ctx.caps()) {
            return Err(Error::Validation {
                stage: "kernel compilation".into(),
                message: format!("{} cannot run these kernels: {missing}", ctx.info.name),
            });
        }
        let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let kernels = Kernels {
            variants,
            compiled: REGISTRY
                .iter()
                .map(|spec| {
                    let spec = spec(&variants);
                    (spec.name, Kernel::compile(&ctx.device, &spec))
                })
                .collect(),
        };
        if let Some(err) = pollster::block_on(scope.pop()) {
            return Err(Error::Validation {
                stage: "kernel compilation".into(),
                message: err.to_string(),
            });
        }
        Ok(kernels)
    }

    /// The variants these kernels run.
    pub fn variants(&self) -> &Variants {
        &self.variants
    }

    /// The matmul kernel these kernels run.
    pub fn matmul_variant(&self) -> MatmulVariant {
        self.variants.matmul
    }

    /// The output-only kernel these kernels run.
    pub fn flash_variant(&self) -> FlashVariant {
        self.variants.flash
    }

    /// The softmax kernel these kernels run.
    pub fn softmax_variant(&self) -> SoftmaxVariant {
        self.variants.softmax
    }

    /// The compiled kernel named `name` (a [`KernelSpec::name`](crate::kernels::KernelSpec)).
    ///
    /// # Panics
    /// If no kernel of the [`REGISTRY`] has that name: a step of an unregistered kernel.
    pub fn get(&self, name: &str) -> &Kernel {
        self.compiled
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, k)| k)
            .unwrap_or_else(|| panic!("kernel {name} is not in kernels::REGISTRY"))
    }
}

/// Wall-clock time of each phase of a GPU run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timings {
    /// Creating and filling the input and output buffers, recording the commands.
    pub upload: Duration,
    /// From submit until the GPU is idle (a fenced wall clock).
    pub gpu: Duration,
    /// The attention kernels on the GPU's own clock (timestamp queries at the start and end of
    /// the compute pass), when the device has `TIMESTAMP_QUERY`.
    pub kernels: Option<Duration>,
    /// Mapping the staging buffers and copying them out.
    pub read_back: Duration,
}

/// Runs `program` with `inputs` (one slice per input buffer, in declaration order) and returns
/// the buffers in `want`, in that order.
pub fn execute(
    ctx: &GpuContext,
    kernels: &Kernels,
    program: &Program,
    inputs: &[&[f32]],
    want: &[BufId],
) -> Result<(Vec<Vec<f32>>, Timings)> {
    run_scoped(
        ctx,
        kernels,
        program,
        (inputs, &[]),
        want,
        &mut Resident::default(),
    )
}

/// As [`execute`], for one of several programs that share work: the borrowed inputs (the same
/// data in every execution, borrowed for `'a`), and every step computed from them alone, are
/// bound from `resident` when an earlier execution left them there, and left there for the
/// next one (see [`Resident`]); the owned inputs are this program's own.
pub fn execute_resident<'a>(
    ctx: &GpuContext,
    kernels: &Kernels,
    program: &Program,
    inputs: &[Cow<'a, [f32]>],
    want: &[BufId],
    resident: &mut Resident<'a>,
) -> Result<(Vec<Vec<f32>>, Timings)> {
    let shared: Vec<bool> = inputs
        .iter()
        .map(|data| matches!(data, Cow::Borrowed(_)))
        .collect();
    let inputs: Vec<&[f32]> = inputs.iter().map(|data| &data[..]).collect();
    run_scoped(ctx, kernels, program, (&inputs, &shared), want, resident)
}

/// Runs the program inside wgpu error scopes, turning what they catch into errors.
fn run_scoped(
    ctx: &GpuContext,
    kernels: &Kernels,
    program: &Program,
    inputs: (&[&[f32]], &[bool]),
    want: &[BufId],
    resident: &mut Resident<'_>,
) -> Result<(Vec<Vec<f32>>, Timings)> {
    let oom = ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let validation = ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
    let result = record_and_run(ctx, kernels, program, inputs, want, resident);
    let validation_error = pollster::block_on(validation.pop());
    let oom_error = pollster::block_on(oom.pop());
    if let Some(err) = validation_error.or(oom_error) {
        // What this execution kept may not hold what its steps should have written.
        resident.clear();
        return Err(Error::Validation {
            stage: "attention".into(),
            message: err.to_string(),
        });
    }
    result
}

/// Refuses a step whose invocations would loop more often than the adapter lets them (see
/// [`GpuContext::loop_budget`]): on llvmpipe its result would be silently cut short.
fn check_loops(ctx: &GpuContext, kernels: &Kernels, name: &str, step: &dyn GpuStep) -> Result<()> {
    let Some(budget) = ctx.loop_budget() else {
        return Ok(());
    };
    let iterations = step.loop_iterations(&kernels.variants);
    if iterations > budget {
        return Err(Error::InvalidSize(format!(
            "{name} needs about {iterations} loop iterations in one GPU invocation; {} \
             (Mesa's llvmpipe) silently stops an invocation after about 65,535, so this size \
             cannot run correctly there ({})",
            ctx.info.name,
            step.loop_advice()
        )));
    }
    Ok(())
}

/// Refuses a step whose slots do not match its compiled kernel's bindings (a builder that
/// disagrees with its `KernelSpec`): wgpu would otherwise fail the bind group.
fn check_slots(kernel: &Kernel, name: &str, slots: &[Slot]) -> Result<()> {
    let wanted = slots.iter().map(|s| {
        if s.write {
            Binding::ReadWrite
        } else {
            Binding::ReadOnly
        }
    });
    if !kernel.bindings.iter().skip(1).copied().eq(wanted) {
        return Err(Error::Validation {
            stage: "attention".into(),
            message: format!(
                "{name}: the step binds {} buffers but kernel {} declares {:?}",
                slots.len(),
                kernel.label,
                kernel.bindings
            ),
        });
    }
    Ok(())
}

/// Reads the two u64 timestamps back.
fn read_ticks(ctx: &GpuContext, buffer: &wgpu::Buffer) -> Result<[u64; 2]> {
    let (tx, rx) = std::sync::mpsc::channel();
    buffer.map_async(wgpu::MapMode::Read, .., move |r| {
        let _ = tx.send(r);
    });
    ctx.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Error::Mapping(e.to_string()))?;
    rx.recv()
        .map_err(|_| Error::Mapping("timestamp map callback never ran".into()))?
        .map_err(|e| Error::Mapping(e.to_string()))?;
    let ticks = {
        let view = buffer
            .get_mapped_range(..)
            .map_err(|e| Error::Mapping(e.to_string()))?;
        let t: &[u64] = bytemuck::cast_slice(&view);
        [t[0], t[1]]
    };
    buffer.unmap();
    Ok(ticks)
}

fn record_and_run(
    ctx: &GpuContext,
    kernels: &Kernels,
    program: &Program,
    (inputs, shared): (&[&[f32]], &[bool]),
    want: &[BufId],
    resident: &mut Resident<'_>,
) -> Result<(Vec<Vec<f32>>, Timings)> {
    let mut timings = Timings::default();
    let start = Instant::now();
    // What an earlier execution left on the device, and which steps that spares.
    let keys = keys(program, inputs, shared, resident);
    let kept: Vec<Option<&wgpu::Buffer>> = keys
        .iter()
        .map(|key| key.and_then(|key| resident.get(key)))
        .collect();
    let available: Vec<bool> = kept.iter().map(Option::is_some).collect();
    let needed = program.needed_steps_given(want, &available);
    let reused_steps = program
        .needed_steps(want)
        .iter()
        .zip(&needed)
        .filter(|(without, with)| **without && !**with)
        .count();

    // Which buffers the needed steps write, and which they (or the read-back) read.
    let mut produced = vec![false; program.buffers.len()];
    let mut read = vec![false; program.buffers.len()];
    for id in want {
        read[id.0] = true;
    }
    for (step, needed) in program.steps.iter().zip(&needed) {
        if *needed {
            for id in step.outs() {
                produced[id.0] = true;
            }
            for id in step.reads() {
                read[id.0] = true;
            }
        }
    }
    // Check every input and size before allocating anything.
    let mut next_input = inputs.iter();
    for spec in &program.buffers {
        if spec.input {
            let data = next_input
                .next()
                .ok_or_else(|| Error::ShapeMismatch(format!("no data for input {}", spec.name)))?;
            if data.len() != spec.len {
                return Err(Error::ShapeMismatch(format!(
                    "input {} has {} values, expected {}",
                    spec.name,
                    data.len(),
                    spec.len
                )));
            }
        }
    }
    for (i, spec) in program.buffers.iter().enumerate() {
        if spec.input || produced[i] {
            ctx.check_storage_size(&spec.name, spec.len as u64 * 4)?;
        }
    }
    let mut groups = Vec::with_capacity(program.steps.len());
    for (step, needed) in program.steps.iter().zip(&needed) {
        let max = ctx.limits.max_compute_workgroups_per_dimension;
        let name = &program.spec(step.out()).name;
        let kernel = step.kernel();
        let g = kernel.workgroups(&kernels.variants, max);
        if *needed {
            // Steps that run one z-slice per matrix are split into several dispatches beyond
            // the device's limit; only their x and y must fit.
            let z = if kernel.at_batch_offset(0).is_some() {
                g[2].min(max)
            } else {
                g[2]
            };
            check_groups(&ctx.limits, name, [g[0], g[1], z])?;
            check_loops(ctx, kernels, name, kernel)?;
            check_slots(kernels.get(kernel.kernel()), name, step.slots())?;
        }
        groups.push(g);
    }

    // The poison for every output of a needed step, filled on the device before the steps.
    let max = ctx.limits.max_compute_workgroups_per_dimension;
    let poison: Vec<(BufId, FillParams, [u32; 3])> = program
        .buffers
        .iter()
        .enumerate()
        .filter(|(i, spec)| produced[*i] && spec.len > 0)
        .map(|(i, spec)| {
            let fill = FillParams::new(spec.len as u32, POISON);
            (BufId(i), fill, fill.workgroups(&kernels.variants, max))
        })
        .collect();
    for (id, _, g) in &poison {
        check_groups(&ctx.limits, &program.spec(*id).name, *g)?;
    }

    // Allocate: kept buffers bound again, inputs uploaded, outputs of needed steps left for
    // the poison.
    let mut next_input = inputs.iter();
    let mut buffers: Vec<Option<wgpu::Buffer>> = Vec::with_capacity(program.buffers.len());
    let mut reused_inputs = 0;
    for (i, spec) in program.buffers.iter().enumerate() {
        let data = spec.input.then(|| next_input.next().expect("checked"));
        // A kept result nothing reads this time is let go (inputs are always kept).
        let kept = kept[i].filter(|_| spec.input || read[i]);
        buffers.push(if let Some(buffer) = kept {
            reused_inputs += usize::from(spec.input);
            Some(buffer.clone())
        } else if let Some(data) = data {
            Some(upload(ctx, &spec.name, data)?)
        } else if produced[i] {
            Some(output(ctx, &spec.name, spec.len)?)
        } else {
            None
        });
    }
    let get = |id: BufId| buffers[id.0].as_ref().expect("needed buffer allocated");
    let used: Vec<_> = keys
        .iter()
        .zip(&buffers)
        .filter_map(|(key, buffer)| Some(((*key)?, buffer.clone()?)))
        .collect();
    // Bound in place of an absent bias or mask (the params say it is not read).
    let absent = upload(ctx, "absent input", &[])?;

    let max_z = ctx.limits.max_compute_workgroups_per_dimension;
    let mut encoder = ctx
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("selfattn"),
        });
    let timestamps = ctx
        .device
        .features()
        .contains(wgpu::Features::TIMESTAMP_QUERY)
        .then(|| {
            let set = ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("attention timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count: 2,
            });
            let resolve = ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("timestamps"),
                size: 16,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            let read = ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("timestamps read-back"),
                size: 16,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            (set, resolve, read)
        });
    {
        // A pass of its own, before the timed one: the kernel time is the steps' alone.
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("poison"),
            timestamp_writes: None,
        });
        let fill = kernels.get("fill");
        for (id, params, groups) in &poison {
            let params = uniform_bytes(ctx, fill.label, &params.bytes());
            let bind = fill.bind(&ctx.device, &[&params, get(*id)]);
            fill.dispatch(&mut pass, &bind, *groups);
        }
    }
    {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("attention"),
            timestamp_writes: timestamps.as_ref().map(|(set, _, _)| {
                wgpu::ComputePassTimestampWrites {
                    query_set: set,
                    beginning_of_pass_write_index: Some(0),
                    end_of_pass_write_index: Some(1),
                }
            }),
        });
        for ((step, needed), g) in program.steps.iter().zip(&needed).zip(&groups) {
            if !needed {
                continue;
            }
            let kernel = step.kernel();
            let pipeline = kernels.get(kernel.kernel());
            // An absent optional input binds a placeholder (the params say it is not read).
            let slots: Vec<&wgpu::Buffer> = step
                .slots()
                .iter()
                .map(|slot| slot.id.map(get).unwrap_or(&absent))
                .collect();
            for dispatch in kernel.dispatches(&kernels.variants, ctx.loop_budget(), *g, max_z) {
                let params = uniform_bytes(ctx, pipeline.label, &dispatch.params);
                let mut buffers = Vec::with_capacity(slots.len() + 1);
                buffers.push(&params);
                buffers.extend(slots.iter().copied());
                let bind = pipeline.bind(&ctx.device, &buffers);
                pipeline.dispatch(&mut pass, &bind, dispatch.groups);
            }
        }
    }
    let mut copies = Vec::with_capacity(want.len());
    for &id in want {
        let spec = program.spec(id);
        let dst = staging(ctx, &spec.name, spec.len);
        encoder.copy_buffer_to_buffer(get(id), 0, &dst, 0, (spec.len * 4) as u64);
        copies.push((dst, spec.len));
    }
    if let Some((set, resolve, read)) = &timestamps {
        encoder.resolve_query_set(set, 0..2, resolve, 0);
        encoder.copy_buffer_to_buffer(resolve, 0, read, 0, 16);
    }
    timings.upload = start.elapsed();

    let start = Instant::now();
    ctx.queue.submit([encoder.finish()]);
    ctx.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Error::Mapping(e.to_string()))?;
    timings.gpu = start.elapsed();

    let start = Instant::now();
    let refs: Vec<(&wgpu::Buffer, usize)> = copies.iter().map(|(b, len)| (b, *len)).collect();
    let values = read_back(ctx, &refs)?;
    timings.read_back = start.elapsed();
    if let Some((_, _, read)) = &timestamps {
        let ticks = read_ticks(ctx, read)?;
        let ns = ticks[1].saturating_sub(ticks[0]) as f64 * ctx.queue.get_timestamp_period() as f64;
        // A zero or absurd span means the backend did not really time the pass.
        if ns > 0.0 && ns < 1e12 {
            timings.kernels = Some(Duration::from_nanos(ns as u64));
        }
    }
    resident.keep(used, reused_steps, reused_inputs);
    Ok((values, timings))
}
