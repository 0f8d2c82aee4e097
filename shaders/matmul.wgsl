// C = alpha · A · B (+ bias), batched and strided: the projections (X·W), the scores (Q·Kᵀ, by
// swapping B's strides) and the weighted sum (P·V) are all this one kernel.
//
// Each invocation computes a TILE×TILE block of C in registers (register blocking): it loads
// TILE values of A and TILE of B per step of k and does TILE² fused multiply-adds. There is no
// workgroup memory and no barrier, which suits CPU adapters such as lavapipe where barriers are
// very expensive (DESIGN.md §6). Rows/columns past the edge are clamped on load and skipped on
// store, so any m, n, k ≥ 1 works.
//
// CPU twin: src/cpu/matmul.rs.

// Keep in sync with `MatmulParams` in src/gpu/matmul.rs.
struct MatmulParams {
    m: u32,
    n: u32,
    k: u32,
    alpha: f32,
    // A(i, k) = a[a_base + i * a_row + k * a_col]
    a_row: u32,
    a_col: u32,
    // B(k, j) = b[b_base + k * b_row + j * b_col]
    b_row: u32,
    b_col: u32,
    // C(i, j) = c[c_base + i * c_row + j]
    c_row: u32,
    has_bias: u32,
    // batch index z = outer * batch_inner + inner (e.g. batch element, head)
    batch_outer: u32,
    batch_inner: u32,
    a_batch_outer: u32,
    a_batch_inner: u32,
    b_batch_outer: u32,
    b_batch_inner: u32,
    c_batch_outer: u32,
    c_batch_inner: u32,
    _pad0: u32,
    _pad1: u32,
}

const WG_X = 8u;
const WG_Y = 8u;
const TILE = 4u;

@group(0) @binding(0) var<uniform> params: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn matmul(@builtin(global_invocation_id) gid: vec3<u32>) {
    let batch = gid.z;
    if batch >= params.batch_outer * params.batch_inner {
        return;
    }
    let row0 = gid.y * TILE;
    let col0 = gid.x * TILE;
    if row0 >= params.m || col0 >= params.n {
        return;
    }
    let outer = batch / params.batch_inner;
    let inner = batch % params.batch_inner;
    let a_base = outer * params.a_batch_outer + inner * params.a_batch_inner;
    let b_base = outer * params.b_batch_outer + inner * params.b_batch_inner;
    let c_base = outer * params.c_batch_outer + inner * params.c_batch_inner;

    // Clamp edge rows/columns so every load is in bounds; their results are never stored.
    // The 4×4 tile is spelled out (four vec4 accumulators, no dynamically indexed private
    // arrays): CPU adapters turn dynamically indexed private arrays into memory traffic.
    let a0 = a_base + min(row0, params.m - 1u) * params.a_row;
    let a1 = a_base + min(row0 + 1u, params.m - 1u) * params.a_row;
    let a2 = a_base + min(row0 + 2u, params.m - 1u) * params.a_row;
    let a3 = a_base + min(row0 + 3u, params.m - 1u) * params.a_row;
    let b0 = b_base + min(col0, params.n - 1u) * params.b_col;
    let b1 = b_base + min(col0 + 1u, params.n - 1u) * params.b_col;
    let b2 = b_base + min(col0 + 2u, params.n - 1u) * params.b_col;
    let b3 = b_base + min(col0 + 3u, params.n - 1u) * params.b_col;
    let a_step = params.a_col;
    let b_step = params.b_row;

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var k = 0u; k < params.k; k++) {
        let ka = k * a_step;
        let kb = k * b_step;
        let bv = vec4<f32>(b[b0 + kb], b[b1 + kb], b[b2 + kb], b[b3 + kb]);
        acc0 = fma(vec4<f32>(a[a0 + ka]), bv, acc0);
        acc1 = fma(vec4<f32>(a[a1 + ka]), bv, acc1);
        acc2 = fma(vec4<f32>(a[a2 + ka]), bv, acc2);
        acc3 = fma(vec4<f32>(a[a3 + ka]), bv, acc3);
    }
    let acc = array<vec4<f32>, TILE>(acc0, acc1, acc2, acc3);

    for (var i = 0u; i < TILE; i++) {
        let row = row0 + i;
        if row >= params.m {
            break;
        }
        for (var j = 0u; j < TILE; j++) {
            let col = col0 + j;
            if col >= params.n {
                break;
            }
            var value = params.alpha * acc[i][j];
            if params.has_bias != 0u {
                value += bias[col];
            }
            c[c_base + row * params.c_row + col] = value;
        }
    }
}
