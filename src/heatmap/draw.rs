//! Turning layouts into pixels: cells, annotations, tick marks, text and the colorbar gradient.
//!
//! Each function draws one laid-out piece onto a shared canvas at an offset, so a figure is any
//! arrangement of panels and colorbars; [`super::render`] is the one-panel arrangement and
//! [`super::render_figure`] the grid of several.

use image::{Rgb, RgbImage};

use super::HeatmapSpec;
use super::colorbar::ColorbarLayout;
use super::colormap::{ColorScale, Colormap, prefers_dark_text};
use super::layout::{MARGIN, PanelLayout, Rect, TextItem};
use super::text::Orientation;

/// Canvas background, also the colour of hidden cells.
pub const BACKGROUND: [u8; 3] = [255, 255, 255];
/// Text, tick marks and frames.
pub const FOREGROUND: [u8; 3] = [0, 0, 0];
/// Annotation text on light cells / on dark cells.
const DARK_TEXT: [u8; 3] = [0, 0, 0];
const LIGHT_TEXT: [u8; 3] = [255, 255, 255];
/// Blank pixels required around an annotation inside its cell.
const ANNOTATION_PAD: u32 = 2;

/// A canvas in the background colour holding `bounds` (layout coordinates) with [`MARGIN`]
/// blank pixels all round, and the offset that moves layout coordinates onto it.
pub fn blank_canvas(bounds: &Rect) -> (RgbImage, (i64, i64)) {
    let margin = i64::from(MARGIN);
    let offset = (margin - bounds.x, margin - bounds.y);
    let image = RgbImage::from_pixel(
        bounds.w + 2 * MARGIN,
        bounds.h + 2 * MARGIN,
        Rgb(BACKGROUND),
    );
    (image, offset)
}

/// Fills `r` moved by `offset` with `color`, clipped to the canvas.
pub fn fill(canvas: &mut RgbImage, offset: (i64, i64), r: &Rect, color: [u8; 3]) {
    let clip = |lo: i64, len: u32, max: u32| {
        let start = lo.clamp(0, i64::from(max)) as u32;
        let end = (lo + i64::from(len)).clamp(0, i64::from(max)) as u32;
        start..end
    };
    let xs = clip(r.x + offset.0, r.w, canvas.width());
    let ys = clip(r.y + offset.1, r.h, canvas.height());
    for y in ys {
        for x in xs.clone() {
            canvas.put_pixel(x, y, Rgb(color));
        }
    }
}

/// Draws laid-out text with its box moved by `offset`.
pub fn draw_text(canvas: &mut RgbImage, offset: (i64, i64), item: &TextItem, color: [u8; 3]) {
    let corner = (item.rect.x + offset.0, item.rect.y + offset.1);
    item.style
        .draw(canvas, &item.text, corner, item.orientation, color);
}

/// Draws a laid-out panel of `spec` with its grid corner at `offset`: cells coloured by `scale`
/// (hidden cells in the background colour), annotations where they fit, labels and titles.
pub fn draw_panel(
    canvas: &mut RgbImage,
    offset: (i64, i64),
    layout: &PanelLayout,
    spec: &HeatmapSpec,
    scale: &ColorScale,
) {
    for row in 0..layout.rows {
        for col in 0..layout.cols {
            let rect = layout.cell_rect(row, col);
            if spec.style.hide.is_some_and(|hide| hide(row, col)) {
                fill(canvas, offset, &rect, BACKGROUND);
                continue;
            }
            let value = spec.values[row * layout.cols + col];
            let color = scale.color(value);
            fill(canvas, offset, &rect, color);
            if let Some(style) = layout.annotation {
                let text = format!("{value:.2}");
                let (w, h) = style.box_size(&text, Orientation::Horizontal);
                if w + 2 * ANNOTATION_PAD > layout.cell || h + ANNOTATION_PAD > layout.cell {
                    continue;
                }
                let x = rect.x + i64::from((layout.cell - w) / 2);
                let y = rect.y + i64::from((layout.cell - h) / 2);
                let ink = if prefers_dark_text(color) {
                    DARK_TEXT
                } else {
                    LIGHT_TEXT
                };
                let corner = (x + offset.0, y + offset.1);
                style.draw(canvas, &text, corner, Orientation::Horizontal, ink);
            }
        }
    }
    draw_marks_and_texts(canvas, offset, &layout.marks, &layout.texts);
}

/// Draws a laid-out colorbar with `cmap` at `offset`: the gradient from the top colour at the top
/// to the bottom colour at the bottom, ticks, labels and title.
pub fn draw_colorbar(
    canvas: &mut RgbImage,
    offset: (i64, i64),
    layout: &ColorbarLayout,
    cmap: Colormap,
) {
    let bar = layout.bar;
    let last = bar.h.saturating_sub(1).max(1) as f32;
    for i in 0..bar.h {
        let t = 1.0 - i as f32 / last;
        let line = Rect::new(bar.x, bar.y + i64::from(i), bar.w, 1);
        fill(canvas, offset, &line, cmap.rgb(t));
    }
    draw_marks_and_texts(canvas, offset, &layout.marks, &layout.texts);
}

/// Draws tick marks, frames and texts moved by `offset`, all in the foreground colour.
pub fn draw_marks_and_texts(
    canvas: &mut RgbImage,
    offset: (i64, i64),
    marks: &[Rect],
    texts: &[TextItem],
) {
    for mark in marks {
        fill(canvas, offset, mark, FOREGROUND);
    }
    for item in texts {
        draw_text(canvas, offset, item, FOREGROUND);
    }
}
