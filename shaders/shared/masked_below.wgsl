// A mask value at or below MASKED_BELOW means "this key may not be attended to": the host
// writes f32's lowest value for PyTorch's True / -inf (WGSL has no infinity literal), and the
// kernels test `> MASKED_BELOW` rather than compare with -inf.
//
// Keep in sync with `MASKED_BELOW` in src/kernels/softmax.rs (the CPU twins apply the same rule).
const MASKED_BELOW = -1e30;
