//! An interactive attention viewer: one self-contained HTML file per run.
//!
//! A PNG suits a report; to explore attention people want to point at it. The page written here
//! shows the heatmap (hover for the weight to 4 places), a lines view like BertViz's head view,
//! selectors for batch element, layer and head, a layers × heads overview, causal masking, a
//! colormap switch and the run's facts — with the data embedded, script and style inline and a
//! Content-Security-Policy that forbids every fetch, so it opens from disk with the network off.
//!
//! Every command builds a [`ViewerDoc`] and calls [`write_html`]; the doc is validated first and
//! the file is written atomically, so a bad doc leaves nothing behind.
//!
//! Size: a page holds about 5.4 bytes per weight (base64 of f32) plus ~40 KB of script; a
//! 6-layer × 13-map encoder over 512 tokens is ≈ 110 MB per batch element.

mod doc;
mod encode;
mod page;

use std::path::Path;

pub use doc::{
    HeadScore, MAX_TOTAL_WEIGHTS, ViewerDoc, ViewerItem, head_labels, layer_maps, numbered,
};

use crate::error::Result;
use crate::fsutil::write_output;

/// Validates `doc` and writes its page to `path` atomically (a temporary sibling renamed into
/// place). Errors: the doc's shape problems ([`ViewerDoc::validate`]) before anything is
/// written, and [`crate::Error::OutputFile`] naming `path` when it can't be written.
pub fn write_html(path: &Path, doc: &ViewerDoc) -> Result<()> {
    doc.validate()?;
    write_output(path, |out| page::write_page(out, doc))
}

/// Validates `doc` and returns its page as a string, for front ends that show the page inline
/// rather than write a file (the Python package's notebook view puts it in an iframe).
pub fn page_html(doc: &ViewerDoc) -> Result<String> {
    doc.validate()?;
    let mut out = Vec::new();
    page::write_page(&mut out, doc).map_err(|e| crate::Error::Usage(e.to_string()))?;
    String::from_utf8(out).map_err(|e| crate::Error::Usage(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heatmap::Colormap;

    fn to_html(doc: &ViewerDoc) -> Result<String> {
        page_html(doc)
    }

    fn doc() -> ViewerDoc {
        ViewerDoc {
            title: "Self-attention <demo>".into(),
            facts: vec![("Adapter".into(), "llvmpipe".into())],
            causal: true,
            colormap: Colormap::Blues,
            layer_labels: numbered("Layer", 2),
            head_labels: vec!["Head 0".into(), "Average".into()],
            items: vec![ViewerItem {
                label: "batch element 0".into(),
                query_tokens: vec!["I".into(), "love".into(), "</script>".into()],
                key_tokens: vec!["I".into(), "love".into(), "</script>".into()],
                weights: vec![0.25; 2 * 2 * 9],
                query_positions: Vec::new(),
            }],
            head_scores: Vec::new(),
        }
    }

    #[test]
    fn page_is_self_contained_and_fully_filled_in() {
        let html = to_html(&doc()).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("Content-Security-Policy"));
        assert!(html.contains("default-src 'none'"));
        assert!(!html.contains("{{"), "a placeholder was left unfilled");
        // Nothing refers to the network.
        for needle in ["http://", "https://", "//cdn", "@import", "url("] {
            let outside_svg_ns = html.replace("http://www.w3.org/2000/svg", "");
            assert!(!outside_svg_ns.contains(needle), "page mentions {needle}");
        }
        // One weights element per (item, layer, head), each 9 f32 = 36 bytes = 48 base64 chars.
        assert_eq!(html.matches("type=\"application/octet-stream\"").count(), 4);
        assert!(html.contains("id=\"w-0-1-1\">AACAPgAAgD4"));
        // The title is escaped and the token cannot close the data element.
        assert!(html.contains("<title>Self-attention &lt;demo&gt;</title>"));
        assert_eq!(html.matches("</script>").count(), 4 + 2);
    }

    #[test]
    fn bad_doc_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.html");
        let mut d = doc();
        d.items[0].weights.truncate(5);
        let e = write_html(&path, &d).unwrap_err().to_string();
        assert!(e.contains("item 0"), "{e}");
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        write_html(&path, &doc()).unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("viewer-data")
        );
    }
}
