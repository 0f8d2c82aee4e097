//! The attention problem and its plan: the list of kernel dispatches (with their params) that
//! both the GPU and the CPU reference execute, so the two can never disagree about *what* is
//! computed, only about the arithmetic.
//!
//! Convention (as in the seed tutorial): matrices multiply from the right, Q = X·W_Q, so W_Q and
//! W_K are d_model×d_k, W_V is d_model×d_v and the optional W_O is d_v×d_out.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::heads::{HeadsMasks, HeadsOutput, HeadsShape, add_heads};
use crate::kernels::matmul::MatmulParams;
use crate::program::{BufId, Program};
use crate::tensor::{Matrix, shape_str};

/// One single-head self-attention problem.
#[derive(Clone, Debug)]
pub struct Attention {
    /// Token embeddings, N×d_model.
    pub x: Matrix,
    /// Query projection, d_model×d_k.
    pub wq: Matrix,
    /// Key projection, d_model×d_k.
    pub wk: Matrix,
    /// Value projection, d_model×d_v.
    pub wv: Matrix,
    /// Optional output projection, d_v×d_out.
    pub wo: Option<Matrix>,
    /// Mask keys after the query (j > i).
    pub causal: bool,
}

/// The sizes of an [`Attention`] problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    /// Tokens.
    pub n: usize,
    /// Embedding width.
    pub d_model: usize,
    /// Query/key width.
    pub d_k: usize,
    /// Value width.
    pub d_v: usize,
    /// Output width (d_v without W_O).
    pub d_out: usize,
}

/// Every intermediate the pipeline produces, in order; each can be read back on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Q = X·W_Q.
    Q,
    /// K = X·W_K.
    K,
    /// V = X·W_V.
    V,
    /// Q·Kᵀ before scaling (only computed when asked for).
    RawScores,
    /// Q·Kᵀ/√d_k.
    Scores,
    /// softmax of the scaled scores.
    Weights,
    /// P·V.
    Context,
    /// Context·W_O (equals Context when there is no W_O).
    Output,
}

impl Stage {
    /// All stages in pipeline order.
    pub const ALL: [Stage; 8] = [
        Stage::Q,
        Stage::K,
        Stage::V,
        Stage::RawScores,
        Stage::Scores,
        Stage::Weights,
        Stage::Context,
        Stage::Output,
    ];

    /// A short human name.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Q => "Q",
            Stage::K => "K",
            Stage::V => "V",
            Stage::RawScores => "raw scores",
            Stage::Scores => "scaled scores",
            Stage::Weights => "weights",
            Stage::Context => "weighted sum",
            Stage::Output => "output",
        }
    }
}

impl Attention {
    /// Checks that every tensor is finite and non-empty and that the shapes fit together.
    pub fn dims(&self) -> Result<Dims> {
        self.x.check("X (embeddings)")?;
        self.wq.check("W_Q")?;
        self.wk.check("W_K")?;
        self.wv.check("W_V")?;
        if let Some(wo) = &self.wo {
            wo.check("W_O")?;
        }
        let fits = |a: &str, ash: (usize, usize), b: &str, bsh: (usize, usize), why: &str| {
            Error::ShapeMismatch(format!(
                "{a} is {} but {b} is {}: {why}",
                shape_str(ash),
                shape_str(bsh)
            ))
        };
        let (x, wq, wk, wv) = (
            self.x.shape(),
            self.wq.shape(),
            self.wk.shape(),
            self.wv.shape(),
        );
        for (name, w) in [("W_Q", wq), ("W_K", wk), ("W_V", wv)] {
            if w.0 != x.1 {
                return Err(fits(
                    "X",
                    x,
                    name,
                    w,
                    "the projection's rows must equal X's columns (d_model)",
                ));
            }
        }
        if wq.1 != wk.1 {
            return Err(fits(
                "W_Q",
                wq,
                "W_K",
                wk,
                "queries and keys need the same width d_k",
            ));
        }
        let d_out = match &self.wo {
            Some(wo) if wo.rows != wv.1 => {
                return Err(fits(
                    "W_V",
                    wv,
                    "W_O",
                    wo.shape(),
                    "W_O's rows must equal W_V's columns (d_v)",
                ));
            }
            Some(wo) => wo.cols,
            None => wv.1,
        };
        Ok(Dims {
            n: x.0,
            d_model: x.1,
            d_k: wq.1,
            d_v: wv.1,
            d_out,
        })
    }
}

