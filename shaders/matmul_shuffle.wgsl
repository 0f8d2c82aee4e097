// C = alpha · A · B (+ bias): the register-blocked matmul.wgsl (8×8 outputs per invocation, the
// same params, bindings, clamping and stores), with the loads of A shared through subgroup
// shuffles. The eight invocations of a row of the workgroup need the same eight values of A at
// every step of k; on a CPU adapter each of those loads is a gather across the SIMD lanes. Here,
// where a subgroup holds exactly such a row (checked at run time: all of it on the same rows,
// its active lanes exactly 0 … 7), lane i loads row i's value once and the others take it with
// subgroupShuffle: 9 loads per step instead of 16. Anywhere else (other subgroup sizes or
// layouts) it loads A as matmul.wgsl does, so no subgroup size or layout is assumed for the
// result to be right.
//
// The workgroup is one-dimensional (naga allows subgroup_invocation_id only there), 64
// invocations laid out as 8 × 8: x = index % 8, y = index / 8. No invocation returns early
// before the shuffles (edges are clamped on load and skipped on store), so every lane a shuffle
// reads is active.
//
// Chosen on CPU adapters with subgroups (lavapipe): Q·Kᵀ at N = 2048, d = 64 took 182–190 ms
// against matmul.wgsl's 241–258 in one alternating run (`examples/stage_times.rs`, both cores
// also busy with a build).
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
    // first matrix of this dispatch (the executor splits more than 65,535 matrices into
    // several dispatches; 0 otherwise)
    batch_offset: u32,
    _pad0: u32,
}

// Keep in sync with src/gpu/matmul.rs (WG, TILE).
const WG_X = 8u;
const WG_Y = 8u;
const TILE = 8u;

@group(0) @binding(0) var<uniform> params: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

@compute @workgroup_size(WG_X * WG_Y, 1, 1)
fn matmul_shuffle(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let gid = vec3<u32>(wid.x * WG_X + lid % WG_X, wid.y * WG_Y + lid / WG_X, wid.z);
    let batch = gid.z + params.batch_offset;
    if batch >= params.batch_outer * params.batch_inner {
        return;
    }
    let row0 = gid.y * TILE;
    let col0 = gid.x * TILE;
    let outer = batch / params.batch_inner;
    let inner = batch % params.batch_inner;
    let a_base = outer * params.a_batch_outer + inner * params.a_batch_inner;
    let b_base = outer * params.b_batch_outer + inner * params.b_batch_inner;
    let c_base = outer * params.c_batch_outer + inner * params.c_batch_inner;

    // Clamp edge rows/columns so every load is in bounds; their results are never stored.
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
    // Whether this subgroup can share A: every active lane on the same 8 rows, and the active
    // lanes exactly 0 … 7 (eight of them, all numbered below 8: a shuffle from lane i reads row
    // i's value, so each of them must be present). The same for the whole subgroup, so both
    // loops below run in uniform control flow.
    let same_rows = subgroupAll(subgroupBroadcastFirst(row0) == row0);
    let lanes_0_to_7 = subgroupAdd(1u) == TILE && subgroupAll(lane < TILE);
    let share = same_rows && lanes_0_to_7;
    // The row of A this lane loads for the others (in the shared loop every lane is below 8; the
    // min only keeps the address in bounds).
    let a_mine = a_base + min(row0 + min(lane, TILE - 1u), params.m - 1u) * params.a_row;
    if share {
        for (var k = 0u; k < params.k; k++) {
            let ka = k * a_step;
            let kb = k * b_step;
            let bl = vec4<f32>(b[b0 + kb], b[b1 + kb], b[b2 + kb], b[b3 + kb]);
            let bh = vec4<f32>(b[b4 + kb], b[b5 + kb], b[b6 + kb], b[b7 + kb]);
            let mine = a[a_mine + ka];
            let x0 = vec4<f32>(subgroupShuffle(mine, 0u));
            acc0l = fma(x0, bl, acc0l);
            acc0h = fma(x0, bh, acc0h);
            let x1 = vec4<f32>(subgroupShuffle(mine, 1u));
            acc1l = fma(x1, bl, acc1l);
            acc1h = fma(x1, bh, acc1h);
            let x2 = vec4<f32>(subgroupShuffle(mine, 2u));
            acc2l = fma(x2, bl, acc2l);
            acc2h = fma(x2, bh, acc2h);
            let x3 = vec4<f32>(subgroupShuffle(mine, 3u));
            acc3l = fma(x3, bl, acc3l);
            acc3h = fma(x3, bh, acc3h);
            let x4 = vec4<f32>(subgroupShuffle(mine, 4u));
            acc4l = fma(x4, bl, acc4l);
            acc4h = fma(x4, bh, acc4h);
            let x5 = vec4<f32>(subgroupShuffle(mine, 5u));
            acc5l = fma(x5, bl, acc5l);
            acc5h = fma(x5, bh, acc5h);
            let x6 = vec4<f32>(subgroupShuffle(mine, 6u));
            acc6l = fma(x6, bl, acc6l);
            acc6h = fma(x6, bh, acc6h);
            let x7 = vec4<f32>(subgroupShuffle(mine, 7u));
            acc7l = fma(x7, bl, acc7l);
            acc7h = fma(x7, bh, acc7h);
        }
    } else {
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
