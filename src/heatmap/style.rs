//! How a heatmap looks, apart from its values and labels: titles, colours, annotations and
//! hidden cells.
//!
//! A single heatmap ([`super::HeatmapSpec`]) and a figure of several panels
//! ([`super::FigureSpec`]) are styled by the same [`MapStyle`], so the two take the same options
//! with the same defaults and check and resolve them (the colour range, automatic annotations)
//! the same way.

use super::colormap::{ColorScale, Colormap};
use crate::error::{Error, Result};

/// Automatic annotations need maps of at most this many cells per side.
const ANNOTATE_MAX_CELLS: usize = 20;

/// The look of a heatmap or of a figure of heatmap panels.
///
/// [`MapStyle::default`] gives the seed's defaults: no title, axes "Key" / "Query", colorbar
/// "Attention Weight", viridis, automatic range and annotations, nothing hidden.
#[derive(Clone, Copy)]
pub struct MapStyle<'a> {
    /// Title centred above everything (a figure's panels carry their own titles as well); empty
    /// for none.
    pub title: &'a str,
    /// Title centred under the column labels, e.g. "Key".
    pub x_label: &'a str,
    /// Title left of the row labels, reading upward, e.g. "Query".
    pub y_label: &'a str,
    /// Title along the colorbar (a figure has one), e.g. "Attention Weight".
    pub colorbar_label: &'a str,
    /// The colormap.
    pub cmap: Colormap,
    /// Values drawn with the bottom and top colours; `None` uses the min and max of the finite,
    /// shown values (of all panels together, in a figure); a degenerate range is widened to
    /// include 0 and 1.
    pub range: Option<(f32, f32)>,
    /// Write each value to 2 places in its cell; `None` does so for maps of at most 20 × 20
    /// cells (in a figure, only when its cells also come out at least 36 px). Cells too small
    /// for the text stay blank either way.
    pub annotate: Option<bool>,
    /// Cells to leave blank (drawn in the background colour) in every panel, e.g. a causal
    /// mask's upper triangle.
    pub hide: Option<&'a dyn Fn(usize, usize) -> bool>,
}

impl Default for MapStyle<'_> {
    /// The seed's look: no title, axes "Key" / "Query", colorbar "Attention Weight", viridis,
    /// automatic range and annotations, nothing hidden.
    fn default() -> Self {
        Self {
            title: "",
            x_label: "Key",
            y_label: "Query",
            colorbar_label: "Attention Weight",
            cmap: Colormap::Viridis,
            range: None,
            annotate: None,
            hide: None,
        }
    }
}

impl MapStyle<'_> {
    /// Checks that a given colour range is finite with low < high.
    pub(super) fn check_range(&self) -> Result<()> {
        match self.range {
            Some((lo, hi)) if !(lo.is_finite() && hi.is_finite() && lo < hi) => Err(Error::Usage(
                format!("heatmap colour range ({lo}, {hi}) must be finite with low < high"),
            )),
            _ => Ok(()),
        }
    }

    /// The colour scale: the given range, or the min and max of the finite values of `maps`
    /// (each row-major, `cols` wide) that are not hidden.
    pub(super) fn scale<'v>(
        &self,
        maps: impl IntoIterator<Item = &'v [f32]>,
        cols: usize,
    ) -> ColorScale {
        let (lo, hi) = self
            .range
            .unwrap_or_else(|| shown_range(maps, cols, self.hide));
        ColorScale {
            cmap: self.cmap,
            lo,
            hi,
        }
    }

    /// Whether a map of `rows × cols` cells carries its values, given whether the automatic
    /// choice is otherwise allowed (`big_enough`, e.g. the cells are legible).
    pub(super) fn annotates(&self, rows: usize, cols: usize, big_enough: bool) -> bool {
        self.annotate
            .unwrap_or(rows <= ANNOTATE_MAX_CELLS && cols <= ANNOTATE_MAX_CELLS && big_enough)
    }
}

/// The min and max of the finite values of `maps` (each row-major, `cols` wide) that `hide` does
/// not hide; a degenerate range is widened to include 0 and 1, no values at all give (0, 1).
fn shown_range<'v>(
    maps: impl IntoIterator<Item = &'v [f32]>,
    cols: usize,
    hide: Option<&dyn Fn(usize, usize) -> bool>,
) -> (f32, f32) {
    let mut range: Option<(f32, f32)> = None;
    for values in maps {
        for (i, &v) in values.iter().enumerate() {
            let hidden = hide.is_some_and(|h| h(i / cols, i % cols));
            if v.is_finite() && !hidden {
                range = Some(range.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))));
            }
        }
    }
    match range {
        Some((lo, hi)) if lo < hi => (lo, hi),
        Some((v, _)) => (v.min(0.0), v.max(1.0)),
        None => (0.0, 1.0),
    }
}
