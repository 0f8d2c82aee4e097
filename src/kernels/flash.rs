//! The output-only kernels: attention with an online softmax that never stores the N×N weights.
//! Three kernels share the parameters, bindings and state layout: `shaders/flash.wgsl` (one
//! query row per invocation, no workgroup memory), `shaders/flash_tiled.wgsl` (64 × 64 output
//! tiles per workgroup through 24 KiB of workgroup memory) and `shaders/flash_shuffle.wgsl`
//! (barrier-free, 32 query rows per subgroup of 8 invocations sharing loads, scores and weights
//! through subgroup operations). [`FlashVariant::for_device`] chooses: the shuffle kernel on CPU
//! adapters whose subgroups are at least 8 wide (lavapipe: 4–7× flash-tiled there, `selfattn
//! bench --kernel all`), else the tiled one wherever it fits, else the per-row one (devices with
//! less workgroup memory than it needs; WebGPU's minimum is 16 KiB).

use bytemuck::{Pod, Zeroable};

use super::spec::{DeviceCaps, KernelSpec, Variants};
use super::step::{Dispatch, GpuStep, ParamsBytes, z_split};
use crate::program::{BufId, Program, Slot, Step};

/// WGSL source, compiled into the binary.
pub const SOURCE: &str = include_str!("../../shaders/flash.wgsl");
/// WGSL source of the workgroup-tiled kernel.
pub const TILED_SOURCE: &str = include_str!("../../shaders/flash_tiled.wgsl");
/// WGSL source of the subgroup kernel for CPU adapters.
pub const SHUFFLE_SOURCE: &str = include_str!("../../shaders/flash_shuffle.wgsl");
/// Per-row kernel: q·k widths up to this are cached in registers; keep in sync with `Q_CACHE`.
pub const Q_CACHE: u32 = 128;
/// Invocations per workgroup (one per query row); keep in sync with `WG`.
pub const WG: u32 = 64;
/// Output columns per invocation (per workgroup in the tiled kernel); keep in sync with `CHUNK`
/// and flash_tiled.wgsl's `COLS`.
pub const CHUNK: u32 = 64;
/// Tiled kernel: invocations per workgroup; keep in sync with flash_tiled.wgsl's `WG`.
pub const TILED_WG: u32 = 256;
/// Tiled kernel: query rows per workgroup; keep in sync with `BR`.
pub const TILED_ROWS: u32 = 64;
/// Tiled kernel: keys per tile; keep in sync with `BC`.
pub const TILED_KEYS: u32 = 32;
/// Tiled kernel: slice of d per pass; keep in sync with `DC`.
pub const TILED_SLICE: u32 = 32;
/// Shuffle kernel: invocations per workgroup (one subgroup); keep in sync with `WG`.
pub const SHUFFLE_WG: u32 = 8;
/// Shuffle kernel: query rows per workgroup; keep in sync with `ROWS`.
pub const SHUFFLE_ROWS: u32 = 32;
/// Shuffle kernel: keys per tile; keep in sync with `TILE_KEYS`.
pub const SHUFFLE_KEYS: u32 = 32;
/// Tiled kernel: bytes of workgroup memory it declares (`tile`, `scores`, `row_factor`,
/// `partial_max`, `partial_sum`).
pub const TILED_WORKGROUP_BYTES: u32 = 864 * 16 + (2048 + 64 + 2 * 256) * 4;

/// Which output-only kernel runs the flash steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FlashVariant {
    /// `flash.wgsl`: one query row per invocation, no workgroup memory, no barriers.
    #[default]
    PerRow,
    /// `flash_tiled.wgsl`: 64 rows × 64 columns per workgroup, Q/K/V tiles in workgroup memory.
    Tiled,
    /// `flash_shuffle.wgsl`: 32 rows × 64 columns per subgroup of 8, no workgroup memory, for
    /// CPU adapters with subgroups.
    Shuffle,
}

impl FlashVariant {
    /// Every variant, in the order reports list them.
    pub const ALL: [FlashVariant; 3] = [
        FlashVariant::PerRow,
        FlashVariant::Tiled,
        FlashVariant::Shuffle,
    ];