/// The inputs X, W_Q, W_K, W_V and the three projections every single-head plan starts with.
fn projections(dims: Dims) -> (Program, Vec<BufId>, [BufId; 3]) {
    let Dims {
        n,
        d_model,
        d_k,
        d_v,
        ..
    } = dims;
    let mut p = Program::default();
    let x = p.input("X", n * d_model);
    let wq = p.input("W_Q", d_model * d_k);
    let wk = p.input("W_K", d_model * d_k);
    let wv = p.input("W_V", d_model * d_v);
    let q = p.matmul("Q", MatmulParams::plain(n, d_k, d_model), x, wq, None);
    let k = p.matmul("K", MatmulParams::plain(n, d_k, d_model), x, wk, None);
    let v = p.matmul("V", MatmulParams::plain(n, d_v, d_model), x, wv, None);
    (p, vec![x, wq, wk, wv], [q, k, v])
}

/// The program for one problem, shared by the GPU and the CPU reference, and which of its
/// buffers hold the inputs and each stage.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The sizes.
    pub dims: Dims,
    /// The dispatches.
    pub program: Program,
    /// X, W_Q, W_K, W_V and (when present) W_O, in that order.
    pub inputs: Vec<BufId>,
    /// The buffer holding each stage's result.
    pub stages: BTreeMap<Stage, BufId>,
}

/// The attention of query rows `rows` against every key, after the projections: one head of
/// one batch element through [`add_heads`], every path (weights, output only) added, the
/// executors running only what is asked for. `names` is the prefix and the weighted sum's name.
fn attend(
    p: &mut Program,
    dims: Dims,
    causal: bool,
    rows: &std::ops::Range<usize>,
    names: (&str, &str),
    qkv: [BufId; 3],
) -> HeadsOutput {
    let shape = HeadsShape {
        batch: 1,
        l: rows.len(),
        s: dims.n,
        heads: 1,
        kv_heads: 1,
        head_dim: dims.d_k,
        value_dim: dims.d_v,
        scale: None,
    };
    // Row i of a block is query rows.start + i: the causal diagonal moves right by that.
    let masks = HeadsMasks {
        causal,
        causal_offset: rows.start as i32,
        ..Default::default()
    };
    add_heads(p, names, shape, qkv, masks)
}

/// The output projection of `context` (`rows` × d_v), when the problem has one.
fn project_output(
    p: &mut Program,
    dims: Dims,
    (name, rows): (&str, usize),
    context: BufId,
    wo: Option<BufId>,
) -> BufId {
    match wo {
        Some(wo) => p.matmul(
            name,
            MatmulParams::plain(rows, dims.d_out, dims.d_v),
            context,
            wo,
            None,
        ),
        None => context,
    }
}

impl Plan {
    /// Builds the plan for `dims`: projections, raw and scaled scores, softmax, weighted sum and
    /// the optional output projection. Executors skip the steps nobody asked for (raw scores).
    pub fn new(dims: Dims, causal: bool, has_output_projection: bool) -> Self {
        Self::all_rows(dims, causal, has_output_projection, true)
    }

    /// The output-only plan: the projections, then one flash dispatch with an online softmax (no
    /// N×N buffer anywhere), then the optional output projection. Its stages are Q, K, V,
    /// Context and Output.
    pub fn output_only(dims: Dims, causal: bool, has_output_projection: bool) -> Self {
        Self::all_rows(dims, causal, has_output_projection, false)
    }

    /// Every query row at once, through the weights (`with_weights`) or the online softmax.
    fn all_rows(dims: Dims, causal: bool, has_output_projection: bool, with_weights: bool) -> Self {
        let (mut p, mut inputs, [q, k, v]) = projections(dims);
        let raw = with_weights.then(|| {
            p.matmul(
                "raw scores",
                MatmulParams::transposed_b(dims.n, dims.n, dims.d_k),
                q,
                k,
                None,
            )
        });
        let names = ("", "weighted sum");
        let block = attend(&mut p, dims, causal, &(0..dims.n), names, [q, k, v]);
        let wo = Self::output_weights(&mut p, &mut inputs, dims, has_output_projection);
        let context = if with_weights {
            block.context
        } else {
            block.context_no_weights
        };
        let output = project_output(&mut p, dims, ("output", dims.n), context, wo);
        let mut stages = BTreeMap::from([
            (Stage::Q, q),
            (Stage::K, k),
            (Stage::V, v),
            (Stage::Context, context),
            (Stage::Output, output),
        ]);
        if let Some(raw) = raw {
            stages.extend([
                (Stage::RawScores, raw),
                (Stage::Scores, block.scores),
                (Stage::Weights, block.weights),
            ]);
        }
        Plan {
            dims,
            program: p,
            inputs,
            stages,
        }
    }

