//! `torch.nn.functional.scaled_dot_product_attention` on arrays shaped (…, L, E): any leading
//! dimensions (batch, heads) flattened into one batched dispatch.
//!
//! Semantics as PyTorch documents them: the bool `attn_mask` means True = TAKE PART (the
//! opposite of `nn.MultiheadAttention`), a float mask is added, the mask broadcasts against
//! (…, L, S); `is_causal` is a top-left aligned lower triangle; `scale` defaults to 1/√E. A query
//! whose every key is masked gets zero weights and a zero output.

use std::borrow::Cow;
use std::ops::Range;

use crate::error::{Error, Result};
use crate::heads::{HeadsMasks, HeadsShape, add_head_mean, add_heads};
use crate::npy::{Array, Mask};
use crate::program::{BufId, Program};
use crate::tensor::cut_rows;

/// One call of scaled_dot_product_attention.
#[derive(Clone, Debug)]
pub struct SdpaProblem {
    /// (…, L, E).
    pub q: Array,
    /// (…, S, E).
    pub k: Array,
    /// (…, S, Ev).
    pub v: Array,
    /// Broadcastable to (…, L, S); bool masks already converted (True = take part).
    pub attn_mask: Option<Mask>,
    /// Top-left causal mask.
    pub causal: bool,
    /// Factor on q·kᵀ; None = 1/√E.
    pub scale: Option<f32>,
}

/// The sizes of an [`SdpaProblem`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdpaDims {
    /// The leading dimensions.
    pub lead: Vec<usize>,
    /// Their product (1 for 2-D inputs).
    pub batch: usize,
    /// Query length.
    pub l: usize,
    /// Key length.
    pub s: usize,
    /// Query/key width.
    pub e: usize,
    /// Value width.
    pub ev: usize,
}

impl SdpaDims {
    /// How the leading dimensions read as (groups, heads): with two or more, the last is the
    /// heads and the rest the groups (batch elements); with one, it is the batch (one head);
    /// with none, one of each.
    pub fn groups_and_heads(&self) -> (usize, usize) {
        match self.lead.len() {
            0 => (1, 1),
            1 => (self.lead[0], 1),
            n => (self.batch / self.lead[n - 1], self.lead[n - 1]),
        }
    }
}

impl SdpaProblem {
    /// Checks shapes and values; returns the sizes.
    pub fn dims(&self) -> Result<SdpaDims> {
        let rank = self.q.shape.len();
        for (name, a) in [("q", &self.q), ("k", &self.k), ("v", &self.v)] {
            if a.shape.len() < 2 {
                return Err(Error::ShapeMismatch(format!(
                    "{name} has shape {:?}; expected at least 2 dimensions (…, length, width)",
                    a.shape
                )));
            }
            if a.shape.contains(&0) {
                return Err(Error::InvalidSize(format!(
                    "{name} has shape {:?}: no dimension may be 0",
                    a.shape
                )));
            }
            if a.shape.len() != rank || a.shape[..rank - 2] != self.q.shape[..rank - 2] {
                return Err(Error::ShapeMismatch(format!(
                    "q has shape {:?} but {name} has shape {:?}: the leading dimensions must match",
                    self.q.shape, a.shape
                )));
            }
            if let Some(i) = a.data.iter().position(|x| !x.is_finite()) {
                return Err(Error::NonFinite {
                    tensor: name.into(),
                    index: format!("{i} (flat)"),
                    value: a.data[i] as f64,
                });
            }
        }
        let (l, e) = (self.q.shape[rank - 2], self.q.shape[rank - 1]);
        let (s, ek) = (self.k.shape[rank - 2], self.k.shape[rank - 1]);
        let (sv, ev) = (self.v.shape[rank - 2], self.v.shape[rank - 1]);
        if ek != e {
            return Err(Error::ShapeMismatch(format!(
                "q is {:?} and k is {:?}: their last dimensions (E) must match",
                self.q.shape, self.k.shape
            )));
        }
        if sv != s {
            return Err(Error::ShapeMismatch(format!(
                "k is {:?} and v is {:?}: they need the same length S",
                self.k.shape, self.v.shape
            )));
        }
        if let Some(scale) = self.scale
            && !scale.is_finite()
        {
            return Err(Error::Parameter {
                name: "scale",
                problem: format!("must be finite, got {scale}"),
            });
        }
        let lead = self.q.shape[..rank - 2].to_vec();
        let dims = SdpaDims {
            batch: lead.iter().product(),
            lead,
            l,
            s,
            e,
            ev,
        };
        if let Some(m) = &self.attn_mask {
            broadcast_strides(&m.array.shape, &dims)?;
        }
        Ok(dims)
    }
}

