//! The matmul kernels (`shaders/matmul.wgsl` and its variants `matmul_naive.wgsl`,
//! `matmul_shuffle.wgsl`, `matmul_tiled.wgsl`): projections, scores and the weighted sum.

use bytemuck::{Pod, Zeroable};

use super::spec::{DeviceCaps, KernelSpec, Variants};
use super::step::{GpuStep, ParamsBytes};
use crate::program::{BufId, Program, Slot};

/// WGSL source, compiled into the binary.
pub const SOURCE: &str = include_str!("../../shaders/matmul.wgsl");
/// The one-output-per-invocation baseline, same params and bindings.
pub const NAIVE_SOURCE: &str = include_str!("../../shaders/matmul_naive.wgsl");
/// The register-blocked kernel sharing A's loads through subgroup shuffles, same params and
/// bindings.
pub const SHUFFLE_SOURCE: &str = include_str!("../../shaders/matmul_shuffle.wgsl");
/// The workgroup-memory kernel, same params and bindings.
pub const TILED_SOURCE: &str = include_str!("../../shaders/matmul_tiled.wgsl");
/// Tiled kernel: invocations per workgroup side; keep in sync with `WG_SIDE`.
pub const TILED_WG_SIDE: u32 = 16;
/// Tiled kernel: rows and columns of C per workgroup; keep in sync with `BLOCK`.
pub const TILED_BLOCK: u32 = 64;
/// Tiled kernel: k per workgroup-memory slice; keep in sync with `KT`.
pub const TILED_KT: u32 = 16;
/// Tiled kernel: bytes of workgroup memory it declares (`a_tile`, `b_tile`: 256 vec4 each).
pub const TILED_WORKGROUP_BYTES: u32 = 2 * 256 * 16;

/// Which matmul kernel runs the matmul steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MatmulVariant {
    /// `matmul.wgsl`: TILE×TILE outputs per invocation in registers.
    #[default]
    Blocked,
    /// `matmul_naive.wgsl`: one output per invocation.
    Naive,
    /// `matmul_tiled.wgsl`: 64 × 64 blocks of C per workgroup, A and B slices shared through
    /// 8 KiB of workgroup memory.
    Tiled,
    /// `matmul_shuffle.wgsl`: 32 × 8 outputs per invocation in registers, A's loads shared
    /// through subgroup shuffles (needs the SUBGROUP feature).
    Shuffle,
}

impl MatmulVariant {
    /// Every variant, in the order reports list them.
    pub const ALL: [MatmulVariant; 4] = [
        MatmulVariant::Naive,
        MatmulVariant::Blocked,
        MatmulVariant::Tiled,
        MatmulVariant::Shuffle,
    ];

    /// The name used in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            MatmulVariant::Blocked => "blocked",
            MatmulVariant::Naive => "naive",
            MatmulVariant::Tiled => "tiled",
            MatmulVariant::Shuffle => "blocked-shuffle",
        }
    }

    /// The variant for a device: tiled on GPUs, where sharing A and B slices through workgroup
    /// memory pays; register-blocked on CPU adapters (lavapipe, llvmpipe), where it measured the
    /// same or faster (`selfattn bench --kernel all`) and needs no barriers — with A's loads
    /// shared through subgroup shuffles where the adapter has subgroups that can be 8 wide
    /// (lavapipe; `subgroup_sizes` is the adapter's smallest and largest subgroup size — with
    /// any other size the shuffle kernel falls back to the blocked loads and only costs more).
    /// Devices whose limits cannot hold the tiled kernel's workgroup keep the blocked one.
    pub fn for_device(caps: &DeviceCaps) -> Self {
        if caps.cpu {
            let (smallest, largest) = caps.subgroup_sizes;
            // Shared loads need a subgroup of exactly one row of invocations (WG of them).
            let can_be_8_wide = smallest <= WG && WG <= largest;
            if MatmulVariant::Shuffle.fits(caps) && can_be_8_wide {
                MatmulVariant::Shuffle
            } else {
                MatmulVariant::Blocked
            }
        } else if MatmulVariant::Tiled.fits(caps) {
            MatmulVariant::Tiled
        } else {
            MatmulVariant::Blocked
        }
    }

    /// Whether a device with `caps` can run this variant (the tiled kernel needs a 16 × 16
    /// workgroup and 8 KiB of workgroup memory, the shuffle kernel subgroups).
    pub fn fits(self, caps: &DeviceCaps) -> bool {
        match self {
            MatmulVariant::Blocked | MatmulVariant::Naive => true,
            MatmulVariant::Shuffle => caps.subgroups,
            MatmulVariant::Tiled => {
                caps.invocations_per_workgroup >= TILED_WG_SIDE * TILED_WG_SIDE
                    && caps.workgroup_size_xy.0 >= TILED_WG_SIDE
                    && caps.workgroup_size_xy.1 >= TILED_WG_SIDE
                    && caps.workgroup_storage >= TILED_WORKGROUP_BYTES
            }
        }
    }

    /// What the kernel needs, for the error when a device lacks it.
    pub fn needs(self) -> String {
        match self {
            MatmulVariant::Shuffle => "the device's SUBGROUP feature".into(),
            MatmulVariant::Tiled => format!(
                "a {TILED_WG_SIDE} × {TILED_WG_SIDE} workgroup and {TILED_WORKGROUP_BYTES} bytes \
                 of workgroup memory"
            ),
            MatmulVariant::Blocked | MatmulVariant::Naive => "nothing a device lacks".into(),
        }
    }

    /// Loop iterations one invocation runs for a product over `k` (llvmpipe caps them, see
    /// `GpuContext::loop_budget`).
    pub fn loop_iterations(self, k: u32) -> u64 {
        match self {
            MatmulVariant::Naive => k as u64 + 20,
            MatmulVariant::Blocked => k as u64 + (TILE * TILE) as u64 + 20,
            MatmulVariant::Shuffle => k as u64 + (SHUFFLE_ROWS * TILE) as u64 + 20,
            MatmulVariant::Tiled => k.div_ceil(TILED_KT) as u64 * (TILED_KT as u64 + 1) + 20,
        }
    }
}
/// Invocations per workgroup along x (columns) and y (rows); keep in sync with `WG_X`/`WG_Y`.
pub const WG: u32 = 8;
/// Outputs per invocation along each axis in matmul.wgsl, and columns per invocation in
/// matmul_shuffle.wgsl (which computes SHUFFLE_ROWS rows); keep in sync with `TILE`.
pub const TILE: u32 = 8;
/// Shuffle kernel: rows of C per invocation; keep in sync with `ROWS` in matmul_shuffle.wgsl.
pub const SHUFFLE_ROWS: u32 = 32;

