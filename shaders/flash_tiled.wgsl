// Output-only attention with an online softmax, workgroup-tiled: each K and V element read from
// storage serves 64 query rows. Same recurrence, parameters, bindings, masks, key blocks and
// state layout as flash.wgsl, which stays the fallback for devices with less workgroup memory
// than the 24,320 bytes used here (src/kernels/flash.rs chooses).
//
// One workgroup of 256 invocations owns BR = 64 query rows and COLS = 64 output columns of one
// (batch, head) matrix and walks the keys in tiles of BC = 32:
//
//   1. scores: Q (64 × d) and K (32 × d) come into workgroup memory in slices of DC = 32 along
//      d; each invocation computes a 4 rows × 2 keys block of S = scale·Q·Kᵀ + masks with vec4
//      loads (4 + 2 vec4 loads per 32 multiply-adds), written key-major so that step 3 reads
//      four neighbouring rows' weights together;
//   2. softmax: every invocation loads part of the V tile; four invocations per row fold the
//      tile's scores into the row's running max m and sum l (partial maxima, then partial sums
//      through workgroup memory) and turn them into p = exp(s − m) in place, leaving the factor
//      exp(m_old − m) that rescales the row's accumulator;
//   3. P·V: each invocation owns a 4 rows × 4 columns block of the accumulator in registers.
//
// The N×N weights are never stored: workgroup memory holds 24,320 bytes, whatever N is.
// Keys outside key_begin..key_end, rows past l and columns past d_v read as zeros and are
// masked; tiles wholly above a causal diagonal are skipped.
//
// CPU twin: src/cpu/flash.rs (the same step as flash.wgsl).

#import flash_bindings

// Keep in sync with the constants in src/kernels/flash.rs.
const WG = 256u;
const BR = 64u;
const BC = 32u;
const COLS = 64u;
const DC = 32u;
// vec4s per row of a Q or K slice: DC / 4, plus one so that neighbouring rows start in
// different memory banks.
const SLICE_STRIDE = 9u;
const K_OFFSET = 576u; // BR * SLICE_STRIDE
const MASKED = -3e38;

// Steps 1 and 3 share it: Q and K slices, then the V tile (BC keys × COLS columns).
var<workgroup> tile: array<vec4<f32>, 864>;
// Scores, then weights, key-major: scores[j * 64 + i] for key j0 + j and row row0 + i. Scalar,
// and every element written by one invocation only: invocations never store into different
// lanes of one shared vec4 (a lane store may be compiled as a read-modify-write of the vector).
var<workgroup> scores: array<f32, 2048>;
// Per row: the rescaling factor of the current tile, at the end 1 / l.
var<workgroup> row_factor: array<f32, 64>;
// Step 2's partial maxima and sums, one per invocation.
var<workgroup> partial_max: array<f32, 256>;
var<workgroup> partial_sum: array<f32, 256>;

struct Matrix {
    q: u32,
    k: u32,
    v: u32,
    o: u32,
    mask: u32,
    padding: u32,
}

fn matrix_bases(z: u32) -> Matrix {
    let outer = z / params.heads;
    let inner = z % params.heads;
    return Matrix(
        outer * params.q_batch_outer + inner * params.q_batch_inner,
        outer * params.k_batch_outer + inner * params.k_batch_inner,
        outer * params.v_batch_outer + inner * params.v_batch_inner,
        outer * params.o_batch_outer + inner * params.o_batch_inner,
        outer * params.mask_batch + inner * params.mask_head,
        outer * params.padding_batch,
    );
}

