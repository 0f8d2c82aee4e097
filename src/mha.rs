//! `torch.nn.MultiheadAttention(batch_first=True)` in eval mode, as one GPU program: projections
//! for all heads in one matmul each, scores and weighted sums for every (batch, head) in one
//! batched dispatch, masks applied in the softmax, weights averaged over heads on the GPU.
//!
//! PyTorch's documentation is the reference: q = query·W_qᵀ + b_q (likewise k, v), heads split
//! along the embedding, scores scaled by 1/√head_dim, `key_padding_mask` (N, S) and `attn_mask`
//! (L, S) or (N·heads, L, S) either bool (True = not allowed) or float (added), output
//! = concat(heads)·W_oᵀ + b_o. One deliberate difference: a query whose every key is masked gets
//! zero weights (PyTorch returns NaN there).

use std::borrow::Cow;
use std::ops::Range;

use crate::error::{Error, Result};
use crate::heads::{HeadsMasks, HeadsShape, add_head_mean, add_heads};
use crate::kernels::matmul::MatmulParams;
use crate::npy::{Array, Mask};
use crate::numpy_rng::NumpyRng;
use crate::program::{BufId, Program};
use crate::state_dict::StateDict;
use crate::tensor::cut_rows;

/// The parameters of one `nn.MultiheadAttention`, weights stored as PyTorch does (out × in).
#[derive(Clone, Debug)]
pub struct MhaWeights {
    /// Embedding width E.
    pub embed_dim: usize,
    /// Key input width (E unless the module was built with kdim).
    pub kdim: usize,
    /// Value input width (E unless the module was built with vdim).
    pub vdim: usize,
    /// W_q, E×E.
    pub wq: Vec<f32>,
    /// W_k, E×kdim.
    pub wk: Vec<f32>,
    /// W_v, E×vdim.
    pub wv: Vec<f32>,
    /// b_q, b_k, b_v (each E), when the module has biases.
    pub in_bias: Option<[Vec<f32>; 3]>,
    /// W_o, E×E.
    pub wo: Vec<f32>,
    /// b_o (E), when present.
    pub out_bias: Option<Vec<f32>>,
}

impl MhaWeights {
    /// Reads the tensors of a `state_dict()`; refuses `add_bias_kv` modules.
    pub fn from_state_dict(sd: &StateDict) -> Result<Self> {
        for name in ["bias_k", "bias_v"] {
            if sd.has(name) {
                return Err(Error::InputFile {
                    path: sd.path.clone(),
                    message: format!(
                        "holds '{name}': modules built with add_bias_kv=True are not supported"
                    ),
                });
            }
        }
        let e = match sd.shape("out_proj.weight") {
            Some([e, _]) => *e,
            _ => {
                // Reports missing or malformed with the expected shape.
                let e = sd
                    .shape("in_proj_weight")
                    .and_then(|s| s.get(1).copied())
                    .unwrap_or(0);
                sd.get("out_proj.weight", &[e, e])?;
                unreachable!("get fails for a missing or non-2-D tensor");
            }
        };
        let wo = sd.get("out_proj.weight", &[e, e])?.data.clone();
        let out_bias = sd
            .get_optional("out_proj.bias", &[e])?
            .map(|t| t.data.clone());
        let (wq, wk, wv, kdim, vdim) = if sd.has("in_proj_weight") {
            let w = &sd.get("in_proj_weight", &[3 * e, e])?.data;
            let part = |i: usize| w[i * e * e..(i + 1) * e * e].to_vec();
            (part(0), part(1), part(2), e, e)
        } else if sd.has("q_proj_weight") {
            let kdim = sd
                .shape("k_proj_weight")
                .map_or(e, |s| s.get(1).copied().unwrap_or(e));
            let vdim = sd
                .shape("v_proj_weight")
                .map_or(e, |s| s.get(1).copied().unwrap_or(e));
            (
                sd.get("q_proj_weight", &[e, e])?.data.clone(),
                sd.get("k_proj_weight", &[e, kdim])?.data.clone(),
                sd.get("v_proj_weight", &[e, vdim])?.data.clone(),
                kdim,
                vdim,
            )
        } else {
            sd.get("in_proj_weight", &[3 * e, e])?;
            unreachable!("in_proj_weight is missing, so get fails");
        };
        let in_bias = sd.get_optional("in_proj_bias", &[3 * e])?.map(|t| {
            let part = |i: usize| t.data[i * e..(i + 1) * e].to_vec();
            [part(0), part(1), part(2)]
        });
        Ok(MhaWeights {
            embed_dim: e,
            kdim,
            vdim,
            wq,
            wk,
            wv,
            in_bias,
            wo,
            out_bias,
        })
    }

