//! How the doc travels inside the page: weights as base64 of little-endian f32, everything else
//! as one small JSON object.
//!
//! Why base64 f32 and not quantised numbers: the page's tooltip must show the very value that
//! `--save` wrote to weights.npy, to 4 places, and an f32 survives base64 bit for bit (JavaScript
//! reads it back with a `Float32Array`). Base64 costs 4/3 of the raw bytes — a page is about
//! 5.4 bytes per weight — where pretty-printed JSON would cost 10–20. Each map is its own
//! base64 string, so the page decodes only the maps it shows.

use std::io::{self, Write};

use base64::engine::general_purpose::STANDARD;
use base64::write::EncoderWriter;
use serde_json::{Value, json};

use super::doc::ViewerDoc;
use crate::heatmap::Colormap;

/// Writes `values` as standard base64 (RFC 4648, `=` padding) of their little-endian f32 bytes.
pub fn write_f32_base64(out: &mut dyn Write, values: &[f32]) -> io::Result<()> {
    let mut encoder = EncoderWriter::new(out, &STANDARD);
    // In slices, so the bytes of a large map are never all held twice.
    let mut bytes = Vec::with_capacity(4 * 4096);
    for block in values.chunks(4096) {
        bytes.clear();
        bytes.extend(block.iter().flat_map(|v| v.to_le_bytes()));
        encoder.write_all(&bytes)?;
    }
    encoder.finish()?;
    Ok(())
}

/// The colormap's 256 entries as one hex string, "rrggbb" per entry.
pub fn lut_hex(cmap: Colormap) -> String {
    cmap.table()
        .iter()
        .map(|[r, g, b]| format!("{r:02x}{g:02x}{b:02x}"))
        .collect()
}

/// Everything but the weights, as the JSON object the page's script reads.
pub fn metadata(doc: &ViewerDoc) -> Value {
    // In Colormap::ALL's order, which the page's colormap selector keeps.
    let luts: Vec<Value> = Colormap::ALL
        .iter()
        .map(|c| json!([c.name(), lut_hex(*c)]))
        .collect();
    json!({
        "title": doc.title,
        "facts": doc.facts.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        "causal": doc.causal,
        "colormap": doc.colormap.name(),
        "luts": luts,
        "layers": doc.layer_labels,
        "heads": doc.head_labels,
        "defaultHead": doc.default_head(),
        "items": doc.items.iter().map(|it| json!({
            "label": it.label,
            "queries": it.query_tokens,
            "keys": it.key_tokens,
            "positions": (!it.query_positions.is_empty()).then_some(&it.query_positions),
        })).collect::<Vec<_>>(),
        // A score's missing values (the heads' average) are null.
        "scores": doc.head_scores.iter().map(|s| json!({
            "name": s.name,
            "about": s.about,
            "values": s.values,
        })).collect::<Vec<_>>(),
    })
}

/// JSON text safe to place inside a `<script>` element: `<`, `>` and `&` (which JSON only has
/// inside strings) become `\u003c` etc., so a token like `</script>` cannot end the element.
pub fn script_safe_json(value: &Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// Text escaped for HTML element content and attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;

    #[test]
    fn f32_round_trip_is_bit_exact_across_buffer_boundaries() {
        // Long enough to cross the 4096-value slices, ending on a partial 3-byte group.
        let values: Vec<f32> = (0..10_001)
            .map(|i| ((i as f32) * 0.618_034).sin() / (1.0 + i as f32))
            .chain([0.0, -0.0, 1.0, f32::MIN_POSITIVE, 0.123_456_79])
            .collect();
        let mut out = Vec::new();
        write_f32_base64(&mut out, &values).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.len(), (values.len() * 4).div_ceil(3) * 4);
        assert!(text.ends_with('=') && !text[..text.len() - 2].contains('='));
        let back: Vec<f32> = STANDARD
            .decode(&text)
            .unwrap()
            .chunks(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(back.len(), values.len());
        for (a, b) in values.iter().zip(&back) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
    }

    #[test]
    fn luts_are_the_heatmap_tables() {
        let hex = lut_hex(Colormap::Viridis);
        assert_eq!(hex.len(), 256 * 6);
        assert_eq!(&hex[..6], "440154");
        assert_eq!(&hex[hex.len() - 6..], "fde725");
        assert_eq!(&lut_hex(Colormap::Blues)[..6], "f7fbff");
    }

    #[test]
    fn json_cannot_close_the_script_element() {
        let v = json!({"token": "</script><b>&"});
        let s = script_safe_json(&v);
        assert!(
            !s.contains('<') && !s.contains('>') && !s.contains('&'),
            "{s}"
        );
        let back: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            html_escape("a<b & \"c\" 'd'>"),
            "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;"
        );
    }
}
