//! Several heatmap panels in one picture (one per attention head and their average, or one per
//! layer and head) with one shared colour scale and one colorbar.
//!
//! Why one figure rather than one PNG per head: heads are read against each other, which only
//! works when a colour means the same weight in every panel. Each panel is laid out by the single
//! heatmap's `PanelLayout` and drawn by the same `draw_panel`; like matplotlib's shared axes,
//! only the panels on the figure's outer edges keep their token labels (queries left of the first
//! panel of each grid row, keys under the lowest panel of each grid column). This module checks
//! the spec and finds the cell size that keeps the picture inside its width bound;
//! `figure_layout` places the panels, the shared titles and the colorbar.

use super::colormap::ColorScale;
use super::draw;
use super::figure_layout::{FigureLayout, auto_columns};
use super::layout::{self, MARGIN, MAX_TITLE_WIDTH};
use super::style::MapStyle;
use super::{Heatmap, HeatmapSpec, check_grid_size, check_labels};
use crate::error::{Error, Result};

/// Width bound of a figure when [`FigureSpec::max_width`] is `None`, in pixels.
pub const DEFAULT_MAX_FIGURE_WIDTH: u32 = 2400;
/// Tallest figure drawn, in pixels: a figure that would be taller (too many grid rows of big
/// panels) is an error rather than an unbounded allocation.
pub const MAX_FIGURE_HEIGHT: u32 = 16_384;
/// Automatic annotations need cells at least this big, so "0.25" is legible.
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
    /// The figure's titles, colours, annotations and hidden cells: the title is centred on top,
    /// the axis titles under and left of the panels, and one colorbar, colour scale and set of
    /// hidden cells serve every panel.
    pub style: MapStyle<'a>,
    /// The image is at most this wide ([`DEFAULT_MAX_FIGURE_WIDTH`] when `None`); cells shrink
    /// to fit, down to one pixel.
    pub max_width: Option<u32>,
}

impl<'a> FigureSpec<'a> {
    /// A figure with the seed's defaults ([`MapStyle::default`]), an automatic grid and width
    /// bound.
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
            style: MapStyle::default(),
            max_width: None,
        }
    }

    /// Panels per grid row.
    pub(super) fn grid_columns(&self) -> usize {
        let n = self.panels.len();
        match self.columns {
            Some(c) => c.clamp(1, n.max(1)),
            None => auto_columns(n),
        }
    }

    /// Checks shapes, labels, range and grid; every `render_figure` error but the size bounds
    /// comes from here.
    pub(super) fn validate(&self) -> Result<()> {
        if self.panels.is_empty() {
            return Err(Error::InvalidSize(
                "figure has no panels: give at least one".to_string(),
            ));
        }
        if self.columns == Some(0) {
            return Err(Error::InvalidSize(
                "figure of 0 panels per row: give at least 1".to_string(),
            ));
        }
        check_grid_size("figure panels", self.rows, self.cols)?;
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
        check_labels(self.row_labels, self.rows, self.col_labels, self.cols)?;
        self.style.check_range()
    }

    /// The shared colour scale: the given range, or that of all panels' shown values.
    pub(super) fn scale(&self) -> ColorScale {
        let maps = self.panels.iter().map(|p| p.values);
        self.style.scale(maps, self.cols)
    }

    /// Whether cells of `cell` pixels carry their values.
    fn annotate_at(&self, cell: u32) -> bool {
        self.style
            .annotates(self.rows, self.cols, cell >= ANNOTATE_MIN_CELL)
    }

    /// The single-heatmap spec `draw_panel` draws for `panel`: its values and title, the figure's
    /// labels and hidden cells, no axis titles (the figure has them once).
    pub(super) fn panel_spec<'s>(
        &'s self,
        panel: &'s Panel<'s>,
        annotate: bool,
        scale: &ColorScale,
    ) -> HeatmapSpec<'s> {
        HeatmapSpec {
            values: panel.values,
            rows: self.rows,
            cols: self.cols,
            row_labels: self.row_labels,
            col_labels: self.col_labels,
            style: MapStyle {
                title: &panel.title,
                x_label: "",
                y_label: "",
                colorbar_label: "",
                range: Some((scale.lo, scale.hi)),
                annotate: Some(annotate),
                ..self.style
            },
        }
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
            .map(|p| spec.panel_spec(p, spec.annotate_at(cell), &scale))
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
    let (mut image, offset) = draw::blank_canvas(&layout.bounds());
    let mut grid_origins = Vec::with_capacity(n);
    for ((panel, panel_spec), &(x, y)) in layout.panels.iter().zip(&specs).zip(&layout.origins) {
        let at = (offset.0 + x, offset.1 + y);
        draw::draw_panel(&mut image, at, panel, panel_spec, &scale);
        // Every layout box lies inside `bounds`, so each grid corner is at least MARGIN in.
        grid_origins.push((at.0 as u32, at.1 as u32));
    }
    draw::draw_colorbar(&mut image, offset, &layout.bar, spec.style.cmap);
    draw::draw_marks_and_texts(&mut image, offset, &[], &layout.texts);
    Ok(Heatmap {
        image,
        grid_origins,
        cell: layout.cell,
        rows: spec.rows,
        cols: spec.cols,
        scale,
    })
}
