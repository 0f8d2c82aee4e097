//! Text measuring and drawing with the embedded DejaVu Sans font.
//!
//! The font is compiled into the binary so heatmaps look the same on every machine and need no
//! system fonts. Text is laid out on one line (advances plus kerning), measured in whole pixels,
//! and drawn into a box whose top-left corner the caller gives: horizontally, or rotated 90°
//! counter-clockwise so it reads upward (matplotlib's `rotation=90`). Characters the font lacks
//! draw as its "missing glyph" box; nothing panics on any string.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont, point};
use image::RgbImage;

/// DejaVu Sans (licence in `assets/fonts/DejaVuSans-LICENSE.txt`).
static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The horizontal ellipsis that ends a truncated label.
pub const ELLIPSIS: char = '…';

/// The parsed embedded font.
fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| {
        // The bytes are fixed at compile time and `embedded_font_parses` checks them.
        FontRef::try_from_slice(FONT_BYTES).expect("the embedded DejaVu Sans font parses")
    })
}

/// How a text box is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orientation {
    /// Left to right.
    Horizontal,
    /// Rotated 90° counter-clockwise: reads bottom to top, glyph tops facing left.
    Upward,
}

/// A font size in pixels (the em height), with metrics derived from it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextStyle {
    /// Em size in pixels.
    pub px: f32,
}

impl TextStyle {
    /// A style of `px` pixels.
    pub fn new(px: f32) -> Self {
        Self { px }
    }

    fn scaled(&self) -> impl ScaleFont<&'static FontRef<'static>> {
        font().as_scaled(PxScale::from(self.px))
    }

    /// Height of one line (ascent + descent), in whole pixels.
    pub fn line_height(&self) -> u32 {
        let f = self.scaled();
        (f.ascent() - f.descent()).ceil().max(1.0) as u32
    }

    /// Width of `text` on one line, in whole pixels.
    pub fn width(&self, text: &str) -> u32 {
        let f = self.scaled();
        let (mut caret, mut prev) = (0.0f32, None::<GlyphId>);
        for c in text.chars().map(printable) {
            let id = f.glyph_id(c);
            if let Some(p) = prev {
                caret += f.kern(p, id);
            }
            caret += f.h_advance(id);
            prev = Some(id);
        }
        caret.ceil().max(0.0) as u32
    }

    /// The size (w, h) of the box `text` occupies when drawn with `orientation`.
    pub fn box_size(&self, text: &str, orientation: Orientation) -> (u32, u32) {
        let (w, h) = (self.width(text), self.line_height());
        match orientation {
            Orientation::Horizontal => (w, h),
            Orientation::Upward => (h, w),
        }
    }

