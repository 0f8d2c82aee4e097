//! The viewer's data model: what one HTML page shows, independent of the command that made it.
//!
//! Every command that forms attention weights (`run`, `mha`, `sdpa`, `model`) describes its result
//! the same way — a stack of maps indexed by layer and head, for each batch element — so the page
//! and its tests need to know about one shape only. Validation happens here, before anything is
//! written, so a caller's shape mistake is an [`Error`] naming the item and the sizes, never a
//! panic or a page that draws garbage.

use crate::error::{Error, Result};
use crate::heatmap::Colormap;

/// Most weights (over all items, layers and heads) one page may embed: 2²⁸ f32 values are 1 GiB
/// raw and about 1.4 GB of base64, already more than a browser tab opens comfortably.
pub const MAX_TOTAL_WEIGHTS: usize = 1 << 28;

/// Everything one viewer page shows.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewerDoc {
    /// Page heading (and the browser tab's title).
    pub title: String,
    /// Facts listed in a table under the maps, in order: adapter, shapes, GPU-vs-CPU errors, ….
    pub facts: Vec<(String, String)>,
    /// Hide the masked upper triangle (key index > query index, aligned top-left), as a causal
    /// run's heatmap does.
    pub causal: bool,
    /// The colormap the page opens with (the page can switch to the others).
    pub colormap: Colormap,
    /// One label per layer, e.g. "Layer 0"; at least one. The layer selector and the
    /// layers × heads overview appear only when there is more than one.
    pub layer_labels: Vec<String>,
    /// One label per head, e.g. "Head 0" … "Head 11", "Average"; at least one. A head labelled
    /// "average" (any case) is the one the page opens with.
    pub head_labels: Vec<String>,
    /// One item per batch element; at least one.
    pub items: Vec<ViewerItem>,
    /// Numbers per head (a model's head roles: entropy, attention sink, …) the layers × heads
    /// overview can colour and order its maps by; empty for none.
    pub head_scores: Vec<HeadScore>,
}

/// One number per (layer, head) of every item, e.g. each head's mean attention entropy.
#[derive(Clone, Debug, PartialEq)]
pub struct HeadScore {
    /// Its name in the overview's selector, e.g. "entropy (nats)".
    pub name: String,
    /// One sentence on what it measures, shown beside the selector.
    pub about: String,
    /// Per item, `layers · heads` values (layer-major, heads as in the doc's head labels);
    /// `None` where it means nothing (the heads' average) or was not measured.
    pub values: Vec<Vec<Option<f64>>>,
}

/// One batch element: its tokens and every map of every layer and head.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewerItem {
    /// Shown in the batch selector, e.g. "batch element 0" or the input sentence.
    pub label: String,
    /// Query tokens (heatmap rows, left column of the lines view); at least one.
    pub query_tokens: Vec<String>,
    /// Key tokens (heatmap columns, right column of the lines view); at least one.
    pub key_tokens: Vec<String>,
    /// `[layer][head][query][key]`, row-major: `layers · heads · queries · keys` finite values.
    /// Items may differ in token counts (a real model's batch is shown without its padding).
    pub weights: Vec<f32>,
    /// The position of each query among the keys, when the queries are some rows of a longer
    /// sequence (a long prompt's picked rows), strictly increasing; empty when query i is
    /// position i. The causal triangle hides key j of query i when j > its position, and the
    /// page never averages such rows together.
    pub query_positions: Vec<usize>,
}

impl ViewerItem {
    /// Values per map: queries × keys.
    pub fn map_len(&self) -> usize {
        self.query_tokens.len() * self.key_tokens.len()
    }

    /// The `queries × keys` map of `layer` and `head` (indices into the doc's labels), or `None`
    /// when out of range.
    pub fn map(&self, heads: usize, layer: usize, head: usize) -> Option<&[f32]> {
        let n = self.map_len();
        let start = (layer.checked_mul(heads)?.checked_add(head)?).checked_mul(n)?;
        self.weights.get(start..start.checked_add(n)?)
    }
}

