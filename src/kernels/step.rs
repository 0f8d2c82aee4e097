//! What the GPU executor needs to know of a kernel to run one [`Step`](crate::program::Step)
//! of it, with no per-kernel code in the executor: each kernel's params type implements
//! [`GpuStep`] in its own file (`src/kernels/<kernel>.rs`).
//!
//! The executor binds the params uniform and then the step's slots
//! ([`Step::slots`](crate::program::Step::slots)) in order, so a kernel's binding order is
//! written once, in its builder.

use super::spec::{KernelSpec, Variants};

/// One dispatch: the params uniform's bytes and the workgroups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dispatch {
    /// The params struct as the shader reads it.
    pub params: Vec<u8>,
    /// Workgroups in x, y and z.
    pub groups: [u32; 3],
}

/// The params as the shader reads them: every params type is plain old data, so this is
/// implemented once for all of them.
pub trait ParamsBytes {
    /// The params' bytes, for the uniform buffer.
    fn bytes(&self) -> Vec<u8>;
}

impl<T: bytemuck::Pod> ParamsBytes for T {
    fn bytes(&self) -> Vec<u8> {
        bytemuck::bytes_of(self).to_vec()
    }
}

/// A kernel's side of the GPU executor, implemented by its params type.
pub trait GpuStep: ParamsBytes {
    /// The name of the kernel (its [`KernelSpec::name`](super::KernelSpec::name) in the
    /// [`REGISTRY`](super::REGISTRY)) that runs this step, in whichever variant is compiled.
    fn kernel(&self) -> &'static str;

    /// The workgroups of the whole step, before [`GpuStep::dispatches`] splits it.
    fn workgroups(&self, variants: &Variants, max_per_dim: u32) -> [u32; 3];

    /// For a step whose z (one slice per matrix) is split into several dispatches beyond the
    /// device's limit, the params' bytes for the dispatch that starts at matrix
    /// `batch_offset`; `None` (the default) for a step that is not split, whose z must fit.
    fn at_batch_offset(&self, _batch_offset: u32) -> Option<Vec<u8>> {
        None
    }

    /// Loop iterations of one invocation (checked against llvmpipe's cap); for a step that is
    /// streamed in blocks, those of its smallest block.
    fn loop_iterations(&self, variants: &Variants) -> u64;

    /// What to try when [`GpuStep::loop_iterations`] is over the cap.
    fn loop_advice(&self) -> &'static str {
        "compute the output without the weights, or use a real GPU"
    }

    /// The dispatches that run the step: by default one with `groups`, or one per z-slice of
    /// at most `max_z` matrices for a step with [`GpuStep::at_batch_offset`]. `loop_budget` is
    /// the adapter's cap on an invocation's loop iterations, if it has one.
    fn dispatches(
        &self,
        _variants: &Variants,
        _loop_budget: Option<u64>,
        groups: [u32; 3],
        max_z: u32,
    ) -> Vec<Dispatch> {
        z_split(self, groups, max_z)
    }
}

/// A kernel of one variant whose invocations each take one item (an element or a row),
/// [`LinearStep::WG`] to a workgroup, folded into y beyond the device's per-dimension limit:
/// its [`GpuStep`] and its [`KernelSpec`] ([`linear_spec`]) follow from these facts. Each such
/// kernel (gelu, layer_norm, embed, head_mean, fill, rms_norm, rope, swiglu) implements it with
/// one line of the crate's `linear_step!` macro.
pub trait LinearStep: bytemuck::Pod {
    /// The kernel's name in the [`REGISTRY`](super::REGISTRY), and its WGSL entry point.
    const KERNEL: &'static str;
    /// Its WGSL, compiled into the binary.
    const SOURCE: &'static str;
    /// Read-only and read-write storage buffers it binds after the params uniform.
    const BINDINGS: (usize, usize);
    /// Invocations per workgroup: the shader's `override WG` (from `#import linear_item`),
    /// set from here by the spec.
    const WG: u32;
    /// Items of the step, one invocation each.
    fn items(&self) -> u32;
    /// Loop iterations of one invocation (checked against llvmpipe's cap).
    fn loops_per_item(&self) -> u64 {
        0
    }
}

impl<T: LinearStep> GpuStep for T {
    fn kernel(&self) -> &'static str {
        T::KERNEL
    }

    fn workgroups(&self, _: &Variants, max_per_dim: u32) -> [u32; 3] {
        fold_groups(self.items().div_ceil(T::WG), max_per_dim)
    }

    fn loop_iterations(&self, _: &Variants) -> u64 {
        self.loops_per_item()
    }
}

