// C = alpha · A · B (+ bias), batched and strided: the projections (X·W), the scores (Q·Kᵀ, by
// swapping B's strides) and the weighted sum (P·V) are all this one kernel.
//
// Each invocation computes a TILE×TILE block of C in registers (register blocking): it loads
// TILE values of A and TILE of B per step of k and does TILE² fused multiply-adds. There is no
// workgroup memory and no barrier, which suits CPU adapters such as lavapipe where barriers are
// very expensive (DESIGN.md §6). An 8×8 tile halves the loads per multiply-add of a 4×4 one: on
// lavapipe it took Q·Kᵀ at N = 2048, d = 64 from 181 to 108 ms and P·V from 154 to 87 ms
// (examples/stage_times.rs). Rows/columns past the edge are clamped on load and skipped on store,
// so any m, n, k ≥ 1 works.
//
// CPU twin: src/cpu/matmul.rs.

#import matmul_bindings

const WG_X = 8u;
const WG_Y = 8u;
const TILE = 8u;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn matmul(@builtin(global_invocation_id) gid: vec3<u32>) {
    let batch = gid.z + params.batch_offset;
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
    let a_base = params.a_base + outer * params.a_batch_outer + inner * params.a_batch_inner;
    let b_base = outer * params.b_batch_outer + inner * params.b_batch_inner;
    let c_base = outer * params.c_batch_outer + inner * params.c_batch_inner;

    // Clamp edge rows/columns so every load is in bounds; their results are never stored.
    // The 8×8 tile is spelled out (sixteen vec4 accumulators, a low and a high half per row, no
    // dynamically indexed private arrays): CPU adapters turn dynamically indexed private arrays
    // into memory traffic.
    let a0 = a_base + min(row0, params.m - 1u) * params.a_row;
    let a1 = a_base + min(row0 + 1u, params.m - 1u) * params.a_row;
    let a2 = a_base + min(row0 + 2u, params.m - 1u) * params.a_row;
    let a3 = a_base + min(row0 + 3u, params.m - 1u) * params.a_row;
    let a4 = a_base + min(row0 + 4u, params.m - 1u) * params.a_row;
    let a5 = a_base + min(row0 + 5u, params.m - 1u) * params.a_row;
    let a6 = a_base + min(row0 + 6u, params.m - 1u) * params.a_row;
    let a7 = a_base + min(row0 + 7u, params.m - 1u) * params.a_row;
    let b0 = b_base + min(col0, params.n - 1u) * params.b_col;
    let b1 = b_base + min(col0 + 1u, params.n - 1u) * params.b_col;
    let b2 = b_base + min(col0 + 2u, params.n - 1u) * params.b_col;
    let b3 = b_base + min(col0 + 3u, params.n - 1u) * params.b_col;
    let b4 = b_base + min(col0 + 4u, params.n - 1u) * params.b_col;
    let b5 = b_base + min(col0 + 5u, params.n - 1u) * params.b_col;
    let b6 = b_base + min(col0 + 6u, params.n - 1u) * params.b_col;
    let b7 = b_base + min(col0 + 7u, params.n - 1u) * params.b_col;
    let a_step = params.a_col;
    let b_step = params.b_row;

    var acc0l = vec4<f32>(0.0);
    var acc0h = vec4<f32>(0.0);
    var acc1l = vec4<f32>(0.0);
    var acc1h = vec4<f32>(0.0);
    var acc2l = vec4<f32>(0.0);
    var acc2h = vec4<f32>(0.0);
    var acc3l = vec4<f32>(0.0);
    var acc3h = vec4<f32>(0.0);
    var acc4l = vec4<f32>(0.0);
    var acc4h = vec4<f32>(0.0);
    var acc5l = vec4<f32>(0.0);
    var acc5h = vec4<f32>(0.0);
    var acc6l = vec4<f32>(0.0);
    var acc6h = vec4<f32>(0.0);
    var acc7l = vec4<f32>(0.0);
    var acc7h = vec4<f32>(0.0);
    for (var k = 0u; k < params.k; k++) {
        let ka = k * a_step;
        let kb = k * b_step;
        let bl = vec4<f32>(b[b0 + kb], b[b1 + kb], b[b2 + kb], b[b3 + kb]);
        let bh = vec4<f32>(b[b4 + kb], b[b5 + kb], b[b6 + kb], b[b7 + kb]);
        let x0 = vec4<f32>(a[a0 + ka]);
        acc0l = fma(x0, bl, acc0l);
        acc0h = fma(x0, bh, acc0h);
        let x1 = vec4<f32>(a[a1 + ka]);
        acc1l = fma(x1, bl, acc1l);
        acc1h = fma(x1, bh, acc1h);
        let x2 = vec4<f32>(a[a2 + ka]);
        acc2l = fma(x2, bl, acc2l);
        acc2h = fma(x2, bh, acc2h);
        let x3 = vec4<f32>(a[a3 + ka]);
        acc3l = fma(x3, bl, acc3l);
        acc3h = fma(x3, bh, acc3h);
        let x4 = vec4<f32>(a[a4 + ka]);
        acc4l = fma(x4, bl, acc4l);
        acc4h = fma(x4, bh, acc4h);
        let x5 = vec4<f32>(a[a5 + ka]);
        acc5l = fma(x5, bl, acc5l);
        acc5h = fma(x5, bh, acc5h);
        let x6 = vec4<f32>(a[a6 + ka]);
        acc6l = fma(x6, bl, acc6l);
        acc6h = fma(x6, bh, acc6h);
        let x7 = vec4<f32>(a[a7 + ka]);
        acc7l = fma(x7, bl, acc7l);
        acc7h = fma(x7, bh, acc7h);
    }
    store_row(c_base, row0, col0, acc0l, acc0h);
    store_row(c_base, row0 + 1u, col0, acc1l, acc1h);
    store_row(c_base, row0 + 2u, col0, acc2l, acc2h);
    store_row(c_base, row0 + 3u, col0, acc3l, acc3h);
    store_row(c_base, row0 + 4u, col0, acc4l, acc4h);
    store_row(c_base, row0 + 5u, col0, acc5l, acc5h);
    store_row(c_base, row0 + 6u, col0, acc6l, acc6h);
    store_row(c_base, row0 + 7u, col0, acc7l, acc7h);
}

// Writes one row of the tile (columns col0 … col0 + 7, from the two accumulators), skipping
// what lies past the edge of C.
fn store_row(c_base: u32, row: u32, col0: u32, low: vec4<f32>, high: vec4<f32>) {
    if row >= params.m {
        return;
    }
    for (var j = 0u; j < TILE; j++) {
        let col = col0 + j;
        if col >= params.n {
            break;
        }
        var value = params.alpha * select(high[j % 4u], low[j % 4u], j < 4u);
        if params.has_bias != 0u {
            value += bias[col];
        }
        c[c_base + row * params.c_row + col] = value;
    }
}
