// What every kernel of one item per invocation (a `LinearStep` in Rust) shares: its workgroup
// size and the index of its item. Beyond the device's per-dimension limit the host folds the
// workgroups into y (`fold_groups` in src/kernels/step.rs); `linear_item` undoes the fold, and
// the kernel returns for the overhang.

// The workgroup size, set by the pipeline from the kernel's `LinearStep::WG`.
override WG: u32;

// The flat index of the invocation `gid` among `groups` workgroups folded into y.
fn linear_item(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.x + gid.y * groups.x * WG;
}
