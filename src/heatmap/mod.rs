//! Attention weights drawn as a heatmap PNG, the way the seed tutorial showed them with
//! matplotlib's `imshow` + `colorbar` and seaborn-style annotations.
//!
//! Why a renderer of our own: the tool must run anywhere wgpu does without Python, so the picture a
//! learner compares against the tutorial is drawn here, pixel by pixel, with matplotlib's own
//! colormap tables ([`Colormap`]) and an embedded font (no system fonts needed). The output is
//! deterministic, which lets the tests read colours back from the PNG.
//!
//! The module is split so that each step has one job: [`MapStyle`] holds the look shared by a
//! single heatmap ([`HeatmapSpec`]) and a figure ([`FigureSpec`]) — titles, colormap, range,
//! annotations, hidden cells — and resolves the colour scale; `layout` decides cell size, label
//! thinning/rotation and where every text goes (in coordinates relative to a grid corner),
//! `draw` turns a layout into pixels on a shared canvas, and [`render`] composes one panel with
//! one colorbar. [`render_figure`] is the same composition with several panels (one per
//! attention head, say) side by side in a grid, one shared colour scale and one colorbar.

mod colorbar;
mod colormap;
mod colormap_data;
mod downsample;
mod draw;
mod figure;
mod figure_layout;
mod layout;
mod style;
mod text;

use std::path::Path;

use image::RgbImage;
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};

pub use colormap::{ColorScale, Colormap, NAN_COLOR, prefers_dark_text};
pub use downsample::{Downsampled, block_average};
pub use draw::BACKGROUND;
pub use figure::{DEFAULT_MAX_FIGURE_WIDTH, FigureSpec, MAX_FIGURE_HEIGHT, Panel, render_figure};
pub use style::MapStyle;

use crate::error::{Error, Result};
use colorbar::ColorbarLayout;
use layout::{COLORBAR_MIN_HEIGHT, PanelLayout};

/// Largest number of rows or columns drawn: cells are at least one pixel, so this bounds the image
/// (about 4.5k × 4.5k pixels at most).
pub const MAX_CELLS_PER_AXIS: usize = 4096;

/// Everything needed to draw one heatmap.
#[derive(Clone, Copy)]
pub struct HeatmapSpec<'a> {
    /// `rows × cols` values, row-major.
    pub values: &'a [f32],
    /// Number of rows (queries).
    pub rows: usize,
    /// Number of columns (keys).
    pub cols: usize,
    /// One label per row (query tokens), drawn down the left.
    pub row_labels: &'a [String],
    /// One label per column (key tokens), along the bottom; rotated 90° when any is too wide for
    /// its cell.
    pub col_labels: &'a [String],
    /// Titles, colours, annotations and hidden cells.
    pub style: MapStyle<'a>,
}

impl<'a> HeatmapSpec<'a> {
    /// A spec with the seed's defaults ([`MapStyle::default`]).
    pub fn new(
        values: &'a [f32],
        rows: usize,
        cols: usize,
        row_labels: &'a [String],
        col_labels: &'a [String],
    ) -> Self {
        Self {
            values,
            rows,
            cols,
            row_labels,
            col_labels,
            style: MapStyle::default(),
        }
    }

    /// Checks shapes and the range; every `render` error comes from here.
    fn validate(&self) -> Result<()> {
        check_grid_size("heatmap", self.rows, self.cols)?;
        if self.rows.checked_mul(self.cols) != Some(self.values.len()) {
            return Err(Error::ShapeMismatch(format!(
                "heatmap of {} × {} cells given {} values",
                self.rows,
                self.cols,
                self.values.len()
            )));
        }
        check_labels(self.row_labels, self.rows, self.col_labels, self.cols)?;
        self.style.check_range()
    }

    /// The colour scale: the given range, or the finite shown values' min and max.
    fn scale(&self) -> ColorScale {
        self.style.scale([self.values], self.cols)
    }
}

/// Checks that a grid of `rows × cols` cells can be drawn: no empty side, none longer than
/// [`MAX_CELLS_PER_AXIS`]; `what` names the grid in the error ("heatmap", "figure panels").
fn check_grid_size(what: &str, rows: usize, cols: usize) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Err(Error::InvalidSize(format!(
            "{what} of {rows} × {cols} cells: both sides must be at least 1"
        )));
    }
    if rows.max(cols) > MAX_CELLS_PER_AXIS {
        return Err(Error::InvalidSize(format!(
            "{what} of {rows} × {cols} cells: at most {MAX_CELLS_PER_AXIS} per side can be drawn"
        )));
    }
    Ok(())
}

/// Checks that there is one label per row and one per column.
fn check_labels(
    row_labels: &[String],
    rows: usize,
    col_labels: &[String],
    cols: usize,
) -> Result<()> {
    for (what, labels, n) in [("row", row_labels, rows), ("column", col_labels, cols)] {
        if labels.len() != n {
            return Err(Error::ShapeMismatch(format!(
                "heatmap has {n} {what}s but {} {what} labels",
                labels.len()
            )));
        }
    }
    Ok(())
}

/// A drawn heatmap (one panel, or a figure of several) and where its cells are.
#[derive(Debug, Clone)]
pub struct Heatmap {
    /// The picture.
    pub image: RgbImage,
    /// Top-left pixel of each panel's cell grid, in panel order.
    grid_origins: Vec<(u32, u32)>,
    cell: u32,
    rows: usize,
    cols: usize,
    scale: ColorScale,
}

