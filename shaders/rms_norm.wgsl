// RMSNorm over the last axis (LLaMA's norms, transformers' LlamaRMSNorm):
// out = x / sqrt(mean(x²) + eps) · weight. No centring and no bias, unlike LayerNorm.
//
// One invocation per row, as layer_norm.wgsl: rows are short (a few hundred values) and a
// plain loop beats a workgroup reduction on CPU adapters.
//
// CPU twin: src/cpu/rms_norm.rs.

// Keep in sync with `RmsNormParams` in src/kernels/rms_norm.rs.
struct RmsNormParams {
    rows: u32,
    // values per row (the normalised width)
    cols: u32,
    eps: f32,
    _pad0: u32,
}

#import linear_item

@group(0) @binding(0) var<uniform> params: RmsNormParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn rms_norm(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let row = linear_item(gid, groups);
    if row >= params.rows {
        return;
    }
    let start = row * params.cols;
    var squares = 0.0;
    for (var c = 0u; c < params.cols; c++) {
        squares += x[start + c] * x[start + c];
    }
    let inv_rms = inverseSqrt(squares / f32(params.cols) + params.eps);
    for (var c = 0u; c < params.cols; c++) {
        out[start + c] = x[start + c] * inv_rms * weight[c];
    }
}
