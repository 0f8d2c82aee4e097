//! Where the weights path spends its GPU time: Q·Kᵀ alone, then with the softmax, then with P·V
//! (the differences are the softmax and P·V), and the softmax alone on uploaded scores (steadier
//! than a difference on a noisy machine), for one head at N (default 2048), d = 64, on the
//! default adapter with the kernels it would choose, or with the softmax named second
//! (`per-row` or `subgroup`). Best of 3 runs after a warm-up.
//!
//! `cargo run --release --example stage_times -- 2048 subgroup`

use selfattn::gpu::GpuContext;
use selfattn::gpu::execute::{Kernels, execute};
use selfattn::kernels::Variants;
use selfattn::kernels::softmax::{SoftmaxParams, SoftmaxVariant};
use selfattn::npy::Array;
use selfattn::numpy_rng::NumpyRng;
use selfattn::program::Program;
use selfattn::sdpa::{SdpaPlan, SdpaProblem};

fn main() -> selfattn::Result<()> {
    let n: usize = match std::env::args().nth(1) {
        Some(arg) => arg.parse().expect("N must be a positive integer"),
        None => 2048,
    };
    let d = 64;
    let ctx = GpuContext::open(&Default::default())?;
    let softmax = match std::env::args().nth(2).as_deref() {
        None => ctx.softmax_variant(),
        Some("per-row") => SoftmaxVariant::PerRow,
        Some("subgroup") => SoftmaxVariant::Subgroup,
        Some(other) => panic!("the softmax is per-row or subgroup, not {other}"),
    };
    let kernels = Kernels::compile(
        &ctx,
        Variants {
            softmax,
            ..ctx.variants()
        },
    )?;
    println!(
        "{}: matmul {}, softmax {}, N = {n}, d = {d}",
        ctx.describe(),
        kernels.matmul_variant().name(),
        kernels.softmax_variant().name()
    );
    let mut rng = NumpyRng::new(n as u32);
    let mut random = || Array {
        shape: vec![1, 1, n, d],
        data: rng.randn(n * d).into_iter().map(|v| v as f32).collect(),
    };
    let problem = SdpaProblem {
        q: random(),
        k: random(),
        v: random(),
        attn_mask: None,
        causal: false,
        scale: None,
    };
    let plan = SdpaPlan::new(&problem, problem.dims()?)?;
    let inputs = plan.inputs();
    let Some(first) = plan.program.steps.first() else {
        panic!("the SDPA program starts with Q·Kᵀ");
    };
    assert_eq!(
        first.kernel().kernel(),
        "matmul",
        "the SDPA program starts with Q·Kᵀ"
    );
    let scores = first.out();
    let stages = [
        ("Q·Kᵀ", vec![scores]),
        ("Q·Kᵀ + softmax", vec![plan.weights]),
        ("Q·Kᵀ + softmax + P·V", vec![plan.output]),
    ];
    let best_of_3 = |program: &Program, inputs: &[&[f32]], want: &[_]| {
        execute(&ctx, &kernels, program, inputs, want)?;
        let mut best = f64::MAX;
        for _ in 0..3 {
            let (_, t) = execute(&ctx, &kernels, program, inputs, want)?;
            best = best.min(t.kernels.unwrap_or(t.gpu).as_secs_f64() * 1e3);
        }
        selfattn::Result::Ok(best)
    };
    for (name, want) in stages {
        let best = best_of_3(&plan.program, &inputs, &want)?;
        println!("{name:>22}: {best:8.1} ms");
    }
    let mut softmax_alone = Program::default();
    let scores = softmax_alone.input("scores", n * n);
    let params = SoftmaxParams {
        rows: n as u32,
        cols: n as u32,
        ..Default::default()
    };
    let weights = softmax_alone.softmax("weights", params, scores, None, None);
    let data: Vec<f32> = rng.randn(n * n).into_iter().map(|v| v as f32).collect();
    let best = best_of_3(&softmax_alone, &[&data], &[weights])?;
    println!("{:>22}: {best:8.1} ms", "softmax alone");
    Ok(())
}
