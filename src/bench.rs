//! Benchmark measurements: FLOP counts, medians, and the records `selfattn bench --json` writes.

use std::time::Duration;

/// FLOPs of one attention forward: 4·L·S·d per head and batch element (2·L·S·d for Q·Kᵀ and 2·L·S·d
/// for P·V, with d the width of both), halved when causal.
pub fn attention_flops(n: usize, d: usize, heads: usize, batch: usize, causal: bool) -> f64 {
    let full = 4.0 * (n as f64) * (n as f64) * d as f64 * heads as f64 * batch as f64;
    if causal { full / 2.0 } else { full }
}

/// The median of `samples` (the mean of the middle two for an even count).
pub fn median(samples: &[Duration]) -> Duration {
    assert!(!samples.is_empty(), "median of no samples");
    let mut s = samples.to_vec();
    s.sort();
    let mid = s.len() / 2;
    if s.len() % 2 == 1 {
        s[mid]
    } else {
        (s[mid - 1] + s[mid]) / 2
    }
}

/// One measurement: a size, a kernel, with or without read-back of the weights. Serialised
/// (`selfattn bench --json`) with these field names.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Record {
    /// Sequence length (L = S = n).
    pub n: usize,
    /// Head width.
    pub d: usize,
    /// Heads.
    pub heads: usize,
    /// Batch elements.
    pub batch: usize,
    /// Causal mask.
    pub causal: bool,
    /// "naive", "blocked" or "flash".
    pub kernel: String,
    /// Whether the N×N weights were read back.
    pub weights: bool,
    /// Median GPU time of the attention kernels, milliseconds.
    pub gpu_ms: f64,
    /// Median time including upload and read-back, milliseconds.
    pub end_to_end_ms: f64,
    /// GFLOP/s from `gpu_ms`.
    pub gflops: f64,
    /// CPU reference time (f64, one run), milliseconds; None when skipped.
    pub cpu_ms: Option<f64>,
    /// How the GPU time was measured.
    pub timer: String,
    /// The adapter's name.
    pub adapter: String,
    /// The adapter's backend.
    pub backend: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flops_follow_the_formula() {
        assert_eq!(
            attention_flops(2048, 64, 1, 1, false),
            4.0 * 2048.0 * 2048.0 * 64.0
        );
        assert_eq!(
            attention_flops(10, 2, 3, 4, true),
            4.0 * 100.0 * 2.0 * 12.0 / 2.0
        );
    }

    #[test]
    fn medians() {
        let ms = |v: u64| Duration::from_millis(v);
        assert_eq!(median(&[ms(5), ms(1), ms(3)]), ms(3));
        assert_eq!(
            median(&[ms(4), ms(1), ms(3), ms(2)]),
            Duration::from_micros(2500)
        );
    }

    #[test]
    fn json_has_the_documented_fields() {
        let r = Record {
            n: 8,
            d: 4,
            heads: 1,
            batch: 1,
            causal: false,
            kernel: "flash".into(),
            weights: false,
            gpu_ms: 1.5,
            end_to_end_ms: 2.0,
            gflops: 0.1,
            cpu_ms: None,
            timer: "fenced wall clock".into(),
            adapter: "llvmpipe".into(),
            backend: "Vulkan".into(),
        };
        let j = serde_json::to_value(&r).unwrap();
        for key in [
            "n",
            "d",
            "heads",
            "batch",
            "kernel",
            "weights",
            "gpu_ms",
            "end_to_end_ms",
            "gflops",
            "cpu_ms",
            "adapter",
        ] {
            assert!(j.get(key).is_some(), "{key}");
        }
        assert_eq!(j["weights"], false);
    }
}
