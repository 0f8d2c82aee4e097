//! A program: the list of kernel dispatches and the buffers they read and write.
//!
//! Every attention variant (single head, multi-head with batches and masks, SDPA) is built as a
//! [`Program`]; the GPU executor (`gpu::execute`) and the CPU reference (`cpu::execute`) run the
//! very same program, so the two can only ever differ in arithmetic, never in what is computed.

use crate::gpu::embed::EmbedParams;
use crate::gpu::flash::FlashParams;
use crate::gpu::gelu::GeluParams;
use crate::gpu::head_mean::HeadMeanParams;
use crate::gpu::layer_norm::LayerNormParams;
use crate::gpu::matmul::MatmulParams;
use crate::gpu::softmax::SoftmaxParams;

/// Index of a buffer in a [`Program`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BufId(pub usize);

/// A buffer's name (for labels and errors) and length in f32 elements.
#[derive(Clone, Debug)]
pub struct BufferSpec {
    /// Human name, e.g. "scores".
    pub name: String,
    /// Number of f32 elements.
    pub len: usize,
    /// True when the caller provides the data; false when a step writes it.
    pub input: bool,
}

/// One kernel dispatch.
#[derive(Clone, Debug)]
pub enum Step {
    /// C = alpha · A · B (+ bias): `shaders/matmul.wgsl`.
    Matmul {
        /// Addressing and sizes.
        params: MatmulParams,
        /// A.
        a: BufId,
        /// B.
        b: BufId,
        /// Optional bias of length n.
        bias: Option<BufId>,
        /// C.
        out: BufId,
    },
    /// Row softmax: `shaders/softmax.wgsl`.
    Softmax {
        /// Sizes and mask flags.
        params: SoftmaxParams,
        /// The scaled scores.
        scores: BufId,
        /// Additive attention mask (`params.has_mask`).
        mask: Option<BufId>,
        /// Additive key-padding mask (`params.has_padding`).
        padding: Option<BufId>,
        /// The weights written.
        out: BufId,
    },
    /// Output-only attention with an online softmax: `shaders/flash.wgsl`.
    Flash {
        /// Sizes, strides and mask flags.
        params: FlashParams,
        /// Queries.
        q: BufId,
        /// Keys.
        k: BufId,
        /// Values.
        v: BufId,
        /// Additive attention mask (`params.has_mask`).
        mask: Option<BufId>,
        /// Additive key-padding mask (`params.has_padding`).
        padding: Option<BufId>,
        /// The output written.
        out: BufId,
        /// Where the final row statistics (m, l, found per row and output chunk) are left for
        /// an [`Step::AttentionWeights`] step, when one reads them.
        stats: Option<BufId>,
    },
    /// The weights from an output-only step's row statistics, written once (the second sweep of
    /// the fused weights path): `shaders/attention_weights.wgsl`.
    AttentionWeights {
        /// The output-only step's own params.
        params: FlashParams,
        /// Queries.
        q: BufId,
        /// Keys.
        k: BufId,
        /// Additive attention mask (`params.has_mask`).
        mask: Option<BufId>,
        /// Additive key-padding mask (`params.has_padding`).
        padding: Option<BufId>,
        /// The output-only step's row statistics.
        stats: BufId,
        /// The weights written, (batch, l, s) contiguous.
        out: BufId,
    },
    /// Weights averaged over heads: `shaders/head_mean.wgsl`.
    HeadMean {
        /// Sizes.
        params: HeadMeanParams,
        /// Per-head weights.
        weights: BufId,
        /// The mean written.
        out: BufId,
    },
    /// Word + position + token-type embeddings: `shaders/embed.wgsl`.
    Embed {
        /// Sizes.
        params: EmbedParams,
        /// Token ids (exact integers stored as f32).
        ids: BufId,
        /// Token-type ids (exact integers stored as f32).
        types: BufId,
        /// Word table, vocab × hidden.
        word: BufId,
        /// Position table, positions × hidden.
        position: BufId,
        /// Token-type table, type_vocab × hidden.
        token_type: BufId,
        /// The embeddings written, tokens × hidden.
        out: BufId,
    },
    /// LayerNorm of x (+ residual): `shaders/layer_norm.wgsl`.
    LayerNorm {
        /// Sizes and eps.
        params: LayerNormParams,
        /// The input rows.
        x: BufId,
        /// Added to x first (`params.has_residual`).
        residual: Option<BufId>,
        /// Scale per column.
        gamma: BufId,
        /// Shift per column.
        beta: BufId,
        /// The normalised rows written.
        out: BufId,
    },
    /// The exact GELU, element-wise: `shaders/gelu.wgsl`.
    Gelu {
        /// Size.
        params: GeluParams,
        /// The input.
        x: BufId,
        /// The activations written.
        out: BufId,
    },
}

