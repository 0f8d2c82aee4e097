//! GPU-versus-CPU comparison: how far the f32 GPU result is from the f64 reference, where the
//! worst element is, and whether that is within tolerance.
//!
//! The rule: an element passes when |gpu − cpu| ≤ tol · scale, where `scale` is 1 for the
//! attention weights (they live in [0, 1]) and max(1, max |cpu|) for every other stage, so that a
//! stage whose values are in the tens is held to the same number of significant digits. A NaN or
//! infinity on the GPU side (e.g. a poisoned element never written) always fails.
//!
//! A stage whose elements are sums of products (a matmul's output) may be compared with
//! [`compare_sums`], which also scales by the size of the terms: f32 rounding of a sum grows with
//! its terms, not with its result, so when the terms cancel (Q and K of rank one, for instance)
//! the result can be hundreds of times smaller than the rounding of its terms.

use std::fmt;

use crate::attention::Stage;
use crate::tensor::Matrix;

/// Default absolute tolerance on the weights (and, scaled, on the other stages).
pub const DEFAULT_TOLERANCE: f64 = 1e-5;

/// The result of comparing one stage.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// Which stage.
    pub stage: Stage,
    /// Largest |gpu − cpu|.
    pub max_abs: f64,
    /// Largest |gpu − cpu| / |cpu| over elements with |cpu| ≥ the tolerance (tiny values excluded).
    pub max_rel: f64,
    /// Index of the element furthest outside (or closest to) its tolerance, in the tensor's own
    /// shape ([row, col] for a matrix).
    pub worst: Vec<usize>,
    /// GPU value at `worst`.
    pub worst_gpu: f32,
    /// CPU value at `worst`.
    pub worst_cpu: f64,
    /// The allowed absolute error for this stage.
    pub allowed: f64,
    /// For the weights: the largest |row sum − 1| of the GPU weights (rows the reference leaves
    /// all zero, fully masked, are held to a sum of 0).
    pub max_row_sum_error: Option<f64>,
    /// Whether every element is within `allowed`.
    pub passed: bool,
}

/// Compares `gpu` with the reference `cpu` (same shape, row-major) under tolerance `tol`.
pub fn compare(stage: Stage, gpu: &Matrix, cpu: &[f64], tol: f64) -> Comparison {
    compare_sums(stage, gpu, cpu, tol, 0.0)
}

/// Like [`compare`], for a stage whose every element is a sum of products Σ a·b: `terms` is the
/// largest Σ |a·b| over its elements (the reference's own magnitudes), and the allowed error is
/// `tol` × max(1, max |cpu|, terms). A wrong or missing term still fails: a term is typically
/// `terms` / (number of terms), far above `tol` × `terms`.
pub fn compare_sums(stage: Stage, gpu: &Matrix, cpu: &[f64], tol: f64, terms: f64) -> Comparison {
    assert_eq!(gpu.data.len(), cpu.len(), "compare: shapes differ");
    let is_weights = stage == Stage::Weights;
    let scale = if is_weights {
        1.0
    } else {
        cpu.iter().fold(1.0f64.max(terms), |m, v| m.max(v.abs()))
    };
    let allowed = tol * scale;
    let mut max_abs = 0.0f64;
    let mut max_rel = 0.0f64;
    let mut worst = 0usize;
    let mut worst_badness = -1.0f64;
    for (i, (&g, &c)) in gpu.data.iter().zip(cpu).enumerate() {
        let diff = (g as f64 - c).abs();
        let badness = if g.is_finite() { diff } else { f64::INFINITY };
        if badness > worst_badness {
            worst_badness = badness;
            worst = i;
        }
        max_abs = max_abs.max(badness);
        if c.abs() >= tol {
            max_rel = max_rel.max(badness / c.abs());
        }
    }
    let max_row_sum_error = is_weights.then(|| {
        (0..gpu.rows)
            .map(|r| {
                let row = r * gpu.cols..(r + 1) * gpu.cols;
                let expected: f64 = if cpu[row.clone()].iter().all(|&c| c == 0.0) {
                    0.0
                } else {
                    1.0
                };
                let sum: f64 = gpu.data[row].iter().map(|&g| g as f64).sum();
                if sum.is_finite() {
                    (sum - expected).abs()
                } else {
                    f64::INFINITY
                }
            })
            .fold(0.0, f64::max)
    });
    Comparison {
        stage,
        max_abs,
        max_rel,
        worst: vec![worst / gpu.cols, worst % gpu.cols],
        worst_gpu: gpu.data[worst],
        worst_cpu: cpu[worst],
        allowed,
        max_row_sum_error,
        passed: worst_badness <= allowed,
    }
}

