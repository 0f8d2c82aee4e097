//! The embedding kernel (`shaders/embed.wgsl`): word + position + token-type rows per token.

use bytemuck::{Pod, Zeroable};

use super::execute::Kernels;
use super::kernel::{Binding, Kernel};
use super::step::GpuStep;

/// WGSL source, compiled into the binary.
pub const SOURCE: &str = include_str!("../../shaders/embed.wgsl");
/// Invocations per workgroup; keep in sync with `WG`.
pub const WG: u32 = 64;

/// Parameters of one embedding dispatch.
///
/// Keep in sync with `EmbedParams` in shaders/embed.wgsl (same field order, 16-byte padded).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct EmbedParams {
    /// Tokens over all batch elements.
    pub tokens: u32,
    /// Embedding width.
    pub hidden: u32,
    /// Rows of the word table.
    pub vocab: u32,
    /// Rows of the position table.
    pub positions: u32,
    /// Tokens per batch element (a token's position is its index modulo this).
    pub seq_len: u32,
    /// Rows of the token-type table.
    pub type_vocab: u32,
    /// Padding to 16 bytes.
    pub _pad0: u32,
    /// Padding to 16 bytes.
    pub _pad1: u32,
}

impl EmbedParams {
    /// Output elements.
    pub fn output_len(&self) -> usize {
        self.tokens as usize * self.hidden as usize
    }

    /// Workgroups to dispatch, folded into y when x would exceed `max_per_dim`.
    pub fn workgroups(&self, max_per_dim: u32) -> [u32; 3] {
        let len = self.tokens.saturating_mul(self.hidden);
        super::softmax::fold_groups(len.div_ceil(WG), max_per_dim)
    }
}

/// The compiled embedding pipeline.
pub struct EmbedKernel(pub Kernel);

impl EmbedKernel {
    /// Compiles the kernel on `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        use Binding::*;
        EmbedKernel(Kernel::new(
            device,
            "embed",
            SOURCE,
            "embed",
            &[
                Uniform, ReadOnly, ReadOnly, ReadOnly, ReadOnly, ReadOnly, ReadWrite,
            ],
        ))
    }
}

impl GpuStep for EmbedParams {
    fn kernel<'k>(&self, kernels: &'k Kernels) -> &'k Kernel {
        &kernels.embed.0
    }

    fn workgroups(&self, _: &Kernels, max_per_dim: u32) -> [u32; 3] {
        EmbedParams::workgroups(self, max_per_dim)
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
        assert_eq!(std::mem::size_of::<EmbedParams>(), 32);
    }
}
