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
    var a_off: array<u32, TILE>;
    var b_off: array<u32, TILE>;
    for (var t = 0u; t < TILE; t++) {
        a_off[t] = a_base + min(row0 + t, params.m - 1u) * params.a_row;
        b_off[t] = b_base + min(col0 + t, params.n - 1u) * params.b_col;
    }

    var acc: array<array<f32, TILE>, TILE>;
    for (var k = 0u; k < params.k; k++) {
        var av: array<f32, TILE>;
        var bv: array<f32, TILE>;
        for (var t = 0u; t < TILE; t++) {
            av[t] = a[a_off[t] + k * params.a_col];
            bv[t] = b[b_off[t] + k * params.b_row];
        }
        for (var i = 0u; i < TILE; i++) {
            for (var j = 0u; j < TILE; j++) {
                acc[i][j] = fma(av[i], bv[j], acc[i][j]);
            }
        }
    }

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