    /// `text` shortened so it is at most `max_width` pixels wide, ending in "…" when cut.
    pub fn truncate(&self, text: &str, max_width: u32) -> String {
        if self.width(text) <= max_width {
            return text.to_string();
        }
        let chars: Vec<char> = text.chars().collect();
        // Longest prefix that still fits together with the ellipsis (binary search: width grows
        // with the prefix length, up to kerning noise that cannot break the bound check below).
        let (mut lo, mut hi) = (0usize, chars.len());
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            let candidate: String = chars[..mid].iter().chain([&ELLIPSIS]).collect();
            if self.width(&candidate) <= max_width {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let cut: String = chars[..lo].iter().collect();
        format!("{}{ELLIPSIS}", cut.trim_end())
    }

    /// Draws `text` in `color` into the box whose top-left corner is (`x`, `y`) on `canvas`,
    /// blending glyph coverage over what is there. Pixels outside the canvas are skipped.
    pub fn draw(
        &self,
        canvas: &mut RgbImage,
        text: &str,
        (x, y): (i64, i64),
        orientation: Orientation,
        color: [u8; 3],
    ) {
        let f = self.scaled();
        let text_width = i64::from(self.width(text));
        let ascent = f.ascent();
        let (mut caret, mut prev) = (0.0f32, None::<GlyphId>);
        for c in text.chars().map(printable) {
            let id = f.glyph_id(c);
            if let Some(p) = prev {
                caret += f.kern(p, id);
            }
            let glyph = id.with_scale_and_position(self.px, point(caret, ascent));
            caret += f.h_advance(id);
            prev = Some(id);
            let Some(outlined) = f.outline_glyph(glyph) else {
                continue; // blank glyphs (spaces) have no outline
            };
            let bounds = outlined.px_bounds();
            outlined.draw(|gx, gy, coverage| {
                // (u, v): position in the horizontal text box, u along the text, v downward.
                let u = bounds.min.x as i64 + i64::from(gx);
                let v = bounds.min.y as i64 + i64::from(gy);
                let (px, py) = match orientation {
                    Orientation::Horizontal => (x + u, y + v),
                    Orientation::Upward => (x + v, y + text_width - 1 - u),
                };
                blend(canvas, px, py, color, coverage);
            });
        }
    }
}

/// Replaces control characters (tabs, newlines) with spaces so a label stays on one line.
fn printable(c: char) -> char {
    if c.is_control() { ' ' } else { c }
}

/// Mixes `color` into the pixel at (x, y) with weight `coverage`, if the pixel is on the canvas.
fn blend(canvas: &mut RgbImage, x: i64, y: i64, color: [u8; 3], coverage: f32) {
    let (Ok(x), Ok(y)) = (u32::try_from(x), u32::try_from(y)) else {
        return;
    };
    if x >= canvas.width() || y >= canvas.height() {
        return;
    }
    let a = coverage.clamp(0.0, 1.0);
    let pixel = canvas.get_pixel_mut(x, y);
    for (dst, src) in pixel.0.iter_mut().zip(color) {
        *dst = (f32::from(*dst) * (1.0 - a) + f32::from(src) * a).round() as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn embedded_font_parses() {
        assert!(font().glyph_count() > 1000);
    }

    #[test]
    fn widths_grow_with_text_and_size() {
        let s = TextStyle::new(14.0);
        assert_eq!(s.width(""), 0);
        assert!(s.width("love") > s.width("I"));
        assert!(TextStyle::new(28.0).width("love") > s.width("love"));
        assert!(s.line_height() >= 14);
    }

    #[test]
    fn truncation_fits_and_ends_in_ellipsis() {
        let s = TextStyle::new(14.0);
        assert_eq!(s.truncate("short", 200), "short");
        let long = "a_really_long_token_name_that_goes_on_and_on";
        let cut = s.truncate(long, 80);
        assert!(cut.ends_with(ELLIPSIS), "{cut}");
        assert!(s.width(&cut) <= 80, "{cut}");
        assert!(cut.len() > 3, "{cut}");
        // Nothing fits: just the ellipsis, never a panic.
        assert_eq!(s.truncate(long, 1), ELLIPSIS.to_string());
    }

    #[test]
    fn draws_inside_its_box_both_ways_and_survives_any_text() {
        let s = TextStyle::new(16.0);
        for orientation in [Orientation::Horizontal, Orientation::Upward] {
            let mut img = RgbImage::from_pixel(200, 200, Rgb([255, 255, 255]));
            let (w, h) = s.box_size("Hag", orientation);
            s.draw(&mut img, "Hag", (50, 60), orientation, [0, 0, 0]);
            let mut inked = 0;
            for (x, y, p) in img.enumerate_pixels() {
                if p.0 != [255, 255, 255] {
                    inked += 1;
                    assert!((50..50 + w).contains(&x) && (60..60 + h).contains(&y));
                }
            }
            assert!(inked > 20, "{orientation:?}: {inked}");
        }
        // Off-canvas, non-Latin, missing glyphs and control characters: no panic.
        let mut img = RgbImage::new(20, 20);
        for t in ["Привет 你好 🦀 \u{0}\n\tend", "مرحبا", "Ωμέγα"] {
            s.draw(&mut img, t, (-30, -5), Orientation::Horizontal, [9, 9, 9]);
            s.draw(&mut img, t, (15, 15), Orientation::Upward, [9, 9, 9]);
            let _ = s.truncate(t, 10);
        }
    }

    #[test]
    fn upward_text_reads_bottom_to_top() {
        // "I" followed by spaces: its ink must sit at the bottom of the rotated box.
        let s = TextStyle::new(20.0);
        let text = "I      ";
        let mut img = RgbImage::from_pixel(60, 200, Rgb([255, 255, 255]));
        let (_, h) = s.box_size(text, Orientation::Upward);
        s.draw(&mut img, text, (10, 10), Orientation::Upward, [0, 0, 0]);
        let ink_y: Vec<u32> = img
            .enumerate_pixels()
            .filter(|(_, _, p)| p.0 != [255, 255, 255])
            .map(|(_, y, _)| y)
            .collect();
        assert!(!ink_y.is_empty());
        assert!(ink_y.iter().all(|&y| y > 10 + h / 2), "{ink_y:?}");
    }
}
