// Fills a buffer with one 32-bit pattern: the executor poisons every output with a NaN this way
// before the steps run, on the device, so that an element no kernel writes cannot pass as a
// plausible value (and no N×N vector of NaN is built on the host and uploaded).
//
// The buffer is written as u32 so the NaN's payload arrives bit for bit (a float store may
// canonicalise it). One invocation per element; x folded into y past the dispatch limit.
//
// CPU twin: src/cpu/fill.rs.

// Keep in sync with `FillParams` in src/kernels/fill.rs.
struct FillParams {
    len: u32,
    bits: u32,
    _pad0: u32,
    _pad1: u32,
}

#import linear_item

@group(0) @binding(0) var<uniform> params: FillParams;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(WG, 1, 1)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_item(gid, groups);
    if i < params.len {
        out[i] = params.bits;
    }
}
