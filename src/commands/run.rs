//! `selfattn run` (the default): compute, verify, report, draw, save.

use super::summary::{gpu_phases, plain_lines, say_checks, say_times, stage_verdict};
use super::{say, say_part};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use selfattn::Result;
use selfattn::attention::{Plan, Stage};
use selfattn::compare::{Comparison, compare};
use selfattn::cpu;
use selfattn::examples::Example;
use selfattn::fsutil::create_dir;
use selfattn::gpu::GpuContext;
use selfattn::gpu::attention::{Kernels, attention, attention_in_row_blocks, row_blocks_for};
use selfattn::heatmap::Colormap;
use selfattn::npy::write_array;
use selfattn::report;
use selfattn::tensor::Matrix;
use selfattn::verify::Check;
use selfattn::viewer::{ViewerDoc, ViewerItem, head_labels, numbered};

use super::Outcome;
use super::html;
use super::inputs::{adapter, check_tolerance, example};
use super::tensors::{self, Maps};
use crate::cli::RunArgs;

/// Matrices up to this many tokens are printed in full.
const PRINT_LIMIT: usize = 8;

/// Runs attention for the flags in `args`.
pub fn run(args: &RunArgs) -> Result<Outcome> {
    check_tolerance(args.tolerance)?;
    let example = example(&args.input)?;
    let cmap = args.cmap.or(example.default_cmap).unwrap_or_default();
    check_output_paths(args)?;
    let dims = example.problem.dims()?;
    if !args.no_weights {
        let viewer_maps = args.html.as_ref().map(|_| 1);
        tensors::check_host_weights(1, dims.n, dims.n, viewer_maps)?;
    }

    let ctx = GpuContext::open(&adapter(&args.gpu))?;
    say!("Adapter: {}", ctx.describe());
    say!(
        "Tokens ({}): {}",
        dims.n,
        if dims.n <= 32 {
            example.tokens.join(" | ")
        } else {
            format!("{} …", example.tokens[..32].join(" | "))
        }
    );
    // Said outright when they are not computed, since N×N can be far more than memory holds.
    let never_stored = if args.no_weights {
        " never stored (--no-weights)"
    } else {
        ""
    };
    let shapes = format!(
        "X {}×{}, W_Q/W_K {}×{}, W_V {}×{}{} → Q/K {}×{}, V {}×{}, weights {}×{}{}, output {}×{}{}",
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
        never_stored,
        dims.n,
        dims.d_out,
        if example.problem.causal {
            " (causal)"
        } else {
            ""
        }
    );
    say!("Shapes: {shapes}");

    let causal = example.problem.causal;
    let has_wo = example.problem.wo.is_some();
    let (plan, want) = if args.no_weights {
        (Plan::output_only(dims, causal, has_wo), vec![Stage::Output])
    } else {
        (
            Plan::new(dims, causal, has_wo),
            vec![Stage::Weights, Stage::Output],
        )
    };
    let kernels = Kernels::new(&ctx)?;
    let blocks = (!args.no_weights)
        .then(|| row_blocks_for(&ctx, dims.n))
        .flatten();
    let gpu = match blocks {
        Some(rows) => {
            say!(
                "The {n}×{n} weights ({} MiB) are computed in blocks of {rows} query rows, one submission each",
                (dims.n * dims.n * 4) >> 20,
                n = dims.n
            );
            attention_in_row_blocks(&ctx, &kernels, &example.problem, rows, &want)?
        }
        None => attention(&ctx, &kernels, &plan, &example.problem, &want)?,
    };

    let output = &gpu.results[&Stage::Output];
    let weights = gpu.results.get(&Stage::Weights);
    if dims.n <= PRINT_LIMIT {
        if let Some(weights) = weights {
            say!("\nAttention weights (softmax(Q·Kᵀ/√d_k), GPU):");
            say_part!(
                "{}",
                report::matrix(
                    &weights.data,
                    dims.n,
                    dims.n,
                    Some(&example.tokens),
                    PRINT_LIMIT
                )
            );
        }
        say!(
            "\nOutput (weights · V{}, GPU):",
            if has_wo { " · W_O" } else { "" }
        );
        say_part!(
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

    let cpu_start = Instant::now();
    let check = args.verify.resolve(dims.n, example_seed(args));
    let checks = verify(&plan, &example, &gpu.results, &want, &check, args.tolerance);
    let cpu_time = cpu_start.elapsed();

    let draw_start = Instant::now();
    if let (false, Some(weights)) = (args.no_heatmap, weights) {
        draw(args, &example, weights, cmap)?;
    }
    let draw_time = draw_start.elapsed();
    if let Some(dir) = &args.save {
        save(dir, weights, output)?;
    }
    if let (Some(path), Some(weights)) = (&args.html, weights) {
        let facts = html::facts(
            &ctx.describe(),
            vec![
                ("Tokens".into(), dims.n.to_string()),
                ("Shapes".into(), shapes),
            ],
            &checks,
            args.tolerance,
        );
        html::write(path, &viewer_doc(args, &example, weights, cmap, facts))?;
    }
    let drew = !args.no_heatmap && weights.is_some();

    let mut phases = gpu_phases(&gpu.timings).to_vec();
    phases.push(("CPU reference", Some(cpu_time)));
    if drew {
        phases.push(("heatmap", Some(draw_time)));
    }
    say_times(&phases);
    if drew {
        say!("Heatmap written to {}", selfattn::fsutil::shown(&args.out));
    } else if args.no_weights && !args.no_heatmap {
        say!("No heatmap: --no-weights never forms the weights.");
    }
    if let Some(dir) = &args.save {
        say!(
            "Saved {}{}",
            if weights.is_some() {
                format!("{} and ", dir.join("weights.npy").display())
            } else {
                String::new()
            },
            dir.join("output.npy").display()
        );
    }
    Ok(stage_verdict(&checks))
}

/// The seed of the inputs, reused to sample the verified rows.
fn example_seed(args: &RunArgs) -> u32 {
    args.input.seed
}

/// Checks the GPU results in `want` against the CPU as `check` says, printing the report.
fn verify(
    plan: &Plan,
    example: &Example,
    gpu: &BTreeMap<Stage, Matrix>,
    want: &[Stage],
    check: &Check,
    tolerance: f64,
) -> Vec<Comparison> {
    let checks: Vec<Comparison> = match check {
        Check::None => {
            say!("\nNot checked against the CPU reference (--verify none).");
            return Vec::new();
        }
        Check::Full => {
            let reference = super::progress::while_running("CPU reference (f64)", || {
                cpu::attention::attention_stages(plan, &example.problem, want)
            });
            let checks: Vec<Comparison> = want
                .iter()
                .map(|s| compare(*s, &gpu[s], &reference[s], tolerance))
                .collect();
            say_checks(", every element", tolerance, "", &plain_lines(&checks));
            checks
        }
        Check::Rows(rows) => {
            let reference = super::progress::while_running("CPU reference rows (f64)", || {
                cpu::attention::reference_rows(&example.problem, rows)
            });
            let checks: Vec<Comparison> = want
                .iter()
                .map(|s| {
                    let m = &gpu[s];
                    let picked: Vec<f32> = rows
                        .iter()
                        .flat_map(|&r| m.data[r * m.cols..(r + 1) * m.cols].iter().copied())
                        .collect();
                    let expected: Vec<f64> = match s {
                        Stage::Weights => reference.weights.concat(),
                        _ => reference.output.concat(),
                    };
                    let sub = Matrix::new(rows.len(), m.cols, picked).expect("rows × cols");
                    let mut c = compare(*s, &sub, &expected, tolerance);
                    c.worst[0] = rows[c.worst[0]];
                    c
                })
                .collect();
            let scope = format!(" on {} sampled query rows {rows:?}", rows.len());
            say_checks(&scope, tolerance, "", &plain_lines(&checks));
            checks
        }
    };
    checks
}

/// The heatmap's title: --title, else the example's, marked when causal.
fn title(args: &RunArgs, example: &Example) -> String {
    args.title.clone().unwrap_or_else(|| {
        let causal = if example.problem.causal {
            ", causal"
        } else {
            ""
        };
        format!("{}{causal}", example.title)
    })
}

/// The viewer page's doc: one layer, one head, one item.
fn viewer_doc(
    args: &RunArgs,
    example: &Example,
    weights: &Matrix,
    cmap: Colormap,
    facts: Vec<(String, String)>,
) -> ViewerDoc {
    ViewerDoc {
        title: title(args, example),
        facts,
        causal: example.problem.causal,
        colormap: cmap,
        layer_labels: numbered("Layer", 1),
        head_labels: head_labels(1, None),
        items: vec![ViewerItem {
            label: "input".into(),
            query_tokens: example.tokens.clone(),
            key_tokens: example.tokens.clone(),
            weights: weights.data.clone(),
            query_positions: Vec::new(),
        }],
        head_scores: Vec::new(),
    }
}

/// Draws the weights, block-averaged when N exceeds what can be drawn one pixel per cell.
fn draw(args: &RunArgs, example: &Example, weights: &Matrix, cmap: Colormap) -> Result<()> {
    let causal = example.problem.causal;
    let title = title(args, example);
    let maps = Maps {
        panels: vec![(String::new(), &weights.data[..])],
        rows: weights.rows,
        cols: weights.cols,
        row_labels: example.tokens.clone(),
        col_labels: example.tokens.clone(),
    };
    tensors::draw(&args.out, &maps, &title, cmap, causal).map(|_| ())
}

/// Fails early, before any GPU work, when an output can't be written where asked.
fn check_output_paths(args: &RunArgs) -> Result<()> {
    let drawing = !args.no_heatmap && !args.no_weights;
    html::check_targets(&html::Targets {
        out: Some(args.out.as_path()).filter(|_| drawing),
        pictures: std::slice::from_ref(&args.out),
        html: args.html.as_deref(),
        save: args.save.as_deref(),
        no_weights: args.no_weights,
    })
}

fn save(dir: &Path, weights: Option<&Matrix>, output: &Matrix) -> Result<()> {
    create_dir(dir)?;
    if let Some(weights) = weights {
        write_array(
            &dir.join("weights.npy"),
            &[weights.rows, weights.cols],
            &weights.data,
        )?;
    }
    write_array(
        &dir.join("output.npy"),
        &[output.rows, output.cols],
        &output.data,
    )
}
