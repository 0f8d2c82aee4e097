// The bindings of the matmul kernels (matmul.wgsl, matmul_naive.wgsl, matmul_tiled.wgsl,
// matmul_shuffle.wgsl), in the order src/kernels/matmul.rs binds them.
#import matmul_params

@group(0) @binding(0) var<uniform> params: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
