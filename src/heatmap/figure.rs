//! Several heatmap panels in one picture (one per attention head and their average, or one per
//! layer and head) with one shared colour scale and one colorbar.
//!
//! Why one figure rather than one PNG per head: heads are read against each other, which only
//! works when a colour means the same weight in every panel. Each panel is laid out by the single
//! heatmap's [`PanelLayout`] and drawn by the same `draw_panel`; like matplotlib's shared axes,
//! only the panels on the figure's outer edges keep their token labels (queries left of the first
//! panel of each grid row, keys under the lowest panel of each grid column). This module only
//! chooses the grid, the cell size that keeps the picture inside its width bound, and where the
//! shared title, axis titles and colorbar go.

use image::RgbImage;

use super::colorbar::ColorbarLayout;
use super::colormap::{ColorScale, Colormap};
use super::draw::{self, BACKGROUND, FOREGROUND};
use super::layout::{
    self, AXIS_TITLE_PX, COLORBAR_GAP, COLORBAR_MIN_HEIGHT, GAP, MARGIN, MAX_TITLE_WIDTH,
    PanelLayout, PanelParts, Rect, TITLE_PX, TextItem,
};
use super::text::{Orientation, TextStyle};
use super::{Heatmap, HeatmapSpec, MAX_CELLS_PER_AXIS, shown_range};
use crate::error::{Error, Result};

/// Width bound of a figure when [`FigureSpec::max_width`] is `None`, in pixels.
pub const DEFAULT_MAX_FIGURE_WIDTH: u32 = 2400;
/// Tallest figure drawn, in pixels: a figure that would be taller (too many grid rows of big
/// panels) is an error rather than an unbounded allocation.
pub const MAX_FIGURE_HEIGHT: u32 = 16_384;
/// The automatic grid never has more panels per row than this.
const MAX_AUTO_COLUMNS: usize = 4;
/// Blank space between neighbouring panels' outer boxes (labels included).
const PANEL_GAP_X: u32 = 20;
const PANEL_GAP_Y: u32 = 14;
/// Panel titles: font size range and the gap to the grid.
const PANEL_TITLE_MAX_PX: f32 = 15.0;
const PANEL_TITLE_MIN_PX: f32 = 10.0;
const PANEL_TITLE_GAP: u32 = 4;
/// Automatic annotations need maps of at most this many cells per side…
const ANNOTATE_MAX_CELLS: usize = 20;
/// … and cells at least this big, so "0.25" is legible.
const ANNOTATE_MIN_CELL: u32 = 36;

/// One panel of a figure: its values and the title drawn over it ("Head 0", "Average", "L3 H7").
#[derive(Debug, Clone, PartialEq)]
pub struct Panel<'a> {
    /// `rows × cols` values, row-major (the figure's shape).
    pub values: &'a [f32],
    /// Drawn centred above the panel; truncated with "…" to the panel's width.
    pub title: String,
}

/// Everything needed to draw a figure of several heatmap panels of the same shape and labels.
#[derive(Clone, Copy)]
pub struct FigureSpec<'a> {
    /// The panels, in reading order (left to right, then top to bottom).
    pub panels: &'a [Panel<'a>],
    /// Rows (queries) of every panel.
    pub rows: usize,
    /// Columns (keys) of every panel.
    pub cols: usize,
    /// One label per row, drawn left of the first panel of each grid row.
    pub row_labels: &'a [String],
    /// One label per column, drawn under the lowest panel of each grid column.
    pub col_labels: &'a [String],
    /// Panels per grid row; `None` picks about √(panels), at most 4, avoiding a ragged last row.
    pub columns: Option<usize>,
    /// Figure title, centred on top; empty for none.
    pub title: &'a str,
    /// Centred under the panels, e.g. "Key".
    pub x_label: &'a str,
    /// Left of the panels, reading upward, e.g. "Query".
    pub y_label: &'a str,
    /// Title along the one colorbar.
    pub colorbar_label: &'a str,
    /// The colormap.
    pub cmap: Colormap,
    /// Values drawn with the bottom and top colours; `None` uses the min and max of the finite,
    /// shown values of all panels together.
    pub range: Option<(f32, f32)>,
    /// Write each value to 2 places in its cell; `None` does so only for maps of at most 20 × 20
    /// whose cells come out at least 36 px.
    pub annotate: Option<bool>,
    /// Cells to leave blank in every panel, e.g. a causal mask's upper triangle.
    pub hide: Option<&'a dyn Fn(usize, usize) -> bool>,
    /// The image is at most this wide ([`DEFAULT_MAX_FIGURE_WIDTH`] when `None`); cells shrink
    /// to fit, down to one pixel.
    pub max_width: Option<u32>,
}

