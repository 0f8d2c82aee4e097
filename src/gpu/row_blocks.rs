//! Attention whose weights do not fit one buffer, computed in blocks of query rows: one program
//! and one submission per block, so no buffer is larger than one block's, and each block's rows
//! stacked into the whole tensors on the host. What every block shares (the borrowed inputs:
//! X, the weights, keys and values; and what is computed from them alone, such as the K and V
//! projections) is uploaded and computed once and stays on the device between blocks
//! ([`Resident`]). `run` (single head), `mha` and `sdpa` all go
//! through [`run_row_blocks`]; a problem builds its blocks (`attention::Plan::row_block`,
//! `SdpaPlan::for_rows`, `MhaPlan::for_rows`) and says how each wanted tensor is shaped.

use std::borrow::Cow;
use std::ops::Range;
use std::time::Duration;

use crate::error::Result;
use crate::program::{BufId, Program};

use super::GpuContext;
use super::execute::{Kernels, Timings, execute_resident};
use super::resident::Resident;

/// A program computing the query rows `rows` of every wanted tensor.
pub struct RowBlock<'a> {
    /// The dispatches.
    pub program: Program,
    /// Its input data, in declaration order: borrowed where every block reads the same (kept
    /// on the device for the next block, with what is computed from it alone), owned where the
    /// data is this block's own (its query rows, its rows of a mask).
    pub inputs: Vec<Cow<'a, [f32]>>,
    /// The buffer holding each wanted tensor's rows, in the order of the shapes asked for.
    pub ids: Vec<BufId>,
    /// The query rows.
    pub rows: Range<usize>,
}

/// The CPU reference of one block: runs `program` with `inputs` for `want` and returns every
/// buffer in f64, as `cpu::execute::execute` does (a caller may wrap it, e.g. in a progress
/// line).
pub type Reference<'a> = &'a dyn Fn(&Program, &[&[f32]], &[BufId]) -> Vec<Vec<f64>>;

/// The wanted tensors, whole.
pub struct Assembled {
    /// Each wanted tensor's values, in order.
    pub values: Vec<Vec<f32>>,
    /// The CPU reference of the first `checked` tensors, in order.
    pub reference: Vec<Vec<f64>>,
    /// GPU phase times, summed over the blocks (kernel time only when every block had it).
    pub timings: Timings,
    /// CPU reference time, summed over the blocks.
    pub cpu_time: Duration,
}

/// Runs `blocks` one after another on `ctx` and stacks their rows into whole tensors shaped
/// `shapes` (…, L, X): the axis before last runs over the query rows. With `reference`, the
/// first `checked` tensors' CPU reference is assembled the same way. A single block holding
/// every row is moved in whole.
pub fn run_row_blocks<'a>(
    ctx: &GpuContext,
    kernels: &Kernels,
    blocks: impl Iterator<Item = Result<RowBlock<'a>>>,
    shapes: &[Vec<usize>],
    (checked, reference): (usize, Option<Reference<'_>>),
) -> Result<Assembled> {
    let checked = if reference.is_some() { checked } else { 0 };
    let mut values: Vec<Vec<f32>> = vec![Vec::new(); shapes.len()];
    let mut cpu_values: Vec<Vec<f64>> = vec![Vec::new(); checked];
    let mut timings = Timings::default();
    let mut cpu_time = Duration::ZERO;
    let mut first = true;
    let mut resident = Resident::default();
    for block in blocks {
        let block = block?;
        let (mut gpu, t) = execute_resident(
            ctx,
            kernels,
            &block.program,
            &block.inputs,
            &block.ids,
            &mut resident,
        )?;
        let inputs: Vec<&[f32]> = block.inputs.iter().map(|v| &v[..]).collect();
        timings.upload += t.upload;
        timings.gpu += t.gpu;
        timings.read_back += t.read_back;
        timings.kernels = match (timings.kernels, t.kernels) {
            (Some(a), Some(b)) => Some(a + b),
            (None, k) if first => k,
            _ => None,
        };
        first = false;
        let mut cpu = match reference {
            Some(run) => {
                let start = std::time::Instant::now();
                let cpu = run(&block.program, &inputs, &block.ids[..checked]);
                cpu_time += start.elapsed();
                cpu
            }
            None => Vec::new(),
        };
        for (i, shape) in shapes.iter().enumerate() {
            let gpu = std::mem::take(&mut gpu[i]);
            let cpu = (i < checked).then(|| std::mem::take(&mut cpu[block.ids[i].0]));
            stack(&mut values[i], gpu, shape, &block.rows, f32::NAN);
            if let Some(cpu) = cpu {
                stack(&mut cpu_values[i], cpu, shape, &block.rows, f64::NAN);
            }
        }
    }
    Ok(Assembled {
        values,
        reference: cpu_values,
        timings,
        cpu_time,
    })
}

/// Puts a block's rows (`part`, shaped like `shape` with `rows.len()` in place of the row axis)
/// into `whole` (shaped `shape`, allocated with `fill` at the first partial block).
fn stack<T: Copy>(whole: &mut Vec<T>, part: Vec<T>, shape: &[usize], rows: &Range<usize>, fill: T) {
    let len: usize = shape.iter().product();
    if part.len() == len {
        *whole = part;
        return;
    }
    if whole.is_empty() {
        *whole = vec![fill; len];
    }
    let axis = shape.len() - 2;
    let inner: usize = shape[axis + 1..].iter().product();
    let whole_chunk = shape[axis] * inner;
    let part_chunk = rows.len() * inner;
    for (dst, src) in whole
        .chunks_exact_mut(whole_chunk)
        .zip(part.chunks_exact(part_chunk))
    {
        dst[rows.start * inner..rows.end * inner].copy_from_slice(src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_of_rows_stack_into_the_whole_tensor() {
        // (2, 3, 2): two matrices of three rows; rows 1..3 of each arrive in one block.
        let shape = [2, 3, 2];
        let mut whole = Vec::new();
        stack(&mut whole, vec![0, 1, 10, 11], &shape, &(0..1), -1);
        assert_eq!(whole, [0, 1, -1, -1, -1, -1, 10, 11, -1, -1, -1, -1]);
        stack(
            &mut whole,
            vec![2, 3, 4, 5, 12, 13, 14, 15],
            &shape,
            &(1..3),
            -1,
        );
        assert_eq!(whole, [0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15]);
        let mut once = Vec::new();
        stack(&mut once, (0..12).collect(), &shape, &(0..3), -1);
        assert_eq!(once, (0..12).collect::<Vec<_>>());
    }
}
