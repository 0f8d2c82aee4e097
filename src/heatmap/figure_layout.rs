//! Where the panels of a figure go: the grid, the space each grid row and column needs for its
//! labels and titles, the shared colorbar and the figure's own titles.
//!
//! Kept apart from `figure` (the spec and the cell-size search) so each file has one job; every
//! panel is still laid out by the single heatmap's [`PanelLayout`], only placed here.

use super::HeatmapSpec;
use super::colorbar::ColorbarLayout;
use super::colormap::ColorScale;
use super::figure::FigureSpec;
use super::layout::{
    AXIS_TITLE_PX, COLORBAR_GAP, COLORBAR_MIN_HEIGHT, GAP, MAX_TITLE_WIDTH, PanelLayout,
    PanelParts, Rect, TITLE_PX, TextItem, bounding,
};
use super::text::{Orientation, TextStyle};

/// The automatic grid never has more panels per row than this.
const MAX_AUTO_COLUMNS: usize = 4;
/// Blank space between neighbouring panels' outer boxes (labels included).
const PANEL_GAP_X: u32 = 20;
const PANEL_GAP_Y: u32 = 14;
/// Panel titles: font size range and the gap to the grid.
const PANEL_TITLE_MAX_PX: f32 = 15.0;
const PANEL_TITLE_MIN_PX: f32 = 10.0;
const PANEL_TITLE_GAP: u32 = 4;

/// Panels per grid row for `n` panels: all in one row up to 4; beyond that between ⌈√n⌉ and 4,
/// whichever leaves the fewest empty slots in the last row (8 → 4 + 4, 9 → 3 × 3).
pub(super) fn auto_columns(n: usize) -> usize {
    if n <= MAX_AUTO_COLUMNS {
        return n.max(1);
    }
    let mut root = 1;
    while root * root < n {
        root += 1;
    }
    let first = root.min(MAX_AUTO_COLUMNS);
    (first..=MAX_AUTO_COLUMNS)
        .min_by_key(|&c| n.div_ceil(c) * c - n)
        .unwrap_or(MAX_AUTO_COLUMNS)
}

/// Where every panel, text and the colorbar of a figure go, in figure coordinates (the first
/// panel's grid corner is not necessarily at the origin; [`FigureLayout::bounds`] says where
/// everything is).
#[derive(Debug, Clone)]
pub(super) struct FigureLayout {
    /// Cell edge in pixels.
    pub(super) cell: u32,
    /// Each panel's layout, relative to its own grid corner.
    pub(super) panels: Vec<PanelLayout>,
    /// Each panel's grid corner.
    pub(super) origins: Vec<(i64, i64)>,
    /// Figure title and axis titles.
    pub(super) texts: Vec<TextItem>,
    /// The shared colorbar.
    pub(super) bar: ColorbarLayout,
}

