// Row softmax of the scaled scores, numerically stable (the row max is subtracted before exp),
// with optional masks: a causal mask, an additive attention mask (broadcast through strides over
// batch, head and query) and an additive key-padding mask (per batch element and key). A mask
// value at or below MASKED_BELOW means "this key may not be attended to" (the host writes
// f32's lowest value for PyTorch's True / -inf). A row whose every key is masked is written as
// zeros rather than the 0/0 = NaN of a plain softmax (PyTorch's "safe softmax" behaviour).
//
// One invocation per row: on CPU adapters a workgroup tree reduction was 5× slower than this
// (DESIGN.md §6). WGSL has no infinity literal, so masking uses an explicit `allowed` test and a
// `found` flag instead of -inf.
//
// CPU twin: src/cpu/softmax.rs.

#import softmax_bindings

const WG = 64u;

@compute @workgroup_size(WG, 1, 1)
fn softmax(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let r = gid.x + gid.y * groups.x * WG;
    if r >= params.batch * params.rows {
        return;
    }
    let z = r / params.rows;
    let query = r % params.rows;
    let b = z / params.heads;
    let h = z % params.heads;
    let base = r * params.cols;
    let mask_base = b * params.mask_batch + h * params.mask_head + query * params.mask_row;
    let padding_base = b * params.padding_batch;

    if params.has_mask == 0u && params.has_padding == 0u {
        softmax_unmasked(base, query);
        return;
    }

    var found = false;
    var row_max = 0.0;
    for (var j = 0u; j < params.cols; j++) {
        let s = masked(base, mask_base, padding_base, query, j);
        if s.allowed {
            row_max = select(s.score, max(row_max, s.score), found);
            found = true;
        }
    }
    if !found {
        write_zeros(base, 0u);
        return;
    }

    var sum = 0.0;
    for (var j = 0u; j < params.cols; j++) {
        let s = masked(base, mask_base, padding_base, query, j);
        if s.allowed {
            sum += exp(s.score - row_max);
        }
    }
    let inv_sum = 1.0 / sum;
    for (var j = 0u; j < params.cols; j++) {
        let s = masked(base, mask_base, padding_base, query, j);
        weights[base + j] = select(0.0, exp(s.score - row_max) * inv_sum, s.allowed);
    }
}

// A row without additive masks (the common case: plain or causal attention): the allowed keys
// are 0 … limit − 1, taken four at a time into vec4 accumulators, then the last one to three
// alone. On lavapipe this ran at about twice the speed of the general loop above (the softmax
// at N = 2048, `examples/stage_times.rs`), whose per-key mask tests and running max/sum
// chains cost more than its loads. The max is the same as the general loop's; the sum is
// taken in a different but fixed order.
fn softmax_unmasked(base: u32, query: u32) {
    var limit = params.cols;
    // No overflow: query < rows, and the host's offsets are starts of row blocks (< rows); rows
    // of Q fit one storage binding, so the sum stays far below 2^31.
    if params.causal != 0u {
        limit = u32(clamp(i32(query) + params.causal_offset + 1, 0, i32(params.cols)));
    }
    if limit == 0u {
        write_zeros(base, 0u);
        return;
    }
    let full = limit - limit % 4u;
    var max4 = vec4<f32>(scores[base]);
    var j = 0u;
    for (; j < full; j += 4u) {
        max4 = max(max4, four_scores(base + j));
    }
    var row_max = max(max(max4.x, max4.y), max(max4.z, max4.w));
    for (; j < limit; j++) {
        row_max = max(row_max, scores[base + j]);
    }

    var sum4 = vec4<f32>(0.0);
    for (j = 0u; j < full; j += 4u) {
        sum4 += exp(four_scores(base + j) - row_max);
    }
    var sum = (sum4.x + sum4.y) + (sum4.z + sum4.w);
    for (; j < limit; j++) {
        sum += exp(scores[base + j] - row_max);
    }
    let inv_sum = 1.0 / sum;
    for (j = 0u; j < full; j += 4u) {
        let w = exp(four_scores(base + j) - row_max) * inv_sum;
        weights[base + j] = w.x;
        weights[base + j + 1u] = w.y;
        weights[base + j + 2u] = w.z;
        weights[base + j + 3u] = w.w;
    }
    for (; j < limit; j++) {
        weights[base + j] = exp(scores[base + j] - row_max) * inv_sum;
    }
    write_zeros(base, limit);
}

// scores[i … i + 3] (four scalar loads: rows need not start on a multiple of four).
fn four_scores(i: u32) -> vec4<f32> {
    return vec4<f32>(scores[i], scores[i + 1u], scores[i + 2u], scores[i + 3u]);
}

// Zero weights for keys `first` … cols − 1 of the row at `base` (the masked ones).
fn write_zeros(base: u32, first: u32) {
    for (var j = first; j < params.cols; j++) {
        weights[base + j] = 0.0;
    }
}
