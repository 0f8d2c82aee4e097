//! The viewer page and the heatmap PNG for attention weights from any source: the Python layer
//! brings every input form to one (items, layers, heads, L, S) array; this builds the library's
//! [`ViewerDoc`] from it once (so bad shapes or values fail at `selfattn.view`, not at display)
//! and renders it with the library's page and heatmap renderer.

use std::path::PathBuf;
use std::str::FromStr;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use selfattn::heatmap::{
    self, Colormap, FigureSpec, Heatmap, HeatmapSpec, MapStyle, Panel, block_average,
};
use selfattn::viewer::{ViewerDoc, ViewerItem, page_html, write_html};

use crate::arrays::float_array;
use crate::errors::{Failure, library};
use crate::run::detached;

/// Largest side of each panel of a several-head figure before it is block-averaged, so a row of
/// panels stays within the figure's width bound (as the command line draws them).
const MULTI_PANEL_MAX_CELLS: usize = 256;

/// One validated viewer page: its doc and the sizes of its maps.
#[pyclass(frozen, module = "selfattn._selfattn")]
pub struct Page {
    doc: ViewerDoc,
    layers: usize,
    heads: usize,
}

#[pymethods]
impl Page {
    /// `weights` holds one (layers, heads, L, S) float32/float64 array per item (items may
    /// differ in L and S: a model's sentences); one list of query and of key tokens per item;
    /// one label per layer, head and item.
    #[new]
    #[pyo3(signature = (weights, query_tokens, key_tokens, layer_labels, head_labels, item_labels, title, causal=false, colormap=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        weights: Vec<Bound<'_, PyAny>>,
        query_tokens: Vec<Vec<String>>,
        key_tokens: Vec<Vec<String>>,
        layer_labels: Vec<String>,
        head_labels: Vec<String>,
        item_labels: Vec<String>,
        title: String,
        causal: bool,
        colormap: Option<&str>,
    ) -> PyResult<Self> {
        let (layers, heads) = (layer_labels.len(), head_labels.len());
        let items = weights.len();
        for (what, given) in [
            ("query token lists", query_tokens.len()),
            ("key token lists", key_tokens.len()),
            ("item labels", item_labels.len()),
        ] {
            if given != items {
                return Err(PyValueError::new_err(format!(
                    "{given} {what} given for {items} item(s) of weights"
                )));
            }
        }
        let mut doc_items = Vec::with_capacity(items);
        for (i, ((w, label), (q, k))) in weights
            .iter()
            .zip(item_labels)
            .zip(query_tokens.into_iter().zip(key_tokens))
            .enumerate()
        {
            let w = float_array(w, "weights")?;
            let [l, h, rows, cols] = w.shape[..] else {
                return Err(PyValueError::new_err(format!(
                    "weights of item {i} has shape {:?}; expected (layers, heads, L, S)",
                    w.shape
                )));
            };
            for (what, given, wanted) in [("layer", layers, l), ("head", heads, h)] {
                if given != wanted {
                    return Err(PyValueError::new_err(format!(
                        "{given} {what} labels given for weights of shape {:?}; expected {wanted}",
                        w.shape
                    )));
                }
            }
            for (what, tokens, n, axis) in
                [("tokens", &q, rows, "L"), ("key_tokens", &k, cols, "S")]
            {
                if tokens.len() != n {
                    return Err(PyValueError::new_err(format!(
                        "{what} has {} entries for item {i} but the weights have {n} \
                         positions along {axis} (shape {:?})",
                        tokens.len(),
                        w.shape
                    )));
                }
            }
            doc_items.push(ViewerItem {
                label,
                query_tokens: q,
                key_tokens: k,
                weights: w.data,
                query_positions: Vec::new(),
            });
        }
        let colormap = colormap
            .map(Colormap::from_str)
            .transpose()
            .map_err(library)?
            .unwrap_or_default();
        let doc = ViewerDoc {
            title,
            facts: Vec::new(),
            causal,
            colormap,
            layer_labels,
            head_labels,
            items: doc_items,
            head_scores: Vec::new(),
        };
        doc.validate().map_err(library)?;
        Ok(Page { doc, layers, heads })
    }

    /// The self-contained page (script, style and data inline).
    fn html(&self, py: Python<'_>) -> PyResult<String> {
        Ok(detached(py, || Ok(page_html(&self.doc)?))?)
    }

    /// Writes the page to `path` atomically.
    fn save_html(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        Ok(detached(py, || Ok(write_html(&path, &self.doc)?))?)
    }

    /// The PNG of `layer`'s heads of `item`, as bytes.
    #[pyo3(signature = (item=0, layer=0))]
    fn png<'py>(
        &self,
        py: Python<'py>,
        item: usize,
        layer: usize,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = detached(py, || {
            let picture = self.render(item, layer)?;
            let mut out = Vec::new();
            heatmap::write_png(&picture.image, &mut out)
                .map_err(|e| Failure::Library(selfattn::Error::Usage(format!("PNG: {e}"))))?;
            Ok(out)
        })?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Writes the PNG of `layer`'s heads of `item` to `path` atomically.
    #[pyo3(signature = (path, item=0, layer=0))]
    fn save_png(&self, py: Python<'_>, path: PathBuf, item: usize, layer: usize) -> PyResult<()> {
        Ok(detached(py, || {
            Ok(self.render(item, layer)?.save_png(&path)?)
        })?)
    }

    /// (items, layers, heads, L, S) of each item.
    #[getter]
    fn shapes(&self) -> Vec<(usize, usize, usize, usize, usize)> {
        let items = self.doc.items.len();
        self.doc
            .items
            .iter()
            .map(|it| {
                let (l, s) = (it.query_tokens.len(), it.key_tokens.len());
                (items, self.layers, self.heads, l, s)
            })
            .collect()
    }
}

