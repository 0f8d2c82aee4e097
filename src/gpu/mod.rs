//! Everything that touches wgpu: adapter choice, compiling the kernels of `crate::kernels`,
//! buffers, and the executor that records a program's steps into one command buffer.

pub mod attention;
pub mod buffers;
pub mod context;
pub mod execute;
pub mod kernel;
pub mod resident;
pub mod row_blocks;

pub use context::{AdapterChoice, BackendChoice, GpuContext};