    /// Weights drawn as PyTorch initialises a new module (Xavier-uniform in_proj, U(±1/√E)
    /// out_proj, zero biases), from NumPy's generator with `seed` — deterministic, not torch's
    /// numbers.
    pub fn random(embed_dim: usize, seed: u32) -> Self {
        let e = embed_dim;
        let mut rng = NumpyRng::new(seed);
        let xavier = (6.0 / (e + 3 * e) as f64).sqrt();
        let mut draw = |bound: f64, n: usize| -> Vec<f32> {
            rng.uniform(-bound, bound, n)
                .into_iter()
                .map(|v| v as f32)
                .collect()
        };
        MhaWeights {
            embed_dim: e,
            kdim: e,
            vdim: e,
            wq: draw(xavier, e * e),
            wk: draw(xavier, e * e),
            wv: draw(xavier, e * e),
            in_bias: Some([vec![0.0; e], vec![0.0; e], vec![0.0; e]]),
            wo: draw(1.0 / (e as f64).sqrt(), e * e),
            out_bias: Some(vec![0.0; e]),
        }
    }
}

/// One `forward` call: the module, its inputs and options.
#[derive(Clone, Debug)]
pub struct MhaProblem {
    /// The module's parameters.
    pub weights: MhaWeights,
    /// Number of heads (PyTorch does not store it).
    pub heads: usize,
    /// Query (L, E) or (N, L, E).
    pub query: Array,
    /// Key (S, kdim) or (N, S, kdim); None = the query (self-attention).
    pub key: Option<Array>,
    /// Value (S, vdim) or (N, S, vdim); None = the key.
    pub value: Option<Array>,
    /// (N, S), or (S) for unbatched input.
    pub key_padding_mask: Option<Mask>,
    /// (L, S) or (N·heads, L, S).
    pub attn_mask: Option<Mask>,
    /// Top-left causal mask (key j allowed for query i iff j ≤ i).
    pub causal: bool,
}

/// The sizes of an [`MhaProblem`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MhaDims {
    /// Batch size (1 for unbatched input).
    pub n: usize,
    /// Query length.
    pub l: usize,
    /// Key length.
    pub s: usize,
    /// Embedding width.
    pub e: usize,
    /// Heads.
    pub heads: usize,
    /// E / heads.
    pub head_dim: usize,
    /// Whether the input had a batch dimension.
    pub batched: bool,
}

fn shape_error(what: String) -> Error {
    Error::ShapeMismatch(what)
}

fn check_finite(name: &str, values: &[f32]) -> Result<()> {
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            tensor: name.to_string(),
            index: format!("{i} (flat)"),
            value: values[i] as f64,
        });
    }
    Ok(())
}

