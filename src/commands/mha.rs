//! `selfattn mha`: torch.nn.MultiheadAttention(batch_first=True), eval mode.

use super::say;
use selfattn::Result;
use selfattn::attention::Stage;
use selfattn::error::Error;
use selfattn::gpu::GpuContext;
use selfattn::gpu::row_blocks::RowBlock;
use selfattn::mha::{MhaPlan, MhaProblem, MhaWeights};
use selfattn::npy::{BoolMask, read_array, read_mask};
use selfattn::state_dict::StateDict;
use selfattn::viewer::{ViewerDoc, ViewerItem, head_labels, layer_maps, numbered};

use super::Outcome;
use super::html;
use super::inputs::adapter;
use super::summary::stage_verdict;
use super::tensors::{
    Maps, Wanted, check_host_weights, check_outputs, draw, labels, print_times, query_row_blocks,
    run_row_blocks_and_check, save,
};
use crate::cli::MhaArgs;

/// Runs the module described by `args`.
pub fn mha(args: &MhaArgs) -> Result<Outcome> {
    let cmap = check_outputs(&args.output)?;
    if args.heads == 0 {
        return Err(Error::Usage("--heads must be at least 1".into()));
    }
    let weights = match (&args.state_dict, args.embed_dim) {
        (Some(path), _) => MhaWeights::from_state_dict(&StateDict::load(path)?)?,
        (None, Some(e)) if e > 0 => MhaWeights::random(e, args.seed),
        (None, _) => {
            return Err(Error::Usage(
                "give the module's weights with --state-dict FILE.safetensors, or --embed-dim E to draw them"
                    .into(),
            ));
        }
    };
    let problem = MhaProblem {
        weights,
        heads: args.heads,
        query: read_array(&args.query, "query")?,
        key: args
            .key
            .as_ref()
            .map(|p| read_array(p, "key"))
            .transpose()?,
        value: args
            .value
            .as_ref()
            .map(|p| read_array(p, "value"))
            .transpose()?,
        key_padding_mask: args
            .key_padding_mask
            .as_ref()
            .map(|p| read_mask(p, "key_padding_mask", BoolMask::TrueMasks))
            .transpose()?,
        attn_mask: args
            .attn_mask
            .as_ref()
            .map(|p| read_mask(p, "attn_mask", BoolMask::TrueMasks))
            .transpose()?,
        causal: args.causal,
    };
    let dims = problem.dims()?;
    let out = &args.output;
    if out.batch_index >= dims.n {
        return Err(Error::Usage(format!(
            "--batch-index {} is out of range: the batch has {} element(s)",
            out.batch_index, dims.n
        )));
    }
    let row_labels = labels(out.tokens.as_deref(), dims.l, "query")?;
    let key_flag = out
        .key_tokens
        .as_deref()
        .or(out.tokens.as_deref().filter(|_| args.key.is_none()));
    let col_labels = labels(key_flag, dims.s, "key")?;

    let summary = format!(
        "embed_dim {}, {} head(s) of {}, kdim {}, vdim {}, bias {}; N {}, L {}, S {}{}{}{}",
        dims.e,
        dims.heads,
        dims.head_dim,
        problem.weights.kdim,
        problem.weights.vdim,
        if problem.weights.in_bias.is_some() {
            "yes"
        } else {
            "no"
        },
        dims.n,
        dims.l,
        dims.s,
        if dims.batched { "" } else { " (unbatched)" },
        if args.causal { ", causal" } else { "" },
        match (&problem.key_padding_mask, &problem.attn_mask) {
            (None, None) => String::new(),
            (k, a) => format!(
                ", masks:{}{}",
                k.as_ref().map_or(String::new(), |m| format!(
                    " key_padding_mask {:?} {}",
                    m.array.shape,
                    if m.was_bool { "bool" } else { "float" }
                )),
                a.as_ref().map_or(String::new(), |m| format!(
                    " attn_mask {:?} {}",
                    m.array.shape,
                    if m.was_bool { "bool" } else { "float" }
                ))
            ),
        }
    );
    say!("MultiheadAttention: {summary}");
    let mut wanted = vec![Wanted {
        stage: Stage::Output,
        file: "output.npy",
        shape: dims.output_shape(dims.l),
    }];
    if !out.no_weights {
        wanted.push(Wanted {
            stage: Stage::Weights,
            file: "weights.npy",
            shape: dims.weights_shape(dims.l, args.per_head),
        });
    }
    let drawing = !out.no_heatmap && !out.no_weights;
    // The picture needs every head of one batch element and the mean, the viewer every head of
    // every batch element (check_outputs refused --html with --no-weights).
    let picture_needs_heads = (drawing || out.html.is_some()) && dims.heads > 1;
    let extra_shapes: Vec<Vec<usize>> = if picture_needs_heads {
        vec![dims.weights_shape(dims.l, !args.per_head)]
    } else {
        Vec::new()
    };
    if !out.no_weights {
        // The page holds every head of every batch element and, with several heads, their mean.
        let maps_per_item = if dims.heads > 1 { dims.heads + 1 } else { 1 };
        let viewer_maps = out.html.as_ref().map(|_| dims.n * maps_per_item);
        check_host_weights(dims.n * dims.heads, dims.l, dims.s, viewer_maps)?;
    }
    let ctx = GpuContext::open(&adapter(&args.gpu))?;
    say!("Adapter: {}", ctx.describe());
    // Weights larger than one storage binding (every head's are on the GPU) are computed in
    // blocks of query rows.
    let blocks = query_row_blocks(&ctx, out.no_weights, dims.n * dims.heads, dims.l, dims.s)?;
    let blocks = blocks.into_iter().map(|rows| {
        let plan = MhaPlan::for_rows(&problem, dims, rows.clone());
        let mut ids = vec![if out.no_weights {
            plan.output_no_weights
        } else {
            plan.output
        }];
        if !out.no_weights {
            let (saved, other) = if args.per_head {
                (plan.weights_per_head, plan.weights_mean)
            } else {
                (plan.weights_mean, plan.weights_per_head)
            };
            ids.push(saved);
            if picture_needs_heads {
                ids.push(other);
            }
        }
        Ok(RowBlock {
            program: plan.program,
            inputs: plan.input_data,
            ids,
            rows,
        })
    });
    let results = run_row_blocks_and_check(&ctx, blocks, &wanted, &extra_shapes, out.tolerance)?;

    if let Some(dir) = &out.save {
        save(dir, &wanted, &results.values)?;
    }
    let (l, s, h) = (dims.l, dims.s, dims.heads);
    let (per_head, mean) = match (picture_needs_heads, args.per_head, out.no_weights) {
        (_, _, true) => (None, None),
        (false, _, false) => (None, Some(&results.values[1])),
        (true, true, false) => (Some(&results.values[1]), Some(&results.extra[0])),
        (true, false, false) => (Some(&results.extra[0]), Some(&results.values[1])),
    };
    let hide_masked = args.causal && !out.show_masked;
    if let (Some(path), Some(mean)) = (&out.html, mean) {
        let facts = html::facts(
            &results.adapter,
            vec![("Module".into(), summary)],
            &results.checks,
            out.tolerance,
        );
        let head_labels = head_labels(h, (h > 1).then_some("Average"));
        let items = (0..dims.n)
            .map(|b| {
                let map = l * s;
                let heads = per_head.map(|w| &w[b * h * map..(b + 1) * h * map]);
                let weights = layer_maps(heads, Some(&mean[b * map..(b + 1) * map]), (1, h, map));
                ViewerItem {
                    label: if dims.batched {
                        format!("batch element {b}")
                    } else {
                        "input".into()
                    },
                    query_tokens: row_labels.clone(),
                    key_tokens: col_labels.clone(),
                    weights,
                    query_positions: Vec::new(),
                }
            })
            .collect();
        let doc = ViewerDoc {
            title: format!(
                "MultiheadAttention, {h} head{}",
                if h > 1 { "s" } else { "" }
            ),
            facts,
            causal: hide_masked,
            colormap: cmap,
            layer_labels: numbered("Layer", 1),
            head_labels,
            items,
            head_scores: Vec::new(),
        };
        html::write(path, &doc)?;
    }
    let draw_time = if let (true, Some(mean)) = (drawing, mean) {
        let b = out.batch_index;
        let mut panels = Vec::new();
        if let Some(per_head) = per_head {
            for head in 0..h {
                let start = ((b * h + head) * l) * s;
                panels.push((format!("Head {head}"), &per_head[start..start + l * s]));
            }
        }
        let start = b * l * s;
        panels.push((
            if h > 1 {
                "Average".into()
            } else {
                "Head 0".into()
            },
            &mean[start..start + l * s],
        ));
        let title = format!(
            "MultiheadAttention, {} head{}{}",
            h,
            if h > 1 { "s" } else { "" },
            if dims.n > 1 {
                format!(", batch element {b}")
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
        let time = draw(&out.out, &maps, &title, cmap, hide_masked)?;
        say!("Heatmap written to {}", selfattn::fsutil::shown(&out.out));
        Some(time)
    } else {
        None
    };
    print_times(&results, draw_time);
    Ok(stage_verdict(&results.checks))
}
