// LayerNorm over the last axis, with an optional residual added first (BERT's
// "Add & Norm"): y = x + residual, out = (y − mean(y)) / sqrt(var(y) + eps) · gamma + beta,
// with the biased variance as PyTorch's nn.LayerNorm uses. Mean and variance in two passes over
// the row (not E[y²] − E[y]², which cancels badly in f32).
//
// One invocation per row: rows are short (a few hundred values) and, as for the softmax, a
// workgroup reduction is slower than a plain loop on CPU adapters (DESIGN.md §6).
//
// CPU twin: src/cpu/layer_norm.rs.

// Keep in sync with `LayerNormParams` in src/kernels/layer_norm.rs.
struct LayerNormParams {
    rows: u32,
    // values per row (the normalised width)
    cols: u32,
    eps: f32,
    // 1 when `residual` is added to `x` before normalising
    has_residual: u32,
}

#import linear_item

@group(0) @binding(0) var<uniform> params: LayerNormParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> residual: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

fn value(i: u32) -> f32 {
    if params.has_residual == 1u {
        return x[i] + residual[i];
    }
    return x[i];
}

@compute @workgroup_size(WG, 1, 1)
fn layer_norm(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let row = linear_item(gid, groups);
    if row >= params.rows {
        return;
    }
    let start = row * params.cols;
    var sum = 0.0;
    for (var c = 0u; c < params.cols; c++) {
        sum += value(start + c);
    }
    let mean = sum / f32(params.cols);
    var squares = 0.0;
    for (var c = 0u; c < params.cols; c++) {
        let centred = value(start + c) - mean;
        squares += centred * centred;
    }
    let inv_std = inverseSqrt(squares / f32(params.cols) + params.eps);
    for (var c = 0u; c < params.cols; c++) {
        out[start + c] = (value(start + c) - mean) * inv_std * gamma[c] + beta[c];
    }
}