impl Step {
    /// The buffer this step writes.
    pub fn out(&self) -> BufId {
        match self {
            Step::Matmul { out, .. }
            | Step::Softmax { out, .. }
            | Step::Flash { out, .. }
            | Step::AttentionWeights { out, .. }
            | Step::HeadMean { out, .. }
            | Step::Embed { out, .. }
            | Step::LayerNorm { out, .. }
            | Step::Gelu { out, .. } => *out,
        }
    }

    /// Every buffer this step writes: [`Step::out`], and an output-only step's statistics.
    pub fn outs(&self) -> Vec<BufId> {
        match self {
            Step::Flash {
                out,
                stats: Some(stats),
                ..
            } => vec![*out, *stats],
            _ => vec![self.out()],
        }
    }

    /// The buffers this step reads.
    pub fn reads(&self) -> Vec<BufId> {
        match self {
            Step::Matmul { a, b, bias, .. } => {
                [Some(*a), Some(*b), *bias].into_iter().flatten().collect()
            }
            Step::Softmax {
                scores,
                mask,
                padding,
                ..
            } => [Some(*scores), *mask, *padding]
                .into_iter()
                .flatten()
                .collect(),
            Step::Flash {
                q,
                k,
                v,
                mask,
                padding,
                ..
            } => [Some(*q), Some(*k), Some(*v), *mask, *padding]
                .into_iter()
                .flatten()
                .collect(),
            Step::AttentionWeights {
                q,
                k,
                mask,
                padding,
                stats,
                ..
            } => [Some(*q), Some(*k), *mask, *padding, Some(*stats)]
                .into_iter()
                .flatten()
                .collect(),
            Step::HeadMean { weights, .. } => vec![*weights],
            Step::Embed {
                ids,
                types,
                word,
                position,
                token_type,
                ..
            } => vec![*ids, *types, *word, *position, *token_type],
            Step::LayerNorm {
                x,
                residual,
                gamma,
                beta,
                ..
            } => [Some(*x), *residual, Some(*gamma), Some(*beta)]
                .into_iter()
                .flatten()
                .collect(),
            Step::Gelu { x, .. } => vec![*x],
        }
    }
}

/// Buffers plus the steps that fill them, in execution order.
#[derive(Clone, Debug, Default)]
pub struct Program {
    /// Every buffer, inputs and intermediates alike.
    pub buffers: Vec<BufferSpec>,
    /// The dispatches.
    pub steps: Vec<Step>,
}

impl Program {
    /// Declares an input buffer of `len` elements.
    pub fn input(&mut self, name: &str, len: usize) -> BufId {
        self.buffer(name, len, true)
    }

    fn buffer(&mut self, name: &str, len: usize, input: bool) -> BufId {
        self.buffers.push(BufferSpec {
            name: name.to_string(),
            len,
            input,
        });
        BufId(self.buffers.len() - 1)
    }

    /// Adds a matmul writing a new buffer named `name`; returns that buffer.
    pub fn matmul(
        &mut self,
        name: &str,
        params: MatmulParams,
        a: BufId,
        b: BufId,
        bias: Option<BufId>,
    ) -> BufId {
        let params = MatmulParams {
            has_bias: bias.is_some() as u32,
            ..params
        };
        let out = self.buffer(name, params.output_len(), false);
        self.steps.push(Step::Matmul {
            params,
            a,
            b,
            bias,
            out,
        });
        out
    }

    /// Adds a softmax over `scores` writing a new buffer named `name`; returns that buffer. The
    /// params' mask flags are set from whether `mask` / `padding` are given.
    pub fn softmax(
        &mut self,
        name: &str,
        params: SoftmaxParams,
        scores: BufId,
        mask: Option<BufId>,
        padding: Option<BufId>,
    ) -> BufId {
        let params = SoftmaxParams {
            has_mask: mask.is_some() as u32,
            has_padding: padding.is_some() as u32,
            ..params
        };
        let out = self.buffer(
            name,
            params.total_rows() as usize * params.cols as usize,
            false,
        );
        self.steps.push(Step::Softmax {
            params,
            scores,
            mask,
            padding,
            out,
        });
        out
    }

    /// Adds an output-only attention step writing a new buffer named `name`; the params' mask
    /// flags are set from whether `mask` / `padding` are given.
    #[allow(clippy::too_many_arguments)]
    pub fn flash(
        &mut self,
        name: &str,
        params: FlashParams,
        q: BufId,
        k: BufId,
        v: BufId,
        mask: Option<BufId>,
        padding: Option<BufId>,
    ) -> BufId {
        self.flash_step(name, params, [q, k, v], mask, padding, false)
            .0
    }

