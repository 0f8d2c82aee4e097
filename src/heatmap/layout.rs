//! Where everything goes: cell size, label thinning and rotation, and the boxes of every text and
//! tick mark, before any pixel is drawn.
//!
//! Layouts are computed in coordinates relative to the top-left corner of a panel's cell grid
//! (which may go negative: labels sit left of and above it) and drawn with an offset, so several
//! panels and one colorbar share a canvas by placing their layouts side by side ([`PanelParts`]
//! says which labels a panel of a figure keeps). The colorbar's layout lives in `colorbar`, the
//! arrangement of several panels in `figure_layout`.

use super::HeatmapSpec;
use super::text::{Orientation, TextStyle};

/// Blank border around everything drawn, in pixels.
pub const MARGIN: u32 = 16;
/// Largest cell edge, used for tiny maps so 2-place annotations fit comfortably.
const MAX_CELL: u32 = 80;
/// The grid's longer side aims at about this many pixels (never below one pixel per cell).
const GRID_TARGET: u32 = 1024;
/// Tick mark length and the gap between a tick mark and its label.
pub(super) const TICK_LEN: u32 = 4;
pub(super) const TICK_PAD: u32 = 3;
/// Gap between tick labels and an axis title, and between the title and the grid.
pub(super) const GAP: u32 = 8;
/// Font sizes in pixels.
pub(super) const TITLE_PX: f32 = 20.0;
pub(super) const AXIS_TITLE_PX: f32 = 16.0;
pub(super) const TICK_LABEL_MAX_PX: f32 = 14.0;
const TICK_LABEL_MIN_PX: f32 = 11.0;
const ANNOTATION_MAX_PX: f32 = 16.0;
const ANNOTATION_MIN_PX: f32 = 8.0;
/// Longest tick label and longest title, in pixels, before truncation with "…".
const MAX_LABEL_WIDTH: u32 = 120;
pub(super) const MAX_TITLE_WIDTH: u32 = 1600;
/// Colorbar geometry: gap from the grid, bar width, shortest bar.
pub(super) const COLORBAR_GAP: u32 = 24;
pub(super) const COLORBAR_WIDTH: u32 = 20;
pub const COLORBAR_MIN_HEIGHT: u32 = 160;
/// About this many colorbar ticks.
pub(super) const COLORBAR_TICKS: usize = 5;

/// An axis-aligned pixel rectangle; `x`, `y` may be negative in layout coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left edge.
    pub x: i64,
    /// Top edge.
    pub y: i64,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

impl Rect {
    /// A rectangle from its corner and size.
    pub fn new(x: i64, y: i64, w: u32, h: u32) -> Self {
        Self { x, y, w, h }
    }

    /// One past the right edge.
    pub fn right(&self) -> i64 {
        self.x + i64::from(self.w)
    }

    /// One past the bottom edge.
    pub fn bottom(&self) -> i64 {
        self.y + i64::from(self.h)
    }

    /// The smallest rectangle holding both.
    pub fn union(&self, other: &Rect) -> Rect {
        let (x, y) = (self.x.min(other.x), self.y.min(other.y));
        let (r, b) = (
            self.right().max(other.right()),
            self.bottom().max(other.bottom()),
        );
        Rect::new(x, y, (r - x) as u32, (b - y) as u32)
    }

    /// The same rectangle moved by (`dx`, `dy`).
    pub fn moved(&self, (dx, dy): (i64, i64)) -> Rect {
        Rect::new(self.x + dx, self.y + dy, self.w, self.h)
    }
}

/// The smallest rectangle holding `first` and every one of `others`.
pub(super) fn bounding<'r>(first: Rect, others: impl IntoIterator<Item = &'r Rect>) -> Rect {
    others.into_iter().fold(first, |b, r| b.union(r))
}

/// A piece of text placed in a box.
#[derive(Debug, Clone, PartialEq)]
pub struct TextItem {
    /// The (already truncated) text.
    pub text: String,
    /// Font size.
    pub style: TextStyle,
    /// Horizontal, or reading upward.
    pub orientation: Orientation,
    /// The box the text fills, as measured.
    pub rect: Rect,
}

impl TextItem {
    /// `text` in `style`, placed by `place(w, h)` which returns the box's top-left corner.
    pub(super) fn new(
        text: String,
        style: TextStyle,
        orientation: Orientation,
        place: impl FnOnce(u32, u32) -> (i64, i64),
    ) -> Self {
        let (w, h) = style.box_size(&text, orientation);
        let (x, y) = place(w, h);
        Self {
            text,
            style,
            orientation,
            rect: Rect::new(x, y, w, h),
        }
    }

    /// `text` truncated to `max_width` pixels in `style` and placed by `place(w, h)` (see
    /// [`TextItem::new`]); `None` when nothing is left to draw (an empty title).
    pub(super) fn fitted(
        text: &str,
        style: TextStyle,
        max_width: u32,
        orientation: Orientation,
        place: impl FnOnce(u32, u32) -> (i64, i64),
    ) -> Option<Self> {
        let text = style.truncate(text, max_width);
        (!text.is_empty()).then(|| Self::new(text, style, orientation, place))
    }
}

