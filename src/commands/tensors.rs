//! What `mha` and `sdpa` share: run a program on the GPU, check the requested tensors against the
//! CPU reference, save them as .npy with PyTorch's shapes, and draw one batch element's maps.

use super::say;
use super::summary::{CheckLine, gpu_phases, say_checks, say_times};
use std::ops::Range;
use std::path::Path;
use std::time::{Duration, Instant};

use selfattn::Result;
use selfattn::attention::Stage;
use selfattn::compare::{Comparison, compare_shaped};
use selfattn::cpu;
use selfattn::error::Error;
use selfattn::fsutil::create_dir;
use selfattn::gpu::GpuContext;
use selfattn::gpu::execute::{Kernels, Timings};
use selfattn::gpu::row_blocks::{RowBlock, run_row_blocks};
use selfattn::heatmap::{self, Colormap, FigureSpec, HeatmapSpec, MapStyle, Panel, block_average};
use selfattn::limits;
use selfattn::npy::write_array;
use selfattn::program::{BufId, Program};
use selfattn::viewer::MAX_TOTAL_WEIGHTS;

use crate::cli::OutputArgs;

use super::inputs::check_tolerance;

/// The most bytes of weights a command assembles on the host (4 GiB; N = 32,768 for one head):
/// beyond, row blocks would fit the GPU but the whole matrix would not fit a sensible host.
pub const MAX_HOST_WEIGHTS_BYTES: u64 = 1 << 32;

/// Refuses, before any work, a run whose attention weights would not fit the host: `matrices`
/// (batch × heads) weights of `rows` × `keys` each, of which `viewer_maps` maps go into an
/// `--html` page. Three limits: selfattn's own 4 GiB of weights, the viewer's
/// [`MAX_TOTAL_WEIGHTS`], and the memory the machine has now ([`selfattn::limits`]), counting
/// twice the weights (the read-back matrix and the head mean / picture / page copy; a run
/// peaked at 1.8× at N = 8192) — each message names the size, the limit and the flag.
pub fn check_host_weights(
    matrices: usize,
    rows: usize,
    keys: usize,
    viewer_maps: Option<usize>,
) -> Result<()> {
    let map = (rows as u64).saturating_mul(keys as u64);
    let count = (matrices as u64).saturating_mul(map);
    let bytes = count.saturating_mul(4);
    let what = if matrices == 1 {
        format!("the {rows}×{keys} attention weights")
    } else {
        format!("the attention weights ({matrices} × {rows} × {keys})")
    };
    if bytes > MAX_HOST_WEIGHTS_BYTES {
        return Err(Error::InvalidSize(format!(
            "{what} need {bytes} bytes on the host, more than selfattn's host limit of \
             {MAX_HOST_WEIGHTS_BYTES} bytes (4 GiB); --no-weights computes the output without them"
        )));
    }
    let page = viewer_maps.map_or(0, |m| (m as u64).saturating_mul(map));
    if page > MAX_TOTAL_WEIGHTS as u64 {
        return Err(Error::InvalidSize(format!(
            "--html would hold {page} weights ({} maps of {rows} × {keys}), more than the \
             {MAX_TOTAL_WEIGHTS} one viewer page can; drop --html (the PNG and --save still work)",
            viewer_maps.unwrap_or(0)
        )));
    }
    limits::check_host_bytes(
        &format!("{what} and their working copy"),
        bytes
            .saturating_mul(2)
            .saturating_add(page.saturating_mul(4)),
        "--no-weights computes the output without them",
    )
}

/// Query rows per block so that one block's weights — `matrices` (batch × heads) × rows × `keys`
/// f32 — fit the device's storage binding limit: all `rows` when the whole weights fit at once.
/// Errors before any GPU work when the whole weights would not fit the host, or a single row of
/// them would not fit a binding.
pub fn weight_rows_per_block(
    ctx: &GpuContext,
    matrices: usize,
    rows: usize,
    keys: usize,
) -> Result<usize> {
    let row_bytes = (matrices as u64)
        .saturating_mul(keys as u64)
        .saturating_mul(4);
    let total = row_bytes.saturating_mul(rows as u64);
    check_host_weights(matrices, rows, keys, None)?;
    let (limit, limit_name) = ctx.max_storage_bytes();
    // The kernels index with u32: no block may hold 2^32 or more elements either.
    let limit = limit.min(u32::MAX as u64 * 4);
    if total <= limit {
        return Ok(rows.max(1));
    }
    if row_bytes > limit {
        return Err(Error::BufferTooLarge {
            what: format!("one query row of the weights ({matrices} × {keys})"),
            needed: row_bytes,
            limit_name,
            limit,
        });
    }
    Ok(((limit / row_bytes) as usize).clamp(1, rows))
}

