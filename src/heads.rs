//! Multi-head scaled dot-product attention as steps of a [`Program`]: scores, masked softmax and
//! weighted sums for every (batch element, head) in one batched dispatch each, plus the
//! output-only (online softmax) alternative.
//!
//! Why a module of its own: `nn.MultiheadAttention` (`mha`) and every layer of a BERT encoder
//! (`bert`) run exactly this block between their projections, so it is written once. The
//! projected q, k, v are read in place, laid out (batch, positions, heads · head_dim) as a
//! projection matmul writes them; head h is the column block h·head_dim.. of each row, reached
//! through strides, never copied.

use crate::kernels::flash::FlashParams;
use crate::kernels::head_mean::HeadMeanParams;
use crate::kernels::matmul::MatmulParams;
use crate::kernels::softmax::SoftmaxParams;
use crate::program::{BufId, Program};

/// The sizes (and scale) of one multi-head attention block.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HeadsShape {
    /// Batch elements.
    pub batch: usize,
    /// Query positions per batch element.
    pub l: usize,
    /// Key positions per batch element.
    pub s: usize,
    /// Query heads.
    pub heads: usize,
    /// Key and value heads (`heads` for plain multi-head attention). Fewer is grouped-query
    /// attention: key head g serves query heads g·group .. (g+1)·group, group = heads / kv_heads,
    /// read in place with a zero stride (never copied per query head). Grouped heads need
    /// `batch` 1 (a decoder runs one sequence at a time).
    pub kv_heads: usize,
    /// Width of one head of q and k (their rows are heads · head_dim wide).
    pub head_dim: usize,
    /// Width of one head of v and of the weighted sums (rows heads · value_dim wide).
    pub value_dim: usize,
    /// The factor on q·kᵀ; `None` is 1/√head_dim.
    pub scale: Option<f32>,
}

/// The masks applied inside the softmax (all optional).
#[derive(Clone, Copy, Debug, Default)]
pub struct HeadsMasks {
    /// Key j is allowed for query i only when j ≤ i + causal_offset (top-left aligned).
    pub causal: bool,
    /// The causal diagonal's offset: the first query row's index when the block computes only
    /// some of the rows (0 for all of them).
    pub causal_offset: i32,
    /// An additive (L, S) mask, or one per (batch, head) when `per_head` is set.
    pub attn_mask: Option<BufId>,
    /// True when `attn_mask` holds one (L, S) matrix per (batch, head), batch-major.
    pub per_head: bool,
    /// An additive (batch, S) key-padding mask.
    pub padding: Option<BufId>,
}

/// Where the block's results are.
#[derive(Clone, Copy, Debug)]
pub struct HeadsOutput {
    /// (batch, heads, L, S) scaled scores, before the softmax.
    pub scores: BufId,
    /// (batch, heads, L, S) attention weights.
    pub weights: BufId,
    /// (batch, L, heads · head_dim) weighted sums, heads side by side (the out-projection's input).
    pub context: BufId,
    /// The same context computed with an online softmax, never forming the weights; asking for
    /// it (and not `weights` or `context`) runs only that path.
    pub context_no_weights: BufId,
    /// The fused weights path: the context from the online softmax, which leaves its row
    /// statistics for `fused_weights`.
    pub fused_context: BufId,
    /// (batch, heads, L, S) weights from those statistics, written once.
    pub fused_weights: BufId,
}

