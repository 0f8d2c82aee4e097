// Output-only attention with an online softmax for CPU adapters with subgroups (lavapipe):
// flash.wgsl's recurrence, parameters, bindings, masks, key blocks and state layout, computed
// the way matmul_shuffle.wgsl computes a product — many multiply-adds per storage access, the
// values the lanes share passed through subgroup operations, no workgroup memory, no barriers.
//
// Why: on llvmpipe each invocation is one SIMD lane, every storage access an 8-lane gather, and
// barriers are very expensive (DESIGN.md §6); flash.wgsl makes one access per multiply-add and
// flash_tiled.wgsl pays for its barriers. Here a workgroup is one subgroup of WG = 8 lanes that
// owns ROWS = 32 query rows and CHUNK = 64 output columns (COLS = 8 per lane) of one matrix, and
// walks the keys in tiles of 32 (KEYS = 4 per lane):
//
//   1. scores: lane i computes S = scale·Q·Kᵀ for the ROWS rows and its keys 4i … 4i + 3 — per
//      step of d, four loads of K and ROWS / 8 loads of Q (lane i loads rows i, i + 8, …, the
//      others take them with subgroupShuffle) for 4·ROWS multiply-adds; then the masks;
//   2. softmax: the tile's row maxima and sums come from subgroupMax / subgroupAdd, so each
//      lane takes exp of its own scores only; the running max m, sum l and the rescaling of the
//      accumulator are those of flash.wgsl;
//   3. P·V: lane i owns columns 8i … 8i + 7 of the ROWS rows' accumulators in registers; for
//      each key it loads 8 values of V and takes the rows' weights from the lane that computed
//      them (subgroupShuffle) — 8 loads per 8·ROWS multiply-adds.
//
// The 32 rows and each lane's 4 keys are written out one by one (by a generator script, as
// matmul_shuffle.wgsl's rows): WGSL has no macros, a loop over rows would count against
// llvmpipe's loop cap, and the accumulators must stay registers. So ROWS, WG and KEYS cannot
// change without writing the body out again.
//
// The kernel needs its 8 invocations to form one subgroup with lanes 0 … 7 (a subgroup of 8
// or more, as on lavapipe; src/gpu/flash.rs chooses it only where subgroups are at least 8
// wide). It checks that at run time, and where it does not hold it writes NaN to its outputs
// and state rather than a wrong number, so verification fails loudly.
//
// Rows past l, keys past key_end and columns past d_v are clamped on load, masked, and never
// stored; tiles past the causal diagonal of the last row are skipped. Excluded keys score
// LOWEST, and a row with no allowed key yet keeps m = LOWEST, so its weights are zero (the state
// it leaves has found = 0 and m = LOWEST, where flash.wgsl leaves m = 0: readers look at found).
// An excluded key's V row is still multiplied by its zero weight, as in the weights path's P·V:
// inputs are checked finite on the way in, so that is the same as skipping it.
//
// CPU twin: src/cpu/flash.rs (the same step as flash.wgsl).


// Keep in sync with `FlashParams` in src/gpu/flash.rs (and flash.wgsl).
struct FlashParams {
    // queries, keys, query/key width, value width
    l: u32,
    s: u32,
    d: u32,
    dv: u32,
    scale: f32,
    causal: u32,
    causal_offset: i32,
    // matrix z is batch element z / heads, head z % heads
    heads: u32,
    batch: u32,
    has_mask: u32,
    has_padding: u32,
    padding_batch: u32,
    mask_batch: u32,
    mask_head: u32,
    mask_row: u32,
    // Q(i, t) = q[outer * q_batch_outer + inner * q_batch_inner + i * q_row + t], likewise K, V, O
    q_row: u32,
    q_batch_outer: u32,
    q_batch_inner: u32,
    k_row: u32,
    k_batch_outer: u32,
    k_batch_inner: u32,
    v_row: u32,
    v_batch_outer: u32,
    v_batch_inner: u32,
    o_row: u32,
    o_batch_outer: u32,
    o_batch_inner: u32,
    // this dispatch's keys, and whether it starts (1) / finishes (1) the recurrence
    key_begin: u32,
    key_end: u32,
    first: u32,
    last: u32,
    // first matrix of this dispatch (the executor splits more than 65,535 matrices into
    // several dispatches; 0 otherwise)
    batch_offset: u32,
}


// Keep in sync with src/gpu/flash.rs (SHUFFLE_WG, SHUFFLE_ROWS, SHUFFLE_KEYS, CHUNK).
const WG = 8u;
// query rows per workgroup
const ROWS = 32u;
// keys per lane per tile, and per tile
const KEYS = 4u;
const TILE_KEYS = 32u;
// output columns per lane, and per workgroup (flash.wgsl's CHUNK)
const COLS = 8u;
const CHUNK = 64u;
const MASKED_BELOW = -1e30;
const LOWEST = -3.4028235e38;