/// The cell edge in pixels for a `rows`×`cols` grid: square cells, large for tiny maps, at least
/// one pixel, the longer side near [`GRID_TARGET`] pixels once cells are below [`MAX_CELL`].
pub fn cell_size(rows: usize, cols: usize) -> u32 {
    let n = rows.max(cols).max(1);
    let fit = usize::try_from(GRID_TARGET).unwrap_or(usize::MAX) / n;
    u32::try_from(fit).unwrap_or(MAX_CELL).clamp(1, MAX_CELL)
}

/// Draw every `step`-th label: the smallest of 1, 2, 5, 10, 20, 50, … with `step · cell ≥ needed`.
fn label_step(cell: u32, needed: u32) -> usize {
    let mut base = 1usize;
    loop {
        for m in [1, 2, 5] {
            let step = base * m;
            if step as u64 * u64::from(cell) >= u64::from(needed) {
                return step;
            }
        }
        base *= 10;
    }
}

/// Which parts of a panel are laid out: a lone heatmap has all of them; a panel inside a figure
/// keeps its tick labels only on the figure's outer edges and has a smaller title.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PanelParts {
    /// Query labels and their tick marks left of the grid.
    pub row_labels: bool,
    /// Key labels and their tick marks under the grid.
    pub col_labels: bool,
    /// The title's font.
    pub title_style: TextStyle,
    /// The title is truncated to this width.
    pub title_max_width: u32,
    /// Blank pixels between the title and the grid's frame.
    pub title_gap: u32,
}

impl PanelParts {
    /// Everything, as a single heatmap draws it.
    pub fn all() -> Self {
        Self {
            row_labels: true,
            col_labels: true,
            title_style: TextStyle::new(TITLE_PX),
            title_max_width: MAX_TITLE_WIDTH,
            title_gap: GAP + 2,
        }
    }
}

/// A panel: title, cell grid, tick labels and axis titles, in coordinates relative to the grid's
/// top-left corner.
#[derive(Debug, Clone)]
pub struct PanelLayout {
    /// Grid shape.
    pub rows: usize,
    /// Grid shape.
    pub cols: usize,
    /// Cell edge in pixels.
    pub cell: u32,
    /// The cell grid, at (0, 0).
    pub grid: Rect,
    /// Titles and tick labels.
    pub texts: Vec<TextItem>,
    /// Tick marks and the frame around the grid, drawn in the foreground colour.
    pub marks: Vec<Rect>,
    /// Style of the per-cell value annotations, if they are drawn.
    pub annotation: Option<TextStyle>,
}

impl PanelLayout {
    /// Lays out `spec` with cells of `cell` pixels (see [`cell_size`]) and every part. The spec's
    /// shape must already be validated.
    pub fn new(spec: &HeatmapSpec, cell: u32) -> Self {
        Self::with_parts(spec, cell, &PanelParts::all())
    }

