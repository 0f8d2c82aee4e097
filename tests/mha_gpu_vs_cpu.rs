//! Multi-head attention (`MhaPlan`) and scaled_dot_product_attention (`SdpaPlan`) on the GPU
//! against the f64 CPU executor, on whatever adapter `WGPU_BACKEND` picks (lavapipe Vulkan and
//! llvmpipe GL on GPU-less machines).
//!
//! Each random program is checked three ways:
//! 1. GPU against the CPU executor running the very same program (`compare_shaped` at the default
//!    tolerance, weights' rows summing to 1);
//! 2. the CPU executor against a naive f64 implementation written here straight from PyTorch's
//!    documentation (own projections, head split, mask indexing and broadcasting), so a wrong
//!    stride or mask offset in the *plan* — which both executors would share — is caught too;
//! 3. invariants read off the masks alone: a query row whose every key is masked is exactly zero
//!    in the weights on both sides (and its output is exactly out_proj's bias, or zero for SDPA),
//!    and the GPU's head mean is the mean of the GPU's per-head weights.
//!
//! Each test opens one device and compiles the kernels once. proptest writes no regression files:
//! a failure prints the whole case (sizes, flags and seed), which reproduces it.

mod common;

use common::TestKernels;

use std::cell::Cell;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use selfattn::attention::Stage;
use selfattn::compare::{Comparison, DEFAULT_TOLERANCE, compare_shaped};
use selfattn::cpu;
use selfattn::gpu::GpuContext;
use selfattn::gpu::execute::execute;
use selfattn::kernels::softmax::{MASKED, MASKED_BELOW};
use selfattn::mha::{MhaDims, MhaPlan, MhaProblem, MhaWeights};
use selfattn::npy::{Array, Mask};
use selfattn::numpy_rng::NumpyRng;
use selfattn::program::BufId;
use selfattn::sdpa::{SdpaDims, SdpaPlan, SdpaProblem};

/// Largest allowed |row sum − 1| of the GPU weights (0 for fully masked rows).
const ROW_SUM_TOLERANCE: f64 = 1e-5;
/// Largest allowed |GPU head mean − mean of the GPU per-head weights|.
const HEAD_MEAN_TOLERANCE: f64 = 1e-6;
/// Largest allowed |CPU executor − naive reference| (both f64), relative to max(1, max |value|).
const NAIVE_TOLERANCE: f64 = 1e-8;

fn open() -> Option<(GpuContext, TestKernels)> {
    let ctx = common::gpu()?;
    eprintln!("adapter: {}", ctx.describe());
    let kernels = TestKernels::new(&ctx, selfattn::kernels::matmul::MatmulVariant::Blocked);
    Some((ctx, kernels))
}

