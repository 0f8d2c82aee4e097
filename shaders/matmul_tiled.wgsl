// C = alpha · A · B (+ bias), batched and strided, through workgroup memory: the same product,
// parameters and bindings as matmul.wgsl, for devices where sharing loads across a workgroup pays
// (GPUs; src/kernels/matmul.rs chooses).
//
// A workgroup of 16 × 16 invocations computes a 64 × 64 block of C. The k dimension is walked
// in slices of KT = 16: the workgroup loads A's 64 × 16 slice and B's 16 × 64 slice into
// workgroup memory (one vec4 of four rows or four columns per invocation each, so no invocation
// stores into another's vector lanes), then each invocation multiplies out its 4 × 4 block from
// two vec4 reads per k: 16 multiply-adds per two workgroup-memory loads, and every A and B value
// read from storage serves 64 outputs. Rows, columns and k past the edge load as zeros and are
// never stored, so any m, n, k ≥ 1 works.
//
// CPU twin: src/cpu/matmul.rs.

#import matmul_bindings

// Keep in sync with `TILED_*` in src/kernels/matmul.rs.
const WG_SIDE = 16u;
const BLOCK = 64u;
const KT = 16u;

// a_tile[k * 16 + g] holds A rows 4g .. 4g + 3 at slice column k; b_tile[k * 16 + g] holds B
// columns 4g .. 4g + 3 at slice row k.
var<workgroup> a_tile: array<vec4<f32>, 256>;
var<workgroup> b_tile: array<vec4<f32>, 256>;

fn load_a(base: u32, i: u32, k: u32) -> f32 {
    if i < params.m && k < params.k {
        return a[base + i * params.a_row + k * params.a_col];
    }
    return 0.0;
}

fn load_b(base: u32, k: u32, j: u32) -> f32 {
    if k < params.k && j < params.n {
        return b[base + k * params.b_row + j * params.b_col];
    }
    return 0.0;
}

fn store(base: u32, i: u32, j0: u32, values: vec4<f32>) {
    if i >= params.m {
        return;
    }
    for (var jj = 0u; jj < 4u; jj++) {
        let j = j0 + jj;
        if j < params.n {
            var value = params.alpha * values[jj];
            if params.has_bias != 0u {
                value += bias[j];
            }
            c[base + i * params.c_row + j] = value;
        }
    }
}

@compute @workgroup_size(WG_SIDE, WG_SIDE, 1)
fn matmul_tiled(
    @builtin(local_invocation_index) tid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    // The z-slice is uniform across the workgroup, so the early return keeps barriers uniform.
    let batch = wid.z + params.batch_offset;
    if batch >= params.batch_outer * params.batch_inner {
        return;
    }
    let outer = batch / params.batch_inner;
    let inner = batch % params.batch_inner;
    let a_base = params.a_base + outer * params.a_batch_outer + inner * params.a_batch_inner;
    let b_base = outer * params.b_batch_outer + inner * params.b_batch_inner;
    let c_base = outer * params.c_batch_outer + inner * params.c_batch_inner;
    let row0 = wid.y * BLOCK;
    let col0 = wid.x * BLOCK;
    // This invocation's outputs: rows row0 + 4ty .., columns col0 + 4tx ..
    let tx = tid % WG_SIDE;
    let ty = tid / WG_SIDE;
    // Its share of each slice load: slice index lk, group lg (four rows of A / columns of B).
    let lk = tid / WG_SIDE;
    let lg = tid % WG_SIDE;

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < params.k; k0 += KT) {
        let ka = k0 + lk;
        let ia = row0 + 4u * lg;
        a_tile[lk * WG_SIDE + lg] = vec4(load_a(a_base, ia, ka), load_a(a_base, ia + 1u, ka), load_a(a_base, ia + 2u, ka), load_a(a_base, ia + 3u, ka));
        let jb = col0 + 4u * lg;
        b_tile[lk * WG_SIDE + lg] = vec4(load_b(b_base, ka, jb), load_b(b_base, ka, jb + 1u), load_b(b_base, ka, jb + 2u), load_b(b_base, ka, jb + 3u));
        workgroupBarrier();
        for (var k = 0u; k < KT; k++) {
            let av = a_tile[k * WG_SIDE + ty];
            let bv = b_tile[k * WG_SIDE + tx];
            acc0 = fma(vec4(av.x), bv, acc0);
            acc1 = fma(vec4(av.y), bv, acc1);
            acc2 = fma(vec4(av.z), bv, acc2);
            acc3 = fma(vec4(av.w), bv, acc3);
        }
        workgroupBarrier();
    }
    let i = row0 + 4u * ty;
    let j = col0 + 4u * tx;
    store(c_base, i, j, acc0);
    store(c_base, i + 1u, j, acc1);
    store(c_base, i + 2u, j, acc2);
    store(c_base, i + 3u, j, acc3);
}
