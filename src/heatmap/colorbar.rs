//! The colorbar's layout: a vertical gradient with round tick values and its title.
//!
//! Separate from the panel layout because a figure of several panels shares one colorbar.

use super::colormap::ColorScale;
use super::layout::{
    AXIS_TITLE_PX, COLORBAR_TICKS, COLORBAR_WIDTH, GAP, MAX_TITLE_WIDTH, Rect, TICK_LABEL_MAX_PX,
    TICK_LEN, TICK_PAD, TextItem, bounding, frame,
};
use super::text::{Orientation, TextStyle};

/// A vertical colorbar: the bar, its ticks and labels, and its title reading upward on the right.
#[derive(Debug, Clone)]
pub struct ColorbarLayout {
    /// The gradient, top = the scale's high end.
    pub bar: Rect,
    /// Tick labels and the title.
    pub texts: Vec<TextItem>,
    /// Tick marks and the frame.
    pub marks: Vec<Rect>,
}

impl ColorbarLayout {
    /// A colorbar whose bar's top-left corner is (`x`, `y`) and which is `height` pixels tall,
    /// labelled with `scale`'s values and titled `label`.
    pub fn new((x, y): (i64, i64), height: u32, scale: &ColorScale, label: &str) -> Self {
        let bar = Rect::new(x, y, COLORBAR_WIDTH, height.max(2));
        let style = TextStyle::new(TICK_LABEL_MAX_PX);
        let line = style.line_height();
        let mut marks = frame(&bar);
        let mut texts = Vec::new();
        let room = (bar.h / (line * 3 / 2)).max(2) as usize;
        let (ticks, decimals) = nice_ticks(
            f64::from(scale.lo),
            f64::from(scale.hi),
            COLORBAR_TICKS.min(room),
            room.min(2 * COLORBAR_TICKS),
        );
        let span = f64::from(scale.hi) - f64::from(scale.lo);
        let label_x = bar.right() + i64::from(TICK_LEN + TICK_PAD);
        let mut labels_right = label_x;
        for v in ticks {
            let frac = (f64::from(scale.hi) - v) / span;
            let ty = bar.y + (frac * f64::from(bar.h - 1)).round() as i64;
            marks.push(Rect::new(bar.right(), ty, TICK_LEN, 1));
            let item = TextItem::new(
                format!("{v:.decimals$}"),
                style,
                Orientation::Horizontal,
                |_, h| (label_x, ty - i64::from(h / 2)),
            );
            labels_right = labels_right.max(item.rect.right());
            texts.push(item);
        }
        texts.extend(TextItem::fitted(
            label,
            TextStyle::new(AXIS_TITLE_PX),
            MAX_TITLE_WIDTH,
            Orientation::Upward,
            |_, h| {
                (
                    labels_right + i64::from(GAP),
                    bar.y + i64::from(bar.h / 2) - i64::from(h / 2),
                )
            },
        ));
        Self { bar, texts, marks }
    }

    /// Everything the colorbar draws.
    pub fn bounds(&self) -> Rect {
        bounding(
            self.bar,
            self.texts.iter().map(|t| &t.rect).chain(&self.marks),
        )
    }
}

/// Round tick values in [lo, hi], steps of 1, 2, 2.5 or 5 × 10ᵏ, as close to `wanted` in number
/// as possible (ties go to more ticks) and never more than `max`, with the number of decimals
/// (at least 2) that prints each one exactly.
pub fn nice_ticks(lo: f64, hi: f64, wanted: usize, max: usize) -> (Vec<f64>, usize) {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return (vec![lo], 2);
    }
    let count = |step: f64| {
        let first = (lo / step - 1e-9).ceil() as i64;
        let last = (hi / step + 1e-9).floor() as i64;
        (first, last, (last - first + 1).max(0) as usize)
    };
    // A step m·10ᵏ; tick i is i·m·10ᵏ, computed so that 3 × 0.2 prints and compares as 0.6.
    let value = |i: i64, m: f64, k: i32| {
        let v = i as f64 * m;
        if k < 0 {
            v / 10f64.powi(-k)
        } else {
            v * 10f64.powi(k)
        }
    };
    let top = span.log10().floor() as i32;
    let mut best: Option<(f64, i32, usize)> = None;
    for k in top - 2..=top + 1 {
        for m in [1.0, 2.0, 2.5, 5.0] {
            let (_, _, n) = count(value(1, m, k));
            if n < 2 || n > max.max(2) {
                continue;
            }
            let key = |n: usize| (n.abs_diff(wanted), std::cmp::Reverse(n));
            if best.is_none_or(|(_, _, bn)| key(n) < key(bn)) {
                best = Some((m, k, n));
            }
        }
    }
    let Some((m, k, _)) = best else {
        return (vec![lo, hi], 2);
    };
    let step = value(1, m, k);
    let mut decimals = 2;
    while decimals < 12 {
        let scaled = step * 10f64.powi(decimals as i32);
        if (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0) {
            break;
        }
        decimals += 1;
    }
    let (first, last, _) = count(step);
    let ticks = (first..=last).map(|i| value(i, m, k)).collect();
    (ticks, decimals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_inside_the_range() {
        let (t, d) = nice_ticks(0.0887, 0.7072, 5, 10);
        assert_eq!(d, 2);
        assert_eq!(t.len(), 7, "{t:?}");
        assert!(
            (t[0] - 0.1).abs() < 1e-12 && (t[6] - 0.7).abs() < 1e-12,
            "{t:?}"
        );
        let (t, d) = nice_ticks(0.0887, 0.7072, 5, 4);
        assert_eq!(d, 2);
        assert_eq!(t, vec![0.2, 0.4, 0.6]);
        let (t, d) = nice_ticks(0.0, 1.0, 5, 10);
        assert_eq!((t, d), (vec![0.0, 0.25, 0.5, 0.75, 1.0], 2));
        let (t, d) = nice_ticks(0.001, 0.002, 5, 10);
        assert!(t.len() >= 3 && d >= 4, "{t:?} {d}");
        assert!(
            t.iter()
                .all(|v| (0.001 - 1e-12..=0.002 + 1e-12).contains(v))
        );
        let (t, _) = nice_ticks(-3.0, 5.0, 5, 10);
        assert!(t.contains(&0.0) && t.len() >= 3, "{t:?}");
    }
}
