//! A GGUF writer for tests: files of any metadata and raw tensor blocks, version 3, data
//! aligned to 32 bytes, so readers can be tested on files no tool wrote for them.

use std::path::{Path, PathBuf};

/// A GGUF value as the writer encodes it.
pub enum W {
    /// uint32.
    U32(u32),
    /// float32.
    F32(f32),
    /// bool.
    Bool(bool),
    /// A string.
    Str(&'static str),
    /// An array of strings.
    Strs(Vec<String>),
    /// An array of int32.
    I32s(Vec<i32>),
    /// Any value type id and its encoded bytes.
    Raw(u32, Vec<u8>),
}

/// One tensor to write: name, GGUF dims (fastest first), ggml type id, raw data.
pub struct T {
    pub name: String,
    pub dims: Vec<u64>,
    pub type_id: u32,
    pub data: Vec<u8>,
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

/// A version-3 GGUF file of `metadata` and `tensors`, data aligned to 32 bytes.
pub fn gguf_bytes(metadata: &[(&str, W)], tensors: &[T]) -> Vec<u8> {
    let mut out = b"GGUF".to_vec();
    out.extend(3u32.to_le_bytes());
    out.extend((tensors.len() as u64).to_le_bytes());
    out.extend((metadata.len() as u64).to_le_bytes());
    for (key, value) in metadata {
        string(&mut out, key);
        match value {
            W::U32(v) => {
                out.extend(4u32.to_le_bytes());
                out.extend(v.to_le_bytes());
            }
            W::F32(v) => {
                out.extend(6u32.to_le_bytes());
                out.extend(v.to_le_bytes());
            }
            W::Bool(v) => {
                out.extend(7u32.to_le_bytes());
                out.push(*v as u8);
            }
            W::I32s(items) => {
                out.extend(9u32.to_le_bytes());
                out.extend(5u32.to_le_bytes());
                out.extend((items.len() as u64).to_le_bytes());
                for v in items {
                    out.extend(v.to_le_bytes());
                }
            }
            W::Str(s) => {
                out.extend(8u32.to_le_bytes());
                string(&mut out, s);
            }
            W::Strs(items) => {
                out.extend(9u32.to_le_bytes());
                out.extend(8u32.to_le_bytes());
                out.extend((items.len() as u64).to_le_bytes());
                for s in items {
                    string(&mut out, s);
                }
            }
            W::Raw(type_id, bytes) => {
                out.extend(type_id.to_le_bytes());
                out.extend(bytes);
            }
        }
    }
    let mut offset = 0u64;
    let mut offsets = Vec::new();
    for t in tensors {
        string(&mut out, &t.name);
        out.extend((t.dims.len() as u32).to_le_bytes());
        for d in &t.dims {
            out.extend(d.to_le_bytes());
        }
        out.extend(t.type_id.to_le_bytes());
        out.extend(offset.to_le_bytes());
        offsets.push(offset);
        offset += (t.data.len() as u64).div_ceil(32) * 32;
    }
    let start = out.len().div_ceil(32) * 32;
    out.resize(start, 0);
    for (t, offset) in tensors.iter().zip(offsets) {
        out.resize(start + offset as usize, 0);
        out.extend(&t.data);
    }
    out
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}
