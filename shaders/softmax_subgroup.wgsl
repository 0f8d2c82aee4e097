// Row softmax with subgroup reductions: the same result, parameters, bindings and masks as
// softmax.wgsl (see there for the mask rules and the all-masked row), for adapters with the
// SUBGROUP feature (src/kernels/softmax.rs chooses).
//
// One workgroup of WG = 64 invocations per row: invocation t reads keys t, t + WG, t + 2·WG …,
// so neighbouring invocations read neighbouring keys (coalesced on GPUs, where the one-row-per-
// invocation kernel has each invocation stride through its own row). The row max and the sum of
// exponentials are reduced first within each subgroup (subgroupMax, subgroupAdd),
// then across subgroups through workgroup memory: every invocation has a slot, which holds its
// subgroup's result if it is the subgroup's first active invocation (subgroupBroadcastFirst;
// naga 30 has no subgroupElect) and the neutral value otherwise, and every invocation folds all
// WG slots in index order. So nothing assumes a subgroup size or how invocations are grouped
// into subgroups (any size from 1 to beyond WG works; a larger subgroup is simply partly
// filled), and the sum is added in the same order on every run (slots taken first-come would
// make the last bit of the weights vary with the subgroups' timing).
//
// Not chosen on CPU adapters: on lavapipe (subgroups of 8 SIMD lanes) its barriers and slot
// loops made it 2.4× slower than softmax.wgsl (125 vs 52 ms for 2048 rows of 2048 keys,
// `cargo run --release --example stage_times -- 2048 subgroup`); the GPU-vs-CPU tests still
// run it there.

// No `enable subgroups;`: naga 30 does not parse it yet and takes subgroup builtins without it
// (wgpu checks the device's SUBGROUP feature instead).

#import softmax_bindings

const WG = 64u;
// f32's lowest finite value: below every allowed score, so max() ignores it.
const LOWEST = -3.4028235e38;

// One slot per invocation for each reduction (see above).
var<workgroup> partial_max: array<f32, WG>;
var<workgroup> partial_sum: array<f32, WG>;

@compute @workgroup_size(WG, 1, 1)
fn softmax_subgroup(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    // The row is the same for the whole workgroup, so every branch on it is uniform.
    let r = wid.x + wid.y * groups.x;
    if r >= params.batch * params.rows {
        return;
    }
    let z = r / params.rows;
    let query = r % params.rows;
    let b = z / params.heads;
    let h = z % params.heads;
    let base = r * params.cols;
    let mask_base = b * params.mask_batch + h * params.mask_head + query * params.mask_row;
    let padding_base = b * params.padding_batch;

    // Row max. A row with no allowed key keeps LOWEST, sums nothing and is written as zeros by
    // the final select, with no early return (which would leave the later subgroup operations
    // and barrier in non-uniform control flow).
    var local_max = LOWEST;
    for (var j = t; j < params.cols; j += WG) {
        let s = masked(base, mask_base, padding_base, query, j);
        if s.allowed {
            local_max = max(local_max, s.score);
        }
    }
    let group_max = subgroupMax(local_max);
    let leader = subgroupBroadcastFirst(t) == t;
    partial_max[t] = select(LOWEST, group_max, leader);
    workgroupBarrier();
    var row_max = LOWEST;
    for (var i = 0u; i < WG; i++) {
        row_max = max(row_max, partial_max[i]);
    }

    // Sum of exponentials.
    var local_sum = 0.0;
    for (var j = t; j < params.cols; j += WG) {
        let s = masked(base, mask_base, padding_base, query, j);
        if s.allowed {
            local_sum += exp(s.score - row_max);
        }
    }
    let group_sum = subgroupAdd(local_sum);
    partial_sum[t] = select(0.0, group_sum, leader);
    workgroupBarrier();
    var sum = 0.0;
    for (var i = 0u; i < WG; i++) {
        sum += partial_sum[i];
    }

    // sum is 0 only when no key is allowed, and then every weight is the select's 0.
    let inv_sum = 1.0 / sum;
    for (var j = t; j < params.cols; j += WG) {
        let s = masked(base, mask_base, padding_base, query, j);
        weights[base + j] = select(0.0, exp(s.score - row_max) * inv_sum, s.allowed);
    }
}