/// Implements [`LinearStep`] for a kernel's params type from the facts that differ between
/// such kernels, so each states them in one line:
///
/// ```ignore
/// // in src/kernels/gelu.rs
/// linear_step!(GeluParams: "gelu", reads 1, items |p| p.len);
/// linear_step!(LayerNormParams: "layer_norm", reads 4, items |p| p.rows, loops |p| 3 * p.cols as u64);
/// ```
///
/// The name is the registry name and the WGSL entry point; the source is `shaders/<name>.wgsl`
/// (one file per kernel, named after it); the kernel binds `reads` inputs and writes one
/// output; its workgroups are 64 invocations. `items` counts the invocations, `loops` (0 when
/// left out) the loop iterations of one.
macro_rules! linear_step {
    ($params:ty: $name:literal, reads $reads:literal, items |$p:ident| $items:expr
        $(, loops |$q:ident| $loops:expr)? $(,)?) => {
        impl $crate::kernels::step::LinearStep for $params {
            const KERNEL: &'static str = $name;
            const SOURCE: &'static str = include_str!(concat!("../../shaders/", $name, ".wgsl"));
            const BINDINGS: (usize, usize) = ($reads, 1);
            const WG: u32 = 64;

            fn items(&self) -> u32 {
                let $p = self;
                $items
            }

            $(
                fn loops_per_item(&self) -> u64 {
                    let $q = self;
                    $loops
                }
            )?
        }
    };
}
pub(crate) use linear_step;

/// The spec of a [`LinearStep`] kernel: its one variant, with the shader's `WG` set.
pub fn linear_spec<T: LinearStep>(_: &Variants) -> KernelSpec {
    KernelSpec::one(T::KERNEL, T::SOURCE, T::BINDINGS, size_of::<T>())
        .with_constants(WorkgroupSize::<T>::CONSTANTS)
}

/// Holds a [`LinearStep`]'s override constants as a `'static` slice (a generic constant).
struct WorkgroupSize<T>(std::marker::PhantomData<T>);

impl<T: LinearStep> WorkgroupSize<T> {
    const CONSTANTS: &'static [(&'static str, f64)] = &[("WG", T::WG as f64)];
}

/// Spreads `groups` one-dimensional workgroups over x and y so neither exceeds `max_per_dim`
/// (the kernels recover the flat index as `gid.x + gid.y · num_workgroups.x · WG`, or, with a
/// row per workgroup, `wid.x + wid.y · num_workgroups.x`).
pub fn fold_groups(groups: u32, max_per_dim: u32) -> [u32; 3] {
    if groups <= max_per_dim {
        [groups, 1, 1]
    } else {
        [max_per_dim, groups.div_ceil(max_per_dim), 1]
    }
}

/// The dispatches of `step` with `groups`: one per z-slice of at most `max_z` matrices when the
/// step is split ([`GpuStep::at_batch_offset`]), else one.
pub fn z_split(step: &(impl GpuStep + ?Sized), groups: [u32; 3], max_z: u32) -> Vec<Dispatch> {
    if step.at_batch_offset(0).is_none() {
        return vec![Dispatch {
            params: step.bytes(),
            groups,
        }];
    }
    z_slices(groups, max_z)
        .into_iter()
        .map(|(offset, groups)| Dispatch {
            params: step.at_batch_offset(offset).expect("split"),
            groups,
        })
        .collect()
}

/// Splits a dispatch of `groups` whose z (one slice per matrix) exceeds `max` into dispatches
/// of at most `max` slices each: (first slice, groups) per dispatch, in order.
pub fn z_slices(groups: [u32; 3], max: u32) -> Vec<(u32, [u32; 3])> {
    let max = max.max(1);
    (0..groups[2].max(1))
        .step_by(max as usize)
        .map(|first| (first, [groups[0], groups[1], (groups[2] - first).min(max)]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z_slices_cover_every_matrix_once_within_the_limit() {
        assert_eq!(z_slices([3, 2, 5], 65535), [(0, [3, 2, 5])]);
        assert_eq!(
            z_slices([1, 1, 70_001], 35_000),
            [
                (0, [1, 1, 35_000]),
                (35_000, [1, 1, 35_000]),
                (70_000, [1, 1, 1])
            ]
        );
        assert_eq!(z_slices([4, 1, 6], 3), [(0, [4, 1, 3]), (3, [4, 1, 3])]);
    }
}
