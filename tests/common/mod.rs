//! Shared test helpers: opening the adapter under CI's rules.
#![allow(dead_code)]

pub mod cli;
pub mod tiny_bert;

use selfattn::gpu::{AdapterChoice, GpuContext};

/// Environment variable that makes a missing adapter a test failure (set by `.ci/run`).
pub const REQUIRE_GPU: &str = "SELFATTN_REQUIRE_GPU";

/// Opens the adapter chosen by `WGPU_BACKEND` / `WGPU_ADAPTER_NAME`. Without an adapter the test
/// is skipped with a message, unless `SELFATTN_REQUIRE_GPU=1`, when it fails.
pub fn gpu() -> Option<GpuContext> {
    match GpuContext::open(&AdapterChoice::default()) {
        Ok(ctx) => Some(ctx),
        Err(e) => {
            if std::env::var(REQUIRE_GPU).is_ok_and(|v| v == "1") {
                panic!("{REQUIRE_GPU}=1 but no adapter: {e}");
            }
            eprintln!("skipping GPU test: {e}");
            None
        }
    }
}

/// The largest |a − b|; a NaN anywhere makes it NaN (so a `<` bound fails), unequal lengths panic.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).fold(0.0f32, |m, (x, y)| {
        let d = (x - y).abs();
        if m.is_nan() || d.is_nan() {
            f32::NAN
        } else {
            m.max(d)
        }
    })
}
