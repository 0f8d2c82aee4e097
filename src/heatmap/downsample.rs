//! Shrinking a matrix too large to draw one pixel per cell: average `factor`×`factor` blocks.

/// A block-averaged matrix with one label per block (the block's first).
#[derive(Clone, Debug, PartialEq)]
pub struct Downsampled {
    /// Averaged values, `rows`×`cols`, row-major.
    pub values: Vec<f32>,
    /// Block rows.
    pub rows: usize,
    /// Block columns.
    pub cols: usize,
    /// The first row label of each block row.
    pub row_labels: Vec<String>,
    /// The first column label of each block column.
    pub col_labels: Vec<String>,
    /// Cells per block side (1 when nothing was shrunk).
    pub factor: usize,
}

/// Averages square blocks so that neither side exceeds `max_cells`; edge blocks average over the
/// cells they have.
pub fn block_average(
    values: &[f32],
    rows: usize,
    cols: usize,
    row_labels: &[String],
    col_labels: &[String],
    max_cells: usize,
) -> Downsampled {
    let factor = rows.max(cols).div_ceil(max_cells.max(1)).max(1);
    let (out_rows, out_cols) = (rows.div_ceil(factor), cols.div_ceil(factor));
    let mut sums = vec![0.0f64; out_rows * out_cols];
    let mut counts = vec![0u32; out_rows * out_cols];
    for r in 0..rows {
        for c in 0..cols {
            let i = (r / factor) * out_cols + c / factor;
            sums[i] += values[r * cols + c] as f64;
            counts[i] += 1;
        }
    }
    let pick = |labels: &[String], n: usize| -> Vec<String> {
        (0..n).map(|b| labels[b * factor].clone()).collect()
    };
    Downsampled {
        values: sums
            .iter()
            .zip(&counts)
            .map(|(s, &n)| (s / n as f64) as f32)
            .collect(),
        rows: out_rows,
        cols: out_cols,
        row_labels: pick(row_labels, out_rows),
        col_labels: pick(col_labels, out_cols),
        factor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(n: usize) -> Vec<String> {
        (0..n).map(|i| i.to_string()).collect()
    }

    #[test]
    fn averages_blocks_including_ragged_edges() {
        // 5×5 into at most 3 per side: factor 2, blocks of 2×2, 2×1, 1×2, 1×1.
        let v: Vec<f32> = (0..25).map(|i| i as f32).collect();
        let d = block_average(&v, 5, 5, &labels(5), &labels(5), 3);
        assert_eq!((d.rows, d.cols, d.factor), (3, 3, 2));
        assert_eq!(d.values[0], (0.0 + 1.0 + 5.0 + 6.0) / 4.0);
        assert_eq!(d.values[2], (4.0 + 9.0) / 2.0);
        assert_eq!(d.values[8], 24.0);
        assert_eq!(d.row_labels, ["0", "2", "4"]);
    }

    #[test]
    fn small_matrices_pass_through() {
        let v = vec![0.25f32; 6];
        let d = block_average(&v, 2, 3, &labels(2), &labels(3), 10);
        assert_eq!(d.factor, 1);
        assert_eq!(d.values, v);
    }
}