impl FigureLayout {
    /// Lays out `specs` (one per panel, validated, same shape) in a grid `grid_cols` panels wide
    /// with cells of `cell` pixels; the title is truncated to `title_width`.
    pub(super) fn new(
        figure: &FigureSpec,
        specs: &[HeatmapSpec],
        grid_cols: usize,
        cell: u32,
        scale: &ColorScale,
        title_width: u32,
    ) -> Self {
        let n = specs.len();
        let grid_rows = n.div_ceil(grid_cols);
        let grid_w = cell * figure.cols as u32;
        let title_px = (grid_w as f32 / 6.0).clamp(PANEL_TITLE_MIN_PX, PANEL_TITLE_MAX_PX);
        let panels: Vec<PanelLayout> = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let parts = PanelParts {
                    row_labels: i % grid_cols == 0,
                    col_labels: i + grid_cols >= n,
                    title_style: TextStyle::new(title_px),
                    title_max_width: grid_w + PANEL_GAP_X / 2,
                    title_gap: PANEL_TITLE_GAP,
                };
                PanelLayout::with_parts(spec, cell, &parts)
            })
            .collect();
        let grid = panels[0].grid;

        // How far each grid column's and grid row's panels reach beyond their grids.
        let (mut left, mut right) = (vec![0i64; grid_cols], vec![0i64; grid_cols]);
        let (mut above, mut below) = (vec![0i64; grid_rows], vec![0i64; grid_rows]);
        for (i, panel) in panels.iter().enumerate() {
            let (r, c) = (i / grid_cols, i % grid_cols);
            let b = panel.bounds();
            left[c] = left[c].max(grid.x - b.x);
            right[c] = right[c].max(b.right() - grid.right());
            above[r] = above[r].max(grid.y - b.y);
            // Key labels over an empty slot of the ragged last row hang into that slot instead
            // of pushing the whole last row down.
            let overhangs = r + 1 < grid_rows && i + grid_cols >= n;
            if !overhangs {
                below[r] = below[r].max(b.bottom() - grid.bottom());
            }
        }
        let place = |before: &[i64], after: &[i64], size: u32, gap: u32| {
            let mut at = 0i64;
            let mut corners = Vec::with_capacity(before.len());
            for (b, a) in before.iter().zip(after) {
                at += b;
                corners.push(at);
                at += i64::from(size) + a + i64::from(gap);
            }
            corners
        };
        let xs = place(&left, &right, grid.w, PANEL_GAP_X);
        let ys = place(&above, &below, grid.h, PANEL_GAP_Y);
        let origins: Vec<(i64, i64)> = (0..n)
            .map(|i| (xs[i % grid_cols], ys[i / grid_cols]))
            .collect();

        let block = bounding(
            Rect::new(xs[0], ys[0], grid.w, grid.h),
            &placed_bounds(&panels, &origins),
        );
        let grids_x = (xs[0], xs[grid_cols - 1] + i64::from(grid.w));
        let grids_y = (ys[0], ys[grid_rows - 1] + i64::from(grid.h));

        let bar_height = u32::try_from(grids_y.1 - grids_y.0)
            .unwrap_or(u32::MAX)
            .max(COLORBAR_MIN_HEIGHT);
        let bar = ColorbarLayout::new(
            (block.right() + i64::from(COLORBAR_GAP), grids_y.0),
            bar_height,
            scale,
            figure.style.colorbar_label,
        );

        // Axis titles centred on the panels' grids, kept within the panels' reach.
        let mut texts = Vec::new();
        let axis_style = TextStyle::new(AXIS_TITLE_PX);
        let gap = i64::from(GAP);
        let centred = |lo: i64, hi: i64, len: u32, min: i64, max: i64| {
            ((lo + hi) / 2 - i64::from(len / 2)).clamp(min, (max - i64::from(len)).max(min))
        };
        texts.extend(TextItem::fitted(
            figure.style.x_label,
            axis_style,
            block.w.min(MAX_TITLE_WIDTH),
            Orientation::Horizontal,
            |w, _| {
                let x = centred(grids_x.0, grids_x.1, w, block.x, block.right());
                (x, block.bottom() + gap)
            },
        ));
        texts.extend(TextItem::fitted(
            figure.style.y_label,
            axis_style,
            block.h.min(MAX_TITLE_WIDTH),
            Orientation::Upward,
            |w, h| {
                let y = centred(grids_y.0, grids_y.1, h, block.y, block.bottom());
                (block.x - gap - i64::from(w), y)
            },
        ));
        // The figure title is centred on everything else, so a title no wider than the width
        // bound never widens the picture beyond it.
        let content = bounding(block.union(&bar.bounds()), texts.iter().map(|t| &t.rect));
        texts.extend(TextItem::fitted(
            figure.style.title,
            TextStyle::new(TITLE_PX),
            title_width,
            Orientation::Horizontal,
            |w, h| {
                (
                    content.x + i64::from(content.w / 2) - i64::from(w / 2),
                    content.y - gap - 2 - i64::from(h),
                )
            },
        ));
        Self {
            cell,
            panels,
            origins,
            texts,
            bar,
        }
    }

    /// Everything the figure draws.
    pub(super) fn bounds(&self) -> Rect {
        let panels = placed_bounds(&self.panels, &self.origins);
        let texts = self.texts.iter().map(|t| &t.rect);
        bounding(self.bar.bounds(), panels.iter().chain(texts))
    }
}

