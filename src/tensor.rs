//! A plain row-major f32 matrix: the currency between loaders, the GPU and the CPU reference.

use crate::error::{Error, Result};

/// A row-major `rows × cols` matrix of f32.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// `rows * cols` values, row-major.
    pub data: Vec<f32>,
}

impl Matrix {
    /// Wraps `data`; errors when its length is not `rows * cols`.
    pub fn new(rows: usize, cols: usize, data: Vec<f32>) -> Result<Self> {
        if data.len() != rows * cols {
            return Err(Error::ShapeMismatch(format!(
                "{} values cannot form a {rows}×{cols} matrix",
                data.len()
            )));
        }
        Ok(Matrix { rows, cols, data })
    }

    /// Builds from f64 values (rounded to f32).
    pub fn from_f64(rows: usize, cols: usize, data: &[f64]) -> Result<Self> {
        Matrix::new(rows, cols, data.iter().map(|&v| v as f32).collect())
    }

    /// The element at (`row`, `col`).
    pub fn at(&self, row: usize, col: usize) -> f32 {
        self.data[row * self.cols + col]
    }

    /// The shape as `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Errors naming `name` and the first bad index when any value is NaN or infinite, and when a
    /// dimension is zero.
    pub fn check(&self, name: &str) -> Result<()> {
        if self.rows == 0 || self.cols == 0 {
            return Err(Error::InvalidSize(format!(
                "{name} is {}×{}: every dimension must be at least 1",
                self.rows, self.cols
            )));
        }
        if let Some(i) = self.data.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                tensor: name.to_string(),
                index: format!("[{}, {}]", i / self.cols, i % self.cols),
                value: self.data[i] as f64,
            });
        }
        Ok(())
    }
}

/// Formats a shape as `3×4`.
pub fn shape_str(shape: (usize, usize)) -> String {
    format!("{}×{}", shape.0, shape.1)
}

/// Rows `keep` of each of the (rows × cols) matrices stored back to back in `data`: how a block
/// of query rows is cut from (…, L, ·) inputs and masks.
pub fn cut_rows(data: &[f32], rows: usize, cols: usize, keep: &std::ops::Range<usize>) -> Vec<f32> {
    if keep.start == 0 && keep.end == rows {
        return data.to_vec();
    }
    data.chunks_exact(rows * cols)
        .flat_map(|m| &m[keep.start * cols..keep.end * cols])
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_tensor_and_index() {
        let m = Matrix::new(2, 3, vec![1.0, 2.0, 3.0, 4.0, f32::INFINITY, 6.0]).unwrap();
        let err = m.check("W_Q").unwrap_err().to_string();
        assert!(err.contains("W_Q") && err.contains("[1, 1]"), "{err}");
    }

    #[test]
    fn zero_dimension_is_rejected() {
        let m = Matrix::new(0, 3, vec![]).unwrap();
        assert!(m.check("X").unwrap_err().to_string().contains("0×3"));
    }

    #[test]
    fn wrong_length_is_rejected() {
        assert!(Matrix::new(2, 2, vec![1.0; 3]).is_err());
    }

    #[test]
    fn cut_rows_keeps_the_rows_of_every_matrix() {
        // Two 3×2 matrices; keep row 1..3 of each.
        let data: Vec<f32> = (0..12).map(|v| v as f32).collect();
        assert_eq!(
            cut_rows(&data, 3, 2, &(1..3)),
            [2., 3., 4., 5., 8., 9., 10., 11.]
        );
        assert_eq!(cut_rows(&data, 3, 2, &(0..3)), data);
    }
}