/// Adds the attention block over projected `q` (batch, L, heads · head_dim), `k` (batch, S,
/// kv_heads · head_dim) and `v` (batch, S, kv_heads · value_dim) to `p`, naming its buffers with `prefix` (e.g. "layer 3 ") and
/// its weighted sums `output` (e.g. "context"). Every path is added (weights, output only,
/// fused); the executors run only those whose buffers are asked for. Sizes that overflow u32
/// saturate, so the executor reports them by name as too large rather than wrapping.
pub fn add_heads(
    p: &mut Program,
    (prefix, output): (&str, &str),
    shape: HeadsShape,
    [q, k, v]: [BufId; 3],
    masks: HeadsMasks,
) -> HeadsOutput {
    let HeadsShape {
        batch,
        l,
        s,
        heads,
        kv_heads,
        head_dim,
        value_dim,
        scale,
    } = shape;
    assert!(
        kv_heads > 0 && heads.is_multiple_of(kv_heads),
        "{heads} query heads cannot be grouped over {kv_heads} key heads"
    );
    let group = heads / kv_heads;
    assert!(
        group == 1 || batch == 1,
        "grouped-query attention runs one sequence at a time, not {batch}"
    );
    let (n32, l32, s32, h32, dh32) = (
        batch as u32,
        l as u32,
        s as u32,
        heads as u32,
        head_dim as u32,
    );
    let e32 = sat(&[h32, dh32]);
    let dv32 = value_dim as u32;
    let ev32 = sat(&[h32, dv32]);
    let kv32 = kv_heads as u32;
    let (ek32, evk32) = (sat(&[kv32, dh32]), sat(&[kv32, dv32]));
    let scale = scale.unwrap_or(1.0 / (head_dim as f32).sqrt());
    let name = |what: &str| format!("{prefix}{what}");

    // Matrix z = outer · inner_count + inner. Plain heads: outer is the batch element and inner
    // the head, so every operand steps by its (positions × row) per outer and by one head's
    // columns per inner. Grouped heads (batch 1): outer is the key head and inner the query head
    // within its group, so q, the weights and the context step by a whole group per outer and
    // by one head per inner, while k and v step by one key head per outer and stay put per inner.
    let layout = if group == 1 {
        Layout {
            outer: n32,
            inner: h32,
            q_outer: sat(&[l32, e32]),
            k_outer: sat(&[s32, ek32]),
            k_inner: dh32,
            v_outer: sat(&[s32, evk32]),
            v_inner: dv32,
            maps_outer: sat(&[h32, l32, s32]),
            out_outer: sat(&[l32, ev32]),
        }
    } else {
        let g32 = group as u32;
        Layout {
            outer: kv32,
            inner: g32,
            q_outer: sat(&[g32, dh32]),
            k_outer: dh32,
            k_inner: 0,
            v_outer: dv32,
            v_inner: 0,
            maps_outer: sat(&[g32, l32, s32]),
            out_outer: sat(&[g32, dv32]),
        }
    };
    let map32 = sat(&[l32, s32]);

    // Scores for every (batch, head): q_h · k_hᵀ / √head_dim, stored (batch, heads, L, S).
    let scores_params = MatmulParams {
        m: l32,
        n: s32,
        k: dh32,
        alpha: scale,
        a_row: e32,
        a_col: 1,
        b_row: 1,
        b_col: ek32,
        c_row: s32,
        batch_outer: layout.outer,
        batch_inner: layout.inner,
        a_batch_outer: layout.q_outer,
        a_batch_inner: dh32,
        b_batch_outer: layout.k_outer,
        b_batch_inner: layout.k_inner,
        c_batch_outer: layout.maps_outer,
        c_batch_inner: map32,
        ..Default::default()
    };
    let scores = p.matmul(&name("scores"), scores_params, q, k, None);

    let (mask_batch, mask_head) = if masks.per_head {
        (sat(&[h32, l32, s32]), sat(&[l32, s32]))
    } else {
        (0, 0)
    };
    let softmax = SoftmaxParams {
        rows: l32,
        cols: s32,
        batch: sat(&[n32, h32]),
        causal: masks.causal as u32,
        causal_offset: masks.causal_offset,
        heads: h32,
        mask_batch,
        mask_head,
        mask_row: s32,
        padding_batch: s32,
        ..Default::default()
    };
    let weights = p.softmax(
        &name("weights"),
        softmax,
        scores,
        masks.attn_mask,
        masks.padding,
    );

    // Weighted sums for every (batch, head), written into the head's columns of (batch, L, E).
    let context_params = MatmulParams {
        m: l32,
        n: dv32,
        k: s32,
        alpha: 1.0,
        a_row: s32,
        a_col: 1,
        b_row: evk32,
        b_col: 1,
        c_row: ev32,
        batch_outer: layout.outer,
        batch_inner: layout.inner,
        a_batch_outer: layout.maps_outer,
        a_batch_inner: map32,
        b_batch_outer: layout.v_outer,
        b_batch_inner: layout.v_inner,
        c_batch_outer: layout.out_outer,
        c_batch_inner: dv32,
        ..Default::default()
    };
    let context = p.matmul(&name(output), context_params, weights, v, None);

    // The output-only path: the same masks, an online softmax, no (batch, heads, L, S) buffer.
    let flash_params = FlashParams {
        l: l32,
        s: s32,
        d: dh32,
        dv: dv32,
        scale,
        causal: masks.causal as u32,
        causal_offset: masks.causal_offset,
        heads: layout.inner,
        batch: sat(&[n32, h32]),
        // Grouped heads have one batch element, so its padding row is the only one.
        padding_batch: if group == 1 { s32 } else { 0 },
        mask_batch: if masks.per_head { layout.maps_outer } else { 0 },
        mask_head,
        mask_row: s32,
        q_row: e32,
        q_batch_outer: layout.q_outer,
        q_batch_inner: dh32,
        k_row: ek32,
        k_batch_outer: layout.k_outer,
        k_batch_inner: layout.k_inner,
        v_row: evk32,
        v_batch_outer: layout.v_outer,
        v_batch_inner: layout.v_inner,
        o_row: ev32,
        o_batch_outer: layout.out_outer,
        o_batch_inner: dv32,
        ..Default::default()
    };
    let context_no_weights = p.flash(
        &name(&format!("{output} (online softmax)")),
        flash_params,
        q,
        k,
        v,
        masks.attn_mask,
        masks.padding,
    );
    let (fused_context, fused_weights) = p.flash_with_weights(
        &name(&format!("{output} (fused)")),
        &name("weights (fused)"),
        flash_params,
        q,
        k,
        v,
        masks.attn_mask,
        masks.padding,
    );
    HeadsOutput {
        scores,
        weights,
        context,
        context_no_weights,
        fused_context,
        fused_weights,
    }
}

/// Adds the mean over heads of (batch, heads, L, S) `weights`, writing (batch, L, S).
pub fn add_head_mean(p: &mut Program, name: &str, shape: HeadsShape, weights: BufId) -> BufId {
    p.head_mean(
        name,
        HeadMeanParams {
            batch: shape.batch as u32,
            heads: shape.heads as u32,
            len: sat(&[shape.l as u32, shape.s as u32]),
            _pad0: 0,
        },
        weights,
    )
}

/// How a batched dispatch's matrix index splits into (outer, inner) and the strides each
/// operand takes per step of either (see `add_heads`).
struct Layout {
    outer: u32,
    inner: u32,
    q_outer: u32,
    k_outer: u32,
    k_inner: u32,
    v_outer: u32,
    v_inner: u32,
    /// Scores and weights, (batch, heads, L, S).
    maps_outer: u32,
    /// The context, (batch, L, heads · value_dim).
    out_outer: u32,
}

/// The product of u32 sizes, saturating: a product that does not fit makes a buffer far beyond
/// any adapter's limits, which the executor reports by name before allocating anything.
pub fn sat(factors: &[u32]) -> u32 {
    factors.iter().fold(1u32, |acc, &f| acc.saturating_mul(f))
}
