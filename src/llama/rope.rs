//! RoPE's cos and sin tables, computed as transformers' `LlamaRotaryEmbedding` computes them
//! (default rope type), in float32: θ_j = 1 / base^(2j / d) for j < d/2, the angle of position
//! p is the f32 product p · θ_j, and its cos and sin are rounded to f32. The GPU then reads
//! the tables (`shaders/rope.wgsl`) instead of evaluating sin of large angles itself.

/// (cos, sin), each `positions` rows of `head_dim / 2` values: row p, column j is the angle
/// p · θ_j.
pub fn tables(head_dim: usize, base: f64, positions: usize) -> (Vec<f32>, Vec<f32>) {
    let half = head_dim / 2;
    // transformers: 1.0 / (base ** (arange(0, dim, 2).float() / dim)), all in float32.
    let theta: Vec<f32> = (0..half)
        .map(|j| {
            let exponent = (2 * j) as f32 / head_dim as f32;
            1.0f32 / ((base as f32 as f64).powf(exponent as f64) as f32)
        })
        .collect();
    let mut cos = Vec::with_capacity(positions * half);
    let mut sin = Vec::with_capacity(positions * half);
    for p in 0..positions {
        for &t in &theta {
            let angle = (p as f32 * t) as f64;
            cos.push(angle.cos() as f32);
            sin.push(angle.sin() as f32);
        }
    }
    (cos, sin)
}