impl Heatmap {
    /// Pixel rectangle (x, y, w, h) of cell (row, col) of the first (for [`render`], the only)
    /// panel, for tests and for later overlays.
    ///
    /// # Panics
    /// If `row` or `col` is outside the grid.
    pub fn cell_rect(&self, row: usize, col: usize) -> (u32, u32, u32, u32) {
        self.panel_cell_rect(0, row, col)
    }

    /// Pixel rectangle (x, y, w, h) of cell (row, col) of panel `panel` (in the order the
    /// figure's panels were given).
    ///
    /// # Panics
    /// If `panel`, `row` or `col` is out of range.
    pub fn panel_cell_rect(&self, panel: usize, row: usize, col: usize) -> (u32, u32, u32, u32) {
        assert!(
            row < self.rows && col < self.cols,
            "cell ({row}, {col}) outside a {} × {} heatmap",
            self.rows,
            self.cols
        );
        let (x0, y0, _, _) = self.panel_grid_rect(panel);
        (
            x0 + col as u32 * self.cell,
            y0 + row as u32 * self.cell,
            self.cell,
            self.cell,
        )
    }

    /// Pixel rectangle (x, y, w, h) of the first panel's whole cell grid.
    pub fn grid_rect(&self) -> (u32, u32, u32, u32) {
        self.panel_grid_rect(0)
    }

    /// Pixel rectangle (x, y, w, h) of panel `panel`'s whole cell grid.
    ///
    /// # Panics
    /// If there is no panel `panel`.
    pub fn panel_grid_rect(&self, panel: usize) -> (u32, u32, u32, u32) {
        assert!(
            panel < self.grid_origins.len(),
            "panel {panel} outside a figure of {} panels",
            self.grid_origins.len()
        );
        let (x0, y0) = self.grid_origins[panel];
        let c = self.cell;
        (x0, y0, c * self.cols as u32, c * self.rows as u32)
    }

    /// How many panels were drawn (1 for [`render`]).
    pub fn panel_count(&self) -> usize {
        self.grid_origins.len()
    }

    /// Edge of one (square) cell in pixels.
    pub fn cell_size(&self) -> u32 {
        self.cell
    }

    /// The colour scale used (colormap and the values at its ends).
    pub fn scale(&self) -> ColorScale {
        self.scale
    }

    /// PNG to `path` atomically (crate::fsutil::write_output + image's PngEncoder).
    pub fn save_png(&self, path: &Path) -> Result<()> {
        save_image_png(&self.image, path)
    }
}

/// Writes `image` as a PNG to `path` atomically.
pub fn save_image_png(image: &RgbImage, path: &Path) -> Result<()> {
    crate::fsutil::write_output(path, |w| write_png(image, w))
}

/// Encodes `image` as a PNG into `out` (a file through [`save_image_png`], or memory for a front
/// end that shows the picture inline, such as a notebook).
pub fn write_png(image: &RgbImage, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    PngEncoder::new(out)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            ExtendedColorType::Rgb8,
        )
        .map_err(std::io::Error::other)
}

/// Pictures one above the other, each centred, on the background colour (e.g. an overview
/// figure over a zoomed panel).
pub fn stack_vertically(images: &[&RgbImage]) -> RgbImage {
    let width = images.iter().map(|i| i.width()).max().unwrap_or(1);
    let height = images.iter().map(|i| i.height()).sum::<u32>().max(1);
    let mut out = RgbImage::from_pixel(width, height, image::Rgb(BACKGROUND));
    let mut y = 0;
    for image in images {
        let x = (width - image.width()) / 2;
        image::imageops::replace(&mut out, *image, x.into(), y.into());
        y += image.height();
    }
    out
}

/// Draws `spec` as one panel with a colorbar on its right.
///
/// Errors: [`Error::InvalidSize`] for an empty or oversized grid ([`MAX_CELLS_PER_AXIS`]),
/// [`Error::ShapeMismatch`] when the values or labels do not match rows × cols, and
/// [`Error::Usage`] for a non-finite or empty colour range.
pub fn render(spec: &HeatmapSpec) -> Result<Heatmap> {
    spec.validate()?;
    let scale = spec.scale();
    let cell = layout::cell_size(spec.rows, spec.cols);
    let panel = PanelLayout::new(spec, cell);
    let bar_height = panel.grid.h.max(COLORBAR_MIN_HEIGHT);
    let bar = ColorbarLayout::new(
        (panel.colorbar_x(bar_height), 0),
        bar_height,
        &scale,
        spec.style.colorbar_label,
    );
    let (mut image, offset) = draw::blank_canvas(&panel.bounds().union(&bar.bounds()));
    draw::draw_panel(&mut image, offset, &panel, spec, &scale);
    draw::draw_colorbar(&mut image, offset, &bar, spec.style.cmap);
    Ok(Heatmap {
        image,
        // Every layout box lies inside `bounds`, so the grid corner is at least MARGIN in.
        grid_origins: vec![(offset.0 as u32, offset.1 as u32)],
        cell,
        rows: spec.rows,
        cols: spec.cols,
        scale,
    })
}

#[cfg(test)]
mod figure_tests;
#[cfg(test)]
mod tests;
