//! LLaMA-family decoders (issue 15), starting from what a GGUF file says: the sizes
//! ([`config`]), the byte-level BPE tokenizer ([`tokenize`]) and RoPE's tables ([`rope`]).
//! The forward pass, generation and the `model` command's support come in later steps.

pub mod config;
pub mod rope;
pub mod tokenize;

pub use config::{LlamaConfig, SUPPORTED_ARCHITECTURES};
pub use tokenize::LlamaTokenizer;
