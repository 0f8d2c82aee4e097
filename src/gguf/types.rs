//! ggml's tensor types as GGUF stores them, and turning each supported one into f32.
//!
//! Block layouts follow ggml (`ggml-common.h`, `ggml-quants.c`); every quantised block holds 32
//! values and starts with its f16 scale `d`:
//! - Q8_0: `d`, then 32 signed bytes q; value = q · d.
//! - Q4_0: `d`, then 16 bytes of two 4-bit q each; value = (q − 8) · d.
//! - Q4_1: `d`, the f16 minimum `m`, then 16 bytes as Q4_0; value = q · d + m.
//!
//! In Q4_0 and Q4_1 byte j holds value j in its low nibble and value j + 16 in its high one.

use half::{bf16, f16};

/// Values per quantised block.
pub const BLOCK: usize = 32;

/// A tensor type this reader dequantises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorType {
    /// 32-bit IEEE float.
    F32,
    /// 16-bit IEEE float.
    F16,
    /// bfloat16.
    Bf16,
    /// 8-bit blocks with one f16 scale.
    Q8_0,
    /// 4-bit blocks with one f16 scale, offset 8.
    Q4_0,
    /// 4-bit blocks with an f16 scale and minimum.
    Q4_1,
}

impl TensorType {
    /// The type of ggml id `id`, or `Err` with its ggml name (or number) when this reader does
    /// not dequantise it.
    pub fn from_id(id: u32) -> Result<Self, String> {
        Ok(match id {
            0 => TensorType::F32,
            1 => TensorType::F16,
            2 => TensorType::Q4_0,
            3 => TensorType::Q4_1,
            8 => TensorType::Q8_0,
            30 => TensorType::Bf16,
            other => return Err(unsupported_name(other)),
        })
    }

    /// ggml's name of the type.
    pub fn name(self) -> &'static str {
        match self {
            TensorType::F32 => "F32",
            TensorType::F16 => "F16",
            TensorType::Bf16 => "BF16",
            TensorType::Q8_0 => "Q8_0",
            TensorType::Q4_0 => "Q4_0",
            TensorType::Q4_1 => "Q4_1",
        }
    }

    /// (values, bytes) of one block: one value for the float types.
    pub fn block(self) -> (usize, usize) {
        match self {
            TensorType::F32 => (1, 4),
            TensorType::F16 | TensorType::Bf16 => (1, 2),
            TensorType::Q8_0 => (BLOCK, 2 + BLOCK),
            TensorType::Q4_0 => (BLOCK, 2 + BLOCK / 2),
            TensorType::Q4_1 => (BLOCK, 4 + BLOCK / 2),
        }
    }

    /// Bytes of `values` values, or `None` when they are not whole blocks or overflow.
    pub fn bytes_of(self, values: u64) -> Option<u64> {
        let (per_block, bytes) = self.block();
        values.is_multiple_of(per_block as u64).then_some(())?;
        (values / per_block as u64).checked_mul(bytes as u64)
    }

    /// Dequantises `data` (whole blocks, as [`TensorType::bytes_of`] sized it) into f32.
    pub fn to_f32(self, data: &[u8]) -> Vec<f32> {
        let (per_block, bytes) = self.block();
        let mut out = Vec::with_capacity(data.len() / bytes * per_block);
        for block in data.chunks_exact(bytes) {
            match self {
                TensorType::F32 => out.push(f32::from_le_bytes(block.try_into().expect("4"))),
                TensorType::F16 => out.push(f16::from_le_bytes([block[0], block[1]]).to_f32()),
                TensorType::Bf16 => out.push(bf16::from_le_bytes([block[0], block[1]]).to_f32()),
                TensorType::Q8_0 => {
                    let d = scale(block, 0);
                    out.extend(block[2..].iter().map(|&q| q as i8 as f32 * d));
                }
                TensorType::Q4_0 => {
                    let d = scale(block, 0);
                    nibbles(&mut out, &block[2..], |q| (q as f32 - 8.0) * d);
                }
                TensorType::Q4_1 => {
                    let (d, m) = (scale(block, 0), scale(block, 2));
                    nibbles(&mut out, &block[4..], |q| q as f32 * d + m);
                }
            }
        }
        out
    }
}

/// The f16 at `at` in `block`, as f32.
fn scale(block: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([block[at], block[at + 1]]).to_f32()
}

/// Appends `value` of each nibble of 16 bytes: the low nibbles first (values 0 to 15), then the
/// high ones (16 to 31). `value` rounds as gguf-py does, so that the f32 values equal the ones
/// transformers dequantises: (q − 8) · d for Q4_0, q · d + m for Q4_1.
fn nibbles(out: &mut Vec<f32>, qs: &[u8], value: impl Fn(u8) -> f32) {
    out.extend(qs.iter().map(|&q| value(q & 0x0f)));
    out.extend(qs.iter().map(|&q| value(q >> 4)));
}

/// ggml's name of a type id this reader does not dequantise.
fn unsupported_name(id: u32) -> String {
    const NAMES: &[(u32, &str)] = &[
        (6, "Q5_0"),
        (7, "Q5_1"),
        (9, "Q8_1"),
        (10, "Q2_K"),
        (11, "Q3_K"),
        (12, "Q4_K"),
        (13, "Q5_K"),
        (14, "Q6_K"),
        (15, "Q8_K"),
        (16, "IQ2_XXS"),
        (17, "IQ2_XS"),
        (18, "IQ3_XXS"),
        (19, "IQ1_S"),
        (20, "IQ4_NL"),
        (21, "IQ3_S"),
        (22, "IQ2_S"),
        (23, "IQ4_XS"),
        (24, "I8"),
        (25, "I16"),
        (26, "I32"),
        (27, "I64"),
        (28, "F64"),
        (29, "IQ1_M"),
        (34, "TQ1_0"),
        (35, "TQ2_0"),
    ];
    NAMES.iter().find(|(n, _)| *n == id).map_or_else(
        || format!("unknown type {id}"),
        |(_, name)| format!("{name} (type {id})"),
    )
}