impl Page {
    /// Draws `layer`'s maps of `item`: one heatmap for one head, else a figure of a panel per
    /// head; maps too large for one pixel per cell are block-averaged and the title says so.
    fn render(&self, item: usize, layer: usize) -> Result<Heatmap, Failure> {
        let range = |what: &str, i: usize, n: usize| {
            if i < n {
                Ok(())
            } else {
                Err(selfattn::Error::Parameter {
                    name: if what == "item" { "item" } else { "layer" },
                    problem: format!("is {i} but there are {n} {what}s"),
                })
            }
        };
        range("item", item, self.doc.items.len())?;
        range("layer", layer, self.layers)?;
        let it = &self.doc.items[item];
        let (rows, cols) = (it.query_tokens.len(), it.key_tokens.len());
        let max_cells = if self.heads == 1 {
            heatmap::MAX_CELLS_PER_AXIS
        } else {
            MULTI_PANEL_MAX_CELLS
        };
        let small: Vec<_> = (0..self.heads)
            .map(|h| {
                let map = it.map(self.heads, layer, h).expect("validated sizes");
                block_average(map, rows, cols, &it.query_tokens, &it.key_tokens, max_cells)
            })
            .collect();
        let f = small[0].factor;
        let causal = self.doc.causal;
        let hide = |r: usize, c: usize| causal && c * f > (r + 1) * f - 1;
        let mut title = self.doc.title.clone();
        if self.layers > 1 {
            title.push_str(&format!(", {}", self.doc.layer_labels[layer]));
        }
        if self.doc.items.len() > 1 {
            title.push_str(&format!(", {}", it.label));
        }
        if f > 1 {
            title.push_str(&format!(" ({f}×{f} block means of {rows}×{cols})"));
        }
        let style = MapStyle {
            title: &title,
            cmap: self.doc.colormap,
            hide: Some(&hide),
            ..MapStyle::default()
        };
        let first = &small[0];
        let picture = if self.heads == 1 {
            heatmap::render(&HeatmapSpec {
                style,
                ..HeatmapSpec::new(
                    &first.values,
                    first.rows,
                    first.cols,
                    &first.row_labels,
                    &first.col_labels,
                )
            })?
        } else {
            let panels: Vec<Panel> = small
                .iter()
                .zip(&self.doc.head_labels)
                .map(|(d, title)| Panel {
                    values: &d.values,
                    title: title.clone(),
                })
                .collect();
            heatmap::render_figure(&FigureSpec {
                style,
                ..FigureSpec::new(
                    &panels,
                    first.rows,
                    first.cols,
                    &first.row_labels,
                    &first.col_labels,
                )
            })?
        };
        Ok(picture)
    }
}