@group(0) @binding(0) var<uniform> params: FlashParams;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;
@group(0) @binding(5) var<storage, read> padding: array<f32>;
// (m, l, found) per query row, matrix and output chunk (flash.wgsl's layout)
@group(0) @binding(6) var<storage, read_write> state: array<f32>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn flash_shuffle(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let z = wid.z + params.batch_offset;
    let row0 = wid.x * ROWS;
    let c0 = wid.y * CHUNK;
    if z >= params.batch || row0 >= params.l || c0 >= params.dv {
        return; // the whole workgroup
    }
    let last_row = min(row0 + ROWS, params.l) - 1u;
    let chunks = (params.dv + CHUNK - 1u) / CHUNK;
    let outer = z / params.heads;
    let inner = z % params.heads;
    let o_base = outer * params.o_batch_outer + inner * params.o_batch_inner;
    // Every lane 0 … 7 present in this subgroup, and nobody else: the same for all of it.
    if !(subgroupAdd(1u) == WG && subgroupAll(lane < WG)) {
        fail(o_base, row0, last_row, c0 + lid * COLS, z, chunks, wid.y);
        return;
    }
    let q_base = outer * params.q_batch_outer + inner * params.q_batch_inner;
    let k_base = outer * params.k_batch_outer + inner * params.k_batch_inner;
    let v_base = outer * params.v_batch_outer + inner * params.v_batch_inner;
    let mask_base = outer * params.mask_batch + inner * params.mask_head;
    let padding_base = outer * params.padding_batch;
    // The rows of Q this lane loads for the others: rows lane, lane + 8, … of the block.
    let q_mine0 = q_base + min(row0 + 0u + lane, last_row) * params.q_row;
    let q_mine1 = q_base + min(row0 + 8u + lane, last_row) * params.q_row;
    let q_mine2 = q_base + min(row0 + 16u + lane, last_row) * params.q_row;
    let q_mine3 = q_base + min(row0 + 24u + lane, last_row) * params.q_row;
    // This lane's output columns (clamped for loads; stores skip the ones past d_v).
    let col0 = c0 + lane * COLS;
    let vc0 = min(col0 + 0u, params.dv - 1u);
    let vc1 = min(col0 + 1u, params.dv - 1u);
    let vc2 = min(col0 + 2u, params.dv - 1u);
    let vc3 = min(col0 + 3u, params.dv - 1u);
    let vc4 = min(col0 + 4u, params.dv - 1u);
    let vc5 = min(col0 + 5u, params.dv - 1u);
    let vc6 = min(col0 + 6u, params.dv - 1u);
    let vc7 = min(col0 + 7u, params.dv - 1u);
    var m0 = LOWEST;
    var l0 = 0.0;
    var acc0l = vec4<f32>(0.0);
    var acc0h = vec4<f32>(0.0);
    var m1 = LOWEST;
    var l1 = 0.0;
    var acc1l = vec4<f32>(0.0);
    var acc1h = vec4<f32>(0.0);
    var m2 = LOWEST;
    var l2 = 0.0;
    var acc2l = vec4<f32>(0.0);
    var acc2h = vec4<f32>(0.0);
    var m3 = LOWEST;
    var l3 = 0.0;
    var acc3l = vec4<f32>(0.0);
    var acc3h = vec4<f32>(0.0);
    var m4 = LOWEST;
    var l4 = 0.0;
    var acc4l = vec4<f32>(0.0);
    var acc4h = vec4<f32>(0.0);
    var m5 = LOWEST;
    var l5 = 0.0;
    var acc5l = vec4<f32>(0.0);
    var acc5h = vec4<f32>(0.0);
    var m6 = LOWEST;
    var l6 = 0.0;
    var acc6l = vec4<f32>(0.0);
    var acc6h = vec4<f32>(0.0);
    var m7 = LOWEST;
    var l7 = 0.0;
    var acc7l = vec4<f32>(0.0);
    var acc7h = vec4<f32>(0.0);
    var m8 = LOWEST;
    var l8 = 0.0;
    var acc8l = vec4<f32>(0.0);
    var acc8h = vec4<f32>(0.0);
    var m9 = LOWEST;
    var l9 = 0.0;
    var acc9l = vec4<f32>(0.0);
    var acc9h = vec4<f32>(0.0);
    var m10 = LOWEST;
    var l10 = 0.0;
    var acc10l = vec4<f32>(0.0);
    var acc10h = vec4<f32>(0.0);
    var m11 = LOWEST;
    var l11 = 0.0;
    var acc11l = vec4<f32>(0.0);
    var acc11h = vec4<f32>(0.0);
    var m12 = LOWEST;
    var l12 = 0.0;
    var acc12l = vec4<f32>(0.0);
    var acc12h = vec4<f32>(0.0);
    var m13 = LOWEST;
    var l13 = 0.0;
    var acc13l = vec4<f32>(0.0);
    var acc13h = vec4<f32>(0.0);
    var m14 = LOWEST;
    var l14 = 0.0;
    var acc14l = vec4<f32>(0.0);
    var acc14h = vec4<f32>(0.0);
    var m15 = LOWEST;
    var l15 = 0.0;
    var acc15l = vec4<f32>(0.0);
    var acc15h = vec4<f32>(0.0);
    var m16 = LOWEST;
    var l16 = 0.0;
    var acc16l = vec4<f32>(0.0);
    var acc16h = vec4<f32>(0.0);
    var m17 = LOWEST;
    var l17 = 0.0;
    var acc17l = vec4<f32>(0.0);
    var acc17h = vec4<f32>(0.0);
    var m18 = LOWEST;
    var l18 = 0.0;
    var acc18l = vec4<f32>(0.0);
    var acc18h = vec4<f32>(0.0);
    var m19 = LOWEST;
    var l19 = 0.0;
    var acc19l = vec4<f32>(0.0);
    var acc19h = vec4<f32>(0.0);
    var m20 = LOWEST;
    var l20 = 0.0;
    var acc20l = vec4<f32>(0.0);
    var acc20h = vec4<f32>(0.0);
    var m21 = LOWEST;
    var l21 = 0.0;
    var acc21l = vec4<f32>(0.0);
    var acc21h = vec4<f32>(0.0);
    var m22 = LOWEST;
    var l22 = 0.0;
    var acc22l = vec4<f32>(0.0);
    var acc22h = vec4<f32>(0.0);
    var m23 = LOWEST;
    var l23 = 0.0;
    var acc23l = vec4<f32>(0.0);
    var acc23h = vec4<f32>(0.0);
    var m24 = LOWEST;
    var l24 = 0.0;
    var acc24l = vec4<f32>(0.0);
    var acc24h = vec4<f32>(0.0);
    var m25 = LOWEST;
    var l25 = 0.0;
    var acc25l = vec4<f32>(0.0);
    var acc25h = vec4<f32>(0.0);
    var m26 = LOWEST;
    var l26 = 0.0;
    var acc26l = vec4<f32>(0.0);
    var acc26h = vec4<f32>(0.0);
    var m27 = LOWEST;
    var l27 = 0.0;
    var acc27l = vec4<f32>(0.0);
    var acc27h = vec4<f32>(0.0);
    var m28 = LOWEST;
    var l28 = 0.0;
    var acc28l = vec4<f32>(0.0);
    var acc28h = vec4<f32>(0.0);
    var m29 = LOWEST;
    var l29 = 0.0;
    var acc29l = vec4<f32>(0.0);
    var acc29h = vec4<f32>(0.0);
    var m30 = LOWEST;
    var l30 = 0.0;
    var acc30l = vec4<f32>(0.0);
    var acc30h = vec4<f32>(0.0);
    var m31 = LOWEST;
    var l31 = 0.0;
    var acc31l = vec4<f32>(0.0);
    var acc31h = vec4<f32>(0.0);
    if params.first == 0u {
        // Resume from the previous key block: (m, l, found) and the unnormalised sums.
        let sb0 = state_base(min(row0 + 0u, last_row), z, chunks, wid.y);
        m0 = select(LOWEST, state[sb0], state[sb0 + 2u] != 0.0);
        l0 = state[sb0 + 1u];
        acc0l = load_low(o_base + min(row0 + 0u, last_row) * params.o_row, col0);
        acc0h = load_high(o_base + min(row0 + 0u, last_row) * params.o_row, col0);
        let sb1 = state_base(min(row0 + 1u, last_row), z, chunks, wid.y);
        m1 = select(LOWEST, state[sb1], state[sb1 + 2u] != 0.0);
        l1 = state[sb1 + 1u];
        acc1l = load_low(o_base + min(row0 + 1u, last_row) * params.o_row, col0);
        acc1h = load_high(o_base + min(row0 + 1u, last_row) * params.o_row, col0);
        let sb2 = state_base(min(row0 + 2u, last_row), z, chunks, wid.y);
        m2 = select(LOWEST, state[sb2], state[sb2 + 2u] != 0.0);
        l2 = state[sb2 + 1u];
        acc2l = load_low(o_base + min(row0 + 2u, last_row) * params.o_row, col0);
        acc2h = load_high(o_base + min(row0 + 2u, last_row) * params.o_row, col0);
        let sb3 = state_base(min(row0 + 3u, last_row), z, chunks, wid.y);
        m3 = select(LOWEST, state[sb3], state[sb3 + 2u] != 0.0);
        l3 = state[sb3 + 1u];
        acc3l = load_low(o_base + min(row0 + 3u, last_row) * params.o_row, col0);
        acc3h = load_high(o_base + min(row0 + 3u, last_row) * params.o_row, col0);
        let sb4 = state_base(min(row0 + 4u, last_row), z, chunks, wid.y);
        m4 = select(LOWEST, state[sb4], state[sb4 + 2u] != 0.0);
        l4 = state[sb4 + 1u];
        acc4l = load_low(o_base + min(row0 + 4u, last_row) * params.o_row, col0);
        acc4h = load_high(o_base + min(row0 + 4u, last_row) * params.o_row, col0);
        let sb5 = state_base(min(row0 + 5u, last_row), z, chunks, wid.y);
        m5 = select(LOWEST, state[sb5], state[sb5 + 2u] != 0.0);
        l5 = state[sb5 + 1u];
        acc5l = load_low(o_base + min(row0 + 5u, last_row) * params.o_row, col0);
        acc5h = load_high(o_base + min(row0 + 5u, last_row) * params.o_row, col0);
        let sb6 = state_base(min(row0 + 6u, last_row), z, chunks, wid.y);
        m6 = select(LOWEST, state[sb6], state[sb6 + 2u] != 0.0);
        l6 = state[sb6 + 1u];
        acc6l = load_low(o_base + min(row0 + 6u, last_row) * params.o_row, col0);
        acc6h = load_high(o_base + min(row0 + 6u, last_row) * params.o_row, col0);
        let sb7 = state_base(min(row0 + 7u, last_row), z, chunks, wid.y);
        m7 = select(LOWEST, state[sb7], state[sb7 + 2u] != 0.0);
        l7 = state[sb7 + 1u];
        acc7l = load_low(o_base + min(row0 + 7u, last_row) * params.o_row, col0);
        acc7h = load_high(o_base + min(row0 + 7u, last_row) * params.o_row, col0);
        let sb8 = state_base(min(row0 + 8u, last_row), z, chunks, wid.y);
        m8 = select(LOWEST, state[sb8], state[sb8 + 2u] != 0.0);
        l8 = state[sb8 + 1u];
        acc8l = load_low(o_base + min(row0 + 8u, last_row) * params.o_row, col0);
        acc8h = load_high(o_base + min(row0 + 8u, last_row) * params.o_row, col0);
        let sb9 = state_base(min(row0 + 9u, last_row), z, chunks, wid.y);
        m9 = select(LOWEST, state[sb9], state[sb9 + 2u] != 0.0);
        l9 = state[sb9 + 1u];
        acc9l = load_low(o_base + min(row0 + 9u, last_row) * params.o_row, col0);
        acc9h = load_high(o_base + min(row0 + 9u, last_row) * params.o_row, col0);
        let sb10 = state_base(min(row0 + 10u, last_row), z, chunks, wid.y);
        m10 = select(LOWEST, state[sb10], state[sb10 + 2u] != 0.0);
        l10 = state[sb10 + 1u];
        acc10l = load_low(o_base + min(row0 + 10u, last_row) * params.o_row, col0);
        acc10h = load_high(o_base + min(row0 + 10u, last_row) * params.o_row, col0);
        let sb11 = state_base(min(row0 + 11u, last_row), z, chunks, wid.y);
        m11 = select(LOWEST, state[sb11], state[sb11 + 2u] != 0.0);
        l11 = state[sb11 + 1u];
        acc11l = load_low(o_base + min(row0 + 11u, last_row) * params.o_row, col0);
        acc11h = load_high(o_base + min(row0 + 11u, last_row) * params.o_row, col0);
        let sb12 = state_base(min(row0 + 12u, last_row), z, chunks, wid.y);
        m12 = select(LOWEST, state[sb12], state[sb12 + 2u] != 0.0);
        l12 = state[sb12 + 1u];
        acc12l = load_low(o_base + min(row0 + 12u, last_row) * params.o_row, col0);
        acc12h = load_high(o_base + min(row0 + 12u, last_row) * params.o_row, col0);
        let sb13 = state_base(min(row0 + 13u, last_row), z, chunks, wid.y);
        m13 = select(LOWEST, state[sb13], state[sb13 + 2u] != 0.0);
        l13 = state[sb13 + 1u];
        acc13l = load_low(o_base + min(row0 + 13u, last_row) * params.o_row, col0);
        acc13h = load_high(o_base + min(row0 + 13u, last_row) * params.o_row, col0);
        let sb14 = state_base(min(row0 + 14u, last_row), z, chunks, wid.y);
        m14 = select(LOWEST, state[sb14], state[sb14 + 2u] != 0.0);
        l14 = state[sb14 + 1u];
        acc14l = load_low(o_base + min(row0 + 14u, last_row) * params.o_row, col0);
        acc14h = load_high(o_base + min(row0 + 14u, last_row) * params.o_row, col0);
        let sb15 = state_base(min(row0 + 15u, last_row), z, chunks, wid.y);
        m15 = select(LOWEST, state[sb15], state[sb15 + 2u] != 0.0);
        l15 = state[sb15 + 1u];
        acc15l = load_low(o_base + min(row0 + 15u, last_row) * params.o_row, col0);
        acc15h = load_high(o_base + min(row0 + 15u, last_row) * params.o_row, col0);
        let sb16 = state_base(min(row0 + 16u, last_row), z, chunks, wid.y);
        m16 = select(LOWEST, state[sb16], state[sb16 + 2u] != 0.0);
        l16 = state[sb16 + 1u];
        acc16l = load_low(o_base + min(row0 + 16u, last_row) * params.o_row, col0);
        acc16h = load_high(o_base + min(row0 + 16u, last_row) * params.o_row, col0);
        let sb17 = state_base(min(row0 + 17u, last_row), z, chunks, wid.y);
        m17 = select(LOWEST, state[sb17], state[sb17 + 2u] != 0.0);
        l17 = state[sb17 + 1u];
        acc17l = load_low(o_base + min(row0 + 17u, last_row) * params.o_row, col0);
        acc17h = load_high(o_base + min(row0 + 17u, last_row) * params.o_row, col0);
        let sb18 = state_base(min(row0 + 18u, last_row), z, chunks, wid.y);
        m18 = select(LOWEST, state[sb18], state[sb18 + 2u] != 0.0);
        l18 = state[sb18 + 1u];
        acc18l = load_low(o_base + min(row0 + 18u, last_row) * params.o_row, col0);
        acc18h = load_high(o_base + min(row0 + 18u, last_row) * params.o_row, col0);
        let sb19 = state_base(min(row0 + 19u, last_row), z, chunks, wid.y);
        m19 = select(LOWEST, state[sb19], state[sb19 + 2u] != 0.0);
        l19 = state[sb19 + 1u];
        acc19l = load_low(o_base + min(row0 + 19u, last_row) * params.o_row, col0);
        acc19h = load_high(o_base + min(row0 + 19u, last_row) * params.o_row, col0);
        let sb20 = state_base(min(row0 + 20u, last_row), z, chunks, wid.y);
        m20 = select(LOWEST, state[sb20], state[sb20 + 2u] != 0.0);
        l20 = state[sb20 + 1u];
        acc20l = load_low(o_base + min(row0 + 20u, last_row) * params.o_row, col0);
        acc20h = load_high(o_base + min(row0 + 20u, last_row) * params.o_row, col0);
        let sb21 = state_base(min(row0 + 21u, last_row), z, chunks, wid.y);
        m21 = select(LOWEST, state[sb21], state[sb21 + 2u] != 0.0);
        l21 = state[sb21 + 1u];
        acc21l = load_low(o_base + min(row0 + 21u, last_row) * params.o_row, col0);
        acc21h = load_high(o_base + min(row0 + 21u, last_row) * params.o_row, col0);
        let sb22 = state_base(min(row0 + 22u, last_row), z, chunks, wid.y);
        m22 = select(LOWEST, state[sb22], state[sb22 + 2u] != 0.0);
        l22 = state[sb22 + 1u];
        acc22l = load_low(o_base + min(row0 + 22u, last_row) * params.o_row, col0);
        acc22h = load_high(o_base + min(row0 + 22u, last_row) * params.o_row, col0);
        let sb23 = state_base(min(row0 + 23u, last_row), z, chunks, wid.y);
        m23 = select(LOWEST, state[sb23], state[sb23 + 2u] != 0.0);
        l23 = state[sb23 + 1u];
        acc23l = load_low(o_base + min(row0 + 23u, last_row) * params.o_row, col0);
        acc23h = load_high(o_base + min(row0 + 23u, last_row) * params.o_row, col0);
        let sb24 = state_base(min(row0 + 24u, last_row), z, chunks, wid.y);
        m24 = select(LOWEST, state[sb24], state[sb24 + 2u] != 0.0);
        l24 = state[sb24 + 1u];
        acc24l = load_low(o_base + min(row0 + 24u, last_row) * params.o_row, col0);
        acc24h = load_high(o_base + min(row0 + 24u, last_row) * params.o_row, col0);
        let sb25 = state_base(min(row0 + 25u, last_row), z, chunks, wid.y);
        m25 = select(LOWEST, state[sb25], state[sb25 + 2u] != 0.0);
        l25 = state[sb25 + 1u];
        acc25l = load_low(o_base + min(row0 + 25u, last_row) * params.o_row, col0);
        acc25h = load_high(o_base + min(row0 + 25u, last_row) * params.o_row, col0);
        let sb26 = state_base(min(row0 + 26u, last_row), z, chunks, wid.y);
        m26 = select(LOWEST, state[sb26], state[sb26 + 2u] != 0.0);
        l26 = state[sb26 + 1u];
        acc26l = load_low(o_base + min(row0 + 26u, last_row) * params.o_row, col0);
        acc26h = load_high(o_base + min(row0 + 26u, last_row) * params.o_row, col0);
        let sb27 = state_base(min(row0 + 27u, last_row), z, chunks, wid.y);
        m27 = select(LOWEST, state[sb27], state[sb27 + 2u] != 0.0);
        l27 = state[sb27 + 1u];
        acc27l = load_low(o_base + min(row0 + 27u, last_row) * params.o_row, col0);
        acc27h = load_high(o_base + min(row0 + 27u, last_row) * params.o_row, col0);
        let sb28 = state_base(min(row0 + 28u, last_row), z, chunks, wid.y);
        m28 = select(LOWEST, state[sb28], state[sb28 + 2u] != 0.0);
        l28 = state[sb28 + 1u];
        acc28l = load_low(o_base + min(row0 + 28u, last_row) * params.o_row, col0);
        acc28h = load_high(o_base + min(row0 + 28u, last_row) * params.o_row, col0);
        let sb29 = state_base(min(row0 + 29u, last_row), z, chunks, wid.y);
        m29 = select(LOWEST, state[sb29], state[sb29 + 2u] != 0.0);
        l29 = state[sb29 + 1u];
        acc29l = load_low(o_base + min(row0 + 29u, last_row) * params.o_row, col0);
        acc29h = load_high(o_base + min(row0 + 29u, last_row) * params.o_row, col0);
        let sb30 = state_base(min(row0 + 30u, last_row), z, chunks, wid.y);
        m30 = select(LOWEST, state[sb30], state[sb30 + 2u] != 0.0);
        l30 = state[sb30 + 1u];
        acc30l = load_low(o_base + min(row0 + 30u, last_row) * params.o_row, col0);
        acc30h = load_high(o_base + min(row0 + 30u, last_row) * params.o_row, col0);
        let sb31 = state_base(min(row0 + 31u, last_row), z, chunks, wid.y);
        m31 = select(LOWEST, state[sb31], state[sb31 + 2u] != 0.0);
        l31 = state[sb31 + 1u];
        acc31l = load_low(o_base + min(row0 + 31u, last_row) * params.o_row, col0);
        acc31h = load_high(o_base + min(row0 + 31u, last_row) * params.o_row, col0);
    }
    // Keys past the causal diagonal of the block's last row are never allowed.
    var key_stop = params.key_end;
    if params.causal != 0u {
        key_stop = u32(clamp(i32(last_row) + params.causal_offset + 1, 0, i32(key_stop)));
    }
    let plain = params.has_mask == 0u && params.has_padding == 0u;
    for (var tile = params.key_begin; tile < key_stop; tile += TILE_KEYS) {
        // 1. scores of this lane's keys (clamped to the block's last key for loading)
        let key0 = tile + lane * KEYS;
        let keys = vec4<u32>(key0) + vec4<u32>(0u, 1u, 2u, 3u);
        let safe = min(keys, vec4<u32>(params.key_end - 1u));
        let k0 = k_base + safe.x * params.k_row;
        let k1 = k_base + safe.y * params.k_row;
        let k2 = k_base + safe.z * params.k_row;
        let k3 = k_base + safe.w * params.k_row;
        var s0 = vec4<f32>(0.0);
        var s1 = vec4<f32>(0.0);
        var s2 = vec4<f32>(0.0);
        var s3 = vec4<f32>(0.0);
        var s4 = vec4<f32>(0.0);
        var s5 = vec4<f32>(0.0);
        var s6 = vec4<f32>(0.0);
        var s7 = vec4<f32>(0.0);
        var s8 = vec4<f32>(0.0);
        var s9 = vec4<f32>(0.0);
        var s10 = vec4<f32>(0.0);
        var s11 = vec4<f32>(0.0);
        var s12 = vec4<f32>(0.0);
        var s13 = vec4<f32>(0.0);
        var s14 = vec4<f32>(0.0);
        var s15 = vec4<f32>(0.0);
        var s16 = vec4<f32>(0.0);
        var s17 = vec4<f32>(0.0);
        var s18 = vec4<f32>(0.0);
        var s19 = vec4<f32>(0.0);
        var s20 = vec4<f32>(0.0);
        var s21 = vec4<f32>(0.0);
        var s22 = vec4<f32>(0.0);
        var s23 = vec4<f32>(0.0);
        var s24 = vec4<f32>(0.0);
        var s25 = vec4<f32>(0.0);
        var s26 = vec4<f32>(0.0);
        var s27 = vec4<f32>(0.0);
        var s28 = vec4<f32>(0.0);
        var s29 = vec4<f32>(0.0);
        var s30 = vec4<f32>(0.0);
        var s31 = vec4<f32>(0.0);
        for (var t = 0u; t < params.d; t++) {
            let kv = vec4<f32>(k[k0 + t], k[k1 + t], k[k2 + t], k[k3 + t]);
            let mine0 = q[q_mine0 + t];
            let mine1 = q[q_mine1 + t];
            let mine2 = q[q_mine2 + t];
            let mine3 = q[q_mine3 + t];
            // Row r of the block is lane r % 8's value from its load r / 8.
            s0 = fma(vec4<f32>(subgroupShuffle(mine0, 0u)), kv, s0);
            s1 = fma(vec4<f32>(subgroupShuffle(mine0, 1u)), kv, s1);
            s2 = fma(vec4<f32>(subgroupShuffle(mine0, 2u)), kv, s2);
            s3 = fma(vec4<f32>(subgroupShuffle(mine0, 3u)), kv, s3);
            s4 = fma(vec4<f32>(subgroupShuffle(mine0, 4u)), kv, s4);
            s5 = fma(vec4<f32>(subgroupShuffle(mine0, 5u)), kv, s5);
            s6 = fma(vec4<f32>(subgroupShuffle(mine0, 6u)), kv, s6);
            s7 = fma(vec4<f32>(subgroupShuffle(mine0, 7u)), kv, s7);
            s8 = fma(vec4<f32>(subgroupShuffle(mine1, 0u)), kv, s8);
            s9 = fma(vec4<f32>(subgroupShuffle(mine1, 1u)), kv, s9);
            s10 = fma(vec4<f32>(subgroupShuffle(mine1, 2u)), kv, s10);
            s11 = fma(vec4<f32>(subgroupShuffle(mine1, 3u)), kv, s11);
            s12 = fma(vec4<f32>(subgroupShuffle(mine1, 4u)), kv, s12);
            s13 = fma(vec4<f32>(subgroupShuffle(mine1, 5u)), kv, s13);
            s14 = fma(vec4<f32>(subgroupShuffle(mine1, 6u)), kv, s14);
            s15 = fma(vec4<f32>(subgroupShuffle(mine1, 7u)), kv, s15);
            s16 = fma(vec4<f32>(subgroupShuffle(mine2, 0u)), kv, s16);
            s17 = fma(vec4<f32>(subgroupShuffle(mine2, 1u)), kv, s17);
            s18 = fma(vec4<f32>(subgroupShuffle(mine2, 2u)), kv, s18);
            s19 = fma(vec4<f32>(subgroupShuffle(mine2, 3u)), kv, s19);
            s20 = fma(vec4<f32>(subgroupShuffle(mine2, 4u)), kv, s20);
            s21 = fma(vec4<f32>(subgroupShuffle(mine2, 5u)), kv, s21);
            s22 = fma(vec4<f32>(subgroupShuffle(mine2, 6u)), kv, s22);
            s23 = fma(vec4<f32>(subgroupShuffle(mine2, 7u)), kv, s23);
            s24 = fma(vec4<f32>(subgroupShuffle(mine3, 0u)), kv, s24);
            s25 = fma(vec4<f32>(subgroupShuffle(mine3, 1u)), kv, s25);
            s26 = fma(vec4<f32>(subgroupShuffle(mine3, 2u)), kv, s26);
            s27 = fma(vec4<f32>(subgroupShuffle(mine3, 3u)), kv, s27);
            s28 = fma(vec4<f32>(subgroupShuffle(mine3, 4u)), kv, s28);
            s29 = fma(vec4<f32>(subgroupShuffle(mine3, 5u)), kv, s29);
            s30 = fma(vec4<f32>(subgroupShuffle(mine3, 6u)), kv, s30);
            s31 = fma(vec4<f32>(subgroupShuffle(mine3, 7u)), kv, s31);
        }
        // Whether every key of the tile is allowed for every row (no masks, inside this
        // block's keys, below the causal diagonal of the first row): the same for all lanes.
        var whole = plain && tile + TILE_KEYS <= params.key_end;
        if params.causal != 0u {
            whole = whole && i32(tile + TILE_KEYS - 1u) <= i32(row0) + params.causal_offset;
        }
        s0 *= params.scale;
        s1 *= params.scale;
        s2 *= params.scale;
        s3 *= params.scale;
        s4 *= params.scale;
        s5 *= params.scale;
        s6 *= params.scale;
        s7 *= params.scale;
        s8 *= params.scale;
        s9 *= params.scale;
        s10 *= params.scale;
        s11 *= params.scale;
        s12 *= params.scale;
        s13 *= params.scale;
        s14 *= params.scale;
        s15 *= params.scale;
        s16 *= params.scale;
        s17 *= params.scale;
        s18 *= params.scale;
        s19 *= params.scale;
        s20 *= params.scale;
        s21 *= params.scale;
        s22 *= params.scale;
        s23 *= params.scale;
        s24 *= params.scale;
        s25 *= params.scale;
        s26 *= params.scale;
        s27 *= params.scale;
        s28 *= params.scale;
        s29 *= params.scale;
        s30 *= params.scale;
        s31 *= params.scale;
        if !whole {
            s0 = masked(s0, min(row0 + 0u, last_row), keys, safe, mask_base, padding_base);
            s1 = masked(s1, min(row0 + 1u, last_row), keys, safe, mask_base, padding_base);
            s2 = masked(s2, min(row0 + 2u, last_row), keys, safe, mask_base, padding_base);
            s3 = masked(s3, min(row0 + 3u, last_row), keys, safe, mask_base, padding_base);
            s4 = masked(s4, min(row0 + 4u, last_row), keys, safe, mask_base, padding_base);
            s5 = masked(s5, min(row0 + 5u, last_row), keys, safe, mask_base, padding_base);
            s6 = masked(s6, min(row0 + 6u, last_row), keys, safe, mask_base, padding_base);
            s7 = masked(s7, min(row0 + 7u, last_row), keys, safe, mask_base, padding_base);
            s8 = masked(s8, min(row0 + 8u, last_row), keys, safe, mask_base, padding_base);
            s9 = masked(s9, min(row0 + 9u, last_row), keys, safe, mask_base, padding_base);
            s10 = masked(s10, min(row0 + 10u, last_row), keys, safe, mask_base, padding_base);
            s11 = masked(s11, min(row0 + 11u, last_row), keys, safe, mask_base, padding_base);
            s12 = masked(s12, min(row0 + 12u, last_row), keys, safe, mask_base, padding_base);
            s13 = masked(s13, min(row0 + 13u, last_row), keys, safe, mask_base, padding_base);
            s14 = masked(s14, min(row0 + 14u, last_row), keys, safe, mask_base, padding_base);
            s15 = masked(s15, min(row0 + 15u, last_row), keys, safe, mask_base, padding_base);
            s16 = masked(s16, min(row0 + 16u, last_row), keys, safe, mask_base, padding_base);
            s17 = masked(s17, min(row0 + 17u, last_row), keys, safe, mask_base, padding_base);
            s18 = masked(s18, min(row0 + 18u, last_row), keys, safe, mask_base, padding_base);
            s19 = masked(s19, min(row0 + 19u, last_row), keys, safe, mask_base, padding_base);
            s20 = masked(s20, min(row0 + 20u, last_row), keys, safe, mask_base, padding_base);
            s21 = masked(s21, min(row0 + 21u, last_row), keys, safe, mask_base, padding_base);
            s22 = masked(s22, min(row0 + 22u, last_row), keys, safe, mask_base, padding_base);
            s23 = masked(s23, min(row0 + 23u, last_row), keys, safe, mask_base, padding_base);
            s24 = masked(s24, min(row0 + 24u, last_row), keys, safe, mask_base, padding_base);
            s25 = masked(s25, min(row0 + 25u, last_row), keys, safe, mask_base, padding_base);
            s26 = masked(s26, min(row0 + 26u, last_row), keys, safe, mask_base, padding_base);
            s27 = masked(s27, min(row0 + 27u, last_row), keys, safe, mask_base, padding_base);
            s28 = masked(s28, min(row0 + 28u, last_row), keys, safe, mask_base, padding_base);
            s29 = masked(s29, min(row0 + 29u, last_row), keys, safe, mask_base, padding_base);
            s30 = masked(s30, min(row0 + 30u, last_row), keys, safe, mask_base, padding_base);
            s31 = masked(s31, min(row0 + 31u, last_row), keys, safe, mask_base, padding_base);
        }
        // 2. online softmax: the tile's row max and sum over all lanes' keys
        let mt0 = max(m0, subgroupMax(max(max(s0.x, s0.y), max(s0.z, s0.w))));
        let c0 = exp(m0 - mt0);
        s0 = select(exp(s0 - mt0), vec4<f32>(0.0), mt0 == LOWEST);
        l0 = l0 * c0 + subgroupAdd((s0.x + s0.y) + (s0.z + s0.w));
        m0 = mt0;
        acc0l *= c0;
        acc0h *= c0;
        let mt1 = max(m1, subgroupMax(max(max(s1.x, s1.y), max(s1.z, s1.w))));
        let c1 = exp(m1 - mt1);
        s1 = select(exp(s1 - mt1), vec4<f32>(0.0), mt1 == LOWEST);
        l1 = l1 * c1 + subgroupAdd((s1.x + s1.y) + (s1.z + s1.w));
        m1 = mt1;
        acc1l *= c1;
        acc1h *= c1;
        let mt2 = max(m2, subgroupMax(max(max(s2.x, s2.y), max(s2.z, s2.w))));
        let c2 = exp(m2 - mt2);
        s2 = select(exp(s2 - mt2), vec4<f32>(0.0), mt2 == LOWEST);
        l2 = l2 * c2 + subgroupAdd((s2.x + s2.y) + (s2.z + s2.w));
        m2 = mt2;
        acc2l *= c2;
        acc2h *= c2;
        let mt3 = max(m3, subgroupMax(max(max(s3.x, s3.y), max(s3.z, s3.w))));
        let c3 = exp(m3 - mt3);
        s3 = select(exp(s3 - mt3), vec4<f32>(0.0), mt3 == LOWEST);
        l3 = l3 * c3 + subgroupAdd((s3.x + s3.y) + (s3.z + s3.w));
        m3 = mt3;
        acc3l *= c3;
        acc3h *= c3;
        let mt4 = max(m4, subgroupMax(max(max(s4.x, s4.y), max(s4.z, s4.w))));
        let c4 = exp(m4 - mt4);
        s4 = select(exp(s4 - mt4), vec4<f32>(0.0), mt4 == LOWEST);
        l4 = l4 * c4 + subgroupAdd((s4.x + s4.y) + (s4.z + s4.w));
        m4 = mt4;
        acc4l *= c4;
        acc4h *= c4;
        let mt5 = max(m5, subgroupMax(max(max(s5.x, s5.y), max(s5.z, s5.w))));
        let c5 = exp(m5 - mt5);
        s5 = select(exp(s5 - mt5), vec4<f32>(0.0), mt5 == LOWEST);
        l5 = l5 * c5 + subgroupAdd((s5.x + s5.y) + (s5.z + s5.w));
        m5 = mt5;
        acc5l *= c5;
        acc5h *= c5;
        let mt6 = max(m6, subgroupMax(max(max(s6.x, s6.y), max(s6.z, s6.w))));
        let c6 = exp(m6 - mt6);
        s6 = select(exp(s6 - mt6), vec4<f32>(0.0), mt6 == LOWEST);
        l6 = l6 * c6 + subgroupAdd((s6.x + s6.y) + (s6.z + s6.w));
        m6 = mt6;
        acc6l *= c6;
        acc6h *= c6;
        let mt7 = max(m7, subgroupMax(max(max(s7.x, s7.y), max(s7.z, s7.w))));
        let c7 = exp(m7 - mt7);
        s7 = select(exp(s7 - mt7), vec4<f32>(0.0), mt7 == LOWEST);
        l7 = l7 * c7 + subgroupAdd((s7.x + s7.y) + (s7.z + s7.w));
        m7 = mt7;
        acc7l *= c7;
        acc7h *= c7;
        let mt8 = max(m8, subgroupMax(max(max(s8.x, s8.y), max(s8.z, s8.w))));
        let c8 = exp(m8 - mt8);
        s8 = select(exp(s8 - mt8), vec4<f32>(0.0), mt8 == LOWEST);
        l8 = l8 * c8 + subgroupAdd((s8.x + s8.y) + (s8.z + s8.w));
        m8 = mt8;
        acc8l *= c8;
        acc8h *= c8;
        let mt9 = max(m9, subgroupMax(max(max(s9.x, s9.y), max(s9.z, s9.w))));
        let c9 = exp(m9 - mt9);
        s9 = select(exp(s9 - mt9), vec4<f32>(0.0), mt9 == LOWEST);
        l9 = l9 * c9 + subgroupAdd((s9.x + s9.y) + (s9.z + s9.w));
        m9 = mt9;
        acc9l *= c9;
        acc9h *= c9;
        let mt10 = max(m10, subgroupMax(max(max(s10.x, s10.y), max(s10.z, s10.w))));
        let c10 = exp(m10 - mt10);
        s10 = select(exp(s10 - mt10), vec4<f32>(0.0), mt10 == LOWEST);
        l10 = l10 * c10 + subgroupAdd((s10.x + s10.y) + (s10.z + s10.w));
        m10 = mt10;
        acc10l *= c10;
        acc10h *= c10;
        let mt11 = max(m11, subgroupMax(max(max(s11.x, s11.y), max(s11.z, s11.w))));
        let c11 = exp(m11 - mt11);
        s11 = select(exp(s11 - mt11), vec4<f32>(0.0), mt11 == LOWEST);
        l11 = l11 * c11 + subgroupAdd((s11.x + s11.y) + (s11.z + s11.w));
        m11 = mt11;
        acc11l *= c11;
        acc11h *= c11;
        let mt12 = max(m12, subgroupMax(max(max(s12.x, s12.y), max(s12.z, s12.w))));
        let c12 = exp(m12 - mt12);
        s12 = select(exp(s12 - mt12), vec4<f32>(0.0), mt12 == LOWEST);
        l12 = l12 * c12 + subgroupAdd((s12.x + s12.y) + (s12.z + s12.w));
        m12 = mt12;
        acc12l *= c12;
        acc12h *= c12;
        let mt13 = max(m13, subgroupMax(max(max(s13.x, s13.y), max(s13.z, s13.w))));
        let c13 = exp(m13 - mt13);
        s13 = select(exp(s13 - mt13), vec4<f32>(0.0), mt13 == LOWEST);
        l13 = l13 * c13 + subgroupAdd((s13.x + s13.y) + (s13.z + s13.w));
        m13 = mt13;
        acc13l *= c13;
        acc13h *= c13;
        let mt14 = max(m14, subgroupMax(max(max(s14.x, s14.y), max(s14.z, s14.w))));
        let c14 = exp(m14 - mt14);
        s14 = select(exp(s14 - mt14), vec4<f32>(0.0), mt14 == LOWEST);
        l14 = l14 * c14 + subgroupAdd((s14.x + s14.y) + (s14.z + s14.w));
        m14 = mt14;
        acc14l *= c14;
        acc14h *= c14;
        let mt15 = max(m15, subgroupMax(max(max(s15.x, s15.y), max(s15.z, s15.w))));
        let c15 = exp(m15 - mt15);
        s15 = select(exp(s15 - mt15), vec4<f32>(0.0), mt15 == LOWEST);
        l15 = l15 * c15 + subgroupAdd((s15.x + s15.y) + (s15.z + s15.w));
        m15 = mt15;
        acc15l *= c15;
        acc15h *= c15;
        let mt16 = max(m16, subgroupMax(max(max(s16.x, s16.y), max(s16.z, s16.w))));
        let c16 = exp(m16 - mt16);
        s16 = select(exp(s16 - mt16), vec4<f32>(0.0), mt16 == LOWEST);
        l16 = l16 * c16 + subgroupAdd((s16.x + s16.y) + (s16.z + s16.w));
        m16 = mt16;
        acc16l *= c16;
        acc16h *= c16;
        let mt17 = max(m17, subgroupMax(max(max(s17.x, s17.y), max(s17.z, s17.w))));
        let c17 = exp(m17 - mt17);
        s17 = select(exp(s17 - mt17), vec4<f32>(0.0), mt17 == LOWEST);
        l17 = l17 * c17 + subgroupAdd((s17.x + s17.y) + (s17.z + s17.w));
        m17 = mt17;
        acc17l *= c17;
        acc17h *= c17;
        let mt18 = max(m18, subgroupMax(max(max(s18.x, s18.y), max(s18.z, s18.w))));
        let c18 = exp(m18 - mt18);
        s18 = select(exp(s18 - mt18), vec4<f32>(0.0), mt18 == LOWEST);
        l18 = l18 * c18 + subgroupAdd((s18.x + s18.y) + (s18.z + s18.w));
        m18 = mt18;
        acc18l *= c18;
        acc18h *= c18;
        let mt19 = max(m19, subgroupMax(max(max(s19.x, s19.y), max(s19.z, s19.w))));
        let c19 = exp(m19 - mt19);
        s19 = select(exp(s19 - mt19), vec4<f32>(0.0), mt19 == LOWEST);
        l19 = l19 * c19 + subgroupAdd((s19.x + s19.y) + (s19.z + s19.w));
        m19 = mt19;
        acc19l *= c19;
        acc19h *= c19;
        let mt20 = max(m20, subgroupMax(max(max(s20.x, s20.y), max(s20.z, s20.w))));
        let c20 = exp(m20 - mt20);
        s20 = select(exp(s20 - mt20), vec4<f32>(0.0), mt20 == LOWEST);
        l20 = l20 * c20 + subgroupAdd((s20.x + s20.y) + (s20.z + s20.w));
        m20 = mt20;
        acc20l *= c20;
        acc20h *= c20;
        let mt21 = max(m21, subgroupMax(max(max(s21.x, s21.y), max(s21.z, s21.w))));
        let c21 = exp(m21 - mt21);
        s21 = select(exp(s21 - mt21), vec4<f32>(0.0), mt21 == LOWEST);
        l21 = l21 * c21 + subgroupAdd((s21.x + s21.y) + (s21.z + s21.w));
        m21 = mt21;
        acc21l *= c21;
        acc21h *= c21;
        let mt22 = max(m22, subgroupMax(max(max(s22.x, s22.y), max(s22.z, s22.w))));
        let c22 = exp(m22 - mt22);
        s22 = select(exp(s22 - mt22), vec4<f32>(0.0), mt22 == LOWEST);
        l22 = l22 * c22 + subgroupAdd((s22.x + s22.y) + (s22.z + s22.w));
        m22 = mt22;
        acc22l *= c22;
        acc22h *= c22;
        let mt23 = max(m23, subgroupMax(max(max(s23.x, s23.y), max(s23.z, s23.w))));
        let c23 = exp(m23 - mt23);
        s23 = select(exp(s23 - mt23), vec4<f32>(0.0), mt23 == LOWEST);
        l23 = l23 * c23 + subgroupAdd((s23.x + s23.y) + (s23.z + s23.w));
        m23 = mt23;
        acc23l *= c23;
        acc23h *= c23;
        let mt24 = max(m24, subgroupMax(max(max(s24.x, s24.y), max(s24.z, s24.w))));
        let c24 = exp(m24 - mt24);
        s24 = select(exp(s24 - mt24), vec4<f32>(0.0), mt24 == LOWEST);
        l24 = l24 * c24 + subgroupAdd((s24.x + s24.y) + (s24.z + s24.w));
        m24 = mt24;
        acc24l *= c24;
        acc24h *= c24;
        let mt25 = max(m25, subgroupMax(max(max(s25.x, s25.y), max(s25.z, s25.w))));
        let c25 = exp(m25 - mt25);
        s25 = select(exp(s25 - mt25), vec4<f32>(0.0), mt25 == LOWEST);
        l25 = l25 * c25 + subgroupAdd((s25.x + s25.y) + (s25.z + s25.w));
        m25 = mt25;
        acc25l *= c25;
        acc25h *= c25;
        let mt26 = max(m26, subgroupMax(max(max(s26.x, s26.y), max(s26.z, s26.w))));
        let c26 = exp(m26 - mt26);
        s26 = select(exp(s26 - mt26), vec4<f32>(0.0), mt26 == LOWEST);
        l26 = l26 * c26 + subgroupAdd((s26.x + s26.y) + (s26.z + s26.w));
        m26 = mt26;
        acc26l *= c26;
        acc26h *= c26;
        let mt27 = max(m27, subgroupMax(max(max(s27.x, s27.y), max(s27.z, s27.w))));
        let c27 = exp(m27 - mt27);
        s27 = select(exp(s27 - mt27), vec4<f32>(0.0), mt27 == LOWEST);
        l27 = l27 * c27 + subgroupAdd((s27.x + s27.y) + (s27.z + s27.w));
        m27 = mt27;
        acc27l *= c27;
        acc27h *= c27;
        let mt28 = max(m28, subgroupMax(max(max(s28.x, s28.y), max(s28.z, s28.w))));
        let c28 = exp(m28 - mt28);
        s28 = select(exp(s28 - mt28), vec4<f32>(0.0), mt28 == LOWEST);
        l28 = l28 * c28 + subgroupAdd((s28.x + s28.y) + (s28.z + s28.w));
        m28 = mt28;
        acc28l *= c28;
        acc28h *= c28;
        let mt29 = max(m29, subgroupMax(max(max(s29.x, s29.y), max(s29.z, s29.w))));
        let c29 = exp(m29 - mt29);
        s29 = select(exp(s29 - mt29), vec4<f32>(0.0), mt29 == LOWEST);
        l29 = l29 * c29 + subgroupAdd((s29.x + s29.y) + (s29.z + s29.w));
        m29 = mt29;
        acc29l *= c29;
        acc29h *= c29;
        let mt30 = max(m30, subgroupMax(max(max(s30.x, s30.y), max(s30.z, s30.w))));
        let c30 = exp(m30 - mt30);
        s30 = select(exp(s30 - mt30), vec4<f32>(0.0), mt30 == LOWEST);
        l30 = l30 * c30 + subgroupAdd((s30.x + s30.y) + (s30.z + s30.w));
        m30 = mt30;
        acc30l *= c30;
        acc30h *= c30;
        let mt31 = max(m31, subgroupMax(max(max(s31.x, s31.y), max(s31.z, s31.w))));
        let c31 = exp(m31 - mt31);
        s31 = select(exp(s31 - mt31), vec4<f32>(0.0), mt31 == LOWEST);
        l31 = l31 * c31 + subgroupAdd((s31.x + s31.y) + (s31.z + s31.w));
        m31 = mt31;
        acc31l *= c31;
        acc31h *= c31;
        // 3. P·V: the weights of lane `owner`'s four keys, for each row, then its V rows
        for (var owner = 0u; owner < WG; owner++) {
            let p0 = subgroupShuffle(s0, owner);
            let p1 = subgroupShuffle(s1, owner);
            let p2 = subgroupShuffle(s2, owner);
            let p3 = subgroupShuffle(s3, owner);
            let p4 = subgroupShuffle(s4, owner);
            let p5 = subgroupShuffle(s5, owner);
            let p6 = subgroupShuffle(s6, owner);
            let p7 = subgroupShuffle(s7, owner);
            let p8 = subgroupShuffle(s8, owner);
            let p9 = subgroupShuffle(s9, owner);
            let p10 = subgroupShuffle(s10, owner);
            let p11 = subgroupShuffle(s11, owner);
            let p12 = subgroupShuffle(s12, owner);
            let p13 = subgroupShuffle(s13, owner);
            let p14 = subgroupShuffle(s14, owner);
            let p15 = subgroupShuffle(s15, owner);
            let p16 = subgroupShuffle(s16, owner);
            let p17 = subgroupShuffle(s17, owner);
            let p18 = subgroupShuffle(s18, owner);
            let p19 = subgroupShuffle(s19, owner);
            let p20 = subgroupShuffle(s20, owner);
            let p21 = subgroupShuffle(s21, owner);
            let p22 = subgroupShuffle(s22, owner);
            let p23 = subgroupShuffle(s23, owner);
            let p24 = subgroupShuffle(s24, owner);
            let p25 = subgroupShuffle(s25, owner);
            let p26 = subgroupShuffle(s26, owner);
            let p27 = subgroupShuffle(s27, owner);
            let p28 = subgroupShuffle(s28, owner);
            let p29 = subgroupShuffle(s29, owner);
            let p30 = subgroupShuffle(s30, owner);
            let p31 = subgroupShuffle(s31, owner);
            let kf = tile + owner * KEYS;
            let v0 = v_base + min(kf + 0u, params.key_end - 1u) * params.v_row;
            let v0l = vec4<f32>(v[v0 + vc0], v[v0 + vc1], v[v0 + vc2], v[v0 + vc3]);
            let v0h = vec4<f32>(v[v0 + vc4], v[v0 + vc5], v[v0 + vc6], v[v0 + vc7]);
            let v1 = v_base + min(kf + 1u, params.key_end - 1u) * params.v_row;
            let v1l = vec4<f32>(v[v1 + vc0], v[v1 + vc1], v[v1 + vc2], v[v1 + vc3]);
            let v1h = vec4<f32>(v[v1 + vc4], v[v1 + vc5], v[v1 + vc6], v[v1 + vc7]);
            let v2 = v_base + min(kf + 2u, params.key_end - 1u) * params.v_row;
            let v2l = vec4<f32>(v[v2 + vc0], v[v2 + vc1], v[v2 + vc2], v[v2 + vc3]);
            let v2h = vec4<f32>(v[v2 + vc4], v[v2 + vc5], v[v2 + vc6], v[v2 + vc7]);
            let v3 = v_base + min(kf + 3u, params.key_end - 1u) * params.v_row;
            let v3l = vec4<f32>(v[v3 + vc0], v[v3 + vc1], v[v3 + vc2], v[v3 + vc3]);
            let v3h = vec4<f32>(v[v3 + vc4], v[v3 + vc5], v[v3 + vc6], v[v3 + vc7]);
            acc0l = fma(vec4<f32>(p0.x), v0l, acc0l);
            acc0h = fma(vec4<f32>(p0.x), v0h, acc0h);
            acc0l = fma(vec4<f32>(p0.y), v1l, acc0l);
            acc0h = fma(vec4<f32>(p0.y), v1h, acc0h);
            acc0l = fma(vec4<f32>(p0.z), v2l, acc0l);
            acc0h = fma(vec4<f32>(p0.z), v2h, acc0h);
            acc0l = fma(vec4<f32>(p0.w), v3l, acc0l);
            acc0h = fma(vec4<f32>(p0.w), v3h, acc0h);
            acc1l = fma(vec4<f32>(p1.x), v0l, acc1l);
            acc1h = fma(vec4<f32>(p1.x), v0h, acc1h);
            acc1l = fma(vec4<f32>(p1.y), v1l, acc1l);
            acc1h = fma(vec4<f32>(p1.y), v1h, acc1h);
            acc1l = fma(vec4<f32>(p1.z), v2l, acc1l);
            acc1h = fma(vec4<f32>(p1.z), v2h, acc1h);
            acc1l = fma(vec4<f32>(p1.w), v3l, acc1l);
            acc1h = fma(vec4<f32>(p1.w), v3h, acc1h);
            acc2l = fma(vec4<f32>(p2.x), v0l, acc2l);
            acc2h = fma(vec4<f32>(p2.x), v0h, acc2h);
            acc2l = fma(vec4<f32>(p2.y), v1l, acc2l);
            acc2h = fma(vec4<f32>(p2.y), v1h, acc2h);
            acc2l = fma(vec4<f32>(p2.z), v2l, acc2l);
            acc2h = fma(vec4<f32>(p2.z), v2h, acc2h);
            acc2l = fma(vec4<f32>(p2.w), v3l, acc2l);
            acc2h = fma(vec4<f32>(p2.w), v3h, acc2h);
            acc3l = fma(vec4<f32>(p3.x), v0l, acc3l);
            acc3h = fma(vec4<f32>(p3.x), v0h, acc3h);
            acc3l = fma(vec4<f32>(p3.y), v1l, acc3l);
            acc3h = fma(vec4<f32>(p3.y), v1h, acc3h);
            acc3l = fma(vec4<f32>(p3.z), v2l, acc3l);
            acc3h = fma(vec4<f32>(p3.z), v2h, acc3h);
            acc3l = fma(vec4<f32>(p3.w), v3l, acc3l);
            acc3h = fma(vec4<f32>(p3.w), v3h, acc3h);
            acc4l = fma(vec4<f32>(p4.x), v0l, acc4l);
            acc4h = fma(vec4<f32>(p4.x), v0h, acc4h);
            acc4l = fma(vec4<f32>(p4.y), v1l, acc4l);
            acc4h = fma(vec4<f32>(p4.y), v1h, acc4h);
            acc4l = fma(vec4<f32>(p4.z), v2l, acc4l);
            acc4h = fma(vec4<f32>(p4.z), v2h, acc4h);
            acc4l = fma(vec4<f32>(p4.w), v3l, acc4l);
            acc4h = fma(vec4<f32>(p4.w), v3h, acc4h);
            acc5l = fma(vec4<f32>(p5.x), v0l, acc5l);
            acc5h = fma(vec4<f32>(p5.x), v0h, acc5h);
            acc5l = fma(vec4<f32>(p5.y), v1l, acc5l);
            acc5h = fma(vec4<f32>(p5.y), v1h, acc5h);
            acc5l = fma(vec4<f32>(p5.z), v2l, acc5l);
            acc5h = fma(vec4<f32>(p5.z), v2h, acc5h);
            acc5l = fma(vec4<f32>(p5.w), v3l, acc5l);
            acc5h = fma(vec4<f32>(p5.w), v3h, acc5h);
            acc6l = fma(vec4<f32>(p6.x), v0l, acc6l);
            acc6h = fma(vec4<f32>(p6.x), v0h, acc6h);
            acc6l = fma(vec4<f32>(p6.y), v1l, acc6l);
            acc6h = fma(vec4<f32>(p6.y), v1h, acc6h);
            acc6l = fma(vec4<f32>(p6.z), v2l, acc6l);
            acc6h = fma(vec4<f32>(p6.z), v2h, acc6h);
            acc6l = fma(vec4<f32>(p6.w), v3l, acc6l);
            acc6h = fma(vec4<f32>(p6.w), v3h, acc6h);
            acc7l = fma(vec4<f32>(p7.x), v0l, acc7l);
            acc7h = fma(vec4<f32>(p7.x), v0h, acc7h);
            acc7l = fma(vec4<f32>(p7.y), v1l, acc7l);
            acc7h = fma(vec4<f32>(p7.y), v1h, acc7h);
            acc7l = fma(vec4<f32>(p7.z), v2l, acc7l);
            acc7h = fma(vec4<f32>(p7.z), v2h, acc7h);
            acc7l = fma(vec4<f32>(p7.w), v3l, acc7l);
            acc7h = fma(vec4<f32>(p7.w), v3h, acc7h);
            acc8l = fma(vec4<f32>(p8.x), v0l, acc8l);
            acc8h = fma(vec4<f32>(p8.x), v0h, acc8h);
            acc8l = fma(vec4<f32>(p8.y), v1l, acc8l);
            acc8h = fma(vec4<f32>(p8.y), v1h, acc8h);
            acc8l = fma(vec4<f32>(p8.z), v2l, acc8l);
            acc8h = fma(vec4<f32>(p8.z), v2h, acc8h);
            acc8l = fma(vec4<f32>(p8.w), v3l, acc8l);
            acc8h = fma(vec4<f32>(p8.w), v3h, acc8h);
            acc9l = fma(vec4<f32>(p9.x), v0l, acc9l);
            acc9h = fma(vec4<f32>(p9.x), v0h, acc9h);
            acc9l = fma(vec4<f32>(p9.y), v1l, acc9l);
            acc9h = fma(vec4<f32>(p9.y), v1h, acc9h);
            acc9l = fma(vec4<f32>(p9.z), v2l, acc9l);
            acc9h = fma(vec4<f32>(p9.z), v2h, acc9h);
            acc9l = fma(vec4<f32>(p9.w), v3l, acc9l);
            acc9h = fma(vec4<f32>(p9.w), v3h, acc9h);
            acc10l = fma(vec4<f32>(p10.x), v0l, acc10l);
            acc10h = fma(vec4<f32>(p10.x), v0h, acc10h);
            acc10l = fma(vec4<f32>(p10.y), v1l, acc10l);
            acc10h = fma(vec4<f32>(p10.y), v1h, acc10h);
            acc10l = fma(vec4<f32>(p10.z), v2l, acc10l);
            acc10h = fma(vec4<f32>(p10.z), v2h, acc10h);
            acc10l = fma(vec4<f32>(p10.w), v3l, acc10l);
            acc10h = fma(vec4<f32>(p10.w), v3h, acc10h);
            acc11l = fma(vec4<f32>(p11.x), v0l, acc11l);
            acc11h = fma(vec4<f32>(p11.x), v0h, acc11h);
            acc11l = fma(vec4<f32>(p11.y), v1l, acc11l);
            acc11h = fma(vec4<f32>(p11.y), v1h, acc11h);
            acc11l = fma(vec4<f32>(p11.z), v2l, acc11l);
            acc11h = fma(vec4<f32>(p11.z), v2h, acc11h);
            acc11l = fma(vec4<f32>(p11.w), v3l, acc11l);
            acc11h = fma(vec4<f32>(p11.w), v3h, acc11h);
            acc12l = fma(vec4<f32>(p12.x), v0l, acc12l);
            acc12h = fma(vec4<f32>(p12.x), v0h, acc12h);
            acc12l = fma(vec4<f32>(p12.y), v1l, acc12l);
            acc12h = fma(vec4<f32>(p12.y), v1h, acc12h);
            acc12l = fma(vec4<f32>(p12.z), v2l, acc12l);
            acc12h = fma(vec4<f32>(p12.z), v2h, acc12h);
            acc12l = fma(vec4<f32>(p12.w), v3l, acc12l);
            acc12h = fma(vec4<f32>(p12.w), v3h, acc12h);
            acc13l = fma(vec4<f32>(p13.x), v0l, acc13l);
            acc13h = fma(vec4<f32>(p13.x), v0h, acc13h);
            acc13l = fma(vec4<f32>(p13.y), v1l, acc13l);
            acc13h = fma(vec4<f32>(p13.y), v1h, acc13h);
            acc13l = fma(vec4<f32>(p13.z), v2l, acc13l);
            acc13h = fma(vec4<f32>(p13.z), v2h, acc13h);
            acc13l = fma(vec4<f32>(p13.w), v3l, acc13l);
            acc13h = fma(vec4<f32>(p13.w), v3h, acc13h);
            acc14l = fma(vec4<f32>(p14.x), v0l, acc14l);
            acc14h = fma(vec4<f32>(p14.x), v0h, acc14h);
            acc14l = fma(vec4<f32>(p14.y), v1l, acc14l);
            acc14h = fma(vec4<f32>(p14.y), v1h, acc14h);
            acc14l = fma(vec4<f32>(p14.z), v2l, acc14l);
            acc14h = fma(vec4<f32>(p14.z), v2h, acc14h);
            acc14l = fma(vec4<f32>(p14.w), v3l, acc14l);
            acc14h = fma(vec4<f32>(p14.w), v3h, acc14h);
            acc15l = fma(vec4<f32>(p15.x), v0l, acc15l);
            acc15h = fma(vec4<f32>(p15.x), v0h, acc15h);
            acc15l = fma(vec4<f32>(p15.y), v1l, acc15l);
            acc15h = fma(vec4<f32>(p15.y), v1h, acc15h);
            acc15l = fma(vec4<f32>(p15.z), v2l, acc15l);
            acc15h = fma(vec4<f32>(p15.z), v2h, acc15h);
            acc15l = fma(vec4<f32>(p15.w), v3l, acc15l);
            acc15h = fma(vec4<f32>(p15.w), v3h, acc15h);
            acc16l = fma(vec4<f32>(p16.x), v0l, acc16l);
            acc16h = fma(vec4<f32>(p16.x), v0h, acc16h);
            acc16l = fma(vec4<f32>(p16.y), v1l, acc16l);
            acc16h = fma(vec4<f32>(p16.y), v1h, acc16h);
            acc16l = fma(vec4<f32>(p16.z), v2l, acc16l);
            acc16h = fma(vec4<f32>(p16.z), v2h, acc16h);
            acc16l = fma(vec4<f32>(p16.w), v3l, acc16l);
            acc16h = fma(vec4<f32>(p16.w), v3h, acc16h);
            acc17l = fma(vec4<f32>(p17.x), v0l, acc17l);
            acc17h = fma(vec4<f32>(p17.x), v0h, acc17h);
            acc17l = fma(vec4<f32>(p17.y), v1l, acc17l);
            acc17h = fma(vec4<f32>(p17.y), v1h, acc17h);
            acc17l = fma(vec4<f32>(p17.z), v2l, acc17l);
            acc17h = fma(vec4<f32>(p17.z), v2h, acc17h);
            acc17l = fma(vec4<f32>(p17.w), v3l, acc17l);
            acc17h = fma(vec4<f32>(p17.w), v3h, acc17h);
            acc18l = fma(vec4<f32>(p18.x), v0l, acc18l);
            acc18h = fma(vec4<f32>(p18.x), v0h, acc18h);
            acc18l = fma(vec4<f32>(p18.y), v1l, acc18l);
            acc18h = fma(vec4<f32>(p18.y), v1h, acc18h);
            acc18l = fma(vec4<f32>(p18.z), v2l, acc18l);
            acc18h = fma(vec4<f32>(p18.z), v2h, acc18h);
            acc18l = fma(vec4<f32>(p18.w), v3l, acc18l);
            acc18h = fma(vec4<f32>(p18.w), v3h, acc18h);
            acc19l = fma(vec4<f32>(p19.x), v0l, acc19l);
            acc19h = fma(vec4<f32>(p19.x), v0h, acc19h);
            acc19l = fma(vec4<f32>(p19.y), v1l, acc19l);
            acc19h = fma(vec4<f32>(p19.y), v1h, acc19h);
            acc19l = fma(vec4<f32>(p19.z), v2l, acc19l);
            acc19h = fma(vec4<f32>(p19.z), v2h, acc19h);
            acc19l = fma(vec4<f32>(p19.w), v3l, acc19l);
            acc19h = fma(vec4<f32>(p19.w), v3h, acc19h);
            acc20l = fma(vec4<f32>(p20.x), v0l, acc20l);
            acc20h = fma(vec4<f32>(p20.x), v0h, acc20h);
            acc20l = fma(vec4<f32>(p20.y), v1l, acc20l);
            acc20h = fma(vec4<f32>(p20.y), v1h, acc20h);
            acc20l = fma(vec4<f32>(p20.z), v2l, acc20l);
            acc20h = fma(vec4<f32>(p20.z), v2h, acc20h);
            acc20l = fma(vec4<f32>(p20.w), v3l, acc20l);
            acc20h = fma(vec4<f32>(p20.w), v3h, acc20h);
            acc21l = fma(vec4<f32>(p21.x), v0l, acc21l);
            acc21h = fma(vec4<f32>(p21.x), v0h, acc21h);
            acc21l = fma(vec4<f32>(p21.y), v1l, acc21l);
            acc21h = fma(vec4<f32>(p21.y), v1h, acc21h);
            acc21l = fma(vec4<f32>(p21.z), v2l, acc21l);
            acc21h = fma(vec4<f32>(p21.z), v2h, acc21h);
            acc21l = fma(vec4<f32>(p21.w), v3l, acc21l);
            acc21h = fma(vec4<f32>(p21.w), v3h, acc21h);
            acc22l = fma(vec4<f32>(p22.x), v0l, acc22l);
            acc22h = fma(vec4<f32>(p22.x), v0h, acc22h);
            acc22l = fma(vec4<f32>(p22.y), v1l, acc22l);
            acc22h = fma(vec4<f32>(p22.y), v1h, acc22h);
            acc22l = fma(vec4<f32>(p22.z), v2l, acc22l);
            acc22h = fma(vec4<f32>(p22.z), v2h, acc22h);
            acc22l = fma(vec4<f32>(p22.w), v3l, acc22l);
            acc22h = fma(vec4<f32>(p22.w), v3h, acc22h);
            acc23l = fma(vec4<f32>(p23.x), v0l, acc23l);
            acc23h = fma(vec4<f32>(p23.x), v0h, acc23h);
            acc23l = fma(vec4<f32>(p23.y), v1l, acc23l);
            acc23h = fma(vec4<f32>(p23.y), v1h, acc23h);
            acc23l = fma(vec4<f32>(p23.z), v2l, acc23l);
            acc23h = fma(vec4<f32>(p23.z), v2h, acc23h);
            acc23l = fma(vec4<f32>(p23.w), v3l, acc23l);
            acc23h = fma(vec4<f32>(p23.w), v3h, acc23h);
            acc24l = fma(vec4<f32>(p24.x), v0l, acc24l);
            acc24h = fma(vec4<f32>(p24.x), v0h, acc24h);
            acc24l = fma(vec4<f32>(p24.y), v1l, acc24l);
            acc24h = fma(vec4<f32>(p24.y), v1h, acc24h);
            acc24l = fma(vec4<f32>(p24.z), v2l, acc24l);
            acc24h = fma(vec4<f32>(p24.z), v2h, acc24h);
            acc24l = fma(vec4<f32>(p24.w), v3l, acc24l);
            acc24h = fma(vec4<f32>(p24.w), v3h, acc24h);
            acc25l = fma(vec4<f32>(p25.x), v0l, acc25l);
            acc25h = fma(vec4<f32>(p25.x), v0h, acc25h);
            acc25l = fma(vec4<f32>(p25.y), v1l, acc25l);
            acc25h = fma(vec4<f32>(p25.y), v1h, acc25h);
            acc25l = fma(vec4<f32>(p25.z), v2l, acc25l);
            acc25h = fma(vec4<f32>(p25.z), v2h, acc25h);
            acc25l = fma(vec4<f32>(p25.w), v3l, acc25l);
            acc25h = fma(vec4<f32>(p25.w), v3h, acc25h);
            acc26l = fma(vec4<f32>(p26.x), v0l, acc26l);
            acc26h = fma(vec4<f32>(p26.x), v0h, acc26h);
            acc26l = fma(vec4<f32>(p26.y), v1l, acc26l);
            acc26h = fma(vec4<f32>(p26.y), v1h, acc26h);
            acc26l = fma(vec4<f32>(p26.z), v2l, acc26l);
            acc26h = fma(vec4<f32>(p26.z), v2h, acc26h);
            acc26l = fma(vec4<f32>(p26.w), v3l, acc26l);
            acc26h = fma(vec4<f32>(p26.w), v3h, acc26h);
            acc27l = fma(vec4<f32>(p27.x), v0l, acc27l);
            acc27h = fma(vec4<f32>(p27.x), v0h, acc27h);
            acc27l = fma(vec4<f32>(p27.y), v1l, acc27l);
            acc27h = fma(vec4<f32>(p27.y), v1h, acc27h);
            acc27l = fma(vec4<f32>(p27.z), v2l, acc27l);
            acc27h = fma(vec4<f32>(p27.z), v2h, acc27h);
            acc27l = fma(vec4<f32>(p27.w), v3l, acc27l);
            acc27h = fma(vec4<f32>(p27.w), v3h, acc27h);
            acc28l = fma(vec4<f32>(p28.x), v0l, acc28l);
            acc28h = fma(vec4<f32>(p28.x), v0h, acc28h);
            acc28l = fma(vec4<f32>(p28.y), v1l, acc28l);
            acc28h = fma(vec4<f32>(p28.y), v1h, acc28h);
            acc28l = fma(vec4<f32>(p28.z), v2l, acc28l);
            acc28h = fma(vec4<f32>(p28.z), v2h, acc28h);
            acc28l = fma(vec4<f32>(p28.w), v3l, acc28l);
            acc28h = fma(vec4<f32>(p28.w), v3h, acc28h);
            acc29l = fma(vec4<f32>(p29.x), v0l, acc29l);
            acc29h = fma(vec4<f32>(p29.x), v0h, acc29h);
            acc29l = fma(vec4<f32>(p29.y), v1l, acc29l);
            acc29h = fma(vec4<f32>(p29.y), v1h, acc29h);
            acc29l = fma(vec4<f32>(p29.z), v2l, acc29l);
            acc29h = fma(vec4<f32>(p29.z), v2h, acc29h);
            acc29l = fma(vec4<f32>(p29.w), v3l, acc29l);
            acc29h = fma(vec4<f32>(p29.w), v3h, acc29h);
            acc30l = fma(vec4<f32>(p30.x), v0l, acc30l);
            acc30h = fma(vec4<f32>(p30.x), v0h, acc30h);
            acc30l = fma(vec4<f32>(p30.y), v1l, acc30l);
            acc30h = fma(vec4<f32>(p30.y), v1h, acc30h);
            acc30l = fma(vec4<f32>(p30.z), v2l, acc30l);
            acc30h = fma(vec4<f32>(p30.z), v2h, acc30h);
            acc30l = fma(vec4<f32>(p30.w), v3l, acc30l);
            acc30h = fma(vec4<f32>(p30.w), v3h, acc30h);
            acc31l = fma(vec4<f32>(p31.x), v0l, acc31l);
            acc31h = fma(vec4<f32>(p31.x), v0h, acc31h);
            acc31l = fma(vec4<f32>(p31.y), v1l, acc31l);
            acc31h = fma(vec4<f32>(p31.y), v1h, acc31h);
            acc31l = fma(vec4<f32>(p31.z), v2l, acc31l);
            acc31h = fma(vec4<f32>(p31.z), v2h, acc31h);
            acc31l = fma(vec4<f32>(p31.w), v3l, acc31l);
            acc31h = fma(vec4<f32>(p31.w), v3h, acc31h);
        }
    }
    // The statistics (lane 0 writes them) and the sums: normalised after the last block.
    finish(o_base, row0 + 0u, z, chunks, wid.y, lane, col0, m0, l0, acc0l, acc0h);
    finish(o_base, row0 + 1u, z, chunks, wid.y, lane, col0, m1, l1, acc1l, acc1h);
    finish(o_base, row0 + 2u, z, chunks, wid.y, lane, col0, m2, l2, acc2l, acc2h);
    finish(o_base, row0 + 3u, z, chunks, wid.y, lane, col0, m3, l3, acc3l, acc3h);
    finish(o_base, row0 + 4u, z, chunks, wid.y, lane, col0, m4, l4, acc4l, acc4h);
    finish(o_base, row0 + 5u, z, chunks, wid.y, lane, col0, m5, l5, acc5l, acc5h);
    finish(o_base, row0 + 6u, z, chunks, wid.y, lane, col0, m6, l6, acc6l, acc6h);
    finish(o_base, row0 + 7u, z, chunks, wid.y, lane, col0, m7, l7, acc7l, acc7h);
    finish(o_base, row0 + 8u, z, chunks, wid.y, lane, col0, m8, l8, acc8l, acc8h);
    finish(o_base, row0 + 9u, z, chunks, wid.y, lane, col0, m9, l9, acc9l, acc9h);
    finish(o_base, row0 + 10u, z, chunks, wid.y, lane, col0, m10, l10, acc10l, acc10h);
    finish(o_base, row0 + 11u, z, chunks, wid.y, lane, col0, m11, l11, acc11l, acc11h);
    finish(o_base, row0 + 12u, z, chunks, wid.y, lane, col0, m12, l12, acc12l, acc12h);
    finish(o_base, row0 + 13u, z, chunks, wid.y, lane, col0, m13, l13, acc13l, acc13h);
    finish(o_base, row0 + 14u, z, chunks, wid.y, lane, col0, m14, l14, acc14l, acc14h);
    finish(o_base, row0 + 15u, z, chunks, wid.y, lane, col0, m15, l15, acc15l, acc15h);
    finish(o_base, row0 + 16u, z, chunks, wid.y, lane, col0, m16, l16, acc16l, acc16h);
    finish(o_base, row0 + 17u, z, chunks, wid.y, lane, col0, m17, l17, acc17l, acc17h);
    finish(o_base, row0 + 18u, z, chunks, wid.y, lane, col0, m18, l18, acc18l, acc18h);
    finish(o_base, row0 + 19u, z, chunks, wid.y, lane, col0, m19, l19, acc19l, acc19h);
    finish(o_base, row0 + 20u, z, chunks, wid.y, lane, col0, m20, l20, acc20l, acc20h);
    finish(o_base, row0 + 21u, z, chunks, wid.y, lane, col0, m21, l21, acc21l, acc21h);
    finish(o_base, row0 + 22u, z, chunks, wid.y, lane, col0, m22, l22, acc22l, acc22h);
    finish(o_base, row0 + 23u, z, chunks, wid.y, lane, col0, m23, l23, acc23l, acc23h);
    finish(o_base, row0 + 24u, z, chunks, wid.y, lane, col0, m24, l24, acc24l, acc24h);
    finish(o_base, row0 + 25u, z, chunks, wid.y, lane, col0, m25, l25, acc25l, acc25h);
    finish(o_base, row0 + 26u, z, chunks, wid.y, lane, col0, m26, l26, acc26l, acc26h);
    finish(o_base, row0 + 27u, z, chunks, wid.y, lane, col0, m27, l27, acc27l, acc27h);
    finish(o_base, row0 + 28u, z, chunks, wid.y, lane, col0, m28, l28, acc28l, acc28h);
    finish(o_base, row0 + 29u, z, chunks, wid.y, lane, col0, m29, l29, acc29l, acc29h);
    finish(o_base, row0 + 30u, z, chunks, wid.y, lane, col0, m30, l30, acc30l, acc30h);
    finish(o_base, row0 + 31u, z, chunks, wid.y, lane, col0, m31, l31, acc31l, acc31h);
}

