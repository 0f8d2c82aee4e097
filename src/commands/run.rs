//! `selfattn run` (the default): compute, verify, report, draw, save.

use std::path::Path;
use std::str::FromStr;
use std::time::Instant;

use selfattn::Result;
use selfattn::attention::{Plan, Stage};
use selfattn::compare::{Comparison, compare};
use selfattn::cpu;
use selfattn::error::Error;
use selfattn::examples::Example;
use selfattn::gpu::GpuContext;
use selfattn::gpu::attention::{Kernels, attention};
use selfattn::heatmap::{self, Colormap, HeatmapSpec, block_average};
use selfattn::npy::write_array;
use selfattn::report;
use selfattn::tensor::Matrix;

use super::Outcome;
use super::inputs::{adapter, check_tolerance, example};
use crate::cli::RunArgs;

/// Matrices up to this many tokens are printed in full.
const PRINT_LIMIT: usize = 8;

/// Runs attention for the flags in `args`.
pub fn run(args: &RunArgs) -> Result<Outcome> {
    check_tolerance(args.tolerance)?;
    let example = example(&args.input)?;
    let cmap = colormap(args.cmap.as_deref(), &example)?;
    check_output_paths(args)?;
    let dims = example.problem.dims()?;

    let ctx = GpuContext::open(&adapter(&args.gpu))?;
    println!("Adapter: {}", ctx.describe());
    println!(
        "Tokens ({}): {}",
        dims.n,
        if dims.n <= 32 {
            example.tokens.join(" | ")
        } else {
            format!("{} …", example.tokens[..32].join(" | "))
        }
    );
    println!(
        "Shapes: X {}×{}, W_Q/W_K {}×{}, W_V {}×{}{} → Q/K {}×{}, V {}×{}, weights {}×{}, output {}×{}{}",
        dims.n,
        dims.d_model,
        dims.d_model,
        dims.d_k,
        dims.d_model,
        dims.d_v,
        example
            .problem
            .wo
            .as_ref()
            .map(|w| format!(", W_O {}×{}", w.rows, w.cols))
            .unwrap_or_default(),
        dims.n,
        dims.d_k,
        dims.n,
        dims.d_v,
        dims.n,
        dims.n,
        dims.n,
        dims.d_out,
        if example.problem.causal {
            " (causal)"
        } else {
            ""
        }
    );

    let plan = Plan::new(dims, example.problem.causal, example.problem.wo.is_some());
    let kernels = Kernels::new(&ctx)?;
    let gpu = attention(
        &ctx,
        &kernels,
        &plan,
        &example.problem,
        &[Stage::Weights, Stage::Output],
    )?;
    let cpu_start = Instant::now();
    let reference = cpu::attention::attention(&plan, &example.problem);
    let cpu_time = cpu_start.elapsed();

    let weights = &gpu.results[&Stage::Weights];
    let output = &gpu.results[&Stage::Output];
    if dims.n <= PRINT_LIMIT {
        println!("\nAttention weights (softmax(Q·Kᵀ/√d_k), GPU):");
        print!(
            "{}",
            report::matrix(
                &weights.data,
                dims.n,
                dims.n,
                Some(&example.tokens),
                PRINT_LIMIT
            )
        );
        println!(
            "\nOutput (weights · V{}, GPU):",
            if example.problem.wo.is_some() {
                " · W_O"
            } else {
                ""
            }
        );
        print!(
            "{}",
            report::matrix(
                &output.data,
                dims.n,
                dims.d_out,
                Some(&example.tokens),
                PRINT_LIMIT
            )
        );
    }

    let checks = [
        compare(
            Stage::Weights,
            weights,
            &reference[&Stage::Weights],
            args.tolerance,
        ),
        compare(
            Stage::Output,
            output,
            &reference[&Stage::Output],
            args.tolerance,
        ),
    ];
    println!(
        "\nGPU vs CPU (f64) reference, tolerance {:.1e}:",
        args.tolerance
    );
    for c in &checks {
        println!("  {c}");
    }

    let draw_start = Instant::now();
    if !args.no_heatmap {
        draw(args, &example, weights, cmap)?;
    }
    let draw_time = draw_start.elapsed();
    if let Some(dir) = &args.save {
        save(dir, weights, output)?;
    }

    let t = gpu.timings;
    println!(
        "\nTimes: upload {}, GPU {}, read-back {}, CPU reference {}{}",
        report::ms(t.upload),
        report::ms(t.gpu),
        report::ms(t.read_back),
        report::ms(cpu_time),
        if args.no_heatmap {
            String::new()
        } else {
            format!(", heatmap {}", report::ms(draw_time))
        }
    );
    if !args.no_heatmap {
        println!("Heatmap written to {}", args.out.display());
    }
    if let Some(dir) = &args.save {
        println!(
            "Saved {} and {}",
            dir.join("weights.npy").display(),
            dir.join("output.npy").display()
        );
    }
    Ok(verdict(&checks))
}

