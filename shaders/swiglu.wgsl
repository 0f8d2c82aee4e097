// SwiGLU's gate, element by element (LLaMA's feed-forward, transformers' LlamaMLP before its
// down projection): out = silu(gate) · up, silu(g) = g / (1 + e^(−g)). e^(−g) is taken of at
// most 80 (e^80 ≈ 5.5e34, within f32), since WGSL may assume no infinities: for g below −80
// the quotient is below 1.5e-33, the limit 0 to f32's precision here.
//
// One invocation per element.
//
// CPU twin: src/cpu/swiglu.rs.

// Keep in sync with `SwigluParams` in src/kernels/swiglu.rs.
struct SwigluParams {
    len: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

#import linear_item

@group(0) @binding(0) var<uniform> params: SwigluParams;
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn swiglu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_item(gid, groups);
    if i >= params.len {
        return;
    }
    let g = gate[i];
    out[i] = g / (1.0 + exp(min(-g, 80.0))) * up[i];
}