// scale · dot + masks for query row i and key j, or MASKED when the key is excluded.
fn score(base: Matrix, i: u32, j: u32, dot: f32) -> f32 {
    if i >= params.l || j >= params.key_end {
        return MASKED;
    }
    if params.causal != 0u && i32(j) > i32(i) + params.causal_offset {
        return MASKED;
    }
    var bias = 0.0;
    if params.has_mask != 0u {
        let b = mask[base.mask + i * params.mask_row + j];
        if b <= MASKED_BELOW {
            return MASKED;
        }
        bias += b;
    }
    if params.has_padding != 0u {
        let b = padding[base.padding + j];
        if b <= MASKED_BELOW {
            return MASKED;
        }
        bias += b;
    }
    return params.scale * dot + bias;
}

// Q(i, t .. t + 3), zeros past the rows or d.
fn load_q(base: Matrix, i: u32, t: u32) -> vec4<f32> {
    var x = vec4<f32>(0.0);
    if i < params.l {
        let o = base.q + i * params.q_row + t;
        if t + 3u < params.d {
            return vec4(q[o], q[o + 1u], q[o + 2u], q[o + 3u]);
        }
        for (var c = 0u; c < 4u; c++) {
            if t + c < params.d {
                x[c] = q[o + c];
            }
        }
    }
    return x;
}

// K(j, t .. t + 3), zeros past this dispatch's keys or d.
fn load_k(base: Matrix, j: u32, t: u32) -> vec4<f32> {
    var x = vec4<f32>(0.0);
    if j < params.key_end {
        let o = base.k + j * params.k_row + t;
        if t + 3u < params.d {
            return vec4(k[o], k[o + 1u], k[o + 2u], k[o + 3u]);
        }
        for (var c = 0u; c < 4u; c++) {
            if t + c < params.d {
                x[c] = k[o + c];
            }
        }
    }
    return x;
}

// V(j, col .. col + 3), zeros past this dispatch's keys or d_v.
fn load_v(base: Matrix, j: u32, col: u32) -> vec4<f32> {
    var x = vec4<f32>(0.0);
    if j < params.key_end {
        let o = base.v + j * params.v_row + col;
        if col + 3u < params.dv {
            return vec4(v[o], v[o + 1u], v[o + 2u], v[o + 3u]);
        }
        for (var c = 0u; c < 4u; c++) {
            if col + c < params.dv {
                x[c] = v[o + c];
            }
        }
    }
    return x;
}

// The four scores of rows i .. i + 3 against key j into scores[at .. at + 3].
fn store_scores(at: u32, base: Matrix, i: u32, j: u32, dots: vec4<f32>) {
    scores[at] = score(base, i, j, dots.x);
    scores[at + 1u] = score(base, i + 1u, j, dots.y);
    scores[at + 2u] = score(base, i + 2u, j, dots.z);
    scores[at + 3u] = score(base, i + 3u, j, dots.w);
}

// The accumulator's value at (row, column), or 0 outside the output.
fn read_acc(base: Matrix, row: u32, col: u32) -> f32 {
    if row < params.l && col < params.dv {
        return out[base.o + row * params.o_row + col];
    }
    return 0.0;
}

fn write_acc(base: Matrix, row: u32, c: u32, value: vec4<f32>) {
    if row >= params.l {
        return;
    }
    let o = base.o + row * params.o_row + c;
    if c < params.dv {
        out[o] = value.x;
    }
    if c + 1u < params.dv {
        out[o + 1u] = value.y;
    }
    if c + 2u < params.dv {
        out[o + 2u] = value.z;
    }
    if c + 3u < params.dv {
        out[o + 3u] = value.w;
    }
}