impl<'a> FigureSpec<'a> {
    /// A figure with the seed's defaults: no title, axes "Key" / "Query", colorbar
    /// "Attention Weight", viridis, automatic grid, range and annotations, nothing hidden.
    pub fn new(
        panels: &'a [Panel<'a>],
        rows: usize,
        cols: usize,
        row_labels: &'a [String],
        col_labels: &'a [String],
    ) -> Self {
        Self {
            panels,
            rows,
            cols,
            row_labels,
            col_labels,
            columns: None,
            title: "",
            x_label: "Key",
            y_label: "Query",
            colorbar_label: "Attention Weight",
            cmap: Colormap::Viridis,
            range: None,
            annotate: None,
            hide: None,
            max_width: None,
        }
    }

    /// Panels per grid row.
    fn grid_columns(&self) -> usize {
        let n = self.panels.len();
        match self.columns {
            Some(c) => c.clamp(1, n.max(1)),
            None => auto_columns(n),
        }
    }

    /// Checks shapes, labels, range and grid; every `render_figure` error but the size bounds
    /// comes from here.
    fn validate(&self) -> Result<()> {
        let Some(first) = self.panels.first() else {
            return Err(Error::InvalidSize(
                "figure has no panels: give at least one".to_string(),
            ));
        };
        if self.columns == Some(0) {
            return Err(Error::InvalidSize(
                "figure of 0 panels per row: give at least 1".to_string(),
            ));
        }
        if self.rows == 0 || self.cols == 0 {
            return Err(Error::InvalidSize(format!(
                "figure panels of {} × {} cells: both sides must be at least 1",
                self.rows, self.cols
            )));
        }
        if self.rows.max(self.cols) > MAX_CELLS_PER_AXIS {
            return Err(Error::InvalidSize(format!(
                "figure panels of {} × {} cells: at most {MAX_CELLS_PER_AXIS} per side can be drawn",
                self.rows, self.cols
            )));
        }
        for (i, panel) in self.panels.iter().enumerate() {
            if self.rows.checked_mul(self.cols) != Some(panel.values.len()) {
                return Err(Error::ShapeMismatch(format!(
                    "figure panel {i} ('{}') has {} values but its {} × {} cells need {}",
                    panel.title,
                    panel.values.len(),
                    self.rows,
                    self.cols,
                    self.rows.saturating_mul(self.cols)
                )));
            }
        }
        // Labels and range: the single heatmap's checks and messages.
        HeatmapSpec {
            range: self.range,
            ..self.panel_spec(first, false, None)
        }
        .validate()
    }

    /// The shared colour scale: the given range, or that of all panels' shown values.
    fn scale(&self) -> ColorScale {
        let (lo, hi) = self.range.unwrap_or_else(|| {
            shown_range(self.panels.iter().map(|p| p.values), self.cols, self.hide)
        });
        ColorScale {
            cmap: self.cmap,
            lo,
            hi,
        }
    }

    /// Whether cells of `cell` pixels carry their values.
    fn annotate_at(&self, cell: u32) -> bool {
        self.annotate.unwrap_or(
            self.rows <= ANNOTATE_MAX_CELLS
                && self.cols <= ANNOTATE_MAX_CELLS
                && cell >= ANNOTATE_MIN_CELL,
        )
    }

    /// The single-heatmap spec `draw_panel` draws for `panel`: its values and title, the figure's
    /// labels and hidden cells, no axis titles (the figure has them once).
    fn panel_spec<'s>(
        &'s self,
        panel: &'s Panel<'s>,
        annotate: bool,
        scale: Option<&ColorScale>,
    ) -> HeatmapSpec<'s> {
        HeatmapSpec {
            values: panel.values,
            rows: self.rows,
            cols: self.cols,
            row_labels: self.row_labels,
            col_labels: self.col_labels,
            title: &panel.title,
            x_label: "",
            y_label: "",
            colorbar_label: "",
            cmap: self.cmap,
            range: scale.map(|s| (s.lo, s.hi)),
            annotate: Some(annotate),
            hide: self.hide,
        }
    }
}

