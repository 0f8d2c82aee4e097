// a followed by b: a decoder's KV cache grown by one position's keys or values per generated
// token, on the device.
//
// One invocation per output element.
//
// CPU twin: src/cpu/concat.rs.

// Keep in sync with `ConcatParams` in src/kernels/concat.rs.
struct ConcatParams {
    a_len: u32,
    b_len: u32,
    _pad0: u32,
    _pad1: u32,
}

#import linear_item

@group(0) @binding(0) var<uniform> params: ConcatParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn concat(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_item(gid, groups);
    if i >= params.a_len + params.b_len {
        return;
    }
    if i < params.a_len {
        out[i] = a[i];
    } else {
        out[i] = b[i - params.a_len];
    }
}