impl ViewerDoc {
    /// Checks that the doc can be drawn: labels and items present, every item's weights of
    /// length layers · heads · queries · keys, every weight finite, the total within
    /// [`MAX_TOTAL_WEIGHTS`].
    pub fn validate(&self) -> Result<()> {
        if self.layer_labels.is_empty() {
            return Err(Error::InvalidSize(
                "viewer: at least one layer label is needed".into(),
            ));
        }
        if self.head_labels.is_empty() {
            return Err(Error::InvalidSize(
                "viewer: at least one head label is needed".into(),
            ));
        }
        if self.items.is_empty() {
            return Err(Error::InvalidSize(
                "viewer: at least one item (batch element) is needed".into(),
            ));
        }
        let maps = self.layer_labels.len() * self.head_labels.len();
        let mut total = 0usize;
        for (i, item) in self.items.iter().enumerate() {
            let (q, k) = (item.query_tokens.len(), item.key_tokens.len());
            if q == 0 || k == 0 {
                return Err(Error::InvalidSize(format!(
                    "viewer item {i} ('{}'): {q} query and {k} key tokens; both need at least one",
                    item.label
                )));
            }
            let expected = maps
                .checked_mul(q)
                .and_then(|n| n.checked_mul(k))
                .ok_or_else(|| {
                    Error::InvalidSize(format!("viewer item {i}: {maps} maps of {q}×{k} overflow"))
                })?;
            if item.weights.len() != expected {
                return Err(Error::ShapeMismatch(format!(
                    "viewer item {i} ('{}'): weights hold {} values but [layers {}][heads {}][queries {q}][keys {k}] needs {expected}",
                    item.label,
                    item.weights.len(),
                    self.layer_labels.len(),
                    self.head_labels.len(),
                )));
            }
            if let Some(at) = item.weights.iter().position(|v| !v.is_finite()) {
                let (map, cell) = (at / (q * k), at % (q * k));
                let (layer, head) = (map / self.head_labels.len(), map % self.head_labels.len());
                return Err(Error::NonFinite {
                    tensor: format!("viewer item {i} weights"),
                    index: format!(
                        "[layer {layer}, head {head}, query {}, key {}]",
                        cell / k,
                        cell % k
                    ),
                    value: item.weights[at] as f64,
                });
            }
            if !item.query_positions.is_empty() {
                let positions = &item.query_positions;
                if positions.len() != q {
                    return Err(Error::ShapeMismatch(format!(
                        "viewer item {i} ('{}'): {} query positions for {q} queries",
                        item.label,
                        positions.len()
                    )));
                }
                if let Some(w) = positions.windows(2).find(|w| w[0] >= w[1]) {
                    return Err(Error::InvalidSize(format!(
                        "viewer item {i} ('{}'): query positions must increase ({} then {})",
                        item.label, w[0], w[1]
                    )));
                }
                if let Some(&p) = positions.iter().find(|&&p| p >= k) {
                    return Err(Error::InvalidSize(format!(
                        "viewer item {i} ('{}'): query position {p} is past its {k} keys",
                        item.label
                    )));
                }
            }
            total = total.saturating_add(expected);
        }
        for score in &self.head_scores {
            let name = &score.name;
            if score.values.len() != self.items.len() {
                return Err(Error::ShapeMismatch(format!(
                    "viewer head score '{name}': values for {} items, the doc has {}",
                    score.values.len(),
                    self.items.len()
                )));
            }
            for (i, values) in score.values.iter().enumerate() {
                if values.len() != maps {
                    return Err(Error::ShapeMismatch(format!(
                        "viewer head score '{name}': item {i} has {} values for {maps} maps \
                         ({} layers × {} heads)",
                        values.len(),
                        self.layer_labels.len(),
                        self.head_labels.len()
                    )));
                }
                if let Some(at) = values
                    .iter()
                    .position(|v| v.is_some_and(|v| !v.is_finite()))
                {
                    return Err(Error::NonFinite {
                        tensor: format!("viewer head score '{name}' of item {i}"),
                        index: format!(
                            "[layer {}, head {}]",
                            at / self.head_labels.len(),
                            at % self.head_labels.len()
                        ),
                        value: values[at].unwrap_or(f64::NAN),
                    });
                }
            }
        }
        if total > MAX_TOTAL_WEIGHTS {
            return Err(Error::InvalidSize(format!(
                "viewer: {total} weights in all exceed the {MAX_TOTAL_WEIGHTS} one page can hold; \
                 show fewer layers, heads or batch elements"
            )));
        }
        Ok(())
    }

