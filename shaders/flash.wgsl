// Output-only attention with an online softmax (FlashAttention's recurrence): each invocation
// owns one query row and one chunk of up to CHUNK output columns, streams over the keys once,
// keeping the running max m, the running sum l and the running weighted sum of values:
//
//   x = q·k_j · scale + masks;  m' = max(m, x);  c = exp(m − m');  p = exp(x − m')
//   l = l·c + p;  acc = acc·c + p·v_j;  m = m'
//
// and writes acc / l. The N×N weights are never stored: memory is O(N·d).
//
// The keys may be split into blocks, one dispatch each (key_begin..key_end): a dispatch that is
// not the first resumes from the (m, l, found) kept in `state` and the unnormalised acc kept in
// `out`; one that is not the last leaves them there (the last leaves its final (m, l, found) in
// `state` too, the row statistics attention_weights.wgsl turns scores into weights with). Why:
// llvmpipe (lavapipe and Mesa's GL) stops an invocation's loops after about 65,535 iterations in
// total, silently, so one invocation may only stream a few hundred keys there (src/gpu/execute.rs
// sizes the blocks). No workgroup memory and no barriers (DESIGN.md §6: barriers are very
// expensive on CPU adapters). The masks are those of softmax.wgsl: causal, an additive attention
// mask and an additive key-padding mask, values at or below MASKED_BELOW excluding the key; a
// fully masked row is written as zeros.
//
// CPU twin: src/cpu/flash.rs.

#import flash_bindings

const WG = 64u;
const CHUNK = 64u;
// Query rows up to this width are copied into private memory once, instead of being re-read
// from storage for every key (on CPU adapters those reads are gathers across the SIMD lanes).
// Keep in sync with `Q_CACHE` in src/kernels/flash.rs.
const Q_CACHE = 128u;

@compute @workgroup_size(WG, 1, 1)
fn flash(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    let z = gid.z + params.batch_offset;
    let c0 = gid.y * CHUNK;
    if i >= params.l || z >= params.batch || c0 >= params.dv {
        return;
    }
    let outer = z / params.heads;
    let inner = z % params.heads;
    let q_base = outer * params.q_batch_outer + inner * params.q_batch_inner + i * params.q_row;
    let k_base = outer * params.k_batch_outer + inner * params.k_batch_inner;
    let v_base = outer * params.v_batch_outer + inner * params.v_batch_inner + c0;
    let o_base = outer * params.o_batch_outer + inner * params.o_batch_inner + i * params.o_row + c0;
    let mask_base = outer * params.mask_batch + inner * params.mask_head + i * params.mask_row;
    let padding_base = outer * params.padding_batch;
    let width = min(CHUNK, params.dv - c0);

    let cached = params.d <= Q_CACHE;
    var q_row: array<f32, Q_CACHE>;
    if cached {
        for (var t = 0u; t < params.d; t++) {
            q_row[t] = q[q_base + t];
        }
    }

    let chunks = (params.dv + CHUNK - 1u) / CHUNK;
    let state_base = ((z * params.l + i) * chunks + gid.y) * 3u;
    var found = false;
    var m = 0.0;
    var l_sum = 0.0;
    var acc: array<f32, CHUNK>;
    if params.first == 0u {
        m = state[state_base];
        l_sum = state[state_base + 1u];
        found = state[state_base + 2u] != 0.0;
        for (var c = 0u; c < width; c++) {
            acc[c] = out[o_base + c];
        }
    }
    for (var j = params.key_begin; j < params.key_end; j++) {
        if params.causal != 0u && i32(j) > i32(i) + params.causal_offset {
            continue;
        }
        var bias = 0.0;
        if params.has_mask != 0u {
            let b = mask[mask_base + j];
            if b <= MASKED_BELOW {
                continue;
            }
            bias += b;
        }
        if params.has_padding != 0u {
            let b = padding[padding_base + j];
            if b <= MASKED_BELOW {
                continue;
            }
            bias += b;
        }
        let k_row = k_base + j * params.k_row;
        var dot = 0.0;
        if cached {
            for (var t = 0u; t < params.d; t++) {
                dot = fma(q_row[t], k[k_row + t], dot);
            }
        } else {
            for (var t = 0u; t < params.d; t++) {
                dot = fma(q[q_base + t], k[k_row + t], dot);
            }
        }
        let x = params.scale * dot + bias;
        let m_new = select(x, max(m, x), found);
        let correction = select(0.0, exp(m - m_new), found);
        let p = exp(x - m_new);
        found = true;
        l_sum = l_sum * correction + p;
        let v_row = v_base + j * params.v_row;
        for (var c = 0u; c < width; c++) {
            acc[c] = fma(p, v[v_row + c], acc[c] * correction);
        }
        m = m_new;
    }
    state[state_base] = m;
    state[state_base + 1u] = l_sum;
    state[state_base + 2u] = select(0.0, 1.0, found);
    if params.last == 0u {
        for (var c = 0u; c < width; c++) {
            out[o_base + c] = acc[c];
        }
        return;
    }
    let inv = select(0.0, 1.0 / l_sum, found);
    for (var c = 0u; c < width; c++) {
        out[o_base + c] = acc[c] * inv;
    }
}
