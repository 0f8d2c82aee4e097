// Row softmax of the scaled scores, numerically stable (the row max is subtracted before exp),
// with an optional causal mask. A row whose every key is masked is written as zeros rather than
// the 0/0 = NaN of a plain softmax (PyTorch's "safe softmax" behaviour).
//
// One invocation per row: on CPU adapters a workgroup tree reduction was 5× slower than this
// (DESIGN.md §6). WGSL has no infinity literal, so masking uses an explicit `allowed` test and a
// `found` flag instead of -inf.
//
// CPU twin: src/cpu/softmax.rs.

// Keep in sync with `SoftmaxParams` in src/gpu/softmax.rs.
struct SoftmaxParams {
    // query rows per batch element
    rows: u32,
    // keys per row (row stride of scores and weights)
    cols: u32,
    // number of rows × cols matrices, stored one after another
    batch: u32,
    // 1: key j is allowed for query i only when j <= i + causal_offset
    causal: u32,
    causal_offset: i32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

const WG = 64u;

@group(0) @binding(0) var<uniform> params: SoftmaxParams;
@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> weights: array<f32>;

fn allowed(query: u32, key: u32) -> bool {
    return params.causal == 0u || i32(key) <= i32(query) + params.causal_offset;
}

@compute @workgroup_size(WG, 1, 1)
fn softmax(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let r = gid.x + gid.y * groups.x * WG;
    if r >= params.batch * params.rows {
        return;
    }
    let query = r % params.rows;
    let base = r * params.cols;

    var found = false;
    var row_max = 0.0;
    for (var j = 0u; j < params.cols; j++) {
        if allowed(query, j) {
            let s = scores[base + j];
            row_max = select(s, max(row_max, s), found);
            found = true;
        }
    }
    if !found {
        for (var j = 0u; j < params.cols; j++) {
            weights[base + j] = 0.0;
        }
        return;
    }

    var sum = 0.0;
    for (var j = 0u; j < params.cols; j++) {
        if allowed(query, j) {
            sum += exp(scores[base + j] - row_max);
        }
    }
    let inv_sum = 1.0 / sum;
    for (var j = 0u; j < params.cols; j++) {
        var p = 0.0;
        if allowed(query, j) {
            p = exp(scores[base + j] - row_max) * inv_sum;
        }
        weights[base + j] = p;
    }
}
