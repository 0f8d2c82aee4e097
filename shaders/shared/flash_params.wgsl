// The output-only attention kernels' parameters: flash.wgsl, flash_tiled.wgsl,
// flash_shuffle.wgsl, and attention_weights.wgsl, which reads the same parameters as the pass
// whose statistics it uses.
//
// Keep in sync with `FlashParams` in src/kernels/flash.rs (same field order, 16-byte padded;
// tests/shaders.rs checks the offsets).
#import masked_below

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
