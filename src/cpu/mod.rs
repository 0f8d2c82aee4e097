//! The CPU reference: one twin per WGSL kernel, same loop structure, accumulating in f64.
//!
//! The GPU result is only trusted once it agrees with these. They are deliberately simple (no
//! blocking, no SIMD) so that they can be read side by side with `shaders/`.

pub mod add;
pub mod attention;
pub mod attention_weights;
pub mod concat;
pub mod embed;
pub mod execute;
pub mod fill;
pub mod flash;
pub mod gelu;
pub mod head_mean;
pub mod layer_norm;
pub mod matmul;
pub mod rms_norm;
pub mod rope;
pub mod softmax;
pub mod step;
pub mod swiglu;