    /// The plan for query rows `rows` only (all keys): the weights and output of those rows.
    /// Used when the whole N×N weights would not fit one storage binding (or host memory is to be
    /// kept near one N×N matrix): the rows are run block by block, each block its own program.
    /// Its inputs are X, W_Q, W_K, W_V, W_O (when there is one) and then X's rows `rows` (see
    /// [`Plan::row_block_input_data`]); its stages Weights (rows × N), Context and Output.
    pub fn row_block(
        dims: Dims,
        causal: bool,
        has_output_projection: bool,
        rows: std::ops::Range<usize>,
    ) -> Self {
        let (mut p, mut inputs, [_, k, v]) = projections(dims);
        let wq = inputs[1];
        let wo = Self::output_weights(&mut p, &mut inputs, dims, has_output_projection);
        let x_rows = p.input("X (query rows of this block)", rows.len() * dims.d_model);
        inputs.push(x_rows);
        let q = p.matmul(
            "Q (block rows)",
            MatmulParams::plain(rows.len(), dims.d_k, dims.d_model),
            x_rows,
            wq,
            None,
        );
        let names = ("block rows: ", "weighted sum");
        let block = attend(&mut p, dims, causal, &rows, names, [q, k, v]);
        let output = project_output(
            &mut p,
            dims,
            ("output (block rows)", rows.len()),
            block.context,
            wo,
        );
        Plan {
            dims,
            program: p,
            inputs,
            stages: BTreeMap::from([
                (Stage::Weights, block.weights),
                (Stage::Context, block.context),
                (Stage::Output, output),
            ]),
        }
    }

    /// Declares W_O (after X, W_Q, W_K, W_V) when the problem has an output projection.
    fn output_weights(
        p: &mut Program,
        inputs: &mut Vec<BufId>,
        dims: Dims,
        has_output_projection: bool,
    ) -> Option<BufId> {
        has_output_projection.then(|| {
            let wo = p.input("W_O", dims.d_v * dims.d_out);
            inputs.push(wo);
            wo
        })
    }

    /// The input data of a [`Plan::row_block`] plan for `rows`: borrowed where every block
    /// reads the same, and the block's own rows of X copied, so that what is computed from
    /// them is not kept between blocks (see `gpu::row_blocks`).
    pub fn row_block_input_data<'a>(
        &self,
        problem: &'a Attention,
        rows: std::ops::Range<usize>,
    ) -> Vec<Cow<'a, [f32]>> {
        let d_model = self.dims.d_model;
        let mut data: Vec<_> = self
            .input_data(problem)
            .into_iter()
            .map(Cow::Borrowed)
            .collect();
        data.push(Cow::Owned(
            problem.x.data[rows.start * d_model..rows.end * d_model].to_vec(),
        ));
        data
    }

    /// The input data in the order of [`Plan::inputs`].
    pub fn input_data<'a>(&self, problem: &'a Attention) -> Vec<&'a [f32]> {
        let mut data = vec![
            &problem.x.data[..],
            &problem.wq.data[..],
            &problem.wk.data[..],
            &problem.wv.data[..],
        ];
        if let Some(wo) = &problem.wo {
            data.push(&wo.data[..]);
        }
        data
    }

    /// The shape of a stage's result.
    pub fn shape(&self, stage: Stage) -> (usize, usize) {
        let Dims {
            n, d_k, d_v, d_out, ..
        } = self.dims;
        match stage {
            Stage::Q | Stage::K => (n, d_k),
            Stage::V | Stage::Context => (n, d_v),
            Stage::RawScores | Stage::Scores | Stage::Weights => (n, n),
            Stage::Output => (n, d_out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(x: (usize, usize), wq: (usize, usize), wk: (usize, usize)) -> Attention {
        let m = |s: (usize, usize)| Matrix::new(s.0, s.1, vec![0.5; s.0 * s.1]).unwrap();
        Attention {
            x: m(x),
            wq: m(wq),
            wk: m(wk),
            wv: m((x.1, 2)),
            wo: None,
            causal: false,
        }
    }

    #[test]
    fn mismatch_names_both_shapes() {
        let err = problem((3, 4), (5, 3), (4, 3))
            .dims()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("3×4") && err.contains("5×3") && err.contains("W_Q"),
            "{err}"
        );
        let err = problem((3, 4), (4, 3), (4, 2))
            .dims()
            .unwrap_err()
            .to_string();
        assert!(err.contains("W_K") && err.contains("4×2"), "{err}");
    }

    #[test]
    fn dims_of_a_valid_problem() {
        let d = problem((3, 4), (4, 3), (4, 3)).dims().unwrap();
        assert_eq!(
            d,
            Dims {
                n: 3,
                d_model: 4,
                d_k: 3,
                d_v: 2,
                d_out: 2
            }
        );
    }
}
