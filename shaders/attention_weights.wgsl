// The attention weights from the row statistics of an output-only pass: the second sweep of the
// fused weights path. The first sweep, flash.wgsl or flash_tiled.wgsl, computes the output and
// leaves every query row's max m of x = scale·q·k + masks and its sum l of exp(x − m) in its
// state buffer ((m, l, found) per row and output chunk; chunk 0 is read here). This kernel
// recomputes the scores a block at a time and writes
//
//   w = exp(x − m) / l        (0 for an excluded key, and for a row with no allowed key)
//
// straight into the weights. So the N×N weights are written once and never read on the device
// (the separate kernels write the scores, read them three times in the softmax, write the
// weights and read them again for P·V), at the price of computing Q·Kᵀ a second time.
//
// Each invocation computes 8 queries × 8 keys in registers, like matmul.wgsl (no workgroup
// memory, no barriers); rows and keys past the edge are clamped on load and skipped on store.
// The weights are written contiguously: matrix z's row i starts at (z·l + i)·s. The masks are
// those of softmax.wgsl.
//
// CPU twin: src/cpu/attention_weights.rs.

#import flash_params

const WG_X = 8u;
const WG_Y = 8u;
const TILE = 8u;
// Output columns per state chunk of the output-only kernels (flash.wgsl's CHUNK).
const CHUNK = 64u;

@group(0) @binding(0) var<uniform> params: FlashParams;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> mask: array<f32>;
@group(0) @binding(4) var<storage, read> padding: array<f32>;
@group(0) @binding(5) var<storage, read> stats: array<f32>;
@group(0) @binding(6) var<storage, read_write> weights: array<f32>;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn attention_weights(@builtin(global_invocation_id) gid: vec3<u32>) {
    let z = gid.z + params.batch_offset;
    let row0 = gid.y * TILE;
    let key0 = gid.x * TILE;
    if z >= params.batch || row0 >= params.l || key0 >= params.s {
        return;
    }
    let outer = z / params.heads;
    let inner = z % params.heads;
    let q_base = outer * params.q_batch_outer + inner * params.q_batch_inner;
    let k_base = outer * params.k_batch_outer + inner * params.k_batch_inner;

    // Query rows and keys, clamped so every load is in bounds.
    let q0 = q_base + min(row0, params.l - 1u) * params.q_row;
    let q1 = q_base + min(row0 + 1u, params.l - 1u) * params.q_row;
    let q2 = q_base + min(row0 + 2u, params.l - 1u) * params.q_row;
    let q3 = q_base + min(row0 + 3u, params.l - 1u) * params.q_row;
    let q4 = q_base + min(row0 + 4u, params.l - 1u) * params.q_row;
    let q5 = q_base + min(row0 + 5u, params.l - 1u) * params.q_row;
    let q6 = q_base + min(row0 + 6u, params.l - 1u) * params.q_row;
    let q7 = q_base + min(row0 + 7u, params.l - 1u) * params.q_row;
    let k0 = k_base + min(key0, params.s - 1u) * params.k_row;
    let k1 = k_base + min(key0 + 1u, params.s - 1u) * params.k_row;
    let k2 = k_base + min(key0 + 2u, params.s - 1u) * params.k_row;
    let k3 = k_base + min(key0 + 3u, params.s - 1u) * params.k_row;
    let k4 = k_base + min(key0 + 4u, params.s - 1u) * params.k_row;
    let k5 = k_base + min(key0 + 5u, params.s - 1u) * params.k_row;
    let k6 = k_base + min(key0 + 6u, params.s - 1u) * params.k_row;
    let k7 = k_base + min(key0 + 7u, params.s - 1u) * params.k_row;

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
    for (var t = 0u; t < params.d; t++) {
        let kl = vec4<f32>(k[k0 + t], k[k1 + t], k[k2 + t], k[k3 + t]);
        let kh = vec4<f32>(k[k4 + t], k[k5 + t], k[k6 + t], k[k7 + t]);
        let x0 = vec4<f32>(q[q0 + t]);
        acc0l = fma(x0, kl, acc0l);
        acc0h = fma(x0, kh, acc0h);
        let x1 = vec4<f32>(q[q1 + t]);
        acc1l = fma(x1, kl, acc1l);
        acc1h = fma(x1, kh, acc1h);
        let x2 = vec4<f32>(q[q2 + t]);
        acc2l = fma(x2, kl, acc2l);
        acc2h = fma(x2, kh, acc2h);
        let x3 = vec4<f32>(q[q3 + t]);
        acc3l = fma(x3, kl, acc3l);
        acc3h = fma(x3, kh, acc3h);
        let x4 = vec4<f32>(q[q4 + t]);
        acc4l = fma(x4, kl, acc4l);
        acc4h = fma(x4, kh, acc4h);
        let x5 = vec4<f32>(q[q5 + t]);
        acc5l = fma(x5, kl, acc5l);
        acc5h = fma(x5, kh, acc5h);
        let x6 = vec4<f32>(q[q6 + t]);
        acc6l = fma(x6, kl, acc6l);
        acc6h = fma(x6, kh, acc6h);
        let x7 = vec4<f32>(q[q7 + t]);
        acc7l = fma(x7, kl, acc7l);
        acc7h = fma(x7, kh, acc7h);
    }
    store_row(z, row0, key0, acc0l, acc0h);
    store_row(z, row0 + 1u, key0, acc1l, acc1h);
    store_row(z, row0 + 2u, key0, acc2l, acc2h);
    store_row(z, row0 + 3u, key0, acc3l, acc3h);
    store_row(z, row0 + 4u, key0, acc4l, acc4h);
    store_row(z, row0 + 5u, key0, acc5l, acc5h);
    store_row(z, row0 + 6u, key0, acc6l, acc6h);
    store_row(z, row0 + 7u, key0, acc7l, acc7h);
}

// Turns one row of the block (keys key0 … key0 + 7; dot products in the two accumulators) into
// weights, skipping keys past the edge.
fn store_row(z: u32, i: u32, key0: u32, low: vec4<f32>, high: vec4<f32>) {
    if i >= params.l {
        return;
    }
    let outer = z / params.heads;
    let inner = z % params.heads;
    let chunks = (params.dv + CHUNK - 1u) / CHUNK;
    let st = (z * params.l + i) * chunks * 3u;
    let m = stats[st];
    let found = stats[st + 2u] != 0.0;
    let inv_l = select(0.0, 1.0 / stats[st + 1u], found);
    let mask_base = outer * params.mask_batch + inner * params.mask_head + i * params.mask_row;
    let padding_base = outer * params.padding_batch;
    let w_base = (z * params.l + i) * params.s;
    for (var j = 0u; j < TILE; j++) {
        let key = key0 + j;
        if key >= params.s {
            break;
        }
        var allowed = found
            && !(params.causal != 0u && i32(key) > i32(i) + params.causal_offset);
        // The masks summed first, then added to the score, as the output-only kernels do.
        var bias = 0.0;
        if params.has_mask != 0u {
            let b = mask[mask_base + key];
            allowed = allowed && b > MASKED_BELOW;
            bias += select(0.0, b, b > MASKED_BELOW);
        }
        if params.has_padding != 0u {
            let b = padding[padding_base + key];
            allowed = allowed && b > MASKED_BELOW;
            bias += select(0.0, b, b > MASKED_BELOW);
        }
        let x = params.scale * select(high[j % 4u], low[j % 4u], j < 4u) + bias;
        weights[w_base + key] = select(0.0, exp(x - m) * inv_l, allowed);
    }
}