@compute @workgroup_size(WG, 1, 1)
fn flash_tiled(
    @builtin(local_invocation_index) tid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let z = wid.z + params.batch_offset;
    let base = matrix_bases(z);
    let row0 = wid.x * BR;
    let c0 = wid.y * COLS;
    // Steps 1 and 3: rows 4g .. 4g + 3 of the tile; keys h and h + 16 (step 1), columns
    // 4h .. 4h + 3 (step 3).
    let g = tid / 16u;
    let h = tid % 16u;
    let r = row0 + 4u * g;
    let col = c0 + 4u * h;

    // Step 2's row, and its running (m, l, found), resumed between key blocks.
    // Step 2: row soft_row of the tile, keys quarter · BC/4 onwards. All four invocations of a
    // row keep its running max m and found (they compute the same values); the first (quarter
    // 0) also keeps the running sum l and owns the row's state.
    let soft_row = tid / 4u;
    let quarter = tid % 4u;
    let chunks = (params.dv + COLS - 1u) / COLS;
    let own_row = row0 + soft_row;
    let in_rows = own_row < params.l;
    let owns_row = quarter == 0u && in_rows;
    let state_base = ((z * params.l + own_row) * chunks + wid.y) * 3u;
    var m = 0.0;
    var l_sum = 0.0;
    var found = false;
    if params.first == 0u && in_rows {
        m = state[state_base];
        l_sum = state[state_base + 1u];
        found = state[state_base + 2u] != 0.0;
    }
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    if params.first == 0u {
        acc0 = vec4(read_acc(base, r, col), read_acc(base, r, col + 1u), read_acc(base, r, col + 2u), read_acc(base, r, col + 3u));
        acc1 = vec4(read_acc(base, r + 1u, col), read_acc(base, r + 1u, col + 1u), read_acc(base, r + 1u, col + 2u), read_acc(base, r + 1u, col + 3u));
        acc2 = vec4(read_acc(base, r + 2u, col), read_acc(base, r + 2u, col + 1u), read_acc(base, r + 2u, col + 2u), read_acc(base, r + 2u, col + 3u));
        acc3 = vec4(read_acc(base, r + 3u, col), read_acc(base, r + 3u, col + 1u), read_acc(base, r + 3u, col + 2u), read_acc(base, r + 3u, col + 3u));
    }

    let last_row = i32(min(row0 + BR, params.l)) - 1;
    for (var j0 = params.key_begin; j0 < params.key_end; j0 += BC) {
        if params.causal != 0u && i32(j0) > last_row + params.causal_offset {
            break;
        }
        // 1. Scores of rows r .. r + 3 against keys j0 + h and j0 + h + 16.
        var s0 = vec4<f32>(0.0);
        var s1 = vec4<f32>(0.0);
        for (var t0 = 0u; t0 < params.d; t0 += DC) {
            for (var e = tid; e < BR * DC / 4u; e += WG) {
                let row = e / (DC / 4u);
                let t4 = e % (DC / 4u);
                tile[row * SLICE_STRIDE + t4] = load_q(base, row0 + row, t0 + 4u * t4);
            }
            for (var e = tid; e < BC * DC / 4u; e += WG) {
                let key = e / (DC / 4u);
                let t4 = e % (DC / 4u);
                tile[K_OFFSET + key * SLICE_STRIDE + t4] = load_k(base, j0 + key, t0 + 4u * t4);
            }
            workgroupBarrier();
            for (var t4 = 0u; t4 < DC / 4u; t4++) {
                let qa = tile[(4u * g) * SLICE_STRIDE + t4];
                let qb = tile[(4u * g + 1u) * SLICE_STRIDE + t4];
                let qc = tile[(4u * g + 2u) * SLICE_STRIDE + t4];
                let qd = tile[(4u * g + 3u) * SLICE_STRIDE + t4];
                let ka = tile[K_OFFSET + h * SLICE_STRIDE + t4];
                let kb = tile[K_OFFSET + (h + 16u) * SLICE_STRIDE + t4];
                s0 += vec4(dot(qa, ka), dot(qb, ka), dot(qc, ka), dot(qd, ka));
                s1 += vec4(dot(qa, kb), dot(qb, kb), dot(qc, kb), dot(qd, kb));
            }
            workgroupBarrier();
        }
        let ja = j0 + h;
        let jb = j0 + h + 16u;
        store_scores(h * 64u + 4u * g, base, r, ja, s0);
        store_scores((h + 16u) * 64u + 4u * g, base, r, jb, s1);
        workgroupBarrier();

        // 2. The V tile, and the online softmax: four invocations per row (row tid / 4, keys
        // 8q .. 8q + 7 with q = tid % 4) combine their partial maxima, then their partial sums.
        for (var e = tid; e < BC * COLS / 4u; e += WG) {
            tile[e] = load_v(base, j0 + e / (COLS / 4u), c0 + 4u * (e % (COLS / 4u)));
        }
        var part_max = MASKED;
        for (var jj = 0u; jj < BC / 4u; jj++) {
            part_max = max(part_max, scores[(quarter * (BC / 4u) + jj) * 64u + soft_row]);
        }
        partial_max[tid] = part_max;
        workgroupBarrier();
        let q4 = 4u * soft_row;
        let tile_max = max(max(partial_max[q4], partial_max[q4 + 1u]), max(partial_max[q4 + 2u], partial_max[q4 + 3u]));
        var factor = 1.0;
        var part_sum = 0.0;
        if tile_max > MASKED_BELOW {
            let m_new = select(tile_max, max(m, tile_max), found);
            factor = select(0.0, exp(m - m_new), found);
            for (var jj = 0u; jj < BC / 4u; jj++) {
                let at = (quarter * (BC / 4u) + jj) * 64u + soft_row;
                let x = scores[at];
                let p = select(0.0, exp(x - m_new), x > MASKED_BELOW);
                scores[at] = p;
                part_sum += p;
            }
            m = m_new;
            found = true;
        } else {
            for (var jj = 0u; jj < BC / 4u; jj++) {
                scores[(quarter * (BC / 4u) + jj) * 64u + soft_row] = 0.0;
            }
        }
        partial_sum[tid] = part_sum;
        if quarter == 0u {
            row_factor[soft_row] = factor;
        }
        workgroupBarrier();
        if quarter == 0u {
            let sum = partial_sum[tid] + partial_sum[tid + 1u] + partial_sum[tid + 2u] + partial_sum[tid + 3u];
            l_sum = l_sum * factor + sum;
        }

        // 3. acc = acc · factor + P · V for rows r .. r + 3, columns col .. col + 3.
        acc0 *= row_factor[4u * g];
        acc1 *= row_factor[4u * g + 1u];
        acc2 *= row_factor[4u * g + 2u];
        acc3 *= row_factor[4u * g + 3u];
        for (var j = 0u; j < BC; j++) {
            let w = j * 64u + 4u * g;
            let p = vec4(scores[w], scores[w + 1u], scores[w + 2u], scores[w + 3u]);
            let x = tile[j * 16u + h];
            acc0 = fma(vec4(p.x), x, acc0);
            acc1 = fma(vec4(p.y), x, acc1);
            acc2 = fma(vec4(p.z), x, acc2);
            acc3 = fma(vec4(p.w), x, acc3);
        }
        workgroupBarrier();
    }

    // The last dispatch leaves the final statistics too (for attention_weights.wgsl).
    if owns_row {
        state[state_base] = m;
        state[state_base + 1u] = l_sum;
        state[state_base + 2u] = select(0.0, 1.0, found);
    }
    if params.last != 0u && quarter == 0u {
        row_factor[soft_row] = select(0.0, 1.0 / l_sum, found);
    }
    workgroupBarrier();
    if params.last == 0u {
        write_acc(base, r, col, acc0);
        write_acc(base, r + 1u, col, acc1);
        write_acc(base, r + 2u, col, acc2);
        write_acc(base, r + 3u, col, acc3);
    } else {
        write_acc(base, r, col, acc0 * row_factor[4u * g]);
        write_acc(base, r + 1u, col, acc1 * row_factor[4u * g + 1u]);
        write_acc(base, r + 2u, col, acc2 * row_factor[4u * g + 2u]);
        write_acc(base, r + 3u, col, acc3 * row_factor[4u * g + 3u]);
    }
}
