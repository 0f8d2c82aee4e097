// The simplest matmul: one invocation per output element, C = alpha · A · B (+ bias), with the
// same strided, batched addressing and the same params as matmul.wgsl. Kept as the baseline the
// register-blocked kernel is measured against (`selfattn bench --kernel naive`).
//
// CPU twin: src/cpu/matmul.rs (the arithmetic is the same as matmul.wgsl's).

#import matmul_bindings

const WG_X = 8u;
const WG_Y = 8u;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn matmul_naive(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row = gid.y;
    let col = gid.x;
    let batch = gid.z + params.batch_offset;
    if row >= params.m || col >= params.n || batch >= params.batch_outer * params.batch_inner {
        return;
    }
    let outer = batch / params.batch_inner;
    let inner = batch % params.batch_inner;
    let a_base = params.a_base + outer * params.a_batch_outer + inner * params.a_batch_inner + row * params.a_row;
    let b_base = outer * params.b_batch_outer + inner * params.b_batch_inner + col * params.b_col;
    var acc = 0.0;
    for (var k = 0u; k < params.k; k++) {
        acc = fma(a[a_base + k * params.a_col], b[b_base + k * params.b_row], acc);
    }
    var value = params.alpha * acc;
    if params.has_bias != 0u {
        value += bias[col];
    }
    c[outer * params.c_batch_outer + inner * params.c_batch_inner + row * params.c_row + col] = value;
}
