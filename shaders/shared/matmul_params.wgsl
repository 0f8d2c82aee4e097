// The matmul kernels' parameters: matmul.wgsl, matmul_naive.wgsl, matmul_tiled.wgsl and
// matmul_shuffle.wgsl compute the same C = alpha · A · B (+ bias) from them.
//
// Keep in sync with `MatmulParams` in src/kernels/matmul.rs (same field order, 16-byte padded;
// tests/shaders.rs checks the offsets).

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
    // offset of A's first element (0 but for e.g. a decoder's LM head on the last row)
    a_base: u32,
}
