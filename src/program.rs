//! A program: the list of kernel dispatches and the buffers they read and write.
//!
//! Every attention variant (single head, multi-head with batches and masks, SDPA) is built as a
//! [`Program`]; the GPU executor (`gpu::execute`) and the CPU reference (`cpu::execute`) run the
//! very same program, so the two can only ever differ in arithmetic, never in what is computed.

use crate::cpu::step::CpuStep;
use crate::gpu::attention_weights::AttentionWeightsParams;
use crate::gpu::embed::EmbedParams;
use crate::gpu::flash::FlashParams;
use crate::gpu::gelu::GeluParams;
use crate::gpu::head_mean::HeadMeanParams;
use crate::gpu::layer_norm::LayerNormParams;
use crate::gpu::matmul::MatmulParams;
use crate::gpu::softmax::SoftmaxParams;
use crate::gpu::step::GpuStep;

/// A kernel as both executors see it: its GPU dispatches and its CPU twin.
pub trait StepKernel: GpuStep + CpuStep {}

impl<T: GpuStep + CpuStep> StepKernel for T {}

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
        /// The running state between key blocks, and the final row statistics after the
        /// last (m, l, found per row and output chunk), which an [`Step::AttentionWeights`]
        /// step may read.
        stats: BufId,
        /// The output written.
        out: BufId,
    },
    /// The weights from an output-only step's row statistics, written once (the second sweep of
    /// the fused weights path): `shaders/attention_weights.wgsl`.
    AttentionWeights {
        /// The output-only step's own params.
        params: AttentionWeightsParams,
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

/// One buffer a step binds, in the kernel's binding order (after the params uniform).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// The buffer; `None` for an absent optional input (the params say it is not read).
    pub id: Option<BufId>,
    /// Whether the step writes it.
    pub write: bool,
}

impl Slot {
    fn read(id: BufId) -> Self {
        Slot {
            id: Some(id),
            write: false,
        }
    }

    fn optional(id: Option<BufId>) -> Self {
        Slot { id, write: false }
    }

    fn write(id: BufId) -> Self {
        Slot {
            id: Some(id),
            write: true,
        }
    }
}

impl Step {
    /// The buffers this step binds, in the WGSL's binding order after the params (inputs, then
    /// what it writes): the one place a kernel's bindings are listed on the host.
    pub fn slots(&self) -> Vec<Slot> {
        use Slot as S;
        match self {
            Step::Matmul {
                a, b, bias, out, ..
            } => {
                vec![S::read(*a), S::read(*b), S::optional(*bias), S::write(*out)]
            }
            Step::Softmax {
                scores,
                mask,
                padding,
                out,
                ..
            } => vec![
                S::read(*scores),
                S::optional(*mask),
                S::optional(*padding),
                S::write(*out),
            ],
            Step::Flash {
                q,
                k,
                v,
                mask,
                padding,
                stats,
                out,
                ..
            } => vec![
                S::read(*q),
                S::read(*k),
                S::read(*v),
                S::optional(*mask),
                S::optional(*padding),
                S::write(*stats),
                S::write(*out),
            ],
            Step::AttentionWeights {
                q,
                k,
                mask,
                padding,
                stats,
                out,
                ..
            } => vec![
                S::read(*q),
                S::read(*k),
                S::optional(*mask),
                S::optional(*padding),
                S::read(*stats),
                S::write(*out),
            ],
            Step::HeadMean { weights, out, .. } => vec![S::read(*weights), S::write(*out)],
            Step::Embed {
                ids,
                types,
                word,
                position,
                token_type,
                out,
                ..
            } => vec![
                S::read(*ids),
                S::read(*types),
                S::read(*word),
                S::read(*position),
                S::read(*token_type),
                S::write(*out),
            ],
            Step::LayerNorm {
                x,
                residual,
                gamma,
                beta,
                out,
                ..
            } => vec![
                S::read(*x),
                S::optional(*residual),
                S::read(*gamma),
                S::read(*beta),
                S::write(*out),
            ],
            Step::Gelu { x, out, .. } => vec![S::read(*x), S::write(*out)],
        }
    }

    /// The kernel's side of the executors: its params, which implement [`GpuStep`] (in
    /// `src/gpu/<kernel>.rs`) and [`CpuStep`] (in `src/cpu/<kernel>.rs`).
    pub fn kernel(&self) -> &dyn StepKernel {
        match self {
            Step::Matmul { params, .. } => params,
            Step::Softmax { params, .. } => params,
            Step::Flash { params, .. } => params,
            Step::AttentionWeights { params, .. } => params,
            Step::HeadMean { params, .. } => params,
            Step::Embed { params, .. } => params,
            Step::LayerNorm { params, .. } => params,
            Step::Gelu { params, .. } => params,
        }
    }

    /// The buffer this step writes last: its output, by the binding convention.
    pub fn out(&self) -> BufId {
        self.slots()
            .last()
            .and_then(|s| s.id.filter(|_| s.write))
            .expect("a step's last slot is the output it writes")
    }

    /// Every buffer this step writes.
    pub fn outs(&self) -> Vec<BufId> {
        self.slots()
            .into_iter()
            .filter(|s| s.write)
            .filter_map(|s| s.id)
            .collect()
    }

    /// The buffers this step reads.
    pub fn reads(&self) -> Vec<BufId> {
        self.slots()
            .into_iter()
            .filter(|s| !s.write)
            .filter_map(|s| s.id)
            .collect()
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
        self.flash_step(name, params, [q, k, v], mask, padding).0
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
        let (out, stats, params) = self.flash_step(name, params, [q, k, v], mask, padding);
        let weights = self.buffer(
            weights_name,
            crate::gpu::attention_weights::weights_len(&params),
            false,
        );
        self.steps.push(Step::AttentionWeights {
            params: AttentionWeightsParams(params),
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
    ) -> (BufId, BufId, FlashParams) {
        let params = FlashParams {
            has_mask: mask.is_some() as u32,
            has_padding: padding.is_some() as u32,
            ..params.whole()
        };
        let out = self.buffer(name, params.output_len(), false);
        let stats = self.buffer(
            &format!("{name}: row statistics"),
            params.state_len(),
            false,
        );
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