impl MhaProblem {
    /// Checks every shape and value; returns the sizes.
    pub fn dims(&self) -> Result<MhaDims> {
        let w = &self.weights;
        let e = w.embed_dim;
        if self.heads == 0 || e == 0 || !e.is_multiple_of(self.heads) {
            return Err(Error::Parameter {
                name: "heads",
                problem: format!(
                    "{}: embed_dim {e} is not divisible by it (zero heads or width included)",
                    self.heads
                ),
            });
        }
        let q = &self.query.shape;
        let batched = match q.len() {
            3 => true,
            2 => false,
            _ => {
                return Err(shape_error(format!(
                    "query has shape {q:?}; expected (L, E) or (N, L, E)"
                )));
            }
        };
        let split = |name: &str, a: &Array, width: usize| -> Result<(usize, usize)> {
            let (n, len, w) = match a.shape[..] {
                [n, len, w] if batched => (n, len, w),
                [len, w] if !batched => (1, len, w),
                _ => {
                    return Err(shape_error(format!(
                        "{name} has shape {:?} but the query is {}-D {q:?}: both must be batched (N, ·, ·) or both unbatched",
                        a.shape,
                        q.len()
                    )));
                }
            };
            if w != width {
                return Err(shape_error(format!(
                    "{name} has shape {:?}: its last dimension must be {width}, the module's width for it",
                    a.shape
                )));
            }
            if n == 0 || len == 0 {
                return Err(Error::InvalidSize(format!(
                    "{name} has shape {:?}: no dimension may be 0",
                    a.shape
                )));
            }
            check_finite(name, &a.data)?;
            Ok((n, len))
        };
        let (n, l) = split("query", &self.query, e)?;
        let key = self.key.as_ref().unwrap_or(&self.query);
        let value = self.value.as_ref().unwrap_or(key);
        let (nk, s) = split("key", key, w.kdim)?;
        let (nv, sv) = split("value", value, w.vdim)?;
        if nk != n || nv != n {
            return Err(shape_error(format!(
                "batch sizes differ: query {n}, key {nk}, value {nv}"
            )));
        }
        if sv != s {
            return Err(shape_error(format!(
                "key has {s} positions but value has {sv}"
            )));
        }
        for (name, v) in [
            ("W_q", &w.wq),
            ("W_k", &w.wk),
            ("W_v", &w.wv),
            ("out_proj.weight", &w.wo),
        ] {
            check_finite(name, v)?;
        }
        if let Some(biases) = &w.in_bias {
            for (name, b) in ["b_q", "b_k", "b_v"].iter().zip(biases) {
                check_finite(name, b)?;
            }
        }
        if let Some(b) = &w.out_bias {
            check_finite("out_proj.bias", b)?;
        }
        for (name, m) in [
            ("key_padding_mask", &self.key_padding_mask),
            ("attn_mask", &self.attn_mask),
        ] {
            if let Some(m) = m
                && let Some(i) = m
                    .array
                    .data
                    .iter()
                    .position(|v| v.is_nan() || *v == f32::INFINITY)
            {
                return Err(Error::NonFinite {
                    tensor: name.into(),
                    index: format!("{i} (flat)"),
                    value: m.array.data[i] as f64,
                });
            }
        }
        let heads = self.heads;
        if let Some(m) = &self.key_padding_mask {
            let expected: Vec<usize> = if batched { vec![n, s] } else { vec![s] };
            if m.array.shape != expected {
                return Err(shape_error(format!(
                    "key_padding_mask has shape {:?}; expected {expected:?} (batch, key length)",
                    m.array.shape
                )));
            }
        }
        if let Some(m) = &self.attn_mask {
            let ok = m.array.shape == [l, s] || m.array.shape == [n * heads, l, s];
            if !ok {
                return Err(shape_error(format!(
                    "attn_mask has shape {:?}; expected ({l}, {s}) or ({}, {l}, {s}) (N·heads, L, S)",
                    m.array.shape,
                    n * heads
                )));
            }
        }
        Ok(MhaDims {
            n,
            l,
            s,
            e,
            heads,
            head_dim: e / heads,
            batched,
        })
    }
}

impl MhaDims {
    /// PyTorch's shape of the output for `rows` query rows: (N, rows, E), or (rows, E) unbatched.
    pub fn output_shape(&self, rows: usize) -> Vec<usize> {
        if self.batched {
            vec![self.n, rows, self.e]
        } else {
            vec![rows, self.e]
        }
    }

    /// PyTorch's shape of the weights for `rows` query rows: (N, rows, S) averaged over heads,
    /// (N, heads, rows, S) per head; no N when unbatched.
    pub fn weights_shape(&self, rows: usize, per_head: bool) -> Vec<usize> {
        let mut shape = Vec::new();
        if self.batched {
            shape.push(self.n);
        }
        if per_head {
            shape.push(self.heads);
        }
        shape.extend([rows, self.s]);
        shape
    }
}

/// The program for one [`MhaProblem`] (or a block of its query rows), its input data, and where
/// the results are.
pub struct MhaPlan<'a> {
    /// The sizes of the whole problem.
    pub dims: MhaDims,
    /// The query rows this program computes (0..L unless built by [`MhaPlan::for_rows`]).
    pub rows: Range<usize>,
    /// The dispatches.
    pub program: Program,
    /// Data for the program's inputs, in declaration order: borrowed from the problem where
    /// every block of rows reads the same, owned where cut to the block's rows.
    pub input_data: Vec<Cow<'a, [f32]>>,
    /// (N, L, E) output.
    pub output: BufId,
    /// (N, heads, L, S) weights.
    pub weights_per_head: BufId,
    /// (N, L, S) weights averaged over heads.
    pub weights_mean: BufId,
    /// (N, L, E) output computed without ever forming the weights (online softmax); asking for
    /// this buffer alone runs only the output-only path.
    pub output_no_weights: BufId,
}

impl<'a> MhaPlan<'a> {
    /// Builds the program for `problem` (whose [`MhaProblem::dims`] must have succeeded).
    pub fn new(problem: &'a MhaProblem, dims: MhaDims) -> Self {
        Self::for_rows(problem, dims, 0..dims.l)
    }

