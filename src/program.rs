//! A program: the list of kernel dispatches and the buffers they read and write.
//!
//! Every attention variant (single head, multi-head with batches and masks, SDPA) is built as a
//! [`Program`]; the GPU executor (`gpu::execute`) and the CPU reference (`cpu::execute`) run the
//! very same program, so the two can only ever differ in arithmetic, never in what is computed.

use std::sync::Arc;

use crate::cpu::step::CpuStep;
use crate::kernels::GpuStep;

/// A kernel as both executors see it: its GPU dispatches and its CPU twin. Every kernel's
/// params type is one (`src/kernels/<kernel>.rs`, `src/cpu/<kernel>.rs`).
pub trait StepKernel: GpuStep + CpuStep + std::fmt::Debug + Send + Sync {}

impl<T: GpuStep + CpuStep + std::fmt::Debug + Send + Sync> StepKernel for T {}

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

/// One kernel dispatch: the kernel's params and the buffers it binds. Each kernel's builder
/// (`Program::matmul`, `Program::softmax`, … in `src/kernels/<kernel>.rs`) makes its steps.
#[derive(Clone, Debug)]
pub struct Step {
    kernel: Arc<dyn StepKernel>,
    slots: Vec<Slot>,
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
    /// An input.
    pub fn read(id: BufId) -> Self {
        Slot {
            id: Some(id),
            write: false,
        }
    }

    /// An optional input.
    pub fn optional(id: Option<BufId>) -> Self {
        Slot { id, write: false }
    }

    /// An output.
    pub fn write(id: BufId) -> Self {
        Slot {
            id: Some(id),
            write: true,
        }
    }
}

impl Step {
    /// A step of `kernel` binding `slots` (inputs, then outputs, in the WGSL's binding order
    /// after the params).
    ///
    /// # Panics
    /// If an input follows an output or nothing is written: a bug in the kernel's builder.
    pub fn new(kernel: impl StepKernel + 'static, slots: Vec<Slot>) -> Self {
        let first_write = slots.iter().position(|s| s.write).expect("a step writes");
        assert!(
            slots[first_write..]
                .iter()
                .all(|s| s.write && s.id.is_some()),
            "a step binds its inputs before its outputs"
        );
        Step {
            kernel: Arc::new(kernel),
            slots,
        }
    }

    /// The buffers this step binds, in the WGSL's binding order after the params (inputs, then
    /// what it writes).
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// The kernel's side of the executors: its params, which implement [`GpuStep`] (in
    /// `src/kernels/<kernel>.rs`) and [`CpuStep`] (in `src/cpu/<kernel>.rs`).
    pub fn kernel(&self) -> &dyn StepKernel {
        &*self.kernel
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
        self.slots
            .iter()
            .filter(|s| s.write)
            .filter_map(|s| s.id)
            .collect()
    }

    /// The buffers this step reads.
    pub fn reads(&self) -> Vec<BufId> {
        self.slots
            .iter()
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

    /// Declares a buffer a step will write (for kernels' builders).
    pub fn output(&mut self, name: &str, len: usize) -> BufId {
        self.buffer(name, len, false)
    }

    /// Appends a step (for kernels' builders).
    pub fn push(&mut self, step: Step) {
        self.steps.push(step);
    }

    /// Appends a step of `kernel` that reads `inputs` and writes one new buffer, named `name`,
    /// of `len` elements, bound last; returns that buffer (for kernels' builders).
    pub fn push_writing(
        &mut self,
        name: &str,
        len: usize,
        kernel: impl StepKernel + 'static,
        mut inputs: Vec<Slot>,
    ) -> BufId {
        let out = self.output(name, len);
        inputs.push(Slot::write(out));
        self.push(Step::new(kernel, inputs));
        out
    }

    fn buffer(&mut self, name: &str, len: usize, input: bool) -> BufId {
        self.buffers.push(BufferSpec {
            name: name.to_string(),
            len,
            input,
        });
        BufId(self.buffers.len() - 1)
    }

    /// The spec of buffer `id`.
    pub fn spec(&self, id: BufId) -> &BufferSpec {
        &self.buffers[id.0]
    }
}

impl Program {
    /// Which steps must run to produce every buffer in `want` (the others are skipped).
    pub fn needed_steps(&self, want: &[BufId]) -> Vec<bool> {
        self.needed_steps_given(want, &vec![false; self.buffers.len()])
    }

    /// Which steps must run to produce every buffer in `want` when the buffers marked
    /// `available` (one flag per buffer) already hold their values: a step runs only for an
    /// output that is wanted, or read by a step that runs, and not available.
    pub fn needed_steps_given(&self, want: &[BufId], available: &[bool]) -> Vec<bool> {
        let mut needed_buffers = vec![false; self.buffers.len()];
        for id in want {
            needed_buffers[id.0] = true;
        }
        let mut needed = vec![false; self.steps.len()];
        for (i, step) in self.steps.iter().enumerate().rev() {
            if step
                .outs()
                .iter()
                .any(|id| needed_buffers[id.0] && !available[id.0])
            {
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

    use crate::kernels::matmul::MatmulParams;

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
        // With `a` already computed, only `c` runs for `c`.
        let mut available = vec![false; p.buffers.len()];
        available[a.0] = true;
        assert_eq!(p.needed_steps_given(&[c], &available), [false, false, true]);
        assert_eq!(
            p.needed_steps_given(&[a, c], &available),
            [false, false, true]
        );
    }
}
