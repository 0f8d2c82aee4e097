//! The GELU kernel (`shaders/gelu.wgsl`): BERT's feed-forward activation, the exact erf form.

use bytemuck::{Pod, Zeroable};

use super::execute::Kernels;
use super::kernel::{Binding, Kernel};
use super::step::GpuStep;

/// WGSL source, compiled into the binary.
pub const SOURCE: &str = include_str!("../../shaders/gelu.wgsl");
/// Invocations per workgroup; keep in sync with `WG`.
pub const WG: u32 = 64;

/// Parameters of one GELU dispatch.
///
/// Keep in sync with `GeluParams` in shaders/gelu.wgsl (same field order, 16-byte padded).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct GeluParams {
    /// Elements.
    pub len: u32,
    /// Padding to 16 bytes.
    pub _pad0: u32,
    /// Padding to 16 bytes.
    pub _pad1: u32,
    /// Padding to 16 bytes.
    pub _pad2: u32,
}

impl GeluParams {
    /// Elements of `len`.
    pub fn new(len: u32) -> Self {
        GeluParams {
            len,
            ..Default::default()
        }
    }

    /// Workgroups to dispatch, folded into y when x would exceed `max_per_dim`.
    pub fn workgroups(&self, max_per_dim: u32) -> [u32; 3] {
        super::softmax::fold_groups(self.len.div_ceil(WG), max_per_dim)
    }
}

/// The compiled GELU pipeline.
pub struct GeluKernel(pub Kernel);

impl GeluKernel {
    /// Compiles the kernel on `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        GeluKernel(Kernel::new(
            device,
            "gelu",
            SOURCE,
            "gelu",
            &[Binding::Uniform, Binding::ReadOnly, Binding::ReadWrite],
        ))
    }
}

impl GpuStep for GeluParams {
    fn kernel<'k>(&self, kernels: &'k Kernels) -> &'k Kernel {
        &kernels.gelu.0
    }

    fn workgroups(&self, _: &Kernels, max_per_dim: u32) -> [u32; 3] {
        GeluParams::workgroups(self, max_per_dim)
    }

    fn loop_iterations(&self, _: &Kernels) -> u64 {
        0
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
        assert_eq!(std::mem::size_of::<GeluParams>(), 16);
    }
}
