//! CPU twin of `shaders/embed.wgsl`: word + position + token-type embedding rows per token.

use super::step::CpuStep;
use crate::kernels::embed::EmbedParams;

/// `out[t, c] = word[ids[t], c] + position[t % seq_len, c] + token_type[types[t], c]`; ids out
/// of range leave their row NaN (the GPU leaves it unwritten).
pub fn embed(
    p: &EmbedParams,
    ids: &[f64],
    types: &[f64],
    word: &[f64],
    position: &[f64],
    token_type: &[f64],
    out: &mut [f64],
) {
    let hidden = p.hidden as usize;
    for t in 0..p.tokens as usize {
        let id = ids[t] as usize;
        let kind = types[t] as usize;
        let pos = t % p.seq_len as usize;
        let ok =
            id < p.vocab as usize && kind < p.type_vocab as usize && pos < p.positions as usize;
        for c in 0..hidden {
            out[t * hidden + c] = if ok {
                word[id * hidden + c] + position[pos * hidden + c] + token_type[kind * hidden + c]
            } else {
                f64::NAN
            };
        }
    }
}

impl CpuStep for EmbedParams {
    fn run_cpu(&self, reads: &[&[f64]], writes: &mut [Vec<f64>]) {
        let ([ids, types, word, position, token_type], [out]) = (reads, writes) else {
            unreachable!("embed binds ids, types and the three tables and writes the embeddings")
        };
        embed(self, ids, types, word, position, token_type, out);
    }
}