/// Draws the weights, block-averaged when N exceeds what can be drawn one pixel per cell.
fn draw(args: &RunArgs, example: &Example, weights: &Matrix, cmap: Colormap) -> Result<()> {
    let n = weights.rows;
    let small = block_average(
        &weights.data,
        n,
        n,
        &example.tokens,
        &example.tokens,
        heatmap::MAX_CELLS_PER_AXIS,
    );
    let causal = example.problem.causal;
    let mut title = args.title.clone().unwrap_or_else(|| {
        let causal = if causal { ", causal" } else { "" };
        format!("{}{causal}", example.title)
    });
    if small.factor > 1 {
        title.push_str(&format!(" ({0}×{0} block means of {n}×{n})", small.factor));
    }
    // A block is hidden when every cell in it is above the diagonal.
    let f = small.factor;
    let hide = |r: usize, c: usize| causal && c * f > (r + 1) * f - 1;
    let spec = HeatmapSpec {
        values: &small.values,
        rows: small.rows,
        cols: small.cols,
        row_labels: &small.row_labels,
        col_labels: &small.col_labels,
        title: &title,
        x_label: "Key",
        y_label: "Query",
        colorbar_label: "Attention Weight",
        cmap,
        range: None,
        annotate: None,
        hide: Some(&hide),
    };
    heatmap::render(&spec)?.save_png(&args.out)
}

/// The outcome of a list of comparisons: the first failure, described, or Ok.
pub fn verdict(checks: &[Comparison]) -> Outcome {
    match checks.iter().find(|c| !c.passed) {
        None => Outcome::Ok,
        Some(c) => Outcome::Mismatch(format!(
            "GPU and CPU disagree in stage '{}' at element {:?}: GPU {}, CPU {} (|Δ| {:.3e} > allowed {:.1e})",
            c.stage.name(),
            c.worst,
            c.worst_gpu,
            c.worst_cpu,
            (c.worst_gpu as f64 - c.worst_cpu).abs(),
            c.allowed
        )),
    }
}

fn colormap(flag: Option<&str>, example: &Example) -> Result<Colormap> {
    let name = flag.or(example.default_cmap).unwrap_or("viridis");
    Colormap::from_str(name).map_err(|_| {
        Error::Usage(format!(
            "unknown colormap '{name}' (expected one of {})",
            Colormap::names().join(", ")
        ))
    })
}

/// Fails early, before any GPU work, when an output can't be written where asked.
fn check_output_paths(args: &RunArgs) -> Result<()> {
    if !args.no_heatmap {
        let dir = match args.out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            return Err(Error::OutputFile {
                path: args.out.clone(),
                message: format!("folder {} does not exist", dir.display()),
            });
        }
        if args.out.is_dir() {
            return Err(Error::OutputFile {
                path: args.out.clone(),
                message: "is a folder".into(),
            });
        }
    }
    if let Some(dir) = &args.save {
        std::fs::create_dir_all(dir).map_err(|e| Error::OutputFile {
            path: dir.clone(),
            message: e.to_string(),
        })?;
    }
    Ok(())
}

fn save(dir: &Path, weights: &Matrix, output: &Matrix) -> Result<()> {
    write_array(
        &dir.join("weights.npy"),
        &[weights.rows, weights.cols],
        &weights.data,
    )?;
    write_array(
        &dir.join("output.npy"),
        &[output.rows, output.cols],
        &output.data,
    )
}
