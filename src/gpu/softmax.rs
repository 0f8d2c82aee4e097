//! The softmax kernel (`shaders/softmax.wgsl`): scaled scores to attention weights.

use bytemuck::{Pod, Zeroable};

use super::kernel::{Binding, Kernel};

/// WGSL source, compiled into the binary.
pub const SOURCE: &str = include_str!("../../shaders/softmax.wgsl");
/// Invocations per workgroup (one per row); keep in sync with `WG`.
pub const WG: u32 = 64;

/// Parameters of one softmax dispatch.
///
/// Keep in sync with `SoftmaxParams` in shaders/softmax.wgsl (same field order, 16-byte padded).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct SoftmaxParams {
    /// Query rows per batch element.
    pub rows: u32,
    /// Keys per row.
    pub cols: u32,
    /// Number of rows×cols matrices stored back to back.
    pub batch: u32,
    /// 1: key j is allowed for query i only when j ≤ i + causal_offset.
    pub causal: u32,
    /// Diagonal offset of the causal mask (0 = top-left aligned, as PyTorch's `is_causal`).
    pub causal_offset: i32,
    /// Padding to 16 bytes.
    pub _pad0: u32,
    /// Padding to 16 bytes.
    pub _pad1: u32,
    /// Padding to 16 bytes.
    pub _pad2: u32,
}

impl SoftmaxParams {
    /// Total number of rows across the batch.
    pub fn total_rows(&self) -> u32 {
        self.rows * self.batch
    }

    /// Workgroups to dispatch, folded into y when x would exceed `max_per_dim`.
    pub fn workgroups(&self, max_per_dim: u32) -> [u32; 3] {
        let groups = self.total_rows().div_ceil(WG);
        if groups <= max_per_dim {
            [groups, 1, 1]
        } else {
            [max_per_dim, groups.div_ceil(max_per_dim), 1]
        }
    }
}

/// The compiled softmax pipeline.
pub struct SoftmaxKernel(pub Kernel);

impl SoftmaxKernel {
    /// Compiles the kernel on `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        SoftmaxKernel(Kernel::new(
            device,
            "softmax",
            SOURCE,
            "softmax",
            &[Binding::Uniform, Binding::ReadOnly, Binding::ReadWrite],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_size_matches_wgsl() {
        assert_eq!(std::mem::size_of::<SoftmaxParams>(), 32);
    }

    #[test]
    fn workgroups_fold_into_y() {
        let p = SoftmaxParams {
            rows: 64 * 10,
            cols: 1,
            batch: 1,
            ..Default::default()
        };
        assert_eq!(p.workgroups(65535), [10, 1, 1]);
        assert_eq!(p.workgroups(4), [4, 3, 1]);
    }
}