// Where (m, l, found) of `row` lives in `state`.
fn state_base(row: u32, z: u32, chunks: u32, chunk: u32) -> u32 {
    return ((z * params.l + row) * chunks + chunk) * 3u;
}

// Scores x of `row` for `keys` with the masks applied: LOWEST where a key is past this
// dispatch's keys, above the causal diagonal, or masked (at or below MASKED_BELOW); `safe` are
// the keys clamped for loading.
fn masked(x: vec4<f32>, row: u32, keys: vec4<u32>, safe: vec4<u32>, mask_base: u32, padding_base: u32) -> vec4<f32> {
    var allowed = keys < vec4<u32>(params.key_end);
    if params.causal != 0u {
        allowed = allowed & (vec4<i32>(keys) <= vec4<i32>(i32(row) + params.causal_offset));
    }
    var bias = vec4<f32>(0.0);
    if params.has_mask != 0u {
        let at = mask_base + row * params.mask_row;
        let b = vec4<f32>(mask[at + safe.x], mask[at + safe.y], mask[at + safe.z], mask[at + safe.w]);
        allowed = allowed & (b > vec4<f32>(MASKED_BELOW));
        bias += b;
    }
    if params.has_padding != 0u {
        let at = padding_base;
        let b = vec4<f32>(padding[at + safe.x], padding[at + safe.y], padding[at + safe.z], padding[at + safe.w]);
        allowed = allowed & (b > vec4<f32>(MASKED_BELOW));
        bias += b;
    }
    return select(vec4<f32>(LOWEST), x + bias, allowed);
}

