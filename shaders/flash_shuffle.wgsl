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
// The rows are unrolled, not looped over: a loop over rows would count against llvmpipe's loop
// cap, and the accumulators must stay registers. The `#for r in 0..ROWS` … `#end` blocks below
// are written out once per row by src/shader_source.rs before naga sees the shader
// (`cargo run --example expand_shader -- shaders/flash_shuffle.wgsl` prints the result), so
// ROWS (a multiple of WG) and WG are parameters of this file; KEYS = 4 and COLS = 8 are tied
// to the vec4 scores and the two vec4 accumulators per row.
//
// The kernel needs its 8 invocations to form one subgroup with lanes 0 … 7 (a subgroup of 8
// or more, as on lavapipe; src/kernels/flash.rs chooses it only where subgroups are at least 8
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


#import flash_bindings


// Keep in sync with src/kernels/flash.rs (SHUFFLE_WG, SHUFFLE_ROWS, SHUFFLE_KEYS, CHUNK).
const WG = 8u;
// query rows per workgroup
const ROWS = 32u;
// keys per lane per tile, and per tile
const KEYS = 4u;
const TILE_KEYS = 32u;
// output columns per lane, and per workgroup (flash.wgsl's CHUNK)
const COLS = 8u;
const CHUNK = 64u;
const LOWEST = -3.4028235e38;

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
#for j in 0..ROWS / WG
    let q_mine${j} = q_base + min(row0 + ${j * WG}u + lane, last_row) * params.q_row;
#end
    // This lane's output columns (clamped for loads; stores skip the ones past d_v).
    let col0 = c0 + lane * COLS;
#for c in 0..COLS
    let vc${c} = min(col0 + ${c}u, params.dv - 1u);
#end
#for r in 0..ROWS
    var m${r} = LOWEST;
    var l${r} = 0.0;
    var acc${r}l = vec4<f32>(0.0);
    var acc${r}h = vec4<f32>(0.0);
#end
    if params.first == 0u {
        // Resume from the previous key block: (m, l, found) and the unnormalised sums.
#for r in 0..ROWS
        let sb${r} = state_base(min(row0 + ${r}u, last_row), z, chunks, wid.y);
        m${r} = select(LOWEST, state[sb${r}], state[sb${r} + 2u] != 0.0);
        l${r} = state[sb${r} + 1u];
        acc${r}l = load_low(o_base + min(row0 + ${r}u, last_row) * params.o_row, col0);
        acc${r}h = load_high(o_base + min(row0 + ${r}u, last_row) * params.o_row, col0);
#end
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
#for r in 0..ROWS
        var s${r} = vec4<f32>(0.0);
#end
        for (var t = 0u; t < params.d; t++) {
            let kv = vec4<f32>(k[k0 + t], k[k1 + t], k[k2 + t], k[k3 + t]);
#for j in 0..ROWS / WG
            let mine${j} = q[q_mine${j} + t];
#end
            // Row r of the block is lane r % 8's value from its load r / 8.
#for r in 0..ROWS
            s${r} = fma(vec4<f32>(subgroupShuffle(mine${r / WG}, ${r % WG}u)), kv, s${r});
#end
        }
        // Whether every key of the tile is allowed for every row (no masks, inside this
        // block's keys, below the causal diagonal of the first row): the same for all lanes.
        var whole = plain && tile + TILE_KEYS <= params.key_end;
        if params.causal != 0u {
            whole = whole && i32(tile + TILE_KEYS - 1u) <= i32(row0) + params.causal_offset;
        }
#for r in 0..ROWS
        s${r} *= params.scale;
#end
        if !whole {
#for r in 0..ROWS
            s${r} = masked(s${r}, min(row0 + ${r}u, last_row), keys, safe, mask_base, padding_base);
#end
        }
        // 2. online softmax: the tile's row max and sum over all lanes' keys
#for r in 0..ROWS
        let mt${r} = max(m${r}, subgroupMax(max(max(s${r}.x, s${r}.y), max(s${r}.z, s${r}.w))));
        let c${r} = exp(m${r} - mt${r});
        s${r} = select(exp(s${r} - mt${r}), vec4<f32>(0.0), mt${r} == LOWEST);
        l${r} = l${r} * c${r} + subgroupAdd((s${r}.x + s${r}.y) + (s${r}.z + s${r}.w));
        m${r} = mt${r};
        acc${r}l *= c${r};
        acc${r}h *= c${r};
#end
        // 3. P·V: the weights of lane `owner`'s four keys, for each row, then its V rows
        for (var owner = 0u; owner < WG; owner++) {
#for r in 0..ROWS
            let p${r} = subgroupShuffle(s${r}, owner);
#end
            let kf = tile + owner * KEYS;
#for i in 0..KEYS
            let v${i} = v_base + min(kf + ${i}u, params.key_end - 1u) * params.v_row;
            let v${i}l = vec4<f32>(v[v${i} + vc0], v[v${i} + vc1], v[v${i} + vc2], v[v${i} + vc3]);
            let v${i}h = vec4<f32>(v[v${i} + vc4], v[v${i} + vc5], v[v${i} + vc6], v[v${i} + vc7]);
#end
#for r in 0..ROWS
            acc${r}l = fma(vec4<f32>(p${r}.x), v0l, acc${r}l);
            acc${r}h = fma(vec4<f32>(p${r}.x), v0h, acc${r}h);
            acc${r}l = fma(vec4<f32>(p${r}.y), v1l, acc${r}l);
            acc${r}h = fma(vec4<f32>(p${r}.y), v1h, acc${r}h);
            acc${r}l = fma(vec4<f32>(p${r}.z), v2l, acc${r}l);
            acc${r}h = fma(vec4<f32>(p${r}.z), v2h, acc${r}h);
            acc${r}l = fma(vec4<f32>(p${r}.w), v3l, acc${r}l);
            acc${r}h = fma(vec4<f32>(p${r}.w), v3h, acc${r}h);
#end
        }
    }
    // The statistics (lane 0 writes them) and the sums: normalised after the last block.
#for r in 0..ROWS
    finish(o_base, row0 + ${r}u, z, chunks, wid.y, lane, col0, m${r}, l${r}, acc${r}l, acc${r}h);
#end
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