    /// Builds the program for query rows `rows` only (a non-empty range within 0..L), against
    /// every key: the query and the attention mask cut to those rows (self-attention keeps the
    /// whole query as its key and value), the causal diagonal moved by `rows.start`. Its output
    /// and weights are (…, rows.len(), ·): those rows of the whole problem's. For weights too
    /// large for one buffer (see `selfattn mha`).
    pub fn for_rows(problem: &'a MhaProblem, dims: MhaDims, rows: Range<usize>) -> Self {
        assert!(
            !rows.is_empty() && rows.end <= dims.l,
            "query rows {rows:?} not within 0..{}",
            dims.l
        );
        let MhaDims {
            n,
            s,
            e,
            heads,
            head_dim,
            ..
        } = dims;
        let l = rows.len();
        let w = &problem.weights;
        let mut p = Program::default();
        let mut data: Vec<Cow<'a, [f32]>> = Vec::new();
        let mut input = |p: &mut Program, name: &str, values: Cow<'a, [f32]>| {
            let id = p.input(name, values.len());
            data.push(values);
            id
        };
        let whole = rows.len() == dims.l;
        let query = input(
            &mut p,
            "query",
            cut_rows(&problem.query.data, dims.l, e, &rows).into(),
        );
        let key = match &problem.key {
            Some(k) => input(&mut p, "key", Cow::Borrowed(&k.data)),
            None if whole => query,
            None => input(&mut p, "key", Cow::Borrowed(&problem.query.data)),
        };
        let value = match &problem.value {
            Some(v) => input(&mut p, "value", Cow::Borrowed(&v.data)),
            None => key,
        };
        let wq = input(&mut p, "W_q", Cow::Borrowed(&w.wq));
        let wk = input(&mut p, "W_k", Cow::Borrowed(&w.wk));
        let wv = input(&mut p, "W_v", Cow::Borrowed(&w.wv));
        let [bq, bk, bv] = match &w.in_bias {
            Some([bq, bk, bv]) => [
                Some(input(&mut p, "b_q", Cow::Borrowed(bq))),
                Some(input(&mut p, "b_k", Cow::Borrowed(bk))),
                Some(input(&mut p, "b_v", Cow::Borrowed(bv))),
            ],
            None => [None, None, None],
        };
        let wo = input(&mut p, "out_proj.weight", Cow::Borrowed(&w.wo));
        let bo = w
            .out_bias
            .as_ref()
            .map(|b| input(&mut p, "out_proj.bias", Cow::Borrowed(b)));
        let attn_mask = problem.attn_mask.as_ref().map(|m| {
            input(
                &mut p,
                "attn_mask",
                cut_rows(&m.array.data, dims.l, s, &rows).into(),
            )
        });
        let padding = problem
            .key_padding_mask
            .as_ref()
            .map(|m| input(&mut p, "key_padding_mask", Cow::Borrowed(&m.array.data)));

        // Projections, all heads at once: (N·L, in) · Wᵀ + b.
        let q = p.matmul("q", MatmulParams::transposed_b(n * l, e, e), query, wq, bq);
        let k = p.matmul(
            "k",
            MatmulParams::transposed_b(n * s, e, w.kdim),
            key,
            wk,
            bk,
        );
        let v = p.matmul(
            "v",
            MatmulParams::transposed_b(n * s, e, w.vdim),
            value,
            wv,
            bv,
        );

        let shape = HeadsShape {
            batch: n,
            l,
            s,
            heads,
            kv_heads: heads,
            head_dim,
            value_dim: head_dim,
            scale: None,
        };
        let masks = HeadsMasks {
            causal: problem.causal,
            causal_offset: rows.start as i32,
            attn_mask,
            per_head: problem
                .attn_mask
                .as_ref()
                .is_some_and(|m| m.array.shape.len() == 3),
            padding,
        };
        let block = add_heads(&mut p, ("", "context"), shape, [q, k, v], masks);
        let output = p.matmul(
            "output",
            MatmulParams::transposed_b(n * l, e, e),
            block.context,
            wo,
            bo,
        );
        let output_no_weights = p.matmul(
            "output (online softmax)",
            MatmulParams::transposed_b(n * l, e, e),
            block.context_no_weights,
            wo,
            bo,
        );
        let weights = block.weights;
        let mean = add_head_mean(&mut p, "weights (head mean)", shape, weights);
        MhaPlan {
            dims,
            rows,
            program: p,
            input_data: data,
            output,
            weights_per_head: weights,
            weights_mean: mean,
            output_no_weights,
        }
    }

    /// The inputs as slices, for the executors.
    pub fn inputs(&self) -> Vec<&[f32]> {
        self.input_data.iter().map(|v| &v[..]).collect()
    }

    /// PyTorch's shape of this plan's output: (N, L, E), or (L, E) unbatched, L its rows.
    pub fn output_shape(&self) -> Vec<usize> {
        self.dims.output_shape(self.rows.len())
    }

    /// PyTorch's shape of this plan's weights: (N, L, S) averaged, (N, heads, L, S) per head; no
    /// N when unbatched; L its rows.
    pub fn weights_shape(&self, per_head: bool) -> Vec<usize> {
        self.dims.weights_shape(self.rows.len(), per_head)
    }
}
