// Rotary position embeddings (LLaMA's RoPE, as transformers' apply_rotary_pos_emb with
// rotate_half): each head's vector x of width d is rotated pairwise, pair j being (x[j],
// x[j + d/2]) turned by the angle position · θ_j:
//   out[j]       = x[j] · cos − x[j + d/2] · sin
//   out[j + d/2] = x[j + d/2] · cos + x[j] · sin
// The cos and sin come from tables (positions × d/2) the host computes the way transformers
// does in float32 (src/llama/rope.rs), so no GPU evaluates sin of a large angle itself.
//
// x is (tokens, heads · d), a projection's output; token t sits at position t + offset.
// One invocation per (token, head, pair).
//
// CPU twin: src/cpu/rope.rs.

// Keep in sync with `RopeParams` in src/kernels/rope.rs.
struct RopeParams {
    tokens: u32,
    heads: u32,
    // the head width d (even)
    head_dim: u32,
    // the position of token 0 (the tokens before it are in the KV cache)
    offset: u32,
}

#import linear_item

@group(0) @binding(0) var<uniform> params: RopeParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> cos_table: array<f32>;
@group(0) @binding(3) var<storage, read> sin_table: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn rope(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let item = linear_item(gid, groups);
    let half = params.head_dim / 2u;
    if item >= params.tokens * params.heads * half {
        return;
    }
    let j = item % half;
    let head = (item / half) % params.heads;
    let token = item / (half * params.heads);
    let first = (token * params.heads + head) * params.head_dim + j;
    let angle = (token + params.offset) * half + j;
    let c = cos_table[angle];
    let s = sin_table[angle];
    let a = x[first];
    let b = x[first + half];
    out[first] = a * c - b * s;
    out[first + half] = b * c + a * s;
}
