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
// assumed for the result to be right. The 32 rows are unrolled, not looped over: a
// loop over rows would count against llvmpipe's loop cap, and the accumulators must stay
// registers (llvmpipe spills them to its stack, which costs far less than the gathers). The
// `#for r in 0..ROWS` blocks are written out once per row by src/shader_source.rs before naga
// sees the shader (`cargo run --example expand_shader -- shaders/matmul_shuffle.wgsl`), so ROWS
// (a multiple of WG_X) is a parameter of this file; TILE = 8 is tied to the two vec4
// accumulators per row.
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

#import matmul_bindings

// Keep in sync with src/kernels/matmul.rs (WG, TILE, SHUFFLE_ROWS).
const WG_X = 8u;
const WG_Y = 8u;
// columns per invocation
const TILE = 8u;
// rows per invocation
const ROWS = 32u;

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
    let a_base = params.a_base + outer * params.a_batch_outer + inner * params.a_batch_inner;
    let b_base = outer * params.b_batch_outer + inner * params.b_batch_inner;
    let c_base = outer * params.c_batch_outer + inner * params.c_batch_inner;
    // Clamp edge columns so every load is in bounds; their results are never stored.
#for c in 0..TILE
    let b${c} = b_base + min(col0 + ${c}u, params.n - 1u) * params.b_col;
#end
    let a_step = params.a_col;
    let b_step = params.b_row;
#for r in 0..ROWS
    var acc${r}l = vec4<f32>(0.0);
    var acc${r}h = vec4<f32>(0.0);
#end
    // Whether this subgroup can share A: every active lane on the same rows, and the active
    // lanes exactly 0 … 7 (eight of them, all numbered below 8: a shuffle from lane i reads
    // lane i's value, so each of them must be present). The same for the whole subgroup, so
    // both loops below run in uniform control flow.
    let same_rows = subgroupAll(subgroupBroadcastFirst(row0) == row0);
    let lanes_0_to_7 = subgroupAdd(1u) == WG_X && subgroupAll(lane < WG_X);
    let share = same_rows && lanes_0_to_7;
    // The rows of A this lane loads for the others: rows lane, lane + 8, … of the block (in the
    // shared loop every lane is below 8; the min only keeps the address in bounds).
#for j in 0..ROWS / WG_X
    let a_mine${j} = a_base + min(row0 + ${j * WG_X}u + min(lane, WG_X - 1u), params.m - 1u) * params.a_row;
#end
    if share {
        for (var k = 0u; k < params.k; k++) {
            let ka = k * a_step;
            let kb = k * b_step;
            let bl = vec4<f32>(b[b0 + kb], b[b1 + kb], b[b2 + kb], b[b3 + kb]);
            let bh = vec4<f32>(b[b4 + kb], b[b5 + kb], b[b6 + kb], b[b7 + kb]);
#for j in 0..ROWS / WG_X
            let mine${j} = a[a_mine${j} + ka];
#end
            // Row r of the block is lane r % 8's value from its load r / 8.
#for r in 0..ROWS
            let x${r} = vec4<f32>(subgroupShuffle(mine${r / WG_X}, ${r % WG_X}u));
            acc${r}l = fma(x${r}, bl, acc${r}l);
            acc${r}h = fma(x${r}, bh, acc${r}h);
#end
        }
    } else {
        for (var k = 0u; k < params.k; k++) {
            let ka = k * a_step;
            let kb = k * b_step;
            let bl = vec4<f32>(b[b0 + kb], b[b1 + kb], b[b2 + kb], b[b3 + kb]);
            let bh = vec4<f32>(b[b4 + kb], b[b5 + kb], b[b6 + kb], b[b7 + kb]);
#for r in 0..ROWS
            let x${r} = vec4<f32>(load_a(a_base, row0 + ${r}u, ka));
            acc${r}l = fma(x${r}, bl, acc${r}l);
            acc${r}h = fma(x${r}, bh, acc${r}h);
#end
        }
    }
#for r in 0..ROWS
    store_row(c_base, row0 + ${r}u, col0, acc${r}l, acc${r}h);
#end
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