/// Compares an n-dimensional tensor (row-major, `shape`); rows for the row-sum check are along
/// the last axis, and the worst element is reported with its full index.
pub fn compare_shaped(
    stage: Stage,
    gpu: &[f32],
    shape: &[usize],
    cpu: &[f64],
    tol: f64,
) -> Comparison {
    let cols = *shape.last().unwrap_or(&1);
    let rows = gpu.len() / cols.max(1);
    let view = Matrix {
        rows,
        cols,
        data: gpu.to_vec(),
    };
    let mut c = compare(stage, &view, cpu, tol);
    let mut flat = c.worst[0] * cols + c.worst[1];
    let mut index = vec![0; shape.len()];
    for (axis, &dim) in shape.iter().enumerate().rev() {
        index[axis] = flat % dim;
        flat /= dim;
    }
    c.worst = index;
    c
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<13} max abs err {:.3e}, max rel err {:.3e}, worst at {:?} (GPU {:.7}, CPU {:.7}), allowed {:.1e}",
            self.stage.name(),
            self.max_abs,
            self.max_rel,
            self.worst,
            self.worst_gpu,
            self.worst_cpu,
            self.allowed
        )?;
        if let Some(e) = self.max_row_sum_error {
            write!(f, ", max |row sum − 1| {e:.3e}")?;
        }
        write!(f, "  {}", if self.passed { "ok" } else { "FAIL" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_worst_element() {
        let gpu = Matrix::new(2, 2, vec![0.5, 0.5, 0.25, 0.75]).unwrap();
        let cpu = [0.5, 0.5, 0.25 + 3e-5, 0.75 - 3e-5];
        let c = compare(Stage::Weights, &gpu, &cpu, 1e-5);
        assert!(!c.passed);
        assert!(c.worst[0] == 1, "{c}");
        assert!((c.max_abs - 3e-5).abs() < 1e-7);
        assert!(c.to_string().contains("FAIL"));
    }

    #[test]
    fn nan_fails_even_with_a_huge_tolerance() {
        let gpu = Matrix::new(1, 3, vec![0.2, f32::NAN, 0.3]).unwrap();
        let c = compare(Stage::Output, &gpu, &[0.2, 0.5, 0.3], 1e3);
        assert!(!c.passed);
        assert_eq!(c.worst, [0, 1]);
    }

    #[test]
    fn shaped_comparison_reports_the_full_index() {
        let gpu = vec![0.5f32; 2 * 3 * 4];
        let mut cpu = vec![0.5f64; 24];
        cpu[12 + 2 * 4 + 3] = 0.6;
        let c = compare_shaped(Stage::Output, &gpu, &[2, 3, 4], &cpu, 1e-5);
        assert_eq!(c.worst, [1, 2, 3]);
        assert!(!c.passed);
    }

    #[test]
    fn sums_are_held_to_the_size_of_their_terms() {
        // 100.25 − 100 in f32 style: the result 0.25 is exact only to the terms' rounding.
        let gpu = Matrix::new(1, 2, vec![0.250_2, 3.0]).unwrap();
        let cpu = [0.25, 3.0];
        assert!(!compare(Stage::RawScores, &gpu, &cpu, 1e-5).passed);
        let c = compare_sums(Stage::RawScores, &gpu, &cpu, 1e-5, 200.25);
        assert!(c.passed, "{c}");
        assert!((c.allowed - 200.25e-5).abs() < 1e-12);
        // A wrong term (off by one of its ~100-sized terms' hundredths) still fails.
        let wrong = Matrix::new(1, 2, vec![1.25, 3.0]).unwrap();
        assert!(!compare_sums(Stage::RawScores, &wrong, &cpu, 1e-5, 200.25).passed);
        // The weights stay absolute.
        let w = Matrix::new(1, 2, vec![0.5001, 0.4999]).unwrap();
        assert!(!compare_sums(Stage::Weights, &w, &[0.5, 0.5], 1e-5, 1e3).passed);
    }

    #[test]
    fn row_sums_of_masked_rows_expect_zero() {
        let gpu = Matrix::new(2, 2, vec![0.0, 0.0, 0.4, 0.6]).unwrap();
        let c = compare(Stage::Weights, &gpu, &[0.0, 0.0, 0.4, 0.6], 1e-5);
        assert!(c.passed);
        assert!(c.max_row_sum_error.unwrap() < 1e-6);
    }

    #[test]
    fn other_stages_scale_with_magnitude() {
        let gpu = Matrix::new(1, 2, vec![100.0, 1.0]).unwrap();
        let c = compare(Stage::Q, &gpu, &[100.0005, 1.0], 1e-5);
        assert!(c.passed, "{c}");
        assert!((c.allowed - 1.000005e-3).abs() < 1e-9);
    }
}
