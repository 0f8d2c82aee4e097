// The bindings of the output-only attention kernels (flash.wgsl, flash_tiled.wgsl,
// flash_shuffle.wgsl), in the order src/kernels/flash.rs binds them.
#import flash_params

@group(0) @binding(0) var<uniform> params: FlashParams;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;
@group(0) @binding(5) var<storage, read> padding: array<f32>;
// (m, l, found) per query row, matrix and output chunk: between key blocks, and final after
// the last (the row statistics attention_weights.wgsl reads)
@group(0) @binding(6) var<storage, read_write> state: array<f32>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;