    /// The name used in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            FlashVariant::PerRow => "flash",
            FlashVariant::Tiled => "flash-tiled",
            FlashVariant::Shuffle => "flash-shuffle",
        }
    }

    /// Whether a device with `caps` can run this variant: the shuffle kernel needs its 8 invocations to form one
    /// subgroup, so subgroups at least 8 wide.
    pub fn fits(self, caps: &DeviceCaps) -> bool {
        match self {
            FlashVariant::PerRow => true,
            FlashVariant::Shuffle => caps.subgroups && caps.subgroup_sizes.0 >= SHUFFLE_WG,
            FlashVariant::Tiled => {
                caps.workgroup_storage >= TILED_WORKGROUP_BYTES
                    && caps.invocations_per_workgroup >= TILED_WG
                    && caps.workgroup_size_xy.0 >= TILED_WG
            }
        }
    }

    /// What the kernel needs, for the error when a device lacks it.
    pub fn needs(self) -> String {
        match self {
            FlashVariant::PerRow => "nothing a device lacks".into(),
            FlashVariant::Tiled => format!(
                "{TILED_WORKGROUP_BYTES} bytes of workgroup memory and {TILED_WG} invocations \
                 per workgroup"
            ),
            FlashVariant::Shuffle => {
                format!("the device's SUBGROUP feature with subgroups at least {SHUFFLE_WG} wide")
            }
        }
    }

    /// The variant for a device: the shuffle kernel on CPU adapters whose subgroups are at
    /// least 8 wide (`subgroup_sizes` is the smallest and largest; its 8 invocations must form
    /// one subgroup), else tiled wherever its tiles fit, else per-row.
    pub fn for_device(caps: &DeviceCaps) -> Self {
        if caps.cpu && FlashVariant::Shuffle.fits(caps) {
            FlashVariant::Shuffle
        } else if FlashVariant::Tiled.fits(caps) {
            FlashVariant::Tiled
        } else {
            FlashVariant::PerRow
        }
    }

    /// Loop iterations one invocation runs per key, and once per dispatch, for `p` (llvmpipe
    /// caps their sum, see `GpuContext::loop_budget`).
    pub fn loop_cost(self, p: &FlashParams) -> (f64, u64) {
        match self {
            // llvmpipe counts every pass through a loop's condition, the last one that leaves
            // it too: a loop of n steps costs n + 1 (measured on lavapipe: the shuffle kernel's
            // largest single dispatch that comes out right is 65,535 / (d + 11) tiles).
            FlashVariant::PerRow => {
                // Per key: q·k over d, the chunk's update and the key loop; per dispatch: the
                // q row cached (only when d ≤ Q_CACHE), the chunk initialised and written, the
                // key loop left.
                let chunk = p.dv.min(CHUNK) as u64;
                let cache = if p.d <= Q_CACHE { p.d as u64 + 1 } else { 0 };
                (
                    (p.d as u64 + 1 + chunk + 1 + 1) as f64,
                    cache + 2 * (chunk + 1) + 1,
                )
            }
            FlashVariant::Shuffle => {
                // Per tile of keys: the step over d, the loop over the lanes' keys and the tile
                // loop; per dispatch: the tile loop left, each row's store loop (unrolled on
                // lavapipe, counted anyway) and the failure path's row loop.
                let per_tile = (p.d as u64 + 1) + (SHUFFLE_WG as u64 + 1) + 1;
                (
                    per_tile as f64 / SHUFFLE_KEYS as f64,
                    1 + (SHUFFLE_ROWS * (CHUNK / SHUFFLE_WG + 2)) as u64,
                )
            }
            FlashVariant::Tiled => {
                // Per tile of keys: per d slice 2 + 1 vec4 loads of 4 lanes each and 8 dot
                // steps; then 2 vec4 loads of V, 2 × 8 softmax steps, 32 P·V steps and the tile
                // loop itself.
                let slices = p.d.div_ceil(TILED_SLICE) as u64;
                let per_tile = 25 * slices + 110;
                (per_tile as f64 / TILED_KEYS as f64, 0)
            }
        }
    }
}

impl FlashVariant {
    /// Loop iterations of the smallest dispatch this variant can make for `p` (one key, or one
    /// tile of keys): when that exceeds the adapter's loop budget, no split into key blocks
    /// helps and the step must be refused.
    pub fn smallest_dispatch_loops(self, p: &FlashParams) -> u64 {
        let (per_key, fixed) = self.loop_cost(p);
        let keys = match self {
            FlashVariant::PerRow => 1.0,
            FlashVariant::Tiled => TILED_KEYS as f64,
            FlashVariant::Shuffle => SHUFFLE_KEYS as f64,
        };
        fixed + (per_key * keys).ceil() as u64
    }
}