// Columns col … col + 3 and col + 4 … col + 7 of the output row at `row_base` (clamped).
fn load_low(row_base: u32, col: u32) -> vec4<f32> {
    let last = params.dv - 1u;
    return vec4<f32>(out[row_base + min(col, last)], out[row_base + min(col + 1u, last)],
                     out[row_base + min(col + 2u, last)], out[row_base + min(col + 3u, last)]);
}

fn load_high(row_base: u32, col: u32) -> vec4<f32> {
    return load_low(row_base, col + 4u);
}

// Writes one row's statistics and this lane's eight columns: the normalised output after the
// last key block, the running sums before it. Rows past l and columns past d_v are skipped.
fn finish(o_base: u32, row: u32, z: u32, chunks: u32, chunk: u32, lane: u32, col: u32,
          m: f32, l: f32, low: vec4<f32>, high: vec4<f32>) {
    if row >= params.l {
        return;
    }
    let found = m != LOWEST;
    if lane == 0u {
        let sb = state_base(row, z, chunks, chunk);
        state[sb] = m;
        state[sb + 1u] = l;
        state[sb + 2u] = select(0.0, 1.0, found);
    }
    var factor = 1.0;
    if params.last != 0u {
        factor = select(0.0, 1.0 / l, found);
    }
    store(o_base + row * params.o_row, col, low * factor, high * factor);
}

// Columns col … col + 7 of the output row at `row_base`, those before d_v.
fn store(row_base: u32, col: u32, low: vec4<f32>, high: vec4<f32>) {
    for (var j = 0u; j < COLS; j++) {
        if col + j >= params.dv {
            break;
        }
        out[row_base + col + j] = select(high[j % 4u], low[j % 4u], j < 4u);
    }
}

// The subgroup is not this workgroup's 8 invocations: NaN for every output and statistic this
// invocation would have written, so the result cannot pass for a right one.
fn fail(o_base: u32, row0: u32, last_row: u32, col: u32, z: u32, chunks: u32, chunk: u32) {
    let nan = bitcast<f32>(0x7fc00000u);
    for (var row = row0; row <= last_row; row++) {
        let sb = state_base(row, z, chunks, chunk);
        state[sb] = nan;
        state[sb + 1u] = nan;
        state[sb + 2u] = nan;
        store(o_base + row * params.o_row, col, vec4<f32>(nan), vec4<f32>(nan));
    }
}