    /// The index of the head the page opens with: the one labelled "average", else 0.
    pub fn default_head(&self) -> usize {
        self.head_labels
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case("average"))
            .unwrap_or(0)
    }
}

/// `n` labels "`prefix` 0" … "`prefix` n−1" (for layers and heads).
pub fn numbered(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix} {i}")).collect()
}

/// The head labels of a page: "Head 0" … "Head h−1", then `average` (e.g. "Average") when the
/// page shows the heads' mean too.
pub fn head_labels(heads: usize, average: Option<&str>) -> Vec<String> {
    let mut labels = numbered("Head", heads);
    labels.extend(average.map(String::from));
    labels
}

/// One item's weights in the order a page holds them, layer by layer: the layer's `heads` maps
/// of `map` values each (from `per_head`, (layers, heads, map)), then its mean (from `means`,
/// (layers, map)). Either may be absent: a page of means only, or of heads without a mean.
pub fn layer_maps(
    per_head: Option<&[f32]>,
    means: Option<&[f32]>,
    (layers, heads, map): (usize, usize, usize),
) -> Vec<f32> {
    let per_layer = per_head.map_or(0, |_| heads) + means.map_or(0, |_| 1);
    let mut weights = Vec::with_capacity(layers * per_layer * map);
    for layer in 0..layers {
        if let Some(per_head) = per_head {
            weights.extend_from_slice(&per_head[layer * heads * map..(layer + 1) * heads * map]);
        }
        if let Some(means) = means {
            weights.extend_from_slice(&means[layer * map..(layer + 1) * map]);
        }
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_maps_put_each_layers_mean_after_its_heads() {
        // 2 layers × 2 heads of 1-value maps, and each layer's mean.
        let heads = [1.0, 2.0, 3.0, 4.0];
        let means = [1.5, 3.5];
        assert_eq!(
            layer_maps(Some(&heads), Some(&means), (2, 2, 1)),
            [1.0, 2.0, 1.5, 3.0, 4.0, 3.5]
        );
        assert_eq!(layer_maps(Some(&heads), None, (2, 2, 1)), heads);
        assert_eq!(layer_maps(None, Some(&means), (2, 2, 1)), means);
        assert_eq!(
            head_labels(2, Some("Average")),
            ["Head 0", "Head 1", "Average"]
        );
        assert_eq!(head_labels(1, None), ["Head 0"]);
    }

    fn tokens(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("t{i}")).collect()
    }

    fn doc(layers: usize, heads: usize, q: usize, k: usize) -> ViewerDoc {
        ViewerDoc {
            title: "t".into(),
            facts: vec![],
            causal: false,
            colormap: Colormap::Viridis,
            layer_labels: numbered("Layer", layers),
            head_labels: numbered("Head", heads),
            items: vec![ViewerItem {
                label: "a".into(),
                query_tokens: tokens(q),
                key_tokens: tokens(k),
                weights: (0..layers * heads * q * k).map(|i| i as f32).collect(),
                query_positions: Vec::new(),
            }],
            head_scores: Vec::new(),
        }
    }

    #[test]
    fn a_consistent_doc_passes_and_maps_are_sliced_row_major() {
        let d = doc(2, 3, 4, 5);
        d.validate().unwrap();
        let m = d.items[0].map(3, 1, 2).unwrap();
        assert_eq!(m.len(), 20);
        assert_eq!(m[0], ((3 + 2) * 20) as f32);
        assert!(d.items[0].map(3, 2, 0).is_none());
    }

    #[test]
    fn wrong_weight_count_names_the_item_and_shape() {
        let mut d = doc(2, 3, 4, 5);
        d.items[0].weights.pop();
        let e = d.validate().unwrap_err().to_string();
        assert!(
            e.contains("item 0") && e.contains("119") && e.contains("120"),
            "{e}"
        );
    }

    #[test]
    fn items_may_differ_in_token_counts() {
        let mut d = doc(1, 2, 3, 3);
        let mut second = doc(1, 2, 2, 4).items.remove(0);
        second.label = "short".into();
        d.items.push(second);
        d.validate().unwrap();
        d.items[1].key_tokens.pop();
        let e = d.validate().unwrap_err().to_string();
        assert!(e.contains("item 1") && e.contains("short"), "{e}");
    }

    #[test]
    fn empty_labels_tokens_and_items_are_refused() {
        let mut d = doc(1, 1, 2, 2);
        d.layer_labels.clear();
        assert!(d.validate().unwrap_err().to_string().contains("layer"));
        let mut d = doc(1, 1, 2, 2);
        d.head_labels.clear();
        assert!(d.validate().unwrap_err().to_string().contains("head"));
        let mut d = doc(1, 1, 2, 2);
        d.items[0].query_tokens.clear();
        d.items[0].weights.clear();
        assert!(d.validate().unwrap_err().to_string().contains("0 query"));
        let mut d = doc(1, 1, 2, 2);
        d.items.clear();
        assert!(d.validate().unwrap_err().to_string().contains("item"));
    }

    #[test]
    fn non_finite_weight_is_located() {
        let mut d = doc(2, 2, 3, 3);
        // layer 1, head 0, query 2, key 1.
        d.items[0].weights[(2 * 9) + 2 * 3 + 1] = f32::NAN;
        let e = d.validate().unwrap_err().to_string();
        assert!(
            e.contains("layer 1, head 0, query 2, key 1"),
            "unexpected message: {e}"
        );
    }

    #[test]
    fn query_positions_must_match_the_queries_and_stay_within_the_keys() {
        let mut d = doc(1, 1, 2, 5);
        d.items[0].query_positions = vec![1, 4];
        d.validate().unwrap();
        d.items[0].query_positions = vec![1];
        let e = d.validate().unwrap_err().to_string();
        assert!(e.contains("1 query positions for 2 queries"), "{e}");
        d.items[0].query_positions = vec![1, 5];
        let e = d.validate().unwrap_err().to_string();
        assert!(e.contains("position 5 is past its 5 keys"), "{e}");
        d.items[0].query_positions = vec![3, 2];
        let e = d.validate().unwrap_err().to_string();
        assert!(e.contains("must increase (3 then 2)"), "{e}");
    }

    #[test]
    fn head_scores_need_one_finite_value_per_map_of_every_item() {
        let mut d = doc(2, 3, 2, 2);
        let mut values = vec![Some(0.5); 6];
        values[5] = None;
        d.head_scores.push(HeadScore {
            name: "entropy".into(),
            about: "nats".into(),
            values: vec![values.clone()],
        });
        d.validate().unwrap();
        d.head_scores[0].values[0].pop();
        let e = d.validate().unwrap_err().to_string();
        assert!(
            e.contains("'entropy'") && e.contains("5 values for 6 maps"),
            "{e}"
        );
        values[4] = Some(f64::INFINITY);
        d.head_scores[0].values = vec![values.clone()];
        let e = d.validate().unwrap_err().to_string();
        assert!(e.contains("layer 1, head 1"), "{e}");
        d.head_scores[0].values = vec![values.clone(), values];
        let e = d.validate().unwrap_err().to_string();
        assert!(e.contains("values for 2 items, the doc has 1"), "{e}");
    }

    #[test]
    fn default_head_is_the_average_when_there_is_one() {
        let mut d = doc(1, 3, 1, 1);
        assert_eq!(d.default_head(), 0);
        d.head_labels[2] = "Average".into();
        assert_eq!(d.default_head(), 2);
    }
}
