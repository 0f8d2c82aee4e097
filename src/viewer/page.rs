//! The page itself: the HTML skeleton, its style and its script, filled in with one doc.
//!
//! The HTML, CSS and JavaScript live in `page/` as ordinary files (so they read and lint as what
//! they are) and are compiled into the binary with `include_str!`: the tool needs no files at run
//! time and the page needs no network. The skeleton's Content-Security-Policy lets the browser
//! itself refuse anything but the page's own inline script and style.

use std::io::{self, Write};

use super::doc::ViewerDoc;
use super::encode::{html_escape, metadata, script_safe_json, write_f32_base64};

const SKELETON: &str = include_str!("page/viewer.html");
const STYLE: &str = include_str!("page/viewer.css");
/// The script's parts, concatenated in this order into one function scope.
const SCRIPTS: [&str; 4] = [
    include_str!("page/model.js"),
    include_str!("page/heatmap.js"),
    include_str!("page/lines.js"),
    include_str!("page/app.js"),
];

/// Writes the complete page for `doc` (already validated) to `out`.
pub fn write_page(out: &mut dyn Write, doc: &ViewerDoc) -> io::Result<()> {
    let title = html_escape(&doc.title);
    let mut rest = SKELETON;
    while let Some(at) = rest.find("{{") {
        out.write_all(&rest.as_bytes()[..at])?;
        let end = rest[at..]
            .find("}}")
            .map(|e| at + e + 2)
            .ok_or_else(|| io::Error::other("viewer skeleton: unclosed placeholder"))?;
        match &rest[at..end] {
            "{{TITLE}}" => out.write_all(title.as_bytes())?,
            "{{STYLE}}" => out.write_all(STYLE.as_bytes())?,
            "{{DATA}}" => out.write_all(script_safe_json(&metadata(doc)).as_bytes())?,
            "{{WEIGHTS}}" => write_weights(out, doc)?,
            "{{SCRIPT}}" => {
                out.write_all(b"(function () {\n'use strict';\n")?;
                for part in SCRIPTS {
                    out.write_all(part.as_bytes())?;
                    out.write_all(b"\n")?;
                }
                out.write_all(b"})();")?;
            }
            other => {
                return Err(io::Error::other(format!(
                    "viewer skeleton: unknown placeholder {other}"
                )));
            }
        }
        rest = &rest[end..];
    }
    out.write_all(rest.as_bytes())
}

/// One inert `<script type="application/octet-stream" id="w-ITEM-LAYER-HEAD">` per map, holding
/// its base64 f32 weights; the page decodes a map when it first shows it.
fn write_weights(out: &mut dyn Write, doc: &ViewerDoc) -> io::Result<()> {
    let heads = doc.head_labels.len();
    for (i, item) in doc.items.iter().enumerate() {
        for layer in 0..doc.layer_labels.len() {
            for head in 0..heads {
                let map = item
                    .map(heads, layer, head)
                    .ok_or_else(|| io::Error::other("viewer: map out of range"))?;
                write!(
                    out,
                    "<script type=\"application/octet-stream\" id=\"w-{i}-{layer}-{head}\">"
                )?;
                write_f32_base64(out, map)?;
                out.write_all(b"</script>\n")?;
            }
        }
    }
    Ok(())
}
