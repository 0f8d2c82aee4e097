// Element-by-element sum, LLaMA's residual stream (transformers' LlamaDecoderLayer:
// hidden = residual + attention(norm(residual)), then the same around the MLP).
//
// One invocation per element.
//
// CPU twin: src/cpu/add.rs.

// Keep in sync with `AddParams` in src/kernels/add.rs.
struct AddParams {
    len: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

#import linear_item

@group(0) @binding(0) var<uniform> params: AddParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_item(gid, groups);
    if i >= params.len {
        return;
    }
    out[i] = a[i] + b[i];
}