/// The bounds of each panel moved to its grid corner in `origins`.
fn placed_bounds(panels: &[PanelLayout], origins: &[(i64, i64)]) -> Vec<Rect> {
    panels
        .iter()
        .zip(origins)
        .map(|(panel, &at)| panel.bounds().moved(at))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heatmap::figure::Panel;
    use crate::heatmap::render_figure;

    #[test]
    fn automatic_grids_avoid_ragged_rows_and_stay_narrow() {
        let got: Vec<usize> = (1..=16).map(auto_columns).collect();
        assert_eq!(got, [1, 2, 3, 4, 3, 3, 4, 4, 3, 4, 4, 4, 4, 4, 4, 4]);
        assert_eq!(auto_columns(0), 1);
        assert_eq!(auto_columns(72), 4);
    }

    /// Lays out a figure the way `render_figure` does and checks that no two texts overlap and
    /// that no text covers a cell grid or the colorbar: what "readable" means for a layout.
    fn assert_no_overlaps(figure: &FigureSpec) {
        figure.validate().unwrap();
        let heatmap = render_figure(figure).unwrap();
        let scale = figure.scale();
        let specs: Vec<HeatmapSpec> = figure
            .panels
            .iter()
            .map(|p| figure.panel_spec(p, false, &scale))
            .collect();
        let layout = FigureLayout::new(
            figure,
            &specs,
            figure.grid_columns(),
            heatmap.cell_size(),
            &scale,
            MAX_TITLE_WIDTH,
        );
        let mut texts: Vec<Rect> = layout.texts.iter().map(|t| t.rect).collect();
        texts.extend(layout.bar.texts.iter().map(|t| t.rect));
        let mut solids = vec![layout.bar.bar];
        for (panel, &(x, y)) in layout.panels.iter().zip(&layout.origins) {
            texts.extend(panel.texts.iter().map(|t| t.rect.moved((x, y))));
            solids.push(Rect::new(x, y, panel.grid.w, panel.grid.h));
        }
        let meet = |a: &Rect, b: &Rect| {
            a.x < b.right() && b.x < a.right() && a.y < b.bottom() && b.y < a.bottom()
        };
        for (i, a) in texts.iter().enumerate() {
            for b in &texts[i + 1..] {
                assert!(!meet(a, b), "texts overlap: {a:?} {b:?}");
            }
            for s in &solids {
                assert!(!meet(a, s), "text {a:?} covers {s:?}");
            }
        }
    }

    #[test]
    fn figure_texts_never_overlap_each_other_or_the_cells() {
        let words: Vec<String> = ["The", "quick", "brown", "fox", "jumps", "over", "it"]
            .iter()
            .map(|w| w.to_string())
            .collect();
        let long: Vec<String> = (0..7).map(|i| format!("a_long_token_number_{i}")).collect();
        let values = vec![0.5f32; 49];
        for (count, columns, cols_labels) in [
            (9, None, &words),
            (8, Some(3), &long),
            (5, None, &long),
            (72, Some(12), &words),
            (1, None, &long),
        ] {
            let panels: Vec<Panel> = (0..count)
                .map(|i| Panel {
                    values: &values,
                    title: format!("Layer {} Head {}", i / 12, i % 12),
                })
                .collect();
            let mut figure = FigureSpec::new(&panels, 7, 7, &words, cols_labels);
            figure.columns = columns;
            figure.style.title = "Attention of every head";
            assert_no_overlaps(&figure);
        }
    }
}
