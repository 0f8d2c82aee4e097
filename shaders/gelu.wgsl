// The exact (erf) GELU of BERT's feed-forward layer, element by element:
// gelu(x) = x · Φ(x) = 0.5 · x · erfc(−x / √2).
//
// WGSL has no erf. erfc comes from the Chebyshev fit in Numerical Recipes (`erfcc`, fractional
// error below 1.2e-7 for every x), written as erfc so that large negative x, where 1 + erf(x)
// would cancel to nothing in f32, keeps its small value. (PyTorch's approximate="tanh" GELU is a
// different function and is not what BERT uses.)
//
// One invocation per element.
//
// CPU twin: src/cpu/gelu.rs.

// Keep in sync with `GeluParams` in src/kernels/gelu.rs.
struct GeluParams {
    len: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

#import linear_item
const FRAC_1_SQRT_2 = 0.70710678118654752;

@group(0) @binding(0) var<uniform> params: GeluParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn erfc(v: f32) -> f32 {
    let z = abs(v);
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
        + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
        + t * (-0.82215223 + t * 0.17087277))))))));
    let r = t * exp(-z * z + poly);
    return select(2.0 - r, r, v >= 0.0);
}

@compute @workgroup_size(WG, 1, 1)
fn gelu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_item(gid, groups);
    if i >= params.len {
        return;
    }
    let v = x[i];
    out[i] = 0.5 * v * erfc(-v * FRAC_1_SQRT_2);
}