/// Parameters of one flash dispatch.
///
/// Keep in sync with `FlashParams` in shaders/flash.wgsl (same field order, 16-byte padded).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
#[allow(missing_docs)]
pub struct FlashParams {
    /// Queries per matrix.
    pub l: u32,
    /// Keys per matrix.
    pub s: u32,
    /// Query/key width.
    pub d: u32,
    /// Value (output) width.
    pub dv: u32,
    /// Factor on q·k.
    pub scale: f32,
    /// 1: key j allowed for query i only when j ≤ i + causal_offset.
    pub causal: u32,
    /// Diagonal offset of the causal mask.
    pub causal_offset: i32,
    /// Matrix z is batch element z / heads, head z % heads.
    pub heads: u32,
    /// Number of (batch, head) matrices.
    pub batch: u32,
    /// 1 when the additive attention mask is read.
    pub has_mask: u32,
    /// 1 when the additive key-padding mask is read.
    pub has_padding: u32,
    /// Key-padding offset per batch element.
    pub padding_batch: u32,
    /// Attention-mask offset per batch element.
    pub mask_batch: u32,
    /// Attention-mask offset per head.
    pub mask_head: u32,
    /// Attention-mask offset per query.
    pub mask_row: u32,
    pub q_row: u32,
    pub q_batch_outer: u32,
    pub q_batch_inner: u32,
    pub k_row: u32,
    pub k_batch_outer: u32,
    pub k_batch_inner: u32,
    pub v_row: u32,
    pub v_batch_outer: u32,
    pub v_batch_inner: u32,
    pub o_row: u32,
    pub o_batch_outer: u32,
    pub o_batch_inner: u32,
    /// First key of this dispatch.
    pub key_begin: u32,
    /// One past the last key of this dispatch.
    pub key_end: u32,
    /// 1: this dispatch starts the recurrence (else it resumes from `state` and `out`).
    pub first: u32,
    /// 1: this dispatch finishes it: writes the normalised output (else it leaves its
    /// unnormalised sum there for the next key block). Every dispatch leaves (m, l, found).
    pub last: u32,
    /// First matrix (z-slice) of this dispatch: set by the executor when it splits more
    /// matrices than the device's workgroups per dimension into several dispatches; 0 in
    /// programs (the CPU twin runs every matrix).
    pub batch_offset: u32,
}

impl FlashParams {
    /// One head, row-major Q (l×d), K (s×d), V (s×dv), O (l×dv).
    pub fn single(l: usize, s: usize, d: usize, dv: usize, scale: f32, causal: bool) -> Self {
        FlashParams {
            l: l as u32,
            s: s as u32,
            d: d as u32,
            dv: dv as u32,
            scale,
            causal: causal as u32,
            heads: 1,
            batch: 1,
            q_row: d as u32,
            k_row: d as u32,
            v_row: dv as u32,
            o_row: dv as u32,
            ..Default::default()
        }
    }

    /// The same dispatch over every key in one go (how programs hold it).
    pub fn whole(self) -> Self {
        FlashParams {
            key_begin: 0,
            key_end: self.s,
            first: 1,
            last: 1,
            ..self
        }
    }

    /// The dispatches that stream the keys in blocks of `keys_per_block` (one for all keys when
    /// that is at least `s`).
    pub fn key_blocks(self, keys_per_block: u32) -> Vec<Self> {
        let per = keys_per_block.max(1);
        let mut blocks = Vec::new();
        let mut begin = 0u32;
        loop {
            let end = begin.saturating_add(per).min(self.s);
            blocks.push(FlashParams {
                key_begin: begin,
                key_end: end,
                first: (begin == 0) as u32,
                last: (end == self.s) as u32,
                ..self
            });
            if end >= self.s {
                return blocks;
            }
            begin = end;
        }
    }

    /// Floats of the state buffer: (m, l, found) per row, matrix and chunk, shared by the key
    /// blocks and left final by the last (the fused path's row statistics).
    pub fn state_len(&self) -> usize {
        self.batch as usize * self.l as usize * self.dv.div_ceil(CHUNK) as usize * 3
    }

    /// Output elements addressed.
    pub fn output_len(&self) -> usize {
        let outer = (self.batch / self.heads.max(1)) as usize;
        let last = (outer.saturating_sub(1)) * self.o_batch_outer as usize
            + (self.heads as usize - 1) * self.o_batch_inner as usize
            + (self.l as usize - 1) * self.o_row as usize;
        last + self.dv as usize
    }

