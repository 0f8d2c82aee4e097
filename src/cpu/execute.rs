//! The CPU reference executor: runs a [`Program`] with the CPU twins, in f64 throughout.

use crate::program::{BufId, Program, Step};

use super::{
    attention_weights::attention_weights, embed::embed, flash::flash, gelu::gelu,
    head_mean::head_mean, layer_norm::layer_norm, matmul::matmul, softmax::softmax,
};

/// Runs the steps of `program` needed for `want`, with `inputs` (one slice per input buffer, in
/// declaration order). Returns every buffer in f64; buffers not computed are left empty.
pub fn execute(program: &Program, inputs: &[&[f32]], want: &[BufId]) -> Vec<Vec<f64>> {
    let mut buffers: Vec<Vec<f64>> = Vec::with_capacity(program.buffers.len());
    let mut next_input = inputs.iter();
    for spec in &program.buffers {
        if spec.input {
            let data = next_input.next().expect("one slice per input buffer");
            assert_eq!(
                data.len(),
                spec.len,
                "input {} has the wrong length",
                spec.name
            );
            buffers.push(data.iter().map(|&v| v as f64).collect());
        } else {
            buffers.push(Vec::new());
        }
    }
    let needed = program.needed_steps(want);
    for (step, needed) in program.steps.iter().zip(needed) {
        if !needed {
            continue;
        }
        match step {
            Step::Matmul {
                params,
                a,
                b,
                bias,
                out,
            } => {
                let mut c = vec![0.0; program.spec(*out).len];
                let bias: &[f64] = bias.map(|id| &buffers[id.0][..]).unwrap_or(&[]);
                matmul(params, &buffers[a.0], &buffers[b.0], bias, &mut c);
                buffers[out.0] = c;
            }
            Step::Softmax {
                params,
                scores,
                mask,
                padding,
                out,
            } => {
                let mut w = vec![0.0; program.spec(*out).len];
                let mask: &[f64] = mask.map(|id| &buffers[id.0][..]).unwrap_or(&[]);
                let padding: &[f64] = padding.map(|id| &buffers[id.0][..]).unwrap_or(&[]);
                softmax(params, &buffers[scores.0], mask, padding, &mut w);
                buffers[out.0] = w;
            }
            Step::Flash {
                params,
                q,
                k,
                v,
                mask,
                padding,
                out,
                stats,
            } => {
                let mut o = vec![0.0; program.spec(*out).len];
                let mut st = stats.map(|id| vec![0.0; program.spec(id).len]);
                let mask: &[f64] = mask.map(|id| &buffers[id.0][..]).unwrap_or(&[]);
                let padding: &[f64] = padding.map(|id| &buffers[id.0][..]).unwrap_or(&[]);
                flash(
                    params,
                    &buffers[q.0],
                    &buffers[k.0],
                    &buffers[v.0],
                    mask,
                    padding,
                    None,
                    &mut o,
                    st.as_deref_mut(),
                );
                buffers[out.0] = o;
                if let (Some(id), Some(st)) = (stats, st) {
                    buffers[id.0] = st;
                }
            }
            Step::AttentionWeights {
                params,
                q,
                k,
                mask,
                padding,
                stats,
                out,
            } => {
                let mut w = vec![0.0; program.spec(*out).len];
                let mask: &[f64] = mask.map(|id| &buffers[id.0][..]).unwrap_or(&[]);
                let padding: &[f64] = padding.map(|id| &buffers[id.0][..]).unwrap_or(&[]);
                attention_weights(
                    params,
                    &buffers[q.0],
                    &buffers[k.0],
                    mask,
                    padding,
                    &buffers[stats.0],
                    &mut w,
                );
                buffers[out.0] = w;
            }
            Step::HeadMean {
                params,
                weights,
                out,
            } => {
                let mut m = vec![0.0; program.spec(*out).len];
                head_mean(params, &buffers[weights.0], &mut m);
                buffers[out.0] = m;
            }
            Step::Embed {
                params,
                ids,
                types,
                word,
                position,
                token_type,
                out,
            } => {
                let mut e = vec![0.0; program.spec(*out).len];
                embed(
                    params,
                    &buffers[ids.0],
                    &buffers[types.0],
                    &buffers[word.0],
                    &buffers[position.0],
                    &buffers[token_type.0],
                    &mut e,
                );
                buffers[out.0] = e;
            }
            Step::LayerNorm {
                params,
                x,
                residual,
                gamma,
                beta,
                out,
            } => {
                let mut y = vec![0.0; program.spec(*out).len];
                let residual: &[f64] = residual.map(|id| &buffers[id.0][..]).unwrap_or(&[]);
                layer_norm(
                    params,
                    &buffers[x.0],
                    residual,
                    &buffers[gamma.0],
                    &buffers[beta.0],
                    &mut y,
                );
                buffers[out.0] = y;
            }
            Step::Gelu { params, x, out } => {
                let mut y = vec![0.0; program.spec(*out).len];
                gelu(params, &buffers[x.0], &mut y);
                buffers[out.0] = y;
            }
        }
    }
    buffers
}
