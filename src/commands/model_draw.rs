//! `model`'s pictures of one sentence: one head, one layer's heads, or the layers × heads
//! overview (BertViz's "model view" as a still image) above a zoomed panel that carries the
//! token labels the small maps have no room for.

use std::path::Path;

use selfattn::Result;
use selfattn::heatmap::{
    self, Colormap, FigureSpec, HeatmapSpec, MapStyle, Panel, block_average, save_image_png,
    stack_vertically,
};

use super::model::{ModelInfo, SentenceResult};
use super::tensors::{Maps, draw};

/// What to draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// One head of one layer.
    Head(usize, usize),
    /// Every head of one layer, plus their average.
    Layer(usize),
    /// Every layer × head, plus a zoomed panel.
    Overview,
}

/// Largest side of an overview map before it is block-averaged.
const OVERVIEW_MAX_CELLS: usize = 64;

/// Draws `r` as `selection` into `path`; a causal model's hidden triangle is left blank.
pub fn draw_sentence(
    path: &Path,
    r: &SentenceResult,
    info: &ModelInfo,
    selection: Selection,
    cmap: Colormap,
) -> Result<()> {
    let (model, layers, heads, causal) = (&info.name, info.layers, info.heads, info.causal);
    let n = r.tokens.len();
    let map = |layer: usize, head: usize| r.map(heads, layer, head);
    let mean = |layer: usize| r.head_mean(layer);
    let maps = |panels| Maps {
        panels,
        rows: n,
        cols: n,
        row_labels: r.labels.clone(),
        col_labels: r.labels.clone(),
    };
    match selection {
        Selection::Head(layer, head) => {
            let title = format!("{model}: layer {layer}, head {head}");
            let m = maps(vec![(String::new(), map(layer, head))]);
            draw(path, &m, &title, cmap, causal)?;
        }
        Selection::Layer(layer) => {
            let average = mean(layer);
            let mut panels: Vec<(String, &[f32])> = (0..heads)
                .map(|h| (format!("Head {h}"), map(layer, h)))
                .collect();
            panels.push(("Average".into(), average));
            let title = format!("{model}: layer {layer}, every head");
            draw(path, &maps(panels), &title, cmap, causal)?;
        }
        Selection::Overview => {
            let none = vec![String::new(); n];
            let small: Vec<_> = (0..layers * heads)
                .map(|i| {
                    block_average(
                        map(i / heads, i % heads),
                        n,
                        n,
                        &none,
                        &none,
                        OVERVIEW_MAX_CELLS,
                    )
                })
                .collect();
            let panels: Vec<Panel> = small
                .iter()
                .enumerate()
                .map(|(i, d)| Panel {
                    values: &d.values,
                    title: format!("L{} H{}", i / heads, i % heads),
                })
                .collect();
            let cells = small[0].rows;
            let blank = vec![String::new(); cells];
            let hidden_above =
                |f: usize| move |r: usize, c: usize| causal && c * f > (r + 1) * f - 1;
            let hide = hidden_above(small[0].factor);
            let mut title = format!("{model}: every layer (rows) × head (columns)");
            if small[0].factor > 1 {
                let f = small[0].factor;
                title.push_str(&format!(" ({f}×{f} block means of {n}×{n})"));
            }
            let overview = heatmap::render_figure(&FigureSpec {
                columns: Some(heads),
                style: MapStyle {
                    title: &title,
                    annotate: Some(false),
                    cmap,
                    range: Some((0.0, 1.0)),
                    hide: Some(&hide),
                    ..MapStyle::default()
                },
                ..FigureSpec::new(&panels, cells, cells, &blank, &blank)
            })?;
            // The zoomed panel: the last layer's average, with the tokens.
            let last = layers - 1;
            let zoom_values = mean(last);
            let zoom = block_average(
                zoom_values,
                n,
                n,
                &r.labels,
                &r.labels,
                heatmap::MAX_CELLS_PER_AXIS,
            );
            let zoom_hide = hidden_above(zoom.factor);
            let zoom_title = format!("Zoom: layer {last}, average of the {heads} heads");
            let zoomed = heatmap::render(&HeatmapSpec {
                style: MapStyle {
                    cmap,
                    title: &zoom_title,
                    hide: Some(&zoom_hide),
                    ..MapStyle::default()
                },
                ..HeatmapSpec::new(
                    &zoom.values,
                    zoom.rows,
                    zoom.cols,
                    &zoom.row_labels,
                    &zoom.col_labels,
                )
            })?;
            save_image_png(&stack_vertically(&[&overview.image, &zoomed.image]), path)?;
        }
    }
    Ok(())
}