/// The blocks of query rows mha and sdpa compute one at a time: every row at once with
/// `no_weights` or when the weights fit one storage binding, else blocks of
/// [`weight_rows_per_block`] rows (said on stdout).
pub fn query_row_blocks(
    ctx: &GpuContext,
    no_weights: bool,
    matrices: usize,
    rows: usize,
    keys: usize,
) -> Result<Vec<Range<usize>>> {
    let per_block = if no_weights {
        rows.max(1)
    } else {
        weight_rows_per_block(ctx, matrices, rows, keys)?
    };
    if per_block < rows {
        say!(
            "The weights exceed {}'s storage binding limit: computing them in {} blocks of up to \
             {per_block} query rows",
            ctx.info.name,
            rows.div_ceil(per_block)
        );
    }
    Ok((0..rows)
        .step_by(per_block)
        .map(|start| start..(start + per_block).min(rows))
        .collect())
}

/// One tensor to read back: what it is, its PyTorch shape (the buffers holding it are named by
/// each program that computes it).
pub struct Wanted {
    /// Output or Weights (drives the tolerance rule).
    pub stage: Stage,
    /// File name when saved, e.g. "output.npy".
    pub file: &'static str,
    /// PyTorch's shape (…, L, ·): the second-to-last axis runs over the query rows.
    pub shape: Vec<usize>,
}

/// The tensors read back, their checks and the phase times.
pub struct Results {
    /// The adapter that ran them, described.
    pub adapter: String,
    /// Values of each extra buffer asked for, in order (not checked, e.g. per-head weights for
    /// the picture when the saved weights are the mean).
    pub extra: Vec<Vec<f32>>,
    /// Values of each [`Wanted`], in order.
    pub values: Vec<Vec<f32>>,
    /// One comparison per [`Wanted`].
    pub checks: Vec<Comparison>,
    /// GPU phase times.
    pub timings: Timings,
    /// CPU reference time.
    pub cpu_time: Duration,
}

/// Fails early when the output flags can't be honoured.
pub fn check_outputs(out: &OutputArgs) -> Result<Colormap> {
    check_tolerance(out.tolerance)?;
    let cmap = out.cmap;
    let drawing = !out.no_heatmap && !out.no_weights;
    super::html::check_targets(&super::html::Targets {
        out: Some(out.out.as_path()).filter(|_| drawing),
        pictures: std::slice::from_ref(&out.out),
        html: out.html.as_deref(),
        save: out.save.as_deref(),
        no_weights: out.no_weights,
    })?;
    Ok(cmap)
}

/// Runs the row blocks (one block of all rows, when the weights fit one buffer) with
/// [`run_row_blocks`], the CPU reference of each block beside it, then checks the wanted tensors
/// and prints the report. The unchecked extras are shaped `extra_shapes`.
pub fn run_row_blocks_and_check<'a>(
    ctx: &GpuContext,
    blocks: impl Iterator<Item = Result<RowBlock<'a>>>,
    wanted: &[Wanted],
    extra_shapes: &[Vec<usize>],
    tolerance: f64,
) -> Result<Results> {
    let kernels = Kernels::new(ctx)?;
    let shapes: Vec<Vec<usize>> = wanted
        .iter()
        .map(|w| w.shape.clone())
        .chain(extra_shapes.iter().cloned())
        .collect();
    let reference = |program: &Program, inputs: &[&[f32]], want: &[BufId]| {
        super::progress::while_running("CPU reference (f64)", || {
            cpu::execute::execute(program, inputs, want)
        })
    };
    let mut run = run_row_blocks(
        ctx,
        &kernels,
        blocks,
        &shapes,
        (wanted.len(), Some(&reference)),
    )?;
    let extra = run.values.split_off(wanted.len());
    let checks = check_and_report(wanted, &run.values, &run.reference, tolerance);
    Ok(Results {
        adapter: ctx.describe(),
        extra,
        values: run.values,
        checks,
        timings: run.timings,
        cpu_time: run.cpu_time,
    })
}

/// Compares each wanted tensor with its reference and prints the report.
fn check_and_report(
    wanted: &[Wanted],
    values: &[Vec<f32>],
    reference: &[Vec<f64>],
    tolerance: f64,
) -> Vec<Comparison> {
    let checks: Vec<Comparison> = wanted
        .iter()
        .zip(values.iter().zip(reference))
        .map(|(w, (v, r))| compare_shaped(w.stage, v, &w.shape, r, tolerance))
        .collect();
    let lines: Vec<CheckLine> = wanted
        .iter()
        .zip(&checks)
        .map(|(w, comparison)| CheckLine {
            name: None,
            comparison,
            note: Some(format!("shape {:?}", w.shape)),
        })
        .collect();
    say_checks("", tolerance, "", &lines);
    checks
}