/// For each axis of (lead…, L, S): the mask's stride along it (0 where it broadcasts).
fn broadcast_strides(mask: &[usize], dims: &SdpaDims) -> Result<Vec<usize>> {
    let mut target = dims.lead.clone();
    target.extend([dims.l, dims.s]);
    let bad = || {
        Error::ShapeMismatch(format!(
            "attn_mask of shape {mask:?} does not broadcast to {target:?} (…, L, S)"
        ))
    };
    if mask.len() > target.len() {
        return Err(bad());
    }
    let offset = target.len() - mask.len();
    let mut strides = vec![0usize; target.len()];
    let mut stride = 1;
    for (i, &m) in mask.iter().enumerate().rev() {
        let t = target[offset + i];
        if m == t {
            strides[offset + i] = if m == 1 { 0 } else { stride };
        } else if m != 1 {
            return Err(bad());
        }
        stride *= m;
    }
    Ok(strides)
}

/// Expands a broadcastable mask to (batch_or_1, rows, S) for query rows `rows` (a block of rows
/// never expands the whole mask): batch_or_1 is 1 when no leading dimension varies.
fn expand_mask(mask: &Mask, dims: &SdpaDims, rows: &Range<usize>) -> Result<(Vec<f32>, bool)> {
    let strides = broadcast_strides(&mask.array.shape, dims)?;
    let nl = dims.lead.len();
    let varies = strides[..nl].iter().any(|&s| s != 0);
    let batches = if varies { dims.batch } else { 1 };
    let mut out = Vec::with_capacity(batches * rows.len() * dims.s);
    for b in 0..batches {
        let mut rest = b;
        let mut base = 0;
        for axis in (0..nl).rev() {
            base += (rest % dims.lead[axis]) * strides[axis];
            rest /= dims.lead[axis];
        }
        for i in rows.clone() {
            for j in 0..dims.s {
                out.push(mask.array.data[base + i * strides[nl] + j * strides[nl + 1]]);
            }
        }
    }
    Ok((out, varies))
}

/// The program for one [`SdpaProblem`], or for a block of its query rows.
pub struct SdpaPlan<'a> {
    /// The sizes of the whole problem.
    pub dims: SdpaDims,
    /// The query rows this program computes (all of them, 0..L, unless built by
    /// [`SdpaPlan::for_rows`]).
    pub rows: Range<usize>,
    /// The dispatches.
    pub program: Program,
    /// Input data in declaration order: borrowed from the problem where every block of rows
    /// reads the same (k, v), owned where cut to the block's rows (q, the mask).
    pub input_data: Vec<Cow<'a, [f32]>>,
    /// (…, L, Ev).
    pub output: BufId,
    /// (…, L, S).
    pub weights: BufId,
    /// (groups, L, S): the weights averaged over the heads ([`SdpaDims::groups_and_heads`]).
    pub weights_head_mean: BufId,
    /// (…, L, Ev) computed without forming the weights (online softmax).
    pub output_no_weights: BufId,
    /// The fused weights path: (…, L, Ev) from the online softmax, which leaves its row
    /// statistics for `fused_weights`.
    pub fused_output: BufId,
    /// (…, L, S) from those statistics, written once without storing the scores.
    pub fused_weights: BufId,
}

impl<'a> SdpaPlan<'a> {
    /// Builds the program (after [`SdpaProblem::dims`] succeeded).
    pub fn new(problem: &'a SdpaProblem, dims: SdpaDims) -> Result<Self> {
        let all = 0..dims.l;
        Self::for_rows(problem, dims, all)
    }

