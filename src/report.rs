//! Text output: matrices with token labels, and timing lines.

use std::fmt::Write;
use std::time::Duration;

/// Formats a row-major matrix with 4 decimals, rows labelled, columns aligned. Large matrices
/// show their top-left `max`×`max` corner followed by an ellipsis.
pub fn matrix(
    values: &[f32],
    rows: usize,
    cols: usize,
    row_labels: Option<&[String]>,
    max: usize,
) -> String {
    let shown_rows = rows.min(max);
    let shown_cols = cols.min(max);
    let label_width = row_labels
        .map(|l| {
            l.iter()
                .take(shown_rows)
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
        .min(16);
    let mut out = String::new();
    for r in 0..shown_rows {
        out.push_str("  ");
        if let Some(labels) = row_labels {
            let label: String = labels[r].chars().take(16).collect();
            let _ = write!(out, "{label:>label_width$}  ");
        }
        out.push('[');
        for c in 0..shown_cols {
            let _ = write!(out, "{:>9.4}", values[r * cols + c]);
        }
        if shown_cols < cols {
            out.push_str("  …");
        }
        out.push_str(" ]\n");
    }
    if shown_rows < rows {
        let _ = writeln!(
            out,
            "  … ({rows}×{cols}, first {shown_rows}×{shown_cols} shown)"
        );
    }
    out
}

/// Formats a duration in milliseconds with 3 decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_matrix_is_printed_in_full() {
        let s = matrix(&[0.58532, 0.27066, 0.14403, 1.0], 2, 2, None, 8);
        assert!(s.contains("0.5853") && s.contains("0.2707"), "{s}");
        assert_eq!(s.lines().count(), 2);
    }

    #[test]
    fn large_matrix_is_truncated() {
        let v = vec![0.5f32; 100];
        let s = matrix(&v, 10, 10, None, 3);
        assert!(s.contains("first 3×3"), "{s}");
    }
}
