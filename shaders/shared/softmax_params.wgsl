// The row-softmax kernels' parameters: softmax.wgsl and softmax_subgroup.wgsl.
//
// Keep in sync with `SoftmaxParams` in src/kernels/softmax.rs (same field order, 16-byte padded;
// tests/shaders.rs checks the offsets).
#import masked_below

struct SoftmaxParams {
    // query rows per (batch, head) matrix
    rows: u32,
    // keys per row (row stride of scores and weights)
    cols: u32,
    // number of rows × cols matrices stored one after another (batch × heads)
    batch: u32,
    // 1: key j is allowed for query i only when j <= i + causal_offset
    causal: u32,
    causal_offset: i32,
    // matrix z belongs to batch element z / heads and head z % heads
    heads: u32,
    has_mask: u32,
    has_padding: u32,
    // mask[b * mask_batch + h * mask_head + i * mask_row + j]
    mask_batch: u32,
    mask_head: u32,
    mask_row: u32,
    // padding[b * padding_batch + j]
    padding_batch: u32,
}
