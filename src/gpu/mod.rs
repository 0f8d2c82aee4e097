//! Everything that touches wgpu: adapter choice, the generic kernel helper, one small struct per
//! WGSL kernel, buffers, and the attention pipeline that records all stages into one command
//! buffer.

pub mod attention;
pub mod buffers;
pub mod context;
pub mod execute;
pub mod flash;
pub mod head_mean;
pub mod kernel;
pub mod matmul;
pub mod softmax;

pub use context::{AdapterChoice, BackendChoice, GpuContext};