    /// The fused weights path: an output-only step (writing the output, named `name`) that
    /// leaves its row statistics, then the weights from them (named `weights_name`), written
    /// once. Returns (output, weights).
    #[allow(clippy::too_many_arguments)]
    pub fn flash_with_weights(
        &mut self,
        name: &str,
        weights_name: &str,
        params: FlashParams,
        q: BufId,
        k: BufId,
        v: BufId,
        mask: Option<BufId>,
        padding: Option<BufId>,
    ) -> (BufId, BufId) {
        let (out, stats, params) = self.flash_step(name, params, [q, k, v], mask, padding, true);
        let stats = stats.expect("asked for");
        let weights = self.buffer(
            weights_name,
            crate::gpu::attention_weights::weights_len(&params),
            false,
        );
        self.steps.push(Step::AttentionWeights {
            params,
            q,
            k,
            mask,
            padding,
            stats,
            out: weights,
        });
        (out, weights)
    }

    fn flash_step(
        &mut self,
        name: &str,
        params: FlashParams,
        [q, k, v]: [BufId; 3],
        mask: Option<BufId>,
        padding: Option<BufId>,
        with_stats: bool,
    ) -> (BufId, Option<BufId>, FlashParams) {
        let params = FlashParams {
            has_mask: mask.is_some() as u32,
            has_padding: padding.is_some() as u32,
            ..params.whole()
        };
        let out = self.buffer(name, params.output_len(), false);
        let stats = with_stats.then(|| {
            self.buffer(
                &format!("{name}: row statistics"),
                params.state_len(),
                false,
            )
        });
        self.steps.push(Step::Flash {
            params,
            q,
            k,
            v,
            mask,
            padding,
            out,
            stats,
        });
        (out, stats, params)
    }

    /// Adds the mean over heads of `weights` writing a new buffer named `name`.
    pub fn head_mean(&mut self, name: &str, params: HeadMeanParams, weights: BufId) -> BufId {
        let out = self.buffer(name, params.output_len(), false);
        self.steps.push(Step::HeadMean {
            params,
            weights,
            out,
        });
        out
    }

    /// Adds the embedding lookup writing a new buffer named `name`; `tables` are the word,
    /// position and token-type tables.
    pub fn embed(
        &mut self,
        name: &str,
        params: EmbedParams,
        ids: BufId,
        types: BufId,
        tables: [BufId; 3],
    ) -> BufId {
        let out = self.buffer(name, params.output_len(), false);
        let [word, position, token_type] = tables;
        self.steps.push(Step::Embed {
            params,
            ids,
            types,
            word,
            position,
            token_type,
            out,
        });
        out
    }

    /// Adds a LayerNorm of `x` (+ `residual`) writing a new buffer named `name`; the params'
    /// residual flag is set from whether `residual` is given.
    pub fn layer_norm(
        &mut self,
        name: &str,
        params: LayerNormParams,
        x: BufId,
        residual: Option<BufId>,
        gamma: BufId,
        beta: BufId,
    ) -> BufId {
        let params = LayerNormParams {
            has_residual: residual.is_some() as u32,
            ..params
        };
        let out = self.buffer(name, params.output_len(), false);
        self.steps.push(Step::LayerNorm {
            params,
            x,
            residual,
            gamma,
            beta,
            out,
        });
        out
    }

    /// Adds the GELU of every element of `x` writing a new buffer named `name`.
    pub fn gelu(&mut self, name: &str, x: BufId) -> BufId {
        let len = self.spec(x).len;
        let params = GeluParams::new(len as u32);
        let out = self.buffer(name, len, false);
        self.steps.push(Step::Gelu { params, x, out });
        out
    }

    /// The spec of buffer `id`.
    pub fn spec(&self, id: BufId) -> &BufferSpec {
        &self.buffers[id.0]
    }
}

impl Program {
    /// Which steps must run to produce every buffer in `want` (the others are skipped).
    pub fn needed_steps(&self, want: &[BufId]) -> Vec<bool> {
        let mut needed_buffers = vec![false; self.buffers.len()];
        for id in want {
            needed_buffers[id.0] = true;
        }
        let mut needed = vec![false; self.steps.len()];
        for (i, step) in self.steps.iter().enumerate().rev() {
            if step.outs().iter().any(|id| needed_buffers[id.0]) {
                needed[i] = true;
                for id in step.reads() {
                    needed_buffers[id.0] = true;
                }
            }
        }
        needed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unneeded_steps_are_skipped() {
        let mut p = Program::default();
        let x = p.input("x", 4);
        let w = p.input("w", 4);
        let a = p.matmul("a", MatmulParams::plain(2, 2, 2), x, w, None);
        let b = p.matmul("b", MatmulParams::plain(2, 2, 2), x, w, None);
        let c = p.matmul("c", MatmulParams::plain(2, 2, 2), a, w, None);
        assert_eq!(p.needed_steps(&[c]), [true, false, true]);
        assert_eq!(p.needed_steps(&[b]), [false, true, false]);
        assert_eq!(p.spec(c).len, 4);
    }
}