    /// Builds the program for query rows `rows` only, against every key: q and the mask cut to
    /// those rows, the causal diagonal moved by `rows.start`. Its output and weights are
    /// (…, rows.len(), ·): the rows of the whole problem's, computed exactly as it would.
    /// For weights too large for one buffer (see `selfattn sdpa`).
    pub fn for_rows(problem: &'a SdpaProblem, dims: SdpaDims, rows: Range<usize>) -> Result<Self> {
        if rows.is_empty() || rows.end > dims.l {
            return Err(Error::Usage(format!(
                "query rows {rows:?} are not within 0..{}",
                dims.l
            )));
        }
        let row_offset = rows.start as i32;
        let mut p = Program::default();
        let mut data: Vec<Cow<'a, [f32]>> = Vec::new();
        let mut input = |p: &mut Program, name: &str, values: Cow<'a, [f32]>| {
            let id = p.input(name, values.len());
            data.push(values);
            id
        };
        let q = input(
            &mut p,
            "q",
            cut_rows(&problem.q.data, dims.l, dims.e, &rows).into(),
        );
        let k = input(&mut p, "k", Cow::Borrowed(&problem.k.data));
        let v = input(&mut p, "v", Cow::Borrowed(&problem.v.data));
        let mut varies = false;
        let mask = match &problem.attn_mask {
            Some(m) => {
                let (values, per_batch) = expand_mask(m, &dims, &rows)?;
                varies = per_batch;
                Some(input(&mut p, "attn_mask", values.into()))
            }
            None => None,
        };
        // The leading dimensions are the block's batch, one head each: q, k and v are then
        // contiguous (…, L, E) as read from the files.
        let block = add_heads(
            &mut p,
            ("", "output"),
            HeadsShape {
                batch: dims.batch,
                l: rows.len(),
                s: dims.s,
                heads: 1,
                kv_heads: 1,
                head_dim: dims.e,
                value_dim: dims.ev,
                scale: Some(problem.scale.unwrap_or(1.0 / (dims.e as f32).sqrt())),
            },
            [q, k, v],
            HeadsMasks {
                causal: problem.causal,
                causal_offset: row_offset,
                attn_mask: mask,
                // One (L, S) mask per batch element, or one for all.
                per_head: varies,
                padding: None,
            },
        );
        let weights = block.weights;
        let (groups, heads) = dims.groups_and_heads();
        let weights_head_mean = add_head_mean(
            &mut p,
            "weights (head mean)",
            HeadsShape {
                batch: groups,
                l: rows.len(),
                s: dims.s,
                heads,
                kv_heads: heads,
                head_dim: dims.e,
                value_dim: dims.ev,
                scale: None,
            },
            weights,
        );
        Ok(SdpaPlan {
            dims,
            rows,
            program: p,
            input_data: data,
            output: block.context,
            weights,
            weights_head_mean,
            output_no_weights: block.context_no_weights,
            fused_output: block.fused_context,
            fused_weights: block.fused_weights,
        })
    }

    /// The inputs as slices, for the executors.
    pub fn inputs(&self) -> Vec<&[f32]> {
        self.input_data.iter().map(|v| &v[..]).collect()
    }

    /// (…, L, Ev), L being the plan's rows.
    pub fn output_shape(&self) -> Vec<usize> {
        let mut s = self.dims.lead.clone();
        s.extend([self.rows.len(), self.dims.ev]);
        s
    }

    /// (…, L, S), L being the plan's rows.
    pub fn weights_shape(&self) -> Vec<usize> {
        let mut s = self.dims.lead.clone();
        s.extend([self.rows.len(), self.dims.s]);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims(lead: &[usize], l: usize, s: usize) -> SdpaDims {
        SdpaDims {
            lead: lead.to_vec(),
            batch: lead.iter().product(),
            l,
            s,
            e: 4,
            ev: 4,
        }
    }

    #[test]
    fn broadcasting_follows_numpy_rules() {
        let d = dims(&[2, 3], 4, 5);
        assert_eq!(broadcast_strides(&[4, 5], &d).unwrap(), [0, 0, 5, 1]);
        assert_eq!(broadcast_strides(&[2, 1, 4, 5], &d).unwrap(), [20, 0, 5, 1]);
        assert_eq!(broadcast_strides(&[1, 5], &d).unwrap(), [0, 0, 0, 1]);
        let err = broadcast_strides(&[3, 4, 5, 1], &d);
        assert!(err.is_err());
        assert!(broadcast_strides(&[2, 2, 3, 4, 5], &d).is_err());
    }

    #[test]
    fn expanded_mask_varies_only_when_needed() {
        let d = dims(&[2], 1, 2);
        let mask = |shape: Vec<usize>, data: Vec<f32>| Mask {
            array: Array { shape, data },
            was_bool: false,
        };
        let (v, varies) = expand_mask(&mask(vec![1, 2], vec![1.0, 2.0]), &d, &(0..d.l)).unwrap();
        assert_eq!((v, varies), (vec![1.0, 2.0], false));
        let (v, varies) = expand_mask(&mask(vec![2, 1, 1], vec![1.0, 2.0]), &d, &(0..d.l)).unwrap();
        assert_eq!((v, varies), (vec![1.0, 1.0, 2.0, 2.0], true));
    }
}
