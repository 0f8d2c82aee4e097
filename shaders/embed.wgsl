// BERT's input embeddings: out[t, :] = word[ids[t], :] + position[t % seq_len, :]
// + token_type[types[t], :], for every token t of every batch element (tokens stored batch-major,
// seq_len per element, so a token's position is t % seq_len). Ids arrive as f32 holding exact
// integers (every buffer of a program is f32; ids < 2^24 are exact). An id outside its table is
// never read: the element stays unwritten (the poisoned NaN shows up in the GPU-vs-CPU check),
// and the host refuses such ids before running.
//
// One invocation per output element.
//
// CPU twin: src/cpu/embed.rs.

// Keep in sync with `EmbedParams` in src/kernels/embed.rs.
struct EmbedParams {
    // tokens over all batch elements
    tokens: u32,
    // embedding width (columns of every table)
    hidden: u32,
    // rows of the word table
    vocab: u32,
    // rows of the position table
    positions: u32,
    // tokens per batch element
    seq_len: u32,
    // rows of the token-type table
    type_vocab: u32,
    _pad0: u32,
    _pad1: u32,
}

#import linear_item

@group(0) @binding(0) var<uniform> params: EmbedParams;
@group(0) @binding(1) var<storage, read> ids: array<f32>;
@group(0) @binding(2) var<storage, read> types: array<f32>;
@group(0) @binding(3) var<storage, read> word: array<f32>;
@group(0) @binding(4) var<storage, read> position: array<f32>;
@group(0) @binding(5) var<storage, read> token_type: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn embed(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_item(gid, groups);
    if i >= params.tokens * params.hidden {
        return;
    }
    let t = i / params.hidden;
    let c = i % params.hidden;
    let id = u32(ids[t]);
    let kind = u32(types[t]);
    let pos = t % params.seq_len;
    if id >= params.vocab || kind >= params.type_vocab || pos >= params.positions {
        return;
    }
    out[i] = word[id * params.hidden + c] + position[pos * params.hidden + c]
        + token_type[kind * params.hidden + c];
}
