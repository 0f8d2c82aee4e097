//! Everything that touches wgpu: adapter choice, the generic kernel helper, one small struct per
//! WGSL kernel, buffers, and the attention pipeline that records all stages into one command
//! buffer.

pub mod attention;
pub mod attention_weights;
pub mod buffers;
pub mod context;
pub mod embed;
pub mod execute;
pub mod flash;
pub mod gelu;
pub mod head_mean;
pub mod kernel;
pub mod layer_norm;
pub mod matmul;
pub mod softmax;
pub mod step;

pub use context::{AdapterChoice, BackendChoice, GpuContext};