/// Parameters of one matmul dispatch: C = alpha · A · B (+ bias), strided and batched.
///
/// Keep in sync with `MatmulParams` in shaders/matmul.wgsl (same field order, 16-byte padded).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct MatmulParams {
    /// Rows of A and C.
    pub m: u32,
    /// Columns of B and C.
    pub n: u32,
    /// Shared dimension.
    pub k: u32,
    /// Factor applied to A·B before the bias.
    pub alpha: f32,
    /// Stride between rows of A.
    pub a_row: u32,
    /// Stride between columns of A.
    pub a_col: u32,
    /// Stride between rows of B.
    pub b_row: u32,
    /// Stride between columns of B.
    pub b_col: u32,
    /// Stride between rows of C (columns are contiguous).
    pub c_row: u32,
    /// 1 when a bias of length n is added to every row.
    pub has_bias: u32,
    /// Outer batch count (e.g. batch elements).
    pub batch_outer: u32,
    /// Inner batch count (e.g. heads).
    pub batch_inner: u32,
    /// A offset per outer batch step.
    pub a_batch_outer: u32,
    /// A offset per inner batch step.
    pub a_batch_inner: u32,
    /// B offset per outer batch step.
    pub b_batch_outer: u32,
    /// B offset per inner batch step.
    pub b_batch_inner: u32,
    /// C offset per outer batch step.
    pub c_batch_outer: u32,
    /// C offset per inner batch step.
    pub c_batch_inner: u32,
    /// First matrix (z-slice) of this dispatch: set by the executor when it splits more
    /// matrices than the device's workgroups per dimension into several dispatches; 0 in
    /// programs (the CPU twin runs every matrix).
    pub batch_offset: u32,
    /// Offset of A's first element (e.g. the last row of a sequence, for a decoder's LM head).
    pub a_base: u32,
}

impl MatmulParams {
    /// One row-major product: A is m×k, B is k×n, C is m×n.
    pub fn plain(m: usize, n: usize, k: usize) -> Self {
        MatmulParams {
            m: m as u32,
            n: n as u32,
            k: k as u32,
            alpha: 1.0,
            a_row: k as u32,
            a_col: 1,
            b_row: n as u32,
            b_col: 1,
            c_row: n as u32,
            batch_outer: 1,
            batch_inner: 1,
            ..Default::default()
        }
    }

    /// A · Bᵀ where B is stored row-major as n×k (as K is for the scores Q·Kᵀ).
    pub fn transposed_b(m: usize, n: usize, k: usize) -> Self {
        MatmulParams {
            b_row: 1,
            b_col: k as u32,
            ..Self::plain(m, n, k)
        }
    }

    /// The same product scaled by `alpha`.
    pub fn scaled(self, alpha: f32) -> Self {
        MatmulParams { alpha, ..self }
    }

    /// Number of output elements C holds (batches included), for sizing buffers.
    pub fn output_len(&self) -> usize {
        let last_batch = (self.batch_outer - 1) as usize * self.c_batch_outer as usize
            + (self.batch_inner - 1) as usize * self.c_batch_inner as usize;
        last_batch + (self.m as usize - 1) * self.c_row as usize + self.n as usize
    }