fn proptest_config(cases: u32) -> Config {
    Config {
        cases,
        // No regression files: the printed case (with its seed) reproduces a failure.
        failure_persistence: None,
        max_shrink_iters: 128,
        max_shrink_time: 60_000,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Random data
// ---------------------------------------------------------------------------------------------

/// `count` normals with standard deviation `std`, rounded to f32.
fn normals(rng: &mut NumpyRng, count: usize, std: f64) -> Vec<f32> {
    rng.randn(count)
        .into_iter()
        .map(|v| (v * std) as f32)
        .collect()
}

/// Bool or float mask (bool masks hold only 0 and MASKED, as `read_mask` leaves them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MaskKind {
    Bool,
    Float,
}

/// `count` mask values: bool → 0 or MASKED (a quarter masked); float → N(0, 1.5²) with a tenth
/// MASKED (−inf as `read_mask` stores it) and a tenth exactly MASKED_BELOW (a finite value that
/// still excludes the key: a kernel that only adds it would give a fully masked row weights).
fn mask_values(rng: &mut NumpyRng, count: usize, kind: MaskKind) -> Vec<f32> {
    (0..count)
        .map(|_| match kind {
            MaskKind::Bool => {
                if rng.random_sample() < 0.25 {
                    MASKED
                } else {
                    0.0
                }
            }
            MaskKind::Float => {
                let r = rng.random_sample();
                if r < 0.1 {
                    MASKED
                } else if r < 0.2 {
                    MASKED_BELOW
                } else {
                    (rng.gauss() * 1.5) as f32
                }
            }
        })
        .collect()
}

fn mask(shape: Vec<usize>, data: Vec<f32>, kind: MaskKind) -> Mask {
    Mask {
        array: Array { shape, data },
        was_bool: kind == MaskKind::Bool,
    }
}

/// Query lengths that trip the kernels: 1, primes, one off the 32-wide matmul blocks, 40.
const LENGTHS: [usize; 16] = [1, 2, 3, 5, 7, 11, 13, 17, 23, 29, 31, 32, 33, 37, 39, 40];

fn length(max: usize) -> BoxedStrategy<usize> {
    let awkward: Vec<usize> = LENGTHS.iter().copied().filter(|&l| l <= max).collect();
    prop_oneof![
        2 => prop::sample::select(awkward),
        1 => 1..=max,
    ]
    .boxed()
}

fn mask_kind() -> impl Strategy<Value = MaskKind> {
    prop::sample::select(vec![MaskKind::Bool, MaskKind::Float])
}

/// Largest |x| over `values`, at least 1: the scale of the relative tolerances.
fn magnitude(values: &[f64]) -> f64 {
    values.iter().fold(1.0f64, |m, v| m.max(v.abs()))
}

/// Err naming the worst element unless |a − b| ≤ tol · max(1, max |b|) everywhere.
fn close_f64(what: &str, a: &[f64], b: &[f64], tol: f64) -> Result<(), String> {
    if a.len() != b.len() {
        return Err(format!("{what}: lengths {} and {}", a.len(), b.len()));
    }
    let allowed = tol * magnitude(b);
    let worst = (0..a.len()).max_by(|&i, &j| {
        let (di, dj) = ((a[i] - b[i]).abs(), (a[j] - b[j]).abs());
        di.partial_cmp(&dj).unwrap_or(std::cmp::Ordering::Greater)
    });
    match worst {
        Some(i) if (a[i] - b[i]).abs() > allowed || !a[i].is_finite() => Err(format!(
            "{what}: flat element {i}: CPU executor {} vs naive reference {} (allowed {allowed:.1e})",
            a[i], b[i]
        )),
        _ => Ok(()),
    }
}

/// Err with every comparison unless all passed and, where `rows_sum_to_one`, the weights' rows
/// sum to 1 (0 when masked). The head mean's rows need not: a head whose row is fully masked
/// adds zeros to the mean.
fn all_passed(comparisons: &[Comparison], rows_sum_to_one: &[bool]) -> Result<(), String> {
    let ok = comparisons.iter().zip(rows_sum_to_one).all(|(c, &rows)| {
        c.passed
            && (!rows
                || c.max_row_sum_error
                    .is_none_or(|e| e.is_finite() && e < ROW_SUM_TOLERANCE))
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "GPU and CPU disagree:\n{}",
            comparisons
                .iter()
                .map(|c| format!("    {c}"))
                .collect::<Vec<_>>()
                .join("\n")
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// MultiheadAttention: cases
// ---------------------------------------------------------------------------------------------

/// One random `nn.MultiheadAttention` forward call: sizes, flags and the seed of its data.
#[derive(Clone, Debug)]
struct MhaCase {
    heads: usize,
    head_dim: usize,
    /// Batch size; None = unbatched (L, E) input.
    batch: Option<usize>,
    l: usize,
    /// Key length for cross-attention (key given separately); None = self-attention.
    s: Option<usize>,
    /// (kdim, vdim) of the module, for cross-attention; None = E.
    widths: Option<(usize, usize)>,
    /// Cross-attention only: value given (else it defaults to the key, and vdim = kdim).
    separate_value: bool,
    in_bias: bool,
    out_bias: bool,
    key_padding: Option<MaskKind>,
    /// Kind and whether 3-D (N·heads, L, S) rather than (L, S).
    attn_mask: Option<(MaskKind, bool)>,
    causal: bool,
    /// Mask whole rows on purpose: every key of the last batch element (key_padding_mask), query
    /// row L/2 (attn_mask), and with causal key 0 of query 0.
    full_rows: bool,
    seed: u32,
}

impl MhaCase {
    /// Self-attention without masks, with both biases: the explicit tests start from this.
    fn plain(heads: usize, head_dim: usize, batch: Option<usize>, l: usize, seed: u32) -> Self {
        MhaCase {
            heads,
            head_dim,
            batch,
            l,
            s: None,
            widths: None,
            separate_value: false,
            in_bias: true,
            out_bias: true,
            key_padding: None,
            attn_mask: None,
            causal: false,
            full_rows: false,
            seed,
        }
    }

    /// The problem: inputs N(0, 1), weights N(0, 1/fan_in), biases N(0, 0.5²), so scores are O(1).
    fn problem(&self) -> MhaProblem {
        let mut rng = NumpyRng::new(self.seed);
        let (heads, e) = (self.heads, self.heads * self.head_dim);
        let (n, batched) = (self.batch.unwrap_or(1), self.batch.is_some());
        let l = self.l;
        let s = self.s.unwrap_or(l);
        let (kdim, vdim) = match (self.s, self.widths) {
            (Some(_), Some((k, v))) => (k, if self.separate_value { v } else { k }),
            _ => (e, e),
        };
        let shape = |len: usize, width: usize| {
            if batched {
                vec![n, len, width]
            } else {
                vec![len, width]
            }
        };
        let query = Array {
            shape: shape(l, e),
            data: normals(&mut rng, n * l * e, 1.0),
        };
        let (key, value) = match self.s {
            None => (None, None),
            Some(_) => {
                let key = Array {
                    shape: shape(s, kdim),
                    data: normals(&mut rng, n * s * kdim, 1.0),
                };
                let value = self.separate_value.then(|| Array {
                    shape: shape(s, vdim),
                    data: normals(&mut rng, n * s * vdim, 1.0),
                });
                (Some(key), value)
            }
        };
        let std = |fan_in: usize| 1.0 / (fan_in as f64).sqrt();
        let weights = MhaWeights {
            embed_dim: e,
            kdim,
            vdim,
            wq: normals(&mut rng, e * e, std(e)),
            wk: normals(&mut rng, e * kdim, std(kdim)),
            wv: normals(&mut rng, e * vdim, std(vdim)),
            in_bias: self.in_bias.then(|| {
                [
                    normals(&mut rng, e, 0.5),
                    normals(&mut rng, e, 0.5),
                    normals(&mut rng, e, 0.5),
                ]
            }),
            wo: normals(&mut rng, e * e, std(e)),
            out_bias: self.out_bias.then(|| normals(&mut rng, e, 0.5)),
        };
        let key_padding_mask = self.key_padding.map(|kind| {
            let mut data = mask_values(&mut rng, n * s, kind);
            if self.full_rows {
                data[(n - 1) * s..].fill(MASKED);
                if self.causal {
                    data[0] = MASKED;
                }
            }
            let shape = if batched { vec![n, s] } else { vec![s] };
            mask(shape, data, kind)
        });
        let attn_mask = self.attn_mask.map(|(kind, three_d)| {
            let slices = if three_d { n * heads } else { 1 };
            let mut data = mask_values(&mut rng, slices * l * s, kind);
            if self.full_rows {
                let row = ((slices - 1) * l + l / 2) * s;
                data[row..row + s].fill(MASKED);
                if self.causal {
                    data[0] = MASKED;
                }
            }
            let shape = if three_d {
                vec![slices, l, s]
            } else {
                vec![l, s]
            };
            mask(shape, data, kind)
        });
        MhaProblem {
            weights,
            heads,
            query,
            key,
            value,
            key_padding_mask,
            attn_mask,
            causal: self.causal,
        }
    }
}

fn mha_cases() -> impl Strategy<Value = MhaCase> {
    let sizes = (
        prop::sample::select(vec![1usize, 2, 3, 4, 8]),
        prop::sample::select(vec![1usize, 2, 3, 5, 8, 13]),
        prop_oneof![1 => Just(None), 3 => (1..=4usize).prop_map(Some)],
        length(40),
        prop::option::of(length(40)),
        prop::option::of((1..=20usize, 1..=20usize)),
    );
    let options = (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::option::weighted(0.6, mask_kind()),
        prop::option::weighted(0.6, (mask_kind(), any::<bool>())),
        any::<bool>(),
        any::<bool>(),
        any::<u32>(),
    );
    (sizes, options).prop_map(
        |(
            (heads, head_dim, batch, l, s, widths),
            (separate_value, in_bias, out_bias, key_padding, attn_mask, causal, full_rows, seed),
        )| MhaCase {
            heads,
            head_dim,
            batch,
            l,
            s,
            widths,
            separate_value,
            in_bias,
            out_bias,
            key_padding,
            attn_mask,
            causal,
            full_rows,
            seed,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// MultiheadAttention: running and checking
// ---------------------------------------------------------------------------------------------

/// One MHA problem run on both executors.
struct MhaRun {
    problem: MhaProblem,
    dims: MhaDims,
    /// The output's, the head-mean weights' and the per-head weights' shapes.
    shapes: [Vec<usize>; 3],
    /// GPU output, head-mean weights, per-head weights.
    gpu: [Vec<f32>; 3],
    /// The CPU executor's values of the same three buffers.
    cpu: [Vec<f64>; 3],
}

const OUTPUT: usize = 0;
const MEAN: usize = 1;
const PER_HEAD: usize = 2;

/// Reads `want` out of the CPU executor's buffers.
fn cpu_values<const K: usize>(
    program: &selfattn::program::Program,
    inputs: &[&[f32]],
    want: [BufId; K],
) -> [Vec<f64>; K] {
    let mut all = cpu::execute::execute(program, inputs, &want);
    want.map(|id| std::mem::take(&mut all[id.0]))
}

/// Runs the program's output (`output`, through the weights) with every other matmul and softmax
/// kernel and its output-only result (`output_only`) with each flash kernel, and compares them
/// with the CPU reference's output.
fn check_other_kernels(
    ctx: &GpuContext,
    kernels: &TestKernels,
    program: &selfattn::program::Program,
    inputs: &[&[f32]],
    [output, output_only]: [BufId; 2],
    shape: &[usize],
    reference: &[f64],
) -> Result<(), String> {
    for other in kernels.others() {
        let variant = common::describe(other);
        let (gpu, _) = execute(ctx, other, program, inputs, &[output])
            .map_err(|e| format!("GPU run ({variant}) failed: {e}"))?;
        let c = compare_shaped(Stage::Output, &gpu[0], shape, reference, DEFAULT_TOLERANCE);
        if !c.passed {
            return Err(format!("{variant}: {c}"));
        }
    }
    let id = output_only;
    for flash in &kernels.flash {
        let variant = flash.flash_variant().name();
        let (gpu, _) = execute(ctx, flash, program, inputs, &[id])
            .map_err(|e| format!("output-only GPU run ({variant}) failed: {e}"))?;
        let c = compare_shaped(Stage::Output, &gpu[0], shape, reference, DEFAULT_TOLERANCE);
        if !c.passed {
            return Err(format!("output-only path ({variant}): {c}"));
        }
    }
    Ok(())
}

fn run_mha(ctx: &GpuContext, kernels: &TestKernels, problem: MhaProblem) -> Result<MhaRun, String> {
    let dims = problem
        .dims()
        .map_err(|e| format!("bad test problem: {e}"))?;
    let plan = MhaPlan::new(&problem, dims);
    let want = [plan.output, plan.weights_mean, plan.weights_per_head];
    let (gpu, _) = execute(ctx, kernels, &plan.program, &plan.inputs(), &want)
        .map_err(|e| format!("GPU run failed on {dims:?}: {e}"))?;
    let gpu: [Vec<f32>; 3] = gpu.try_into().map_err(|_| "wrong number of buffers")?;
    let cpu = cpu_values(&plan.program, &plan.inputs(), want);
    check_other_kernels(
        ctx,
        kernels,
        &plan.program,
        &plan.inputs(),
        [plan.output, plan.output_no_weights],
        &plan.output_shape(),
        &cpu[0],
    )?;
    // Blocks of about a third of the query rows (what `selfattn mha` runs when the weights
    // exceed a storage binding) must give exactly the whole program's rows.
    let widths = [dims.e, dims.s, dims.s];
    for rows in thirds(dims.l) {
        let block = MhaPlan::for_rows(&problem, dims, rows.clone());
        let want = [block.output, block.weights_mean, block.weights_per_head];
        let part = cpu_values(&block.program, &block.inputs(), want);
        for ((name, width), (part, whole)) in ["output", "weights mean", "weights per head"]
            .iter()
            .zip(widths)
            .zip(part.iter().zip(&cpu))
        {
            if !rows_equal(part, whole, dims.l, width, &rows) {
                return Err(format!(
                    "row block {rows:?}: its {name} differ from the whole run's"
                ));
            }
        }
    }
    let shapes = [
        plan.output_shape(),
        plan.weights_shape(false),
        plan.weights_shape(true),
    ];
    drop(plan);
    Ok(MhaRun {
        problem,
        dims,
        shapes,
        gpu,
        cpu,
    })
}

/// Whether key `j` is excluded for query `i` of head `h` in batch element `b`, read off the
/// problem's masks directly (MASKED = excluded).
fn mha_excluded(p: &MhaProblem, b: usize, h: usize, i: usize, j: usize) -> bool {
    let l = p.query.shape[p.query.shape.len() - 2];
    let s = p.key.as_ref().unwrap_or(&p.query).shape[p.query.shape.len() - 2];
    if p.causal && j > i {
        return true;
    }
    if let Some(m) = &p.attn_mask {
        let at = if m.array.shape.len() == 3 {
            ((b * p.heads + h) * l + i) * s + j
        } else {
            i * s + j
        };
        if m.array.data[at] <= MASKED_BELOW {
            return true;
        }
    }
    if let Some(m) = &p.key_padding_mask
        && m.array.data[b * s + j] <= MASKED_BELOW
    {
        return true;
    }
    false
}

/// `torch.nn.MultiheadAttention` in f64 as its documentation describes it, sharing nothing with
/// `MhaPlan`: returns the (N, L, E) output and the (N, heads, L, S) weights, flat.
fn naive_mha(p: &MhaProblem) -> (Vec<f64>, Vec<f64>) {
    let w = &p.weights;
    let (e, heads) = (w.embed_dim, p.heads);
    let hd = e / heads;
    let rank = p.query.shape.len();
    let key = p.key.as_ref().unwrap_or(&p.query);
    let value = p.value.as_ref().unwrap_or(key);
    let n = if rank == 3 { p.query.shape[0] } else { 1 };
    let (l, s) = (p.query.shape[rank - 2], key.shape[rank - 2]);
    let wide = |v: &[f32]| -> Vec<f64> { v.iter().map(|&x| x as f64).collect() };
    // x (rows × width) · Wᵀ (W stored out × in) + b
    let project = |x: &[f64], width: usize, wt: &[f32], bias: Option<&[f32]>| -> Vec<f64> {
        let rows = x.len() / width;
        let mut out = vec![0.0; rows * e];
        for r in 0..rows {
            for o in 0..e {
                let dot: f64 = (0..width)
                    .map(|i| x[r * width + i] * wt[o * width + i] as f64)
                    .sum();
                out[r * e + o] = dot + bias.map_or(0.0, |b| b[o] as f64);
            }
        }
        out
    };
    let in_bias = |i: usize| w.in_bias.as_ref().map(|b| &b[i][..]);
    let q = project(&wide(&p.query.data), e, &w.wq, in_bias(0));
    let k = project(&wide(&key.data), w.kdim, &w.wk, in_bias(1));
    let v = project(&wide(&value.data), w.vdim, &w.wv, in_bias(2));
    // PyTorch scales by 1/√head_dim; the f32 rounding of that factor is the plan's too.
    let scale = (1.0 / (hd as f32).sqrt()) as f64;
    let mut weights = vec![0.0; n * heads * l * s];
    let mut context = vec![0.0; n * l * e];
    for b in 0..n {
        for h in 0..heads {
            for i in 0..l {
                let scores: Vec<Option<f64>> = (0..s)
                    .map(|j| {
                        if mha_excluded(p, b, h, i, j) {
                            return None;
                        }
                        let dot: f64 = (0..hd)
                            .map(|d| {
                                q[(b * l + i) * e + h * hd + d] * k[(b * s + j) * e + h * hd + d]
                            })
                            .sum();
                        let mut score = dot * scale;
                        if let Some(m) = &p.attn_mask {
                            let at = if m.array.shape.len() == 3 {
                                ((b * heads + h) * l + i) * s + j
                            } else {
                                i * s + j
                            };
                            score += m.array.data[at] as f64;
                        }
                        if let Some(m) = &p.key_padding_mask {
                            score += m.array.data[b * s + j] as f64;
                        }
                        Some(score)
                    })
                    .collect();
                let max = scores
                    .iter()
                    .flatten()
                    .fold(f64::NEG_INFINITY, |a, &b| a.max(b));
                if max == f64::NEG_INFINITY {
                    continue; // every key masked: zero weights, zero context
                }
                let sum: f64 = scores.iter().flatten().map(|x| (x - max).exp()).sum();
                for (j, score) in scores.iter().enumerate() {
                    let Some(score) = score else { continue };
                    let weight = (score - max).exp() / sum;
                    weights[((b * heads + h) * l + i) * s + j] = weight;
                    for d in 0..hd {
                        context[(b * l + i) * e + h * hd + d] +=
                            weight * v[(b * s + j) * e + h * hd + d];
                    }
                }
            }
        }
    }
    let output = project(&context, e, &w.wo, w.out_bias.as_deref());
    (output, weights)
}

/// Every check of one MHA run; returns how many (batch, head, query) rows were fully masked.
fn verify_mha(run: &MhaRun) -> Result<usize, String> {
    let p = &run.problem;
    let d = run.dims;
    let (n, heads, l, s, e) = (d.n, d.heads, d.l, d.s, d.e);

    // 1. GPU against the CPU executor.
    let [output, mean, per_head] = run.shapes.clone();
    let shapes = [
        (Stage::Output, output),
        (Stage::Weights, mean),
        (Stage::Weights, per_head),
    ];
    for (values, (_, shape)) in run.gpu.iter().zip(&shapes) {
        let len: usize = shape.iter().product();
        if values.len() != len {
            return Err(format!(
                "GPU buffer of {} values for shape {shape:?}",
                values.len()
            ));
        }
    }
    let comparisons: Vec<Comparison> = shapes
        .iter()
        .zip(run.gpu.iter().zip(&run.cpu))
        .map(|((stage, shape), (g, c))| compare_shaped(*stage, g, shape, c, DEFAULT_TOLERANCE))
        .collect();
    all_passed(&comparisons, &[false, false, true])
        .map_err(|e| format!("{e}\n    (output, head mean, per head)"))?;

    // 2. The GPU's head mean is the mean of the GPU's per-head weights.
    let (mean, per_head) = (&run.gpu[MEAN], &run.gpu[PER_HEAD]);
    let len = l * s;
    for b in 0..n {
        for t in 0..len {
            let expected: f64 = (0..heads)
                .map(|h| per_head[(b * heads + h) * len + t] as f64)
                .sum::<f64>()
                / heads as f64;
            let got = mean[b * len + t] as f64;
            if (got - expected).abs() > HEAD_MEAN_TOLERANCE || !got.is_finite() {
                return Err(format!(
                    "head mean [{b}, {}, {}] is {got} but the per-head weights average {expected}",
                    t / s,
                    t % s
                ));
            }
        }
    }

    // 3. Rows with every key masked are exactly zero on both sides; the others sum to 1.
    let mut masked_rows = 0;
    let out_bias = |c: usize| p.weights.out_bias.as_ref().map_or(0.0, |b| b[c]);
    for b in 0..n {
        for i in 0..l {
            let mut every_head_masked = true;
            for h in 0..heads {
                let row = ((b * heads + h) * l + i) * s..((b * heads + h) * l + i + 1) * s;
                let fully = (0..s).all(|j| mha_excluded(p, b, h, i, j));
                every_head_masked &= fully;
                if fully {
                    masked_rows += 1;
                    if run.gpu[PER_HEAD][row.clone()].iter().any(|&w| w != 0.0)
                        || run.cpu[PER_HEAD][row.clone()].iter().any(|&w| w != 0.0)
                    {
                        return Err(format!(
                            "fully masked row [{b}, {h}, {i}] is not exactly zero: GPU {:?}, CPU {:?}",
                            &run.gpu[PER_HEAD][row.clone()],
                            &run.cpu[PER_HEAD][row]
                        ));
                    }
                } else {
                    let sum: f64 = run.cpu[PER_HEAD][row].iter().sum();
                    if (sum - 1.0).abs() > 1e-9 {
                        return Err(format!(
                            "CPU weights of row [{b}, {h}, {i}] sum to {sum}, though some key is allowed"
                        ));
                    }
                }
            }
            if every_head_masked {
                let mean_row = &run.gpu[MEAN][(b * l + i) * s..(b * l + i + 1) * s];
                if mean_row.iter().any(|&w| w != 0.0) {
                    return Err(format!(
                        "fully masked row [{b}, {i}] of the head mean is {mean_row:?}"
                    ));
                }
                let out = &run.gpu[OUTPUT][(b * l + i) * e..(b * l + i + 1) * e];
                if (0..e).any(|c| out[c] != out_bias(c)) {
                    return Err(format!(
                        "output row [{b}, {i}] has every key masked, so must be out_proj.bias \
                         exactly: got {out:?}, bias {:?}",
                        p.weights.out_bias
                    ));
                }
            }
        }
    }

    // 4. The CPU executor against the naive reference.
    let (output, weights) = naive_mha(p);
    close_f64("output", &run.cpu[OUTPUT], &output, NAIVE_TOLERANCE)?;
    close_f64(
        "per-head weights",
        &run.cpu[PER_HEAD],
        &weights,
        NAIVE_TOLERANCE,
    )?;
    Ok(masked_rows)
}

fn check_mha(ctx: &GpuContext, kernels: &TestKernels, case: &MhaCase) -> Result<usize, String> {
    let run = run_mha(ctx, kernels, case.problem())?;
    verify_mha(&run)
}

// ---------------------------------------------------------------------------------------------
// MultiheadAttention: tests
// ---------------------------------------------------------------------------------------------

#[test]
fn mha_random_programs_match_cpu_reference() {
    let Some((ctx, kernels)) = open() else { return };
    let masked_rows = Cell::new(0usize);
    let cases_with_masked_rows = Cell::new(0usize);
    let mut runner = TestRunner::new(proptest_config(32));
    let result = runner.run(&mha_cases(), |case| {
        let rows = check_mha(&ctx, &kernels, &case)
            .map_err(|e| TestCaseError::fail(format!("{case:?}\n{e}")))?;
        masked_rows.set(masked_rows.get() + rows);
        cases_with_masked_rows.set(cases_with_masked_rows.get() + (rows > 0) as usize);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!(
        "{} case(s) had fully masked rows, {} row(s) in all",
        cases_with_masked_rows.get(),
        masked_rows.get()
    );
    assert!(
        cases_with_masked_rows.get() > 0,
        "no case masked a whole row: the generator no longer covers that path"
    );
}

#[test]
fn mha_row_fully_masked_by_key_padding_is_zero_with_bias_output() {
    let Some((ctx, kernels)) = open() else { return };
    for kind in [MaskKind::Bool, MaskKind::Float] {
        let case = MhaCase {
            s: Some(5),
            key_padding: Some(kind),
            ..MhaCase::plain(2, 3, Some(2), 4, 7)
        };
        let mut problem = case.problem();
        // Batch element 1: every key ignored. Batch element 0: key 2 only.
        let kpm = problem.key_padding_mask.as_mut().unwrap();
        for (j, v) in kpm.array.data.iter_mut().enumerate() {
            if j >= 5 || j == 2 {
                *v = MASKED;
            } else if *v <= MASKED_BELOW {
                *v = 0.0;
            }
        }
        let run = run_mha(&ctx, &kernels, problem).unwrap();
        let masked = verify_mha(&run).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(
            masked,
            2 * 4,
            "{kind:?}: both heads × 4 queries of batch element 1"
        );
        let (l, s, e, heads) = (4, 5, 6, 2);
        let w = &run.gpu[PER_HEAD];
        for h in 0..heads {
            for i in 0..l {
                let row = &w[((heads + h) * l + i) * s..((heads + h) * l + i + 1) * s];
                assert_eq!(row, [0.0; 5], "{kind:?}: weights [1, {h}, {i}]");
                let kept = &w[(h * l + i) * s..(h * l + i + 1) * s];
                assert_eq!(kept[2], 0.0, "{kind:?}: masked key 2 of batch element 0");
                assert!(
                    kept.iter().enumerate().all(|(j, &x)| j == 2 || x > 0.0),
                    "{kind:?}: {kept:?}"
                );
            }
        }
        assert!(run.gpu[MEAN][l * s..].iter().all(|&x| x == 0.0));
        let bias = run.problem.weights.out_bias.clone().unwrap();
        for i in 0..l {
            let out = &run.gpu[OUTPUT][(l + i) * e..(l + i + 1) * e];
            assert_eq!(
                out,
                &bias[..],
                "{kind:?}: output [1, {i}] must be out_proj.bias"
            );
        }
    }
}

#[test]
fn mha_heads_of_width_one() {
    let Some((ctx, kernels)) = open() else { return };
    let cases = [
        MhaCase::plain(8, 1, Some(2), 7, 11),
        MhaCase {
            s: Some(9),
            attn_mask: Some((MaskKind::Float, true)),
            causal: true,
            ..MhaCase::plain(4, 1, None, 13, 12)
        },
        MhaCase {
            key_padding: Some(MaskKind::Bool),
            in_bias: false,
            out_bias: false,
            ..MhaCase::plain(3, 1, Some(3), 1, 13)
        },
    ];
    for case in cases {
        check_mha(&ctx, &kernels, &case).unwrap_or_else(|e| panic!("{case:?}\n{e}"));
    }
}

#[test]
fn mha_many_batch_head_slices() {
    // The scores and context matmuls dispatch one z-slice per (batch, head): 32 and 512 here,
    // with a 3-D attn_mask addressed per slice.
    let Some((ctx, kernels)) = open() else { return };
    let cases = [
        MhaCase {
            s: Some(6),
            attn_mask: Some((MaskKind::Bool, true)),
            key_padding: Some(MaskKind::Float),
            ..MhaCase::plain(8, 2, Some(4), 5, 21)
        },
        MhaCase {
            attn_mask: Some((MaskKind::Float, true)),
            causal: true,
            ..MhaCase::plain(32, 1, Some(16), 3, 22)
        },
    ];
    for case in cases {
        check_mha(&ctx, &kernels, &case).unwrap_or_else(|e| panic!("{case:?}\n{e}"));
    }
}

#[test]
fn mha_checks_catch_wrong_values() {
    // The harness must be able to fail: corrupt one GPU value per check and expect an error.
    let Some((ctx, kernels)) = open() else { return };
    let case = MhaCase {
        s: Some(6),
        key_padding: Some(MaskKind::Bool),
        full_rows: true,
        ..MhaCase::plain(2, 3, Some(2), 5, 31)
    };
    let fresh = || run_mha(&ctx, &kernels, case.problem()).unwrap();
    let masked = verify_mha(&fresh()).unwrap();
    assert!(masked > 0);
    let l_s = 5 * 6;

    let mut run = fresh();
    run.gpu[OUTPUT][3] += 1e-3;
    let err = verify_mha(&run).unwrap_err();
    assert!(err.contains("output") && err.contains("FAIL"), "{err}");

    // Within compare's 1e-5 but not the head mean's 1e-6.
    let mut run = fresh();
    run.gpu[MEAN][7] += 3e-6;
    let err = verify_mha(&run).unwrap_err();
    assert!(err.contains("head mean"), "{err}");

    // Batch element 1 is fully masked (full_rows): a tiny weight there must be caught.
    let mut run = fresh();
    run.gpu[PER_HEAD][2 * l_s + 1] = 1e-9;
    let err = verify_mha(&run).unwrap_err();
    assert!(err.contains("fully masked row [1, 0, 0]"), "{err}");

    // A plan that ignored the key-padding mask would agree with the CPU executor; the naive
    // reference must not.
    let mut run = fresh();
    run.problem.key_padding_mask.as_mut().unwrap().array.data[0..6].fill(0.0);
    let err = verify_mha(&run).unwrap_err();
    assert!(err.contains("naive reference"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// scaled_dot_product_attention
// ---------------------------------------------------------------------------------------------

/// One random SDPA call.
#[derive(Clone, Debug)]
struct SdpaCase {
    lead: Vec<usize>,
    l: usize,
    s: usize,
    e: usize,
    ev: usize,
    mask: Option<SdpaMask>,
    causal: bool,
    scale: Option<f32>,
    seed: u32,
}

/// The mask's shape is (lead…, L, S) with the first `drop` axes removed and the axes flagged in
/// `ones` set to 1.
#[derive(Clone, Debug)]
struct SdpaMask {
    kind: MaskKind,
    drop: usize,
    ones: Vec<bool>,
    /// Mask the first stored row of keys entirely (a fully masked query row).
    full_row: bool,
}

impl SdpaCase {
    fn target(&self) -> Vec<usize> {
        let mut t = self.lead.clone();
        t.extend([self.l, self.s]);
        t
    }

    fn mask_shape(&self) -> Option<Vec<usize>> {
        let m = self.mask.as_ref()?;
        let target = self.target();
        let drop = m.drop.min(target.len() - 1);
        Some(
            target[drop..]
                .iter()
                .zip(&m.ones)
                .map(|(&t, &one)| if one { 1 } else { t })
                .collect(),
        )
    }

    fn problem(&self) -> SdpaProblem {
        let mut rng = NumpyRng::new(self.seed);
        let shape = |len: usize, width: usize| {
            let mut s = self.lead.clone();
            s.extend([len, width]);
            s
        };
        let array = |rng: &mut NumpyRng, shape: Vec<usize>| Array {
            data: normals(rng, shape.iter().product(), 1.0),
            shape,
        };
        let q = array(&mut rng, shape(self.l, self.e));
        let k = array(&mut rng, shape(self.s, self.e));
        let v = array(&mut rng, shape(self.s, self.ev));
        let attn_mask = self.mask.as_ref().map(|m| {
            let shape = self.mask_shape().unwrap();
            let mut data = mask_values(&mut rng, shape.iter().product(), m.kind);
            if m.full_row {
                let keys = *shape.last().unwrap();
                data[..keys].fill(MASKED);
            }
            mask(shape, data, m.kind)
        });
        SdpaProblem {
            q,
            k,
            v,
            attn_mask,
            causal: self.causal,
            scale: self.scale,
        }
    }
}

fn sdpa_cases() -> impl Strategy<Value = SdpaCase> {
    let mask = (
        mask_kind(),
        0..=4usize,
        prop::collection::vec(prop::bool::weighted(0.3), 5),
        any::<bool>(),
    )
        .prop_map(|(kind, drop, ones, full_row)| SdpaMask {
            kind,
            drop,
            ones,
            full_row,
        });
    (
        prop::collection::vec(1..=3usize, 0..=3),
        length(30),
        length(30),
        1..=16usize,
        1..=16usize,
        prop::option::weighted(0.75, mask),
        any::<bool>(),
        prop::option::of(0.05f32..2.0),
        any::<u32>(),
    )
        .prop_map(|(lead, l, s, e, ev, mask, causal, scale, seed)| SdpaCase {
            lead,
            l,
            s,
            e,
            ev,
            mask,
            causal,
            scale,
            seed,
        })
}

/// Flat index into a mask of `mask_shape` for the element at `index` of the broadcast target,
/// by NumPy's rules (trailing axes aligned, size-1 axes repeated).
fn broadcast_index(mask_shape: &[usize], index: &[usize]) -> usize {
    let offset = index.len() - mask_shape.len();
    mask_shape
        .iter()
        .enumerate()
        .fold(0, |flat, (axis, &size)| {
            flat * size + if size == 1 { 0 } else { index[offset + axis] }
        })
}

/// The multi-index over the leading axes of flat batch `b`.
fn lead_index(lead: &[usize], mut b: usize) -> Vec<usize> {
    let mut index = vec![0; lead.len()];
    for axis in (0..lead.len()).rev() {
        index[axis] = b % lead[axis];
        b /= lead[axis];
    }
    index
}

/// The mask value for (batch b, query i, key j), or None when key j is excluded.
fn sdpa_mask_at(p: &SdpaProblem, lead: &[usize], b: usize, i: usize, j: usize) -> Option<f64> {
    if p.causal && j > i {
        return None;
    }
    match &p.attn_mask {
        None => Some(0.0),
        Some(m) => {
            let mut index = lead_index(lead, b);
            index.extend([i, j]);
            let v = m.array.data[broadcast_index(&m.array.shape, &index)];
            (v > MASKED_BELOW).then_some(v as f64)
        }
    }
}

/// scaled_dot_product_attention in f64 as PyTorch documents it: (…, L, Ev) and (…, L, S), flat.
fn naive_sdpa(p: &SdpaProblem) -> (Vec<f64>, Vec<f64>) {
    let rank = p.q.shape.len();
    let lead = &p.q.shape[..rank - 2];
    let batch: usize = lead.iter().product();
    let (l, e) = (p.q.shape[rank - 2], p.q.shape[rank - 1]);
    let (s, ev) = (p.k.shape[rank - 2], p.v.shape[rank - 1]);
    // Default 1/√E, rounded to f32 as the plan rounds it.
    let scale = p.scale.unwrap_or(1.0 / (e as f32).sqrt()) as f64;
    let mut output = vec![0.0; batch * l * ev];
    let mut weights = vec![0.0; batch * l * s];
    for b in 0..batch {
        for i in 0..l {
            let scores: Vec<Option<f64>> = (0..s)
                .map(|j| {
                    let m = sdpa_mask_at(p, lead, b, i, j)?;
                    let dot: f64 = (0..e)
                        .map(|c| {
                            p.q.data[(b * l + i) * e + c] as f64
                                * p.k.data[(b * s + j) * e + c] as f64
                        })
                        .sum();
                    Some(dot * scale + m)
                })
                .collect();
            let max = scores
                .iter()
                .flatten()
                .fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            if max == f64::NEG_INFINITY {
                continue;
            }
            let sum: f64 = scores.iter().flatten().map(|x| (x - max).exp()).sum();
            for (j, score) in scores.iter().enumerate() {
                let Some(score) = score else { continue };
                let w = (score - max).exp() / sum;
                weights[(b * l + i) * s + j] = w;
                for c in 0..ev {
                    output[(b * l + i) * ev + c] += w * p.v.data[(b * s + j) * ev + c] as f64;
                }
            }
        }
    }
    (output, weights)
}

struct SdpaRun {
    problem: SdpaProblem,
    dims: SdpaDims,
    /// The output's and the weights' shapes.
    shapes: [Vec<usize>; 2],
    /// GPU output and weights.
    gpu: [Vec<f32>; 2],
    /// CPU executor output and weights.
    cpu: [Vec<f64>; 2],
}

fn run_sdpa(
    ctx: &GpuContext,
    kernels: &TestKernels,
    problem: SdpaProblem,
) -> Result<SdpaRun, String> {
    let dims = problem
        .dims()
        .map_err(|e| format!("bad test problem: {e}"))?;
    let plan = SdpaPlan::new(&problem, dims.clone()).map_err(|e| format!("plan: {e}"))?;
    let want = [plan.output, plan.weights];
    let (gpu, _) = execute(ctx, kernels, &plan.program, &plan.inputs(), &want)
        .map_err(|e| format!("GPU run failed on {dims:?}: {e}"))?;
    let gpu: [Vec<f32>; 2] = gpu.try_into().map_err(|_| "wrong number of buffers")?;
    let cpu = cpu_values(&plan.program, &plan.inputs(), want);
    check_other_kernels(
        ctx,
        kernels,
        &plan.program,
        &plan.inputs(),
        [plan.output, plan.output_no_weights],
        &plan.output_shape(),
        &cpu[0],
    )?;
    check_fused(ctx, kernels, &plan, &cpu)?;
    check_row_blocks(&problem, &dims, &cpu)?;
    let shapes = [plan.output_shape(), plan.weights_shape()];
    drop(plan);
    Ok(SdpaRun {
        problem,
        dims,
        shapes,
        gpu,
        cpu,
    })
}

/// The fused weights path (an output-only pass leaving its row statistics, then the weights
/// from them), with each output-only kernel, must give the reference's output and weights; the
/// CPU executor's own fused path must agree with its separate one to f64 rounding.
fn check_fused(
    ctx: &GpuContext,
    kernels: &TestKernels,
    plan: &SdpaPlan,
    [output, weights]: &[Vec<f64>; 2],
) -> Result<(), String> {
    let want = [plan.fused_output, plan.fused_weights];
    let cpu_fused = cpu::execute::execute(&plan.program, &plan.inputs(), &want);
    close_f64("CPU fused output", &cpu_fused[want[0].0], output, 1e-12)?;
    close_f64("CPU fused weights", &cpu_fused[want[1].0], weights, 1e-12)?;
    for flash in &kernels.flash {
        let variant = flash.flash_variant().name();
        let (gpu, _) = execute(ctx, flash, &plan.program, &plan.inputs(), &want)
            .map_err(|e| format!("fused GPU run ({variant}) failed: {e}"))?;
        let checks = [
            (Stage::Output, &gpu[0], plan.output_shape(), output),
            (Stage::Weights, &gpu[1], plan.weights_shape(), weights),
        ];
        for (stage, got, shape, reference) in checks {
            let c = compare_shaped(stage, got, &shape, reference, DEFAULT_TOLERANCE);
            let rows_ok = c
                .max_row_sum_error
                .is_none_or(|e| e.is_finite() && e < 1e-5);
            if !c.passed || !rows_ok {
                return Err(format!("fused path ({variant}): {c}"));
            }
        }
    }
    Ok(())
}

/// Blocks of about a third of `l` rows (the last one ragged), covering 0..l.
fn thirds(l: usize) -> Vec<std::ops::Range<usize>> {
    let per = 1 + l / 3;
    (0..l).step_by(per).map(|s| s..(s + per).min(l)).collect()
}

/// Whether `part` holds exactly rows `rows` of each (l × width) matrix of `whole`.
fn rows_equal(
    part: &[f64],
    whole: &[f64],
    l: usize,
    width: usize,
    rows: &std::ops::Range<usize>,
) -> bool {
    let expected: Vec<f64> = whole
        .chunks_exact(l * width)
        .flat_map(|m| &m[rows.start * width..rows.end * width])
        .copied()
        .collect();
    part == expected.as_slice()
}

/// The programs for blocks of about a third of the query rows (what `selfattn sdpa` runs when the
/// weights exceed a storage binding) must give exactly the whole program's rows (CPU executor).
fn check_row_blocks(
    problem: &SdpaProblem,
    dims: &selfattn::sdpa::SdpaDims,
    whole: &[Vec<f64>; 2],
) -> Result<(), String> {
    for rows in thirds(dims.l) {
        let plan = SdpaPlan::for_rows(problem, dims.clone(), rows.clone())
            .map_err(|e| format!("row block {rows:?}: {e}"))?;
        let block = cpu_values(&plan.program, &plan.inputs(), [plan.output, plan.weights]);
        // The fused path under the block's causal offset.
        let fused = [plan.fused_output, plan.fused_weights];
        let fused = cpu_values(&plan.program, &plan.inputs(), fused);
        close_f64("block's fused output", &fused[0], &block[0], 1e-12)?;
        close_f64("block's fused weights", &fused[1], &block[1], 1e-12)?;
        for ((name, width), (part, all)) in [("output", dims.ev), ("weights", dims.s)]
            .iter()
            .zip(block.iter().zip(whole))
        {
            if !rows_equal(part, all, dims.l, *width, &rows) {
                return Err(format!(
                    "row block {rows:?}: its {name} differ from the whole run's"
                ));
            }
        }
    }
    Ok(())
}

/// Every check of one SDPA run; returns how many query rows were fully masked.
fn verify_sdpa(run: &SdpaRun) -> Result<usize, String> {
    let p = &run.problem;
    let d = &run.dims;
    let [output, weights] = run.shapes.clone();
    let shapes = [(Stage::Output, output), (Stage::Weights, weights)];
    let comparisons: Vec<Comparison> = shapes
        .iter()
        .zip(run.gpu.iter().zip(&run.cpu))
        .map(|((stage, shape), (g, c))| {
            assert_eq!(g.len(), shape.iter().product::<usize>(), "{shape:?}");
            compare_shaped(*stage, g, shape, c, DEFAULT_TOLERANCE)
        })
        .collect();
    all_passed(&comparisons, &[false, true])?;

    let mut masked_rows = 0;
    for b in 0..d.batch {
        for i in 0..d.l {
            if (0..d.s).all(|j| sdpa_mask_at(p, &d.lead, b, i, j).is_none()) {
                masked_rows += 1;
                let w = (b * d.l + i) * d.s..(b * d.l + i + 1) * d.s;
                let o = (b * d.l + i) * d.ev..(b * d.l + i + 1) * d.ev;
                let zero = run.gpu[1][w.clone()].iter().all(|&x| x == 0.0)
                    && run.cpu[1][w.clone()].iter().all(|&x| x == 0.0)
                    && run.gpu[0][o.clone()].iter().all(|&x| x == 0.0)
                    && run.cpu[0][o.clone()].iter().all(|&x| x == 0.0);
                if !zero {
                    return Err(format!(
                        "fully masked row {:?} must be exactly zero: GPU weights {:?}, output {:?}",
                        [lead_index(&d.lead, b), vec![i]].concat(),
                        &run.gpu[1][w],
                        &run.gpu[0][o]
                    ));
                }
            }
        }
    }

    let (output, weights) = naive_sdpa(p);
    close_f64("output", &run.cpu[0], &output, NAIVE_TOLERANCE)?;
    close_f64("weights", &run.cpu[1], &weights, NAIVE_TOLERANCE)?;
    Ok(masked_rows)
}

#[test]
fn sdpa_random_programs_match_cpu_reference() {
    let Some((ctx, kernels)) = open() else { return };
    let masked_rows = Cell::new(0usize);
    let mut runner = TestRunner::new(proptest_config(24));
    let result = runner.run(&sdpa_cases(), |case| {
        let run = run_sdpa(&ctx, &kernels, case.problem())
            .map_err(|e| TestCaseError::fail(format!("{case:?}\n{e}")))?;
        let rows = verify_sdpa(&run).map_err(|e| {
            TestCaseError::fail(format!("{case:?}\nmask shape {:?}\n{e}", case.mask_shape()))
        })?;
        masked_rows.set(masked_rows.get() + rows);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!("{} fully masked row(s) in all", masked_rows.get());
}

#[test]
fn sdpa_explicit_broadcasts_and_masked_rows() {
    let Some((ctx, kernels)) = open() else { return };
    let case = |lead: Vec<usize>, mask: Option<SdpaMask>, causal: bool, seed: u32| SdpaCase {
        lead,
        l: 5,
        s: 7,
        e: 4,
        ev: 3,
        mask,
        causal,
        scale: None,
        seed,
    };
    let m = |kind, drop, ones: [bool; 5], full_row| {
        Some(SdpaMask {
            kind,
            drop,
            ones: ones.to_vec(),
            full_row,
        })
    };
    let (t, f) = (true, false);
    let cases = [
        // 2-D inputs, no leading axes; the first query row fully masked.
        case(vec![], m(MaskKind::Bool, 0, [f; 5], t), false, 41),
        // (2, 3, L, S) inputs with a mask (1, L, S) varying along neither leading axis …
        case(
            vec![2, 3],
            m(MaskKind::Float, 1, [t, f, f, f, f], f),
            false,
            42,
        ),
        // … (2, 1, L, 1): per batch element, the same for every key, so whole rows go.
        case(
            vec![2, 3],
            m(MaskKind::Bool, 0, [f, t, f, t, f], t),
            true,
            43,
        ),
        // (S,) only, with causal; rank-3 leading axes.
        case(vec![3, 1, 2], m(MaskKind::Float, 4, [f; 5], t), true, 44),
    ];
    let mut total = 0;
    for c in cases {
        let run = run_sdpa(&ctx, &kernels, c.problem()).unwrap_or_else(|e| panic!("{c:?}: {e}"));
        let rows = verify_sdpa(&run).unwrap_or_else(|e| panic!("{c:?}: {e}"));
        if c.mask.as_ref().is_some_and(|m| m.full_row) {
            assert!(rows > 0, "{c:?}: a row should be fully masked");
        }
        total += rows;
    }
    assert!(total >= 4, "{total}");

    // The naive reference must notice a mask entry the plan lost (both executors share the
    // plan, so only the naive reference can).
    let mut problem = case(vec![2], m(MaskKind::Float, 0, [f; 5], f), false, 45).problem();
    let data = &mut problem.attn_mask.as_mut().unwrap().array.data;
    data[1] = 0.5;
    let mut run = run_sdpa(&ctx, &kernels, problem).unwrap();
    verify_sdpa(&run).unwrap();
    run.problem.attn_mask.as_mut().unwrap().array.data[1] = MASKED;
    let err = verify_sdpa(&run).unwrap_err();
    assert!(err.contains("naive reference"), "{err}");
}

#[test]
fn sdpa_more_matrices_than_workgroups_per_dimension() {
    // One z-slice per (batch, head) matrix: beyond the device's workgroups per dimension the
    // executor splits the matmul and flash dispatches, each later one starting at its first
    // matrix. The limit is lowered here to 16 (as a smaller device would have it; 65,541
    // matrices took 4.5 minutes on llvmpipe GL), so 37 matrices go in 3 dispatches, the last one
    // of 5 (and the one-row-per-workgroup softmax folds its 222 rows into 16 × 14). A mask
    // varying per matrix shows that every slice reads its own matrices.
    let Some((mut ctx, kernels)) = open() else {
        return;
    };
    ctx.limits.max_compute_workgroups_per_dimension = 16;
    let case = SdpaCase {
        lead: vec![37],
        l: 6,
        s: 11,
        e: 5,
        ev: 67,
        mask: Some(SdpaMask {
            kind: MaskKind::Float,
            drop: 0,
            ones: vec![false; 3],
            full_row: false,
        }),
        causal: true,
        scale: None,
        seed: 46,
    };
    let run = run_sdpa(&ctx, &kernels, case.problem()).unwrap_or_else(|e| panic!("{e}"));
    verify_sdpa(&run).unwrap_or_else(|e| panic!("{e}"));
}
