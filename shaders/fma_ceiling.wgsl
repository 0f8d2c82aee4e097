// A measurement probe, not an attention kernel: the arithmetic ceiling of an adapter. Every
// invocation runs `iterations` steps of 16 independent vec4 multiply-adds (64 fma, 128 FLOP per
// step) on registers only, with no memory traffic inside the loop, and writes the sum of its
// accumulators so nothing can be optimised away. `examples/fma_ceiling.rs` times it and checks
// a sample of the sums against the same chain on the CPU (so a loop cut short is caught).
//
// CPU twin: `fma_chain` in examples/fma_ceiling.rs.

// Keep in sync with `ProbeParams` in examples/fma_ceiling.rs.
struct ProbeParams {
    iterations: u32,
    // Each accumulator starts at start + invocation * 1e-6 + accumulator * 1e-3 and steps to
    // acc * factor + addend (stays bounded for |factor| < 1).
    start: f32,
    factor: f32,
    addend: f32,
}

@group(0) @binding(0) var<uniform> params: ProbeParams;
@group(0) @binding(1) var<storage, read_write> sums: array<f32>;

// Invocations per workgroup; keep in sync with `WORKGROUP` in examples/fma_ceiling.rs.
const WG = 64u;

@compute @workgroup_size(WG)
fn fma_ceiling(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = gid.x + gid.y * groups.x * WG;
    let s = params.start + f32(index) * 1e-6;
    let f = vec4<f32>(params.factor);
    let c = vec4<f32>(params.addend);
    let step = vec4<f32>(0.0, 1e-3, 2e-3, 3e-3);
    var a0 = s + step;
    var a1 = s + step + 4e-3;
    var a2 = s + step + 8e-3;
    var a3 = s + step + 12e-3;
    var a4 = s + step + 16e-3;
    var a5 = s + step + 20e-3;
    var a6 = s + step + 24e-3;
    var a7 = s + step + 28e-3;
    var a8 = s + step + 32e-3;
    var a9 = s + step + 36e-3;
    var a10 = s + step + 40e-3;
    var a11 = s + step + 44e-3;
    var a12 = s + step + 48e-3;
    var a13 = s + step + 52e-3;
    var a14 = s + step + 56e-3;
    var a15 = s + step + 60e-3;
    for (var i = 0u; i < params.iterations; i++) {
        a0 = fma(a0, f, c);
        a1 = fma(a1, f, c);
        a2 = fma(a2, f, c);
        a3 = fma(a3, f, c);
        a4 = fma(a4, f, c);
        a5 = fma(a5, f, c);
        a6 = fma(a6, f, c);
        a7 = fma(a7, f, c);
        a8 = fma(a8, f, c);
        a9 = fma(a9, f, c);
        a10 = fma(a10, f, c);
        a11 = fma(a11, f, c);
        a12 = fma(a12, f, c);
        a13 = fma(a13, f, c);
        a14 = fma(a14, f, c);
        a15 = fma(a15, f, c);
    }
    let total = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
        + ((a8 + a9) + (a10 + a11)) + ((a12 + a13) + (a14 + a15));
    if index < arrayLength(&sums) {
        sums[index] = (total.x + total.y) + (total.z + total.w);
    }
}
