//! Reading tensors from a safetensors file (a PyTorch `state_dict()` saved with
//! `safetensors.torch.save_file`), in f32, f16 or bf16, as f32.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors};

use crate::error::{Error, Result};

/// One tensor, converted to f32.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its values, row-major.
    pub data: Vec<f32>,
}

/// Every tensor of a safetensors file, by name.
#[derive(Clone, Debug)]
pub struct StateDict {
    /// The file, for error messages.
    pub path: PathBuf,
    /// The tensors.
    pub tensors: BTreeMap<String, Tensor>,
    /// Tensors of other dtypes (integer buffers such as BERT's `position_ids`), by name: kept
    /// out of the way, and an error naming the dtype if one is asked for.
    pub other_dtypes: BTreeMap<String, Dtype>,
}

fn fail(path: &Path, message: String) -> Error {
    Error::InputFile {
        path: path.to_path_buf(),
        message,
    }
}

impl StateDict {
    /// Loads `path`, converting f16 and bf16 to f32; tensors of other dtypes are set aside
    /// (asking for one is an error naming its dtype).
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = crate::input_file::read_bytes(path, "weights")?;
        let st = SafeTensors::deserialize(&bytes)
            .map_err(|e| fail(path, format!("not a valid safetensors file ({e})")))?;
        let mut tensors = BTreeMap::new();
        let mut other_dtypes = BTreeMap::new();
        for (name, view) in st.tensors() {
            let raw = view.data();
            let data: Vec<f32> = match view.dtype() {
                Dtype::F32 => raw
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
                Dtype::F16 => raw
                    .chunks_exact(2)
                    .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                    .collect(),
                Dtype::BF16 => raw
                    .chunks_exact(2)
                    .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                    .collect(),
                other => {
                    other_dtypes.insert(name, other);
                    continue;
                }
            };
            if let Some(i) = data.iter().position(|v| !v.is_finite()) {
                return Err(Error::NonFinite {
                    tensor: format!("'{name}' in {}", path.display()),
                    index: format!("{i} (flat)"),
                    value: data[i] as f64,
                });
            }
            tensors.insert(
                name,
                Tensor {
                    shape: view.shape().to_vec(),
                    data,
                },
            );
        }
        Ok(StateDict {
            path: path.to_path_buf(),
            tensors,
            other_dtypes,
        })
    }

    /// Whether a tensor of this name exists.
    pub fn has(&self, name: &str) -> bool {
        self.tensors.contains_key(name) || self.other_dtypes.contains_key(name)
    }

    /// The tensor `name`, which must have shape `expected`.
    pub fn get(&self, name: &str, expected: &[usize]) -> Result<&Tensor> {
        if let Some(dtype) = self.other_dtypes.get(name) {
            return Err(fail(
                &self.path,
                format!("tensor '{name}' has dtype {dtype:?}; expected F32, F16 or BF16"),
            ));
        }
        let t = self.tensors.get(name).ok_or_else(|| {
            fail(
                &self.path,
                format!(
                    "tensor '{name}' (expected shape {expected:?}) is missing; the file holds {:?}",
                    self.tensors.keys().collect::<Vec<_>>()
                ),
            )
        })?;
        if t.shape != expected {
            return Err(fail(
                &self.path,
                format!(
                    "tensor '{name}' has shape {:?} but {expected:?} was expected",
                    t.shape
                ),
            ));
        }
        Ok(t)
    }

    /// The tensor `name` if present (then it must have shape `expected`).
    pub fn get_optional(&self, name: &str, expected: &[usize]) -> Result<Option<&Tensor>> {
        if self.has(name) {
            self.get(name, expected).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The shape of `name`, if present.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.tensors.get(name).map(|t| &t.shape[..])
    }
}

/// Writes `tensors` as an f32 safetensors file (used by tests and examples).
pub fn save_f32(path: &Path, tensors: &[(&str, &[usize], &[f32])]) -> Result<()> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, d)| d.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let mut owned = Vec::new();
    for ((name, shape, _), data) in tensors.iter().zip(&bytes) {
        let view = safetensors::tensor::TensorView::new(Dtype::F32, shape.to_vec(), data)
            .map_err(|e| fail(path, e.to_string()))?;
        owned.push((name.to_string(), view));
    }
    let serialized = safetensors::serialize(owned, None).map_err(|e| fail(path, e.to_string()))?;
    crate::fsutil::write_output(path, |w| w.write_all(&serialized))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_shape_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sd.safetensors");
        save_f32(&path, &[("w", &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])]).unwrap();
        let sd = StateDict::load(&path).unwrap();
        assert_eq!(sd.get("w", &[2, 3]).unwrap().data[5], 6.0);
        let err = sd.get("w", &[3, 2]).unwrap_err().to_string();
        assert!(
            err.contains("'w'") && err.contains("[2, 3]") && err.contains("[3, 2]"),
            "{err}"
        );
        let err = sd.get("b", &[3]).unwrap_err().to_string();
        assert!(err.contains("'b'") && err.contains("missing"), "{err}");
        assert!(sd.get_optional("b", &[3]).unwrap().is_none());
    }

    #[test]
    fn garbage_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.safetensors");
        std::fs::write(&path, b"nope").unwrap();
        let err = StateDict::load(&path).unwrap_err().to_string();
        assert!(err.contains("bad.safetensors"), "{err}");
    }
}