    /// Workgroups of `variant`: query rows along x, output chunks along y, matrices along z.
    pub fn workgroups_for(&self, variant: FlashVariant) -> [u32; 3] {
        let rows = match variant {
            FlashVariant::PerRow => WG,
            FlashVariant::Tiled => TILED_ROWS,
            FlashVariant::Shuffle => SHUFFLE_ROWS,
        };
        [self.l.div_ceil(rows), self.dv.div_ceil(CHUNK), self.batch]
    }

    /// Keys one dispatch of `variant` may stream when an invocation may loop at most `budget`
    /// times (a whole number of tiles for the tiled and shuffle kernels).
    pub fn keys_per_dispatch(&self, variant: FlashVariant, budget: u64) -> u32 {
        let (per_key, fixed) = variant.loop_cost(self);
        let keys = (budget.saturating_sub(fixed) as f64 / per_key) as u64;
        let keys = match variant {
            FlashVariant::PerRow => keys,
            FlashVariant::Tiled => keys / TILED_KEYS as u64 * TILED_KEYS as u64,
            FlashVariant::Shuffle => keys / SHUFFLE_KEYS as u64 * SHUFFLE_KEYS as u64,
        };
        keys.clamp(1, u32::MAX as u64) as u32
    }
}

/// The source of the variant `variants` chooses.
pub fn spec(variants: &Variants) -> KernelSpec {
    let (source, entry) = match variants.flash {
        FlashVariant::PerRow => (SOURCE, "flash"),
        FlashVariant::Tiled => (TILED_SOURCE, "flash_tiled"),
        FlashVariant::Shuffle => (SHUFFLE_SOURCE, "flash_shuffle"),
    };
    KernelSpec {
        name: "flash",
        label: variants.flash.name(),
        source,
        entry,
        reads: 5,
        writes: 2,
        params_size: size_of::<FlashParams>(),
        constants: &[],
    }
}

impl Program {
    /// Adds an output-only attention step writing a new buffer named `name`; the params' mask
    /// flags are set from whether `mask` / `padding` are given.
    #[allow(clippy::too_many_arguments)]
    pub fn flash(
        &mut self,
        name: &str,
        params: FlashParams,
        q: BufId,
        k: BufId,
        v: BufId,
        mask: Option<BufId>,
        padding: Option<BufId>,
    ) -> BufId {
        self.flash_step(name, params, [q, k, v], mask, padding).0
    }

    /// The output-only step: writes the output (named `name`) and, in a buffer of its own,
    /// the running state between key blocks, which after the last block holds the row
    /// statistics (m, l, found per row and output chunk) an attention-weights step may read.
    /// Returns (output, statistics, the params as set).
    pub(crate) fn flash_step(
        &mut self,
        name: &str,
        params: FlashParams,
        [q, k, v]: [BufId; 3],
        mask: Option<BufId>,
        padding: Option<BufId>,
    ) -> (BufId, BufId, FlashParams) {
        let params = FlashParams {
            has_mask: mask.is_some() as u32,
            has_padding: padding.is_some() as u32,
            ..params.whole()
        };
        let out = self.output(name, params.output_len());
        let stats = self.output(&format!("{name}: row statistics"), params.state_len());
        let slots = vec![
            Slot::read(q),
            Slot::read(k),
            Slot::read(v),
            Slot::optional(mask),
            Slot::optional(padding),
            Slot::write(stats),
            Slot::write(out),
        ];
        self.push(Step::new(params, slots));
        (out, stats, params)
    }
}

