//! The LayerNorm kernel (`shaders/layer_norm.wgsl`): BERT's "Add & Norm".

use bytemuck::{Pod, Zeroable};

use super::execute::Kernels;
use super::kernel::{Binding, Kernel};
use super::step::GpuStep;

/// WGSL source, compiled into the binary.
pub const SOURCE: &str = include_str!("../../shaders/layer_norm.wgsl");
/// Invocations per workgroup (one per row); keep in sync with `WG`.
pub const WG: u32 = 64;

/// Parameters of one LayerNorm dispatch.
///
/// Keep in sync with `LayerNormParams` in shaders/layer_norm.wgsl (same field order, 16-byte
/// padded).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct LayerNormParams {
    /// Rows normalised.
    pub rows: u32,
    /// Values per row.
    pub cols: u32,
    /// Added to the variance before the square root.
    pub eps: f32,
    /// 1 when the residual is added before normalising.
    pub has_residual: u32,
}

impl LayerNormParams {
    /// Output elements.
    pub fn output_len(&self) -> usize {
        self.rows as usize * self.cols as usize
    }

    /// Workgroups to dispatch, folded into y when x would exceed `max_per_dim`.
    pub fn workgroups(&self, max_per_dim: u32) -> [u32; 3] {
        super::softmax::fold_groups(self.rows.div_ceil(WG), max_per_dim)
    }
}

/// The compiled LayerNorm pipeline.
pub struct LayerNormKernel(pub Kernel);

impl LayerNormKernel {
    /// Compiles the kernel on `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        use Binding::*;
        LayerNormKernel(Kernel::new(
            device,
            "layer_norm",
            SOURCE,
            "layer_norm",
            &[Uniform, ReadOnly, ReadOnly, ReadOnly, ReadOnly, ReadWrite],
        ))
    }
}

impl GpuStep for LayerNormParams {
    fn kernel<'k>(&self, kernels: &'k Kernels) -> &'k Kernel {
        &kernels.layer_norm.0
    }

    fn workgroups(&self, _: &Kernels, max_per_dim: u32) -> [u32; 3] {
        LayerNormParams::workgroups(self, max_per_dim)
    }

    fn loop_iterations(&self, _: &Kernels) -> u64 {
        3 * self.cols as u64
    }

    fn bytes(&self) -> Vec<u8> {
        bytemuck::bytes_of(self).to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_size_matches_wgsl() {
        assert_eq!(std::mem::size_of::<LayerNormParams>(), 16);
    }
}
