//! `selfattn sdpa`: torch.nn.functional.scaled_dot_product_attention on .npy arrays.

use super::say;
use selfattn::Result;
use selfattn::attention::Stage;
use selfattn::error::Error;
use selfattn::gpu::GpuContext;
use selfattn::gpu::row_blocks::RowBlock;
use selfattn::heatmap::Colormap;
use selfattn::npy::{BoolMask, read_array, read_mask};
use selfattn::sdpa::{SdpaPlan, SdpaProblem};
use selfattn::viewer::{ViewerDoc, ViewerItem, head_labels, layer_maps, numbered};

use super::Outcome;
use super::html;
use super::inputs::adapter;
use super::summary::stage_verdict;
use super::tensors::{
    Maps, Wanted, check_host_weights, check_outputs, draw, labels, print_times, query_row_blocks,
    run_row_blocks_and_check, save,
};
use crate::cli::SdpaArgs;

/// Runs scaled_dot_product_attention for `args`.
pub fn sdpa(args: &SdpaArgs) -> Result<Outcome> {
    let cmap = check_outputs(&args.output)?;
    let problem = SdpaProblem {
        q: read_array(&args.q, "q")?,
        k: read_array(&args.k, "k")?,
        v: read_array(&args.v, "v")?,
        attn_mask: args
            .attn_mask
            .as_ref()
            .map(|p| read_mask(p, "attn_mask", BoolMask::TrueAllows))
            .transpose()?,
        causal: args.causal,
        scale: args.scale,
    };
    let dims = problem.dims()?;
    let out = &args.output;
    // Pictures: panels over the last leading axis (heads), batch index over the rest.
    let (groups, panels_axis) = dims.groups_and_heads();
    if !out.no_weights {
        // The page holds every map and, with several heads, each group's mean.
        let averages = if panels_axis > 1 { groups } else { 0 };
        let viewer_maps = out.html.as_ref().map(|_| dims.batch + averages);
        check_host_weights(dims.batch, dims.l, dims.s, viewer_maps)?;
    }
    if out.batch_index >= groups {
        return Err(Error::Usage(format!(
            "--batch-index {} is out of range: there are {groups} batch element(s)",
            out.batch_index
        )));
    }
    let row_labels = labels(out.tokens.as_deref(), dims.l, "query")?;
    let col_labels = labels(out.key_tokens.as_deref(), dims.s, "key")?;
    let summary = format!(
        "q {:?}, k {:?}, v {:?}, scale {}{}{}",
        problem.q.shape,
        problem.k.shape,
        problem.v.shape,
        args.scale
            .map_or(format!("1/√{} (default)", dims.e), |s| s.to_string()),
        if args.causal { ", causal" } else { "" },
        problem
            .attn_mask
            .as_ref()
            .map_or(String::new(), |m| format!(
                ", attn_mask {:?} {}",
                m.array.shape,
                if m.was_bool { "bool" } else { "float" }
            ))
    );
    say!("scaled_dot_product_attention: {summary}");
    let shape = |last: usize| [dims.lead.clone(), vec![dims.l, last]].concat();
    let mut wanted = vec![Wanted {
        stage: Stage::Output,
        file: "output.npy",
        shape: shape(dims.ev),
    }];
    if !out.no_weights {
        wanted.push(Wanted {
            stage: Stage::Weights,
            file: "weights.npy",
            shape: shape(dims.s),
        });
    }
    let ctx = GpuContext::open(&adapter(&args.gpu))?;
    say!("Adapter: {}", ctx.describe());
    // Weights larger than one storage binding are computed in blocks of query rows.
    let blocks = query_row_blocks(&ctx, out.no_weights, dims.batch, dims.l, dims.s)?;
    // The page shows each group's mean over its heads, averaged on the GPU.
    let page_means = out.html.is_some() && !out.no_weights && panels_axis > 1;
    let mean_shape: Vec<Vec<usize>> = if page_means {
        vec![vec![groups, dims.l, dims.s]]
    } else {
        Vec::new()
    };
    let blocks = blocks.into_iter().map(|rows| {
        let plan = SdpaPlan::for_rows(&problem, dims.clone(), rows.clone())?;
        let mut ids = vec![if out.no_weights {
            plan.output_no_weights
        } else {
            plan.output
        }];
        if !out.no_weights {
            ids.push(plan.weights);
        }
        if page_means {
            ids.push(plan.weights_head_mean);
        }
        Ok(RowBlock {
            program: plan.program,
            inputs: plan.input_data,
            ids,
            rows,
        })
    });
    let results = run_row_blocks_and_check(&ctx, blocks, &wanted, &mean_shape, out.tolerance)?;
    if let Some(dir) = &out.save {
        save(dir, &wanted, &results.values)?;
    }
    if let Some(path) = &out.html {
        let facts = html::facts(
            &results.adapter,
            vec![("Inputs".into(), summary)],
            &results.checks,
            out.tolerance,
        );
        let doc = viewer_doc(
            &results.values[1],
            results.extra.first().map(|m| &m[..]),
            (groups, panels_axis, dims.l, dims.s),
            (&row_labels, &col_labels),
            args.causal && !out.show_masked,
            cmap,
            facts,
        );
        html::write(path, &doc)?;
    }
    let draw_time = if out.no_heatmap || out.no_weights {
        None
    } else {
        let (l, s) = (dims.l, dims.s);
        let weights = &results.values[1];
        let panels = (0..panels_axis)
            .map(|p| {
                let start = ((out.batch_index * panels_axis + p) * l) * s;
                let title = if panels_axis > 1 {
                    format!("Head {p}")
                } else {
                    "Weights".into()
                };
                (title, &weights[start..start + l * s])
            })
            .collect();
        let title = format!(
            "scaled_dot_product_attention{}",
            if groups > 1 {
                format!(", batch element {}", out.batch_index)
            } else {
                String::new()
            }
        );
        let maps = Maps {
            panels,
            rows: l,
            cols: s,
            row_labels,
            col_labels,
        };
        let hide_masked = args.causal && !out.show_masked;
        let time = draw(&out.out, &maps, &title, cmap, hide_masked)?;
        say!("Heatmap written to {}", selfattn::fsutil::shown(&out.out));
        Some(time)
    };
    print_times(&results, draw_time);
    Ok(stage_verdict(&results.checks))
}

/// The viewer's doc: one item per batch element, the last leading axis as heads (plus their
/// mean, "Average", when there are several: `means`, (groups, l, s)). `weights` is (groups,
/// heads, l, s), row-major.
fn viewer_doc(
    weights: &[f32],
    means: Option<&[f32]>,
    (groups, heads, l, s): (usize, usize, usize, usize),
    (row_labels, col_labels): (&[String], &[String]),
    causal: bool,
    colormap: Colormap,
    facts: Vec<(String, String)>,
) -> ViewerDoc {
    let map = l * s;
    let items = (0..groups)
        .map(|g| {
            let own = &weights[g * heads * map..(g + 1) * heads * map];
            let mean = means.map(|m| &m[g * map..(g + 1) * map]);
            let weights = layer_maps(Some(own), mean, (1, heads, map));
            ViewerItem {
                label: format!("batch element {g}"),
                query_tokens: row_labels.to_vec(),
                key_tokens: col_labels.to_vec(),
                weights,
                query_positions: Vec::new(),
            }
        })
        .collect();
    let head_labels = head_labels(heads, means.map(|_| "Average"));
    ViewerDoc {
        title: "scaled_dot_product_attention".into(),
        facts,
        causal,
        colormap,
        layer_labels: numbered("Layer", 1),
        head_labels,
        items,
        head_scores: Vec::new(),
    }
}