    /// Lays out the `parts` of `spec` with cells of `cell` pixels (panels meant to line up pass
    /// the same size). The spec's shape must already be validated.
    pub fn with_parts(spec: &HeatmapSpec, cell: u32, parts: &PanelParts) -> Self {
        let (rows, cols) = (spec.rows, spec.cols);
        let grid = Rect::new(0, 0, cell * cols as u32, cell * rows as u32);
        let centre = |i: usize| (i as i64) * i64::from(cell) + i64::from(cell / 2);
        let tick_space = i64::from(TICK_LEN + TICK_PAD);
        let label_style =
            TextStyle::new((cell as f32 * 0.75).clamp(TICK_LABEL_MIN_PX, TICK_LABEL_MAX_PX));
        let line = label_style.line_height();
        let mut texts = Vec::new();
        let mut marks = frame(&grid);

        // Query labels: right-aligned left of the grid, thinned so their lines never overlap.
        let row_step = label_step(cell, line);
        let mut label_left = 0i64;
        let shown_rows = if parts.row_labels { rows } else { 0 };
        for r in (0..shown_rows).step_by(row_step) {
            marks.push(Rect::new(-i64::from(TICK_LEN), centre(r), TICK_LEN, 1));
            let text = label_style.truncate(&spec.row_labels[r], MAX_LABEL_WIDTH);
            if text.is_empty() {
                continue;
            }
            let item = TextItem::new(text, label_style, Orientation::Horizontal, |w, h| {
                (-tick_space - i64::from(w), centre(r) - i64::from(h / 2))
            });
            label_left = label_left.min(item.rect.x);
            texts.push(item);
        }
        if label_left == 0 {
            label_left = -tick_space;
        }

        // Key labels: horizontal when every one fits its cell, else rotated and thinned.
        let shown_cols = if parts.col_labels { cols } else { 0 };
        let col_texts: Vec<String> = spec.col_labels[..shown_cols]
            .iter()
            .map(|l| label_style.truncate(l, MAX_LABEL_WIDTH))
            .collect();
        let fits = col_texts.iter().all(|t| label_style.width(t) + 2 <= cell);
        let (orientation, col_step) = if fits {
            (Orientation::Horizontal, 1)
        } else {
            (Orientation::Upward, label_step(cell, line))
        };
        let labels_top = grid.bottom() + tick_space;
        let mut labels_bottom = labels_top;
        for (c, text) in col_texts.into_iter().enumerate().step_by(col_step) {
            marks.push(Rect::new(centre(c), grid.bottom(), 1, TICK_LEN));
            if text.is_empty() {
                continue;
            }
            let item = TextItem::new(text, label_style, orientation, |w, _| {
                (centre(c) - i64::from(w / 2), labels_top)
            });
            labels_bottom = labels_bottom.max(item.rect.bottom());
            texts.push(item);
        }

        // Axis titles and the title.
        let axis_style = TextStyle::new(AXIS_TITLE_PX);
        let gap = i64::from(GAP);
        texts.extend(TextItem::fitted(
            spec.style.x_label,
            axis_style,
            MAX_TITLE_WIDTH,
            Orientation::Horizontal,
            |w, _| (grid.right() / 2 - i64::from(w / 2), labels_bottom + gap),
        ));
        texts.extend(TextItem::fitted(
            spec.style.y_label,
            axis_style,
            MAX_TITLE_WIDTH,
            Orientation::Upward,
            |w, h| {
                (
                    label_left - gap - i64::from(w),
                    grid.bottom() / 2 - i64::from(h / 2),
                )
            },
        ));
        let title_gap = i64::from(parts.title_gap);
        texts.extend(TextItem::fitted(
            spec.style.title,
            parts.title_style,
            parts.title_max_width,
            Orientation::Horizontal,
            |w, h| {
                (
                    grid.right() / 2 - i64::from(w / 2),
                    -title_gap - i64::from(h),
                )
            },
        ));

        let annotation = spec.style.annotates(rows, cols, true).then(|| {
            TextStyle::new((cell as f32 * 0.3).clamp(ANNOTATION_MIN_PX, ANNOTATION_MAX_PX))
        });
        Self {
            rows,
            cols,
            cell,
            grid,
            texts,
            marks,
            annotation,
        }
    }

    /// Everything the panel draws.
    pub fn bounds(&self) -> Rect {
        bounding(
            self.grid,
            self.texts.iter().map(|t| &t.rect).chain(&self.marks),
        )
    }

    /// The pixel rectangle of cell (`row`, `col`) relative to the grid corner.
    pub fn cell_rect(&self, row: usize, col: usize) -> Rect {
        let c = i64::from(self.cell);
        Rect::new(col as i64 * c, row as i64 * c, self.cell, self.cell)
    }

    /// Where a colorbar of `height` pixels, top-aligned with the grid, should start: right of
    /// the grid, and also right of the labels below the grid when the bar reaches down there.
    pub fn colorbar_x(&self, height: u32) -> i64 {
        let mut x = self.grid.right() + i64::from(COLORBAR_GAP);
        if i64::from(height) > self.grid.bottom() {
            for t in self.texts.iter().filter(|t| t.rect.y >= self.grid.bottom()) {
                x = x.max(t.rect.right() + i64::from(GAP));
            }
        }
        x
    }
}

/// The four one-pixel lines just outside `r`.
pub(super) fn frame(r: &Rect) -> Vec<Rect> {
    vec![
        Rect::new(r.x - 1, r.y - 1, r.w + 2, 1),
        Rect::new(r.x - 1, r.bottom(), r.w + 2, 1),
        Rect::new(r.x - 1, r.y, 1, r.h),
        Rect::new(r.right(), r.y, 1, r.h),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_shrink_with_n_but_stay_at_least_one_pixel() {
        assert_eq!(cell_size(1, 1), MAX_CELL);
        assert_eq!(cell_size(3, 3), MAX_CELL);
        assert!(cell_size(20, 20) >= 40, "annotations need room");
        assert_eq!(cell_size(64, 64), 16);
        assert!(cell_size(512, 512) >= 2);
        assert_eq!(cell_size(2000, 2000), 1);
        assert_eq!(cell_size(3, 7), cell_size(7, 3));
        for n in 1..3000 {
            let c = cell_size(n, n);
            assert!((1..=MAX_CELL).contains(&c));
            assert!(c * n as u32 <= GRID_TARGET.max(n as u32), "{n}");
        }
    }

    #[test]
    fn label_steps_are_round_and_sufficient() {
        assert_eq!(label_step(80, 17), 1);
        assert_eq!(label_step(16, 17), 2);
        assert_eq!(label_step(2, 17), 10);
        assert_eq!(label_step(1, 17), 20);
        assert_eq!(label_step(1, 170), 200);
    }
}
