// The attention weights averaged over heads, as PyTorch's MultiheadAttention returns them by
// default (average_attn_weights=True): out[b, t] = (1/heads) · Σ_h weights[b, h, t], where t runs
// over the rows × cols of one head's matrix. One invocation per output element.
//
// CPU twin: src/cpu/head_mean.rs.

// Keep in sync with `HeadMeanParams` in src/kernels/head_mean.rs.
struct HeadMeanParams {
    // batch elements
    batch: u32,
    heads: u32,
    // elements of one head's matrix (rows × cols)
    len: u32,
    _pad0: u32,
}

#import linear_item

@group(0) @binding(0) var<uniform> params: HeadMeanParams;
@group(0) @binding(1) var<storage, read> weights: array<f32>;
@group(0) @binding(2) var<storage, read_write> mean: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn head_mean(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_item(gid, groups);
    if i >= params.batch * params.len {
        return;
    }
    let b = i / params.len;
    let t = i % params.len;
    var sum = 0.0;
    for (var h = 0u; h < params.heads; h++) {
        sum += weights[(b * params.heads + h) * params.len + t];
    }
    mean[i] = sum / f32(params.heads);
}
