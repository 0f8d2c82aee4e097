// What the row-softmax kernels (softmax.wgsl, softmax_subgroup.wgsl) share: their bindings, in
// the order src/kernels/softmax.rs binds them, and the mask rule — the causal mask, the additive
// attention mask and the key-padding mask applied to one score.
//
// CPU twin of the mask rule: src/cpu/softmax.rs.
#import softmax_params

@group(0) @binding(0) var<uniform> params: SoftmaxParams;
@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read> padding: array<f32>;
@group(0) @binding(4) var<storage, read_write> weights: array<f32>;

// The score of key j with every mask added, and whether key j takes part at all.
struct Masked {
    score: f32,
    allowed: bool,
}

fn masked(base: u32, mask_base: u32, padding_base: u32, query: u32, key: u32) -> Masked {
    var out = Masked(scores[base + key], true);
    if params.causal != 0u && i32(key) > i32(query) + params.causal_offset {
        out.allowed = false;
    }
    if params.has_mask != 0u {
        let m = mask[mask_base + key];
        out.allowed = out.allowed && m > MASKED_BELOW;
        out.score += select(0.0, m, m > MASKED_BELOW);
    }
    if params.has_padding != 0u {
        let p = padding[padding_base + key];
        out.allowed = out.allowed && p > MASKED_BELOW;
        out.score += select(0.0, p, p > MASKED_BELOW);
    }
    return out;
}
