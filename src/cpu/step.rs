//! What the CPU executor needs to know of a kernel: how to call its twin on a step's slots.
//! Each kernel's params type implements [`CpuStep`] next to its twin (`src/cpu/<kernel>.rs`).

/// A kernel's side of the CPU executor, implemented by its params type.
pub trait CpuStep {
    /// Runs the twin. `reads` are the step's read slots in binding order (an absent optional
    /// input is empty), `writes` its written slots in binding order, each already as long as
    /// its buffer.
    fn run_cpu(&self, reads: &[&[f64]], writes: &mut [Vec<f64>]);
}