/// Panels per grid row for `n` panels: all in one row up to 4; beyond that between ⌈√n⌉ and 4,
/// whichever leaves the fewest empty slots in the last row (8 → 4 + 4, 9 → 3 × 3).
fn auto_columns(n: usize) -> usize {
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
struct FigureLayout {
    /// Cell edge in pixels.
    cell: u32,
    /// Each panel's layout, relative to its own grid corner.
    panels: Vec<PanelLayout>,
    /// Each panel's grid corner.
    origins: Vec<(i64, i64)>,
    /// Figure title and axis titles.
    texts: Vec<TextItem>,
    /// The shared colorbar.
    bar: ColorbarLayout,
}

impl FigureLayout {
    /// Lays out `specs` (one per panel, validated, same shape) in a grid `grid_cols` panels wide
    /// with cells of `cell` pixels; the title is truncated to `title_width`.
    fn new(
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

        let mut block = Rect::new(xs[0], ys[0], grid.w, grid.h);
        for (panel, &(x, y)) in panels.iter().zip(&origins) {
            let b = panel.bounds();
            block = block.union(&Rect::new(b.x + x, b.y + y, b.w, b.h));
        }
        let grids_x = (xs[0], xs[grid_cols - 1] + i64::from(grid.w));
        let grids_y = (ys[0], ys[grid_rows - 1] + i64::from(grid.h));

        let bar_height = u32::try_from(grids_y.1 - grids_y.0)
            .unwrap_or(u32::MAX)
            .max(COLORBAR_MIN_HEIGHT);
        let bar = ColorbarLayout::new(
            (block.right() + i64::from(COLORBAR_GAP), grids_y.0),
            bar_height,
            scale,
            figure.colorbar_label,
        );

        // Axis titles centred on the panels' grids, kept within the panels' reach.
        let mut texts = Vec::new();
        let axis_style = TextStyle::new(AXIS_TITLE_PX);
        let gap = i64::from(GAP);
        let centred = |lo: i64, hi: i64, len: u32, min: i64, max: i64| {
            ((lo + hi) / 2 - i64::from(len / 2)).clamp(min, (max - i64::from(len)).max(min))
        };
        let x_title = axis_style.truncate(figure.x_label, block.w.min(MAX_TITLE_WIDTH));
        if !x_title.is_empty() {
            texts.push(TextItem::new(
                x_title,
                axis_style,
                Orientation::Horizontal,
                |w, _| {
                    let x = centred(grids_x.0, grids_x.1, w, block.x, block.right());
                    (x, block.bottom() + gap)
                },
            ));
        }
        let y_title = axis_style.truncate(figure.y_label, block.h.min(MAX_TITLE_WIDTH));
        if !y_title.is_empty() {
            texts.push(TextItem::new(
                y_title,
                axis_style,
                Orientation::Upward,
                |w, h| {
                    let y = centred(grids_y.0, grids_y.1, h, block.y, block.bottom());
                    (block.x - gap - i64::from(w), y)
                },
            ));
        }
        // The figure title is centred on everything else, so a title no wider than the width
        // bound never widens the picture beyond it.
        let mut content = block.union(&bar.bounds());
        for t in &texts {
            content = content.union(&t.rect);
        }
        let title_style = TextStyle::new(TITLE_PX);
        let title = title_style.truncate(figure.title, title_width);
        if !title.is_empty() {
            texts.push(TextItem::new(
                title,
                title_style,
                Orientation::Horizontal,
                |w, h| {
                    (
                        content.x + i64::from(content.w / 2) - i64::from(w / 2),
                        content.y - gap - 2 - i64::from(h),
                    )
                },
            ));
        }
        Self {
            cell,
            panels,
            origins,
            texts,
            bar,
        }
    }

    /// Everything the figure draws.
    fn bounds(&self) -> Rect {
        let mut b = self.bar.bounds();
        for (panel, &(x, y)) in self.panels.iter().zip(&self.origins) {
            let p = panel.bounds();
            b = b.union(&Rect::new(p.x + x, p.y + y, p.w, p.h));
        }
        for t in &self.texts {
            b = b.union(&t.rect);
        }
        b
    }
}

/// Draws the panels of `spec` in a grid with one shared colour scale and one colorbar.
///
/// The cell size is the one a single heatmap of the whole grid of cells would get, shrunk until
/// the image fits `max_width`; every panel has the same cells.
///
/// Errors: [`Error::InvalidSize`] for no panels, 0 panels per row, an empty or oversized panel
/// shape, or a figure that does not fit `max_width` even with one-pixel cells (block-average the
/// maps first, see [`super::block_average`]) or would be taller than [`MAX_FIGURE_HEIGHT`];
/// [`Error::ShapeMismatch`] when a panel's values or the labels do not match rows × cols;
/// [`Error::Usage`] for a non-finite or empty colour range.
pub fn render_figure(spec: &FigureSpec) -> Result<Heatmap> {
    spec.validate()?;
    let n = spec.panels.len();
    let grid_cols = spec.grid_columns();
    let grid_rows = n.div_ceil(grid_cols);
    let max_width = spec.max_width.unwrap_or(DEFAULT_MAX_FIGURE_WIDTH);
    let too_wide = |needed: u64| {
        Error::InvalidSize(format!(
            "a figure of {n} panels of {} × {} cells, {grid_cols} per row, needs {needed} px \
             even with 1-pixel cells, more than the {max_width} px width limit; \
             block-average the maps first or use fewer panels per row",
            spec.rows, spec.cols
        ))
    };
    let too_tall = |needed: u64| {
        Error::InvalidSize(format!(
            "a figure of {n} panels of {} × {} cells, {grid_cols} per row, would be {needed} px \
             tall, more than the {MAX_FIGURE_HEIGHT} px height limit; \
             block-average the maps first or use more panels per row",
            spec.rows, spec.cols
        ))
    };
    // The cells alone must fit before any layout is tried.
    let across = (spec.cols as u64).saturating_mul(grid_cols as u64);
    if across > u64::from(max_width) {
        return Err(too_wide(across));
    }
    let down = (spec.rows as u64).saturating_mul(grid_rows as u64);
    if down > u64::from(MAX_FIGURE_HEIGHT) {
        return Err(too_tall(down));
    }

    let scale = spec.scale();
    let title_width = MAX_TITLE_WIDTH.min(max_width.saturating_sub(2 * MARGIN));
    let cap = layout::cell_size(
        spec.rows.saturating_mul(grid_rows),
        spec.cols.saturating_mul(grid_cols),
    );
    let mut cell = cap
        .min((u64::from(max_width) / across.max(1)) as u32)
        .max(1);
    let (layout, specs) = loop {
        let specs: Vec<HeatmapSpec> = spec
            .panels
            .iter()
            .map(|p| spec.panel_spec(p, spec.annotate_at(cell), Some(&scale)))
            .collect();
        let layout = FigureLayout::new(spec, &specs, grid_cols, cell, &scale, title_width);
        let bounds = layout.bounds();
        let width = u64::from(bounds.w) + 2 * u64::from(MARGIN);
        let height = u64::from(bounds.h) + 2 * u64::from(MARGIN);
        let wide = width > u64::from(max_width);
        let tall = height > u64::from(MAX_FIGURE_HEIGHT);
        if !wide && !tall {
            break (layout, specs);
        }
        if cell == 1 {
            return Err(if wide {
                too_wide(width)
            } else {
                too_tall(height)
            });
        }
        cell -= 1;
    };
    let bounds = layout.bounds();

    let margin = i64::from(MARGIN);
    let offset = (margin - bounds.x, margin - bounds.y);
    let mut image = RgbImage::from_pixel(
        bounds.w + 2 * MARGIN,
        bounds.h + 2 * MARGIN,
        image::Rgb(BACKGROUND),
    );
    let mut grid_origins = Vec::with_capacity(n);
    for ((panel, panel_spec), &(x, y)) in layout.panels.iter().zip(&specs).zip(&layout.origins) {
        let at = (offset.0 + x, offset.1 + y);
        draw::draw_panel(&mut image, at, panel, panel_spec, &scale);
        // Every layout box lies inside `bounds`, so each grid corner is at least MARGIN in.
        grid_origins.push((at.0 as u32, at.1 as u32));
    }
    draw::draw_colorbar(&mut image, offset, &layout.bar, spec.cmap);
    for item in &layout.texts {
        draw::draw_text(&mut image, offset, item, FOREGROUND);
    }
    Ok(Heatmap {
        image,
        grid_origins,
        cell: layout.cell,
        rows: spec.rows,
        cols: spec.cols,
        scale,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
            .map(|p| figure.panel_spec(p, false, Some(&scale)))
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
            texts.extend(
                panel
                    .texts
                    .iter()
                    .map(|t| Rect::new(t.rect.x + x, t.rect.y + y, t.rect.w, t.rect.h)),
            );
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
            figure.title = "Attention of every head";
            assert_no_overlaps(&figure);
        }
    }
}