impl GpuStep for FlashParams {
    fn kernel(&self) -> &'static str {
        "flash"
    }

    fn workgroups(&self, variants: &Variants, _: u32) -> [u32; 3] {
        self.workgroups_for(variants.flash)
    }

    fn at_batch_offset(&self, batch_offset: u32) -> Option<Vec<u8>> {
        Some(
            FlashParams {
                batch_offset,
                ..*self
            }
            .bytes(),
        )
    }

    /// Streamed in key blocks within the budget, down to one key (or tile) per dispatch.
    fn loop_iterations(&self, variants: &Variants) -> u64 {
        variants.flash.smallest_dispatch_loops(self)
    }

    fn loop_advice(&self) -> &'static str {
        "try a real GPU"
    }

    /// One dispatch per key block (all keys at once unless the adapter caps an invocation's
    /// loop iterations, as llvmpipe does) and z-slice.
    fn dispatches(
        &self,
        variants: &Variants,
        loop_budget: Option<u64>,
        groups: [u32; 3],
        max_z: u32,
    ) -> Vec<Dispatch> {
        let keys = loop_budget.map_or(u32::MAX, |budget| {
            self.keys_per_dispatch(variants.flash, budget)
        });
        self.key_blocks(keys)
            .into_iter()
            .flat_map(|block| z_split(&block, groups, max_z))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_blocks_cover_every_key_once_first_and_last_marked() {
        let p = FlashParams {
            s: 10,
            ..Default::default()
        };
        let b = p.key_blocks(4);
        let ranges: Vec<_> = b
            .iter()
            .map(|b| (b.key_begin, b.key_end, b.first, b.last))
            .collect();
        assert_eq!(ranges, [(0, 4, 1, 0), (4, 8, 0, 0), (8, 10, 0, 1)]);
        assert_eq!(p.key_blocks(10).len(), 1);
        assert_eq!(p.key_blocks(0).len(), 10);
        assert_eq!(p.whole().key_blocks(u32::MAX)[0], p.whole());
    }

    #[test]
    fn single_head_addressing() {
        let p = FlashParams::single(5, 7, 3, 130, 0.5, false);
        assert_eq!(p.output_len(), 5 * 130);
        assert_eq!(p.workgroups_for(FlashVariant::PerRow), [1, 3, 1]);
        let p = FlashParams::single(65, 7, 3, 64, 0.5, false);
        assert_eq!(p.workgroups_for(FlashVariant::Tiled), [2, 1, 1]);
    }

    #[test]
    fn the_device_choice_follows_type_features_and_subgroup_width() {
        // WebGPU's defaults, with room for the tiled kernel's workgroup memory.
        let caps = |cpu, subgroups, sizes| DeviceCaps {
            workgroup_storage: 32_768,
            ..DeviceCaps::webgpu_defaults(cpu, subgroups, sizes)
        };
        let choose = |cpu, subgroups, sizes| FlashVariant::for_device(&caps(cpu, subgroups, sizes));
        assert_eq!(choose(true, true, (8, 8)), FlashVariant::Shuffle);
        assert_eq!(choose(true, true, (16, 16)), FlashVariant::Shuffle);
        // Subgroups that may be narrower than the kernel's 8 invocations, or none at all.
        assert_eq!(choose(true, true, (4, 8)), FlashVariant::Tiled);
        assert_eq!(choose(true, false, (0, 0)), FlashVariant::Tiled);
        assert_eq!(choose(false, true, (32, 32)), FlashVariant::Tiled);
        let small = DeviceCaps {
            workgroup_storage: 16_384,
            ..caps(false, true, (32, 32))
        };
        assert_eq!(FlashVariant::for_device(&small), FlashVariant::PerRow);
        assert!(!FlashVariant::Shuffle.fits(&caps(false, false, (8, 8))));
        assert!(!FlashVariant::Shuffle.fits(&caps(false, true, (4, 8))));
    }

    #[test]
    fn shuffle_key_blocks_are_whole_tiles_within_the_budget() {
        let p = FlashParams::single(100, 100_000, 64, 64, 0.5, false);
        let keys = p.keys_per_dispatch(FlashVariant::Shuffle, 60_000);
        assert_eq!(keys % SHUFFLE_KEYS, 0);
        let (per_key, fixed) = FlashVariant::Shuffle.loop_cost(&p);
        assert!(keys as f64 * per_key + fixed as f64 <= 60_000.0);
        assert!(keys > 20_000, "{keys}");
        assert_eq!(p.workgroups_for(FlashVariant::Shuffle), [4, 1, 1]);
    }

    #[test]
    fn tiled_key_blocks_are_whole_tiles_within_the_budget() {
        let p = FlashParams::single(100, 100_000, 64, 64, 0.5, false);
        let keys = p.keys_per_dispatch(FlashVariant::Tiled, 60_000);
        assert_eq!(keys % TILED_KEYS, 0);
        let (per_key, _) = FlashVariant::Tiled.loop_cost(&p);
        assert!(keys as f64 * per_key <= 60_000.0);
        assert!(keys > 10_000, "{keys}");
        let per_row = p.keys_per_dispatch(FlashVariant::PerRow, 60_000);
        assert!(per_row < 500, "{per_row}");
    }
}
