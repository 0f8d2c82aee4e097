// C = alpha · A · B (+ bias) for CPU adapters with subgroups: register-blocked like matmul.wgsl
// (same params, bindings, clamping and stores), but each invocation computes 32 rows × 8 columns
// of C and the loads of A are shared through subgroup shuffles.
//
// Why: on llvmpipe every invocation is one SIMD lane, so every storage load or store is an
// 8-lane gather or scatter, and those — not the arithmetic — set the speed (its pure
// multiply-add ceiling is ~4× what this kernel reaches, `examples/fma_ceiling.rs`). So the kernel
// does as many multiply-adds per access as it can: the eight invocations of a row of the
// workgroup need the same 32 values of A at every step of k; where a subgroup holds exactly such
// a row (checked at run time: all of it on the same rows, its active lanes exactly 0 … 7), lane i
// loads rows i, i + 8, i + 16 and i + 24 and the others take them with subgroupShuffle — 12 loads
// (8 of B, 4 of A) for 256 multiply-adds per step, against 16 for 64 in matmul.wgsl. Anywhere
// else (other subgroup sizes or layouts) it loads A row by row, so no subgroup size or layout is
// assumed for the result to be right. The 32 rows are written out by hand: WGSL has no macros, a
// loop over rows would count against llvmpipe's loop cap, and the accumulators must stay
// registers (llvmpipe spills them to its stack, which costs far less than the gathers).
//
// Measured on lavapipe, N = 2048, d = 64 (`examples/stage_times.rs`, alternating runs): Q·Kᵀ
// 8 rows per invocation 79–91 ms, 16 rows 65–73, 24 rows 57–61, 32 rows 52–59, 64 rows 47–51
// (64 rows leave too few workgroups for P·V on machines with more cores).
//
// The workgroup is one-dimensional (naga allows subgroup_invocation_id only there), 64
// invocations laid out as 8 × 8: x = index % 8 (columns), y = index / 8 (rows). Invocations
// whose rows all lie past the edge of C return first; the others clamp edge rows and columns on
// load and skip them on store.
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