/// Writes each wanted tensor into `dir` (created if missing).
pub fn save(dir: &Path, wanted: &[Wanted], values: &[Vec<f32>]) -> Result<()> {
    create_dir(dir)?;
    for (w, v) in wanted.iter().zip(values) {
        write_array(&dir.join(w.file), &w.shape, v)?;
    }
    say!(
        "Saved {} in {}",
        wanted
            .iter()
            .map(|w| w.file)
            .collect::<Vec<_>>()
            .join(" and "),
        dir.display()
    );
    Ok(())
}

/// Prints the phase times.
pub fn print_times(r: &Results, draw: Option<Duration>) {
    let mut phases = gpu_phases(&r.timings).to_vec();
    phases.push(("CPU reference", Some(r.cpu_time)));
    if let Some(d) = draw {
        phases.push(("heatmap", Some(d)));
    }
    say_times(&phases);
}

/// Labels from a space-separated flag, checked against `n`, else 0..n-1.
pub fn labels(flag: Option<&str>, n: usize, what: &str) -> Result<Vec<String>> {
    match flag {
        Some(t) => {
            let l: Vec<String> = t.split_whitespace().map(String::from).collect();
            if l.len() != n {
                return Err(Error::ShapeMismatch(format!(
                    "{} {what} labels given but there are {n} positions",
                    l.len()
                )));
            }
            Ok(l)
        }
        None => Ok((0..n).map(|i| i.to_string()).collect()),
    }
}

/// The maps of one batch element: (title, rows×cols values) per panel, borrowed (an N×N map
/// can be most of a run's memory; drawing never copies it).
pub struct Maps<'a> {
    /// Panels in order.
    pub panels: Vec<(String, &'a [f32])>,
    /// Query positions.
    pub rows: usize,
    /// Key positions.
    pub cols: usize,
    /// Query labels.
    pub row_labels: Vec<String>,
    /// Key labels.
    pub col_labels: Vec<String>,
}

/// Largest side of each panel in a multi-panel figure before it is block-averaged (so that a row of
/// panels stays within the figure's width bound).
const MULTI_PANEL_MAX_CELLS: usize = 256;

/// Draws `maps` into `path`: one heatmap, or a figure with a panel per map and one colorbar;
/// `hide_masked` leaves the causal triangle blank.
pub fn draw(
    path: &Path,
    maps: &Maps,
    title: &str,
    cmap: Colormap,
    hide_masked: bool,
) -> Result<Duration> {
    let start = Instant::now();
    // Maps too large to draw one pixel per cell are block-averaged (every panel alike), and the
    // title says so.
    let max_cells = if maps.panels.len() == 1 {
        heatmap::MAX_CELLS_PER_AXIS
    } else {
        MULTI_PANEL_MAX_CELLS
    };
    let small: Vec<_> = maps
        .panels
        .iter()
        .map(|(_, v)| {
            block_average(
                v,
                maps.rows,
                maps.cols,
                &maps.row_labels,
                &maps.col_labels,
                max_cells,
            )
        })
        .collect();
    let f = small[0].factor;
    let hide = |r: usize, c: usize| hide_masked && c * f > (r + 1) * f - 1;
    let mut title = title.to_string();
    if f > 1 {
        title.push_str(&format!(
            " ({f}×{f} block means of {}×{})",
            maps.rows, maps.cols
        ));
    }
    let title = title.as_str();
    let maps = Maps {
        panels: maps
            .panels
            .iter()
            .zip(&small)
            .map(|((t, _), d)| (t.clone(), &d.values[..]))
            .collect(),
        rows: small[0].rows,
        cols: small[0].cols,
        row_labels: small[0].row_labels.clone(),
        col_labels: small[0].col_labels.clone(),
    };
    let maps = &maps;
    let style = MapStyle {
        title,
        cmap,
        hide: Some(&hide),
        ..MapStyle::default()
    };
    let image = if maps.panels.len() == 1 {
        heatmap::render(&HeatmapSpec {
            style,
            ..HeatmapSpec::new(
                maps.panels[0].1,
                maps.rows,
                maps.cols,
                &maps.row_labels,
                &maps.col_labels,
            )
        })?
    } else {
        let panels: Vec<Panel> = maps
            .panels
            .iter()
            .map(|(t, v)| Panel {
                values: v,
                title: t.clone(),
            })
            .collect();
        heatmap::render_figure(&FigureSpec {
            style,
            ..FigureSpec::new(
                &panels,
                maps.rows,
                maps.cols,
                &maps.row_labels,
                &maps.col_labels,
            )
        })?
    };
    image.save_png(path)?;
    Ok(start.elapsed())
}