    /// Workgroups to dispatch: one invocation per TILE×TILE block of C, one z-slice per batch.
    pub fn workgroups(&self) -> [u32; 3] {
        self.workgroups_for(MatmulVariant::Blocked)
    }

    /// Workgroups for `variant` (the naive kernel has one invocation per element).
    pub fn workgroups_for(&self, variant: MatmulVariant) -> [u32; 3] {
        let (cols, rows) = match variant {
            MatmulVariant::Blocked => (WG * TILE, WG * TILE),
            MatmulVariant::Shuffle => (WG * TILE, WG * SHUFFLE_ROWS),
            MatmulVariant::Naive => (WG, WG),
            MatmulVariant::Tiled => (TILED_BLOCK, TILED_BLOCK),
        };
        [
            self.n.div_ceil(cols),
            self.m.div_ceil(rows),
            self.batch_outer * self.batch_inner,
        ]
    }
}

/// The source of the variant `variants` chooses.
pub fn spec(variants: &Variants) -> KernelSpec {
    let (label, source) = match variants.matmul {
        MatmulVariant::Blocked => ("matmul", SOURCE),
        MatmulVariant::Naive => ("matmul_naive", NAIVE_SOURCE),
        MatmulVariant::Tiled => ("matmul_tiled", TILED_SOURCE),
        MatmulVariant::Shuffle => ("matmul_shuffle", SHUFFLE_SOURCE),
    };
    KernelSpec {
        name: "matmul",
        label,
        source,
        entry: label,
        reads: 3,
        writes: 1,
        params_size: size_of::<MatmulParams>(),
        constants: &[],
    }
}

impl Program {
    /// Adds C = alpha · A · B (+ bias of length n) writing a new buffer named `name`; returns
    /// that buffer.
    pub fn matmul(
        &mut self,
        name: &str,
        params: MatmulParams,
        a: BufId,
        b: BufId,
        bias: Option<BufId>,
    ) -> BufId {
        let params = MatmulParams {
            has_bias: bias.is_some() as u32,
            ..params
        };
        let inputs = vec![Slot::read(a), Slot::read(b), Slot::optional(bias)];
        self.push_writing(name, params.output_len(), params, inputs)
    }
}

impl GpuStep for MatmulParams {
    fn kernel(&self) -> &'static str {
        "matmul"
    }

    fn workgroups(&self, variants: &Variants, _: u32) -> [u32; 3] {
        self.workgroups_for(variants.matmul)
    }

    fn loop_iterations(&self, variants: &Variants) -> u64 {
        variants.matmul.loop_iterations(self.k)
    }

    fn at_batch_offset(&self, batch_offset: u32) -> Option<Vec<u8>> {
        Some(
            MatmulParams {
                batch_offset,
                ..*self
            }
            .bytes(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workgroups_cover_awkward_sizes() {
        // 8 × 8 invocations of 8 × 8 outputs: 64 rows per workgroup, so 65 rows need two.
        let p = MatmulParams::plain(65, 1, 7);
        assert_eq!(p.workgroups(), [1, 2, 1]);
        assert_eq!(p.output_len(), 65);
        // The shuffle kernel: 8 × 32 rows per workgroup, 8 × 8 columns.
        assert_eq!(p.workgroups_for(MatmulVariant::Shuffle), [1, 1, 1]);
        let wide = MatmulParams::plain(257, 65, 7);
        assert_eq!(wide.workgroups_for(MatmulVariant::Shuffle), [2, 2, 1]);
    }

    #[test]
    fn the_device_choice_follows_type_features_and_subgroup_width() {
        let caps = DeviceCaps::webgpu_defaults;
        // WebGL2's downlevel limits: no compute workgroups to speak of.
        let small = DeviceCaps {
            workgroup_storage: 0,
            invocations_per_workgroup: 0,
            workgroup_size_xy: (0, 0),
            ..caps(false, false, (32, 32))
        };
        let choose = |c: DeviceCaps| MatmulVariant::for_device(&c);
        assert_eq!(choose(caps(true, true, (8, 8))), MatmulVariant::Shuffle);
        assert_eq!(choose(caps(true, true, (4, 16))), MatmulVariant::Shuffle);
        // Subgroups that can never be 8 wide would always take the fallback loop.
        assert_eq!(choose(caps(true, true, (16, 16))), MatmulVariant::Blocked);
        assert_eq!(choose(caps(true, true, (4, 4))), MatmulVariant::Blocked);
        assert_eq!(choose(caps(true, false, (8, 8))), MatmulVariant::Blocked);
        assert_eq!(choose(caps(false, true, (32, 32))), MatmulVariant::Tiled);
        assert_eq!(choose(small), MatmulVariant::Blocked);
    }
}