// Keep in sync with src/gpu/matmul.rs (WG, TILE, SHUFFLE_ROWS).
const WG_X = 8u;
const WG_Y = 8u;
// columns per invocation
const TILE = 8u;
// rows per invocation
const ROWS = 32u;

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
    let row0 = gid.y * ROWS;
    if row0 >= params.m {
        return; // the whole row of invocations is past the edge of C
    }
    let col0 = gid.x * TILE;
    let outer = batch / params.batch_inner;
    let inner = batch % params.batch_inner;
    let a_base = outer * params.a_batch_outer + inner * params.a_batch_inner;
    let b_base = outer * params.b_batch_outer + inner * params.b_batch_inner;
    let c_base = outer * params.c_batch_outer + inner * params.c_batch_inner;
    // Clamp edge columns so every load is in bounds; their results are never stored.
    let b0 = b_base + min(col0 + 0u, params.n - 1u) * params.b_col;
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
    var acc8l = vec4<f32>(0.0);
    var acc8h = vec4<f32>(0.0);
    var acc9l = vec4<f32>(0.0);
    var acc9h = vec4<f32>(0.0);
    var acc10l = vec4<f32>(0.0);
    var acc10h = vec4<f32>(0.0);
    var acc11l = vec4<f32>(0.0);
    var acc11h = vec4<f32>(0.0);
    var acc12l = vec4<f32>(0.0);
    var acc12h = vec4<f32>(0.0);
    var acc13l = vec4<f32>(0.0);
    var acc13h = vec4<f32>(0.0);
    var acc14l = vec4<f32>(0.0);
    var acc14h = vec4<f32>(0.0);
    var acc15l = vec4<f32>(0.0);
    var acc15h = vec4<f32>(0.0);
    var acc16l = vec4<f32>(0.0);
    var acc16h = vec4<f32>(0.0);
    var acc17l = vec4<f32>(0.0);
    var acc17h = vec4<f32>(0.0);
    var acc18l = vec4<f32>(0.0);
    var acc18h = vec4<f32>(0.0);
    var acc19l = vec4<f32>(0.0);
    var acc19h = vec4<f32>(0.0);
    var acc20l = vec4<f32>(0.0);
    var acc20h = vec4<f32>(0.0);
    var acc21l = vec4<f32>(0.0);
    var acc21h = vec4<f32>(0.0);
    var acc22l = vec4<f32>(0.0);
    var acc22h = vec4<f32>(0.0);
    var acc23l = vec4<f32>(0.0);
    var acc23h = vec4<f32>(0.0);
    var acc24l = vec4<f32>(0.0);
    var acc24h = vec4<f32>(0.0);
    var acc25l = vec4<f32>(0.0);
    var acc25h = vec4<f32>(0.0);
    var acc26l = vec4<f32>(0.0);
    var acc26h = vec4<f32>(0.0);
    var acc27l = vec4<f32>(0.0);
    var acc27h = vec4<f32>(0.0);
    var acc28l = vec4<f32>(0.0);
    var acc28h = vec4<f32>(0.0);
    var acc29l = vec4<f32>(0.0);
    var acc29h = vec4<f32>(0.0);
    var acc30l = vec4<f32>(0.0);
    var acc30h = vec4<f32>(0.0);
    var acc31l = vec4<f32>(0.0);
    var acc31h = vec4<f32>(0.0);
    // Whether this subgroup can share A: every active lane on the same rows, and the active
    // lanes exactly 0 … 7 (eight of them, all numbered below 8: a shuffle from lane i reads
    // lane i's value, so each of them must be present). The same for the whole subgroup, so
    // both loops below run in uniform control flow.
    let same_rows = subgroupAll(subgroupBroadcastFirst(row0) == row0);
    let lanes_0_to_7 = subgroupAdd(1u) == WG_X && subgroupAll(lane < WG_X);
    let share = same_rows && lanes_0_to_7;
    // The rows of A this lane loads for the others: rows lane, lane + 8, … of the block (in the
    // shared loop every lane is below 8; the min only keeps the address in bounds).
    let a_mine0 = a_base + min(row0 + 0u + min(lane, WG_X - 1u), params.m - 1u) * params.a_row;
    let a_mine1 = a_base + min(row0 + 8u + min(lane, WG_X - 1u), params.m - 1u) * params.a_row;
    let a_mine2 = a_base + min(row0 + 16u + min(lane, WG_X - 1u), params.m - 1u) * params.a_row;
    let a_mine3 = a_base + min(row0 + 24u + min(lane, WG_X - 1u), params.m - 1u) * params.a_row;
    if share {
        for (var k = 0u; k < params.k; k++) {
            let ka = k * a_step;
            let kb = k * b_step;
            let bl = vec4<f32>(b[b0 + kb], b[b1 + kb], b[b2 + kb], b[b3 + kb]);
            let bh = vec4<f32>(b[b4 + kb], b[b5 + kb], b[b6 + kb], b[b7 + kb]);
            let mine0 = a[a_mine0 + ka];
            let mine1 = a[a_mine1 + ka];
            let mine2 = a[a_mine2 + ka];
            let mine3 = a[a_mine3 + ka];
            // Row r of the block is lane r % 8's value from its load r / 8.
            let x0 = vec4<f32>(subgroupShuffle(mine0, 0u));
            acc0l = fma(x0, bl, acc0l);
            acc0h = fma(x0, bh, acc0h);
            let x1 = vec4<f32>(subgroupShuffle(mine0, 1u));
            acc1l = fma(x1, bl, acc1l);
            acc1h = fma(x1, bh, acc1h);
            let x2 = vec4<f32>(subgroupShuffle(mine0, 2u));
            acc2l = fma(x2, bl, acc2l);
            acc2h = fma(x2, bh, acc2h);
            let x3 = vec4<f32>(subgroupShuffle(mine0, 3u));
            acc3l = fma(x3, bl, acc3l);
            acc3h = fma(x3, bh, acc3h);
            let x4 = vec4<f32>(subgroupShuffle(mine0, 4u));
            acc4l = fma(x4, bl, acc4l);
            acc4h = fma(x4, bh, acc4h);
            let x5 = vec4<f32>(subgroupShuffle(mine0, 5u));
            acc5l = fma(x5, bl, acc5l);
            acc5h = fma(x5, bh, acc5h);
            let x6 = vec4<f32>(subgroupShuffle(mine0, 6u));
            acc6l = fma(x6, bl, acc6l);
            acc6h = fma(x6, bh, acc6h);
            let x7 = vec4<f32>(subgroupShuffle(mine0, 7u));
            acc7l = fma(x7, bl, acc7l);
            acc7h = fma(x7, bh, acc7h);
            let x8 = vec4<f32>(subgroupShuffle(mine1, 0u));
            acc8l = fma(x8, bl, acc8l);
            acc8h = fma(x8, bh, acc8h);
            let x9 = vec4<f32>(subgroupShuffle(mine1, 1u));
            acc9l = fma(x9, bl, acc9l);
            acc9h = fma(x9, bh, acc9h);
            let x10 = vec4<f32>(subgroupShuffle(mine1, 2u));
            acc10l = fma(x10, bl, acc10l);
            acc10h = fma(x10, bh, acc10h);
            let x11 = vec4<f32>(subgroupShuffle(mine1, 3u));
            acc11l = fma(x11, bl, acc11l);
            acc11h = fma(x11, bh, acc11h);
            let x12 = vec4<f32>(subgroupShuffle(mine1, 4u));
            acc12l = fma(x12, bl, acc12l);
            acc12h = fma(x12, bh, acc12h);
            let x13 = vec4<f32>(subgroupShuffle(mine1, 5u));
            acc13l = fma(x13, bl, acc13l);
            acc13h = fma(x13, bh, acc13h);
            let x14 = vec4<f32>(subgroupShuffle(mine1, 6u));
            acc14l = fma(x14, bl, acc14l);
            acc14h = fma(x14, bh, acc14h);
            let x15 = vec4<f32>(subgroupShuffle(mine1, 7u));
            acc15l = fma(x15, bl, acc15l);
            acc15h = fma(x15, bh, acc15h);
            let x16 = vec4<f32>(subgroupShuffle(mine2, 0u));
            acc16l = fma(x16, bl, acc16l);
            acc16h = fma(x16, bh, acc16h);
            let x17 = vec4<f32>(subgroupShuffle(mine2, 1u));
            acc17l = fma(x17, bl, acc17l);
            acc17h = fma(x17, bh, acc17h);
            let x18 = vec4<f32>(subgroupShuffle(mine2, 2u));
            acc18l = fma(x18, bl, acc18l);
            acc18h = fma(x18, bh, acc18h);
            let x19 = vec4<f32>(subgroupShuffle(mine2, 3u));
            acc19l = fma(x19, bl, acc19l);
            acc19h = fma(x19, bh, acc19h);
            let x20 = vec4<f32>(subgroupShuffle(mine2, 4u));
            acc20l = fma(x20, bl, acc20l);
            acc20h = fma(x20, bh, acc20h);
            let x21 = vec4<f32>(subgroupShuffle(mine2, 5u));
            acc21l = fma(x21, bl, acc21l);
            acc21h = fma(x21, bh, acc21h);
            let x22 = vec4<f32>(subgroupShuffle(mine2, 6u));
            acc22l = fma(x22, bl, acc22l);
            acc22h = fma(x22, bh, acc22h);
            let x23 = vec4<f32>(subgroupShuffle(mine2, 7u));
            acc23l = fma(x23, bl, acc23l);
            acc23h = fma(x23, bh, acc23h);
            let x24 = vec4<f32>(subgroupShuffle(mine3, 0u));
            acc24l = fma(x24, bl, acc24l);
            acc24h = fma(x24, bh, acc24h);
            let x25 = vec4<f32>(subgroupShuffle(mine3, 1u));
            acc25l = fma(x25, bl, acc25l);
            acc25h = fma(x25, bh, acc25h);
            let x26 = vec4<f32>(subgroupShuffle(mine3, 2u));
            acc26l = fma(x26, bl, acc26l);
            acc26h = fma(x26, bh, acc26h);
            let x27 = vec4<f32>(subgroupShuffle(mine3, 3u));
            acc27l = fma(x27, bl, acc27l);
            acc27h = fma(x27, bh, acc27h);
            let x28 = vec4<f32>(subgroupShuffle(mine3, 4u));
            acc28l = fma(x28, bl, acc28l);
            acc28h = fma(x28, bh, acc28h);
            let x29 = vec4<f32>(subgroupShuffle(mine3, 5u));
            acc29l = fma(x29, bl, acc29l);
            acc29h = fma(x29, bh, acc29h);
            let x30 = vec4<f32>(subgroupShuffle(mine3, 6u));
            acc30l = fma(x30, bl, acc30l);
            acc30h = fma(x30, bh, acc30h);
            let x31 = vec4<f32>(subgroupShuffle(mine3, 7u));
            acc31l = fma(x31, bl, acc31l);
            acc31h = fma(x31, bh, acc31h);
        }
    } else {
        for (var k = 0u; k < params.k; k++) {
            let ka = k * a_step;
            let kb = k * b_step;
            let bl = vec4<f32>(b[b0 + kb], b[b1 + kb], b[b2 + kb], b[b3 + kb]);
            let bh = vec4<f32>(b[b4 + kb], b[b5 + kb], b[b6 + kb], b[b7 + kb]);
            let x0 = vec4<f32>(load_a(a_base, row0 + 0u, ka));
            acc0l = fma(x0, bl, acc0l);
            acc0h = fma(x0, bh, acc0h);
            let x1 = vec4<f32>(load_a(a_base, row0 + 1u, ka));
            acc1l = fma(x1, bl, acc1l);
            acc1h = fma(x1, bh, acc1h);
            let x2 = vec4<f32>(load_a(a_base, row0 + 2u, ka));
            acc2l = fma(x2, bl, acc2l);
            acc2h = fma(x2, bh, acc2h);
            let x3 = vec4<f32>(load_a(a_base, row0 + 3u, ka));
            acc3l = fma(x3, bl, acc3l);
            acc3h = fma(x3, bh, acc3h);
            let x4 = vec4<f32>(load_a(a_base, row0 + 4u, ka));
            acc4l = fma(x4, bl, acc4l);
            acc4h = fma(x4, bh, acc4h);
            let x5 = vec4<f32>(load_a(a_base, row0 + 5u, ka));
            acc5l = fma(x5, bl, acc5l);
            acc5h = fma(x5, bh, acc5h);
            let x6 = vec4<f32>(load_a(a_base, row0 + 6u, ka));
            acc6l = fma(x6, bl, acc6l);
            acc6h = fma(x6, bh, acc6h);
            let x7 = vec4<f32>(load_a(a_base, row0 + 7u, ka));
            acc7l = fma(x7, bl, acc7l);
            acc7h = fma(x7, bh, acc7h);
            let x8 = vec4<f32>(load_a(a_base, row0 + 8u, ka));
            acc8l = fma(x8, bl, acc8l);
            acc8h = fma(x8, bh, acc8h);
            let x9 = vec4<f32>(load_a(a_base, row0 + 9u, ka));
            acc9l = fma(x9, bl, acc9l);
            acc9h = fma(x9, bh, acc9h);
            let x10 = vec4<f32>(load_a(a_base, row0 + 10u, ka));
            acc10l = fma(x10, bl, acc10l);
            acc10h = fma(x10, bh, acc10h);
            let x11 = vec4<f32>(load_a(a_base, row0 + 11u, ka));
            acc11l = fma(x11, bl, acc11l);
            acc11h = fma(x11, bh, acc11h);
            let x12 = vec4<f32>(load_a(a_base, row0 + 12u, ka));
            acc12l = fma(x12, bl, acc12l);
            acc12h = fma(x12, bh, acc12h);
            let x13 = vec4<f32>(load_a(a_base, row0 + 13u, ka));
            acc13l = fma(x13, bl, acc13l);
            acc13h = fma(x13, bh, acc13h);
            let x14 = vec4<f32>(load_a(a_base, row0 + 14u, ka));
            acc14l = fma(x14, bl, acc14l);
            acc14h = fma(x14, bh, acc14h);
            let x15 = vec4<f32>(load_a(a_base, row0 + 15u, ka));
            acc15l = fma(x15, bl, acc15l);
            acc15h = fma(x15, bh, acc15h);
            let x16 = vec4<f32>(load_a(a_base, row0 + 16u, ka));
            acc16l = fma(x16, bl, acc16l);
            acc16h = fma(x16, bh, acc16h);
            let x17 = vec4<f32>(load_a(a_base, row0 + 17u, ka));
            acc17l = fma(x17, bl, acc17l);
            acc17h = fma(x17, bh, acc17h);
            let x18 = vec4<f32>(load_a(a_base, row0 + 18u, ka));
            acc18l = fma(x18, bl, acc18l);
            acc18h = fma(x18, bh, acc18h);
            let x19 = vec4<f32>(load_a(a_base, row0 + 19u, ka));
            acc19l = fma(x19, bl, acc19l);
            acc19h = fma(x19, bh, acc19h);
            let x20 = vec4<f32>(load_a(a_base, row0 + 20u, ka));
            acc20l = fma(x20, bl, acc20l);
            acc20h = fma(x20, bh, acc20h);
            let x21 = vec4<f32>(load_a(a_base, row0 + 21u, ka));
            acc21l = fma(x21, bl, acc21l);
            acc21h = fma(x21, bh, acc21h);
            let x22 = vec4<f32>(load_a(a_base, row0 + 22u, ka));
            acc22l = fma(x22, bl, acc22l);
            acc22h = fma(x22, bh, acc22h);
            let x23 = vec4<f32>(load_a(a_base, row0 + 23u, ka));
            acc23l = fma(x23, bl, acc23l);
            acc23h = fma(x23, bh, acc23h);
            let x24 = vec4<f32>(load_a(a_base, row0 + 24u, ka));
            acc24l = fma(x24, bl, acc24l);
            acc24h = fma(x24, bh, acc24h);
            let x25 = vec4<f32>(load_a(a_base, row0 + 25u, ka));
            acc25l = fma(x25, bl, acc25l);
            acc25h = fma(x25, bh, acc25h);
            let x26 = vec4<f32>(load_a(a_base, row0 + 26u, ka));
            acc26l = fma(x26, bl, acc26l);
            acc26h = fma(x26, bh, acc26h);
            let x27 = vec4<f32>(load_a(a_base, row0 + 27u, ka));
            acc27l = fma(x27, bl, acc27l);
            acc27h = fma(x27, bh, acc27h);
            let x28 = vec4<f32>(load_a(a_base, row0 + 28u, ka));
            acc28l = fma(x28, bl, acc28l);
            acc28h = fma(x28, bh, acc28h);
            let x29 = vec4<f32>(load_a(a_base, row0 + 29u, ka));
            acc29l = fma(x29, bl, acc29l);
            acc29h = fma(x29, bh, acc29h);
            let x30 = vec4<f32>(load_a(a_base, row0 + 30u, ka));
            acc30l = fma(x30, bl, acc30l);
            acc30h = fma(x30, bh, acc30h);
            let x31 = vec4<f32>(load_a(a_base, row0 + 31u, ka));
            acc31l = fma(x31, bl, acc31l);
            acc31h = fma(x31, bh, acc31h);
        }
    }
    store_row(c_base, row0 + 0u, col0, acc0l, acc0h);
    store_row(c_base, row0 + 1u, col0, acc1l, acc1h);
    store_row(c_base, row0 + 2u, col0, acc2l, acc2h);
    store_row(c_base, row0 + 3u, col0, acc3l, acc3h);
    store_row(c_base, row0 + 4u, col0, acc4l, acc4h);
    store_row(c_base, row0 + 5u, col0, acc5l, acc5h);
    store_row(c_base, row0 + 6u, col0, acc6l, acc6h);
    store_row(c_base, row0 + 7u, col0, acc7l, acc7h);
    store_row(c_base, row0 + 8u, col0, acc8l, acc8h);
    store_row(c_base, row0 + 9u, col0, acc9l, acc9h);
    store_row(c_base, row0 + 10u, col0, acc10l, acc10h);
    store_row(c_base, row0 + 11u, col0, acc11l, acc11h);
    store_row(c_base, row0 + 12u, col0, acc12l, acc12h);
    store_row(c_base, row0 + 13u, col0, acc13l, acc13h);
    store_row(c_base, row0 + 14u, col0, acc14l, acc14h);
    store_row(c_base, row0 + 15u, col0, acc15l, acc15h);
    store_row(c_base, row0 + 16u, col0, acc16l, acc16h);
    store_row(c_base, row0 + 17u, col0, acc17l, acc17h);
    store_row(c_base, row0 + 18u, col0, acc18l, acc18h);
    store_row(c_base, row0 + 19u, col0, acc19l, acc19h);
    store_row(c_base, row0 + 20u, col0, acc20l, acc20h);
    store_row(c_base, row0 + 21u, col0, acc21l, acc21h);
    store_row(c_base, row0 + 22u, col0, acc22l, acc22h);
    store_row(c_base, row0 + 23u, col0, acc23l, acc23h);
    store_row(c_base, row0 + 24u, col0, acc24l, acc24h);
    store_row(c_base, row0 + 25u, col0, acc25l, acc25h);
    store_row(c_base, row0 + 26u, col0, acc26l, acc26h);
    store_row(c_base, row0 + 27u, col0, acc27l, acc27h);
    store_row(c_base, row0 + 28u, col0, acc28l, acc28h);
    store_row(c_base, row0 + 29u, col0, acc29l, acc29h);
    store_row(c_base, row0 + 30u, col0, acc30l, acc30h);
    store_row(c_base, row0 + 31u, col0, acc31l, acc31h);
}

// A(row, ·) at offset ka, the row clamped to the last one (for the rows past the edge of C,
// whose results are never stored).
fn load_a(a_base: u32, row: u32, ka: u32) -> f32 {
    return a[a_base + min(row, params.m - 1u) * params.a_row + ka];
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
