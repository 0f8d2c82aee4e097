//! GGUF model files (llama.cpp's format): metadata, tensor descriptions and tensor data,
//! dequantised to f32 on load.
//!
//! The first step of LLaMA-family decoders (issue 15): this module reads a file and hands out
//! metadata and f32 tensors in PyTorch's shapes; it knows nothing of any architecture. No
//! crate on crates.io was a fit: the GGUF readers there are young, little used and bring
//! their own tensor types, while the container is a few hundred lines to read with every
//! length checked ([`read`]) and the block formats a few lines each ([`types`]).
//!
//! Dequantisation happens on load, on the CPU, rounding exactly as gguf-py (which
//! transformers uses to load GGUF files) does, so the f32 weights are the reference's.

pub mod read;
pub mod types;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::state_dict::Tensor;

pub use read::{TensorInfo, Value};
pub use types::TensorType;

/// An opened GGUF file: its header parsed, its bytes held.
pub struct Gguf {
    path: PathBuf,
    bytes: Vec<u8>,
    header: read::Header,
}

impl Gguf {
    /// Reads and parses `path`. Errors name the file and what is wrong with it: not GGUF, an
    /// unsupported version, truncated metadata or descriptions, a tensor whose data lies past
    /// the end of the file.
    pub fn open(path: &Path) -> Result<Self> {
        let bytes = crate::input_file::read_bytes(path, "GGUF model")?;
        let header = read::header(&bytes).map_err(|message| fail(path, message))?;
        let gguf = Gguf {
            path: path.to_path_buf(),
            bytes,
            header,
        };
        for info in &gguf.header.tensors {
            if let Ok(kind) = TensorType::from_id(info.type_id) {
                gguf.data_range(info, kind)?;
            }
        }
        Ok(gguf)
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.header.version
    }

    /// Every metadata key–value pair, in file order.
    pub fn metadata(&self) -> &[(String, Value)] {
        &self.header.metadata
    }

    /// Every tensor's description, in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.header.tensors
    }

    /// The metadata value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.header
            .metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The metadata value of `key`; an error naming the file and key when it is missing.
    pub fn require(&self, key: &str) -> Result<&Value> {
        self.get(key)
            .ok_or_else(|| fail(&self.path, format!("metadata {key} is missing")))
    }

    /// The string `key`.
    pub fn string(&self, key: &str) -> Result<&str> {
        match self.require(key)? {
            Value::String(s) => Ok(s),
            other => Err(self.wrong_kind(key, other, "a string")),
        }
    }

    /// The unsigned integer `key` (a non-negative signed one is accepted too).
    pub fn uint(&self, key: &str) -> Result<u64> {
        match self.require(key)? {
            Value::Uint(v) => Ok(*v),
            Value::Int(v) if *v >= 0 => Ok(*v as u64),
            other => Err(self.wrong_kind(key, other, "an unsigned integer")),
        }
    }

    /// The number `key`, as f64.
    pub fn float(&self, key: &str) -> Result<f64> {
        match self.require(key)? {
            Value::Float(v) => Ok(*v),
            Value::Uint(v) => Ok(*v as f64),
            Value::Int(v) => Ok(*v as f64),
            other => Err(self.wrong_kind(key, other, "a number")),
        }
    }

    /// The array of strings `key` (a tokenizer's tokens or merges).
    pub fn strings(&self, key: &str) -> Result<Vec<&str>> {
        let Value::Array(items) = self.require(key)? else {
            return Err(self.wrong_kind(key, self.require(key)?, "an array of strings"));
        };
        items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.as_str()),
                other => Err(self.wrong_kind(key, other, "an array of strings")),
            })
            .collect()
    }

    /// The description of tensor `name`, if the file has it.
    pub fn info(&self, name: &str) -> Option<&TensorInfo> {
        self.header.tensors.iter().find(|t| t.name == name)
    }

    /// Tensor `name` dequantised to f32, in PyTorch's shape (GGUF's dimensions reversed).
    /// Errors name the file and tensor: missing, or of a type this reader does not dequantise.
    pub fn tensor(&self, name: &str) -> Result<Tensor> {
        let info = self
            .info(name)
            .ok_or_else(|| fail(&self.path, format!("tensor {name} is missing")))?;
        let kind = TensorType::from_id(info.type_id).map_err(|type_name| {
            fail(
                &self.path,
                format!(
                    "tensor {name} is stored as {type_name}, which selfattn does not read \
                     (it reads F32, F16, BF16, Q8_0, Q4_0 and Q4_1)"
                ),
            )
        })?;
        let range = self.data_range(info, kind)?;
        Ok(Tensor {
            shape: info.dims.iter().rev().map(|&d| d as usize).collect(),
            data: kind.to_f32(&self.bytes[range]),
        })
    }

    /// Where tensor `info`'s data lies in the file, checked: whole blocks, within the file.
    fn data_range(&self, info: &TensorInfo, kind: TensorType) -> Result<std::ops::Range<usize>> {
        let tensor_fail =
            |problem: String| fail(&self.path, format!("tensor {}: {problem}", info.name));
        let values = info
            .dims
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(d))
            .ok_or_else(|| tensor_fail(format!("dimensions {:?} overflow", info.dims)))?;
        let per_block = kind.block().0 as u64;
        if info
            .dims
            .first()
            .is_some_and(|&row| !row.is_multiple_of(per_block))
        {
            return Err(tensor_fail(format!(
                "rows of {} values are not whole {} blocks of {per_block}",
                info.dims[0],
                kind.name()
            )));
        }
        let len = kind.bytes_of(values).ok_or_else(|| {
            tensor_fail(format!(
                "{values} values are not whole {} blocks of {}",
                kind.name(),
                kind.block().0
            ))
        })?;
        let start = self.header.data_start.checked_add(info.offset);
        let end = start.and_then(|s| s.checked_add(len));
        match (start, end) {
            (Some(start), Some(end)) if end <= self.bytes.len() as u64 => {
                Ok(start as usize..end as usize)
            }
            _ => Err(tensor_fail(format!(
                "its {len} bytes of {} data at offset {} lie past the end of the file ({} bytes)",
                kind.name(),
                info.offset,
                self.bytes.len()
            ))),
        }
    }

    /// The error for metadata `key` holding `value` where `wanted` (with its article) was
    /// expected.
    fn wrong_kind(&self, key: &str, value: &Value, wanted: &str) -> Error {
        fail(
            &self.path,
            format!("metadata {key} is {}, not {wanted}", value.kind()),
        )
    }
}

fn fail(path: &Path, message: String) -> Error {
    Error::InputFile {
        path: path.to_path_buf(),
        message,
    }
}
