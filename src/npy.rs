//! Reading and writing `.npy` arrays, with errors that name the file and the tensor.
//!
//! Reading accepts what NumPy writes for float arrays: f32 or f64, either byte order, C or Fortran
//! order. Writing is always little-endian f32 in C order, through a temporary file and a rename.

use std::io::Write;
use std::path::Path;

use npyz::WriterBuilder;

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::tensor::Matrix;

/// An n-dimensional f32 array read from a .npy file, in C (row-major) order.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    /// The dimensions.
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<f32>,
}

fn input_error(path: &Path, tensor: &str, message: impl std::fmt::Display) -> Error {
    Error::InputFile {
        path: path.to_path_buf(),
        message: format!("{tensor}: {message}"),
    }
}

/// Reads a float array (f32 or f64) from `path`; `tensor` names it in errors.
pub fn read_array(path: &Path, tensor: &str) -> Result<Array> {
    let bytes = std::fs::read(path).map_err(|e| input_error(path, tensor, e))?;
    let file = npyz::NpyFile::new(&bytes[..])
        .map_err(|e| input_error(path, tensor, format!("not a valid .npy file ({e})")))?;
    let shape: Vec<usize> = file.shape().iter().map(|&d| d as usize).collect();
    let order = file.order();
    let dtype = file.dtype();
    let expected: usize = shape.iter().product();
    let data: Vec<f32> = match &dtype {
        npyz::DType::Plain(ts)
            if ts.type_char() == npyz::TypeChar::Float && ts.size_field() == 4 =>
        {
            file.into_vec::<f32>()
        }
        npyz::DType::Plain(ts)
            if ts.type_char() == npyz::TypeChar::Float && ts.size_field() == 8 =>
        {
            file.into_vec::<f64>()
                .map(|v| v.into_iter().map(|x| x as f32).collect())
        }
        other => {
            return Err(input_error(
                path,
                tensor,
                format!(
                    "dtype {} is not supported (expected float32 or float64)",
                    other.descr()
                ),
            ));
        }
    }
    .map_err(|e| {
        input_error(
            path,
            tensor,
            format!("truncated or unreadable data for shape {shape:?} ({e})"),
        )
    })?;
    if data.len() != expected {
        return Err(input_error(
            path,
            tensor,
            format!(
                "holds {} values but its shape {shape:?} needs {expected}",
                data.len()
            ),
        ));
    }
    let data = match order {
        npyz::Order::C => data,
        npyz::Order::Fortran => fortran_to_c(&shape, &data),
    };
    Ok(Array { shape, data })
}

fn fortran_to_c(shape: &[usize], data: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; data.len()];
    let mut index = vec![0usize; shape.len()];
    for (c_pos, slot) in out.iter_mut().enumerate() {
        let mut rest = c_pos;
        for (d, &dim) in shape.iter().enumerate().rev() {
            index[d] = rest % dim;
            rest /= dim;
        }
        let mut f_pos = 0;
        for (d, &dim) in shape.iter().enumerate().rev() {
            f_pos = f_pos * dim + index[d];
        }
        *slot = data[f_pos];
    }
    out
}

/// Reads a 2-D float array as a [`Matrix`], checking it is finite and non-empty.
pub fn read_matrix(path: &Path, tensor: &str) -> Result<Matrix> {
    let array = read_array(path, tensor)?;
    let [rows, cols] = array.shape[..] else {
        return Err(input_error(
            path,
            tensor,
            format!("expected a 2-D array, found shape {:?}", array.shape),
        ));
    };
    let matrix = Matrix::new(rows, cols, array.data)?;
    matrix.check(&format!("{tensor} ({})", path.display()))?;
    Ok(matrix)
}

/// Writes `data` with `shape` as a little-endian f32 .npy file, atomically.
pub fn write_array(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    write_atomic(path, |w: &mut dyn Write| {
        let mut writer = npyz::WriteOptions::<f32>::new()
            .default_dtype()
            .shape(&shape)
            .writer(w)
            .begin_nd()?;
        writer.extend(data.iter().copied())?;
        writer.finish()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_f32() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.npy");
        write_array(&path, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.5]).unwrap();
        let m = read_matrix(&path, "X").unwrap();
        assert_eq!(m.shape(), (2, 3));
        assert_eq!(m.data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.5]);
    }

    #[test]
    fn fortran_order_is_transposed_to_c() {
        // shape (2, 3) stored column-major: columns (1,4), (2,5), (3,6)
        let c = fortran_to_c(&[2, 3], &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert_eq!(c, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn truncated_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.npy");
        write_array(&path, &[4, 4], &[0.5; 16]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
        let err = read_matrix(&path, "W_Q").unwrap_err().to_string();
        assert!(err.contains("t.npy") && err.contains("W_Q"), "{err}");
    }

    #[test]
    fn integer_dtype_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i.npy");
        npyz::to_file_1d(&path, vec![1i32, 2, 3]).unwrap();
        let err = read_matrix(&path, "X").unwrap_err().to_string();
        assert!(err.contains("i.npy") && err.contains("<i4"), "{err}");
    }

    #[test]
    fn one_dimensional_is_refused_for_a_matrix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.npy");
        write_array(&path, &[3], &[1.0, 2.0, 3.0]).unwrap();
        let err = read_matrix(&path, "X").unwrap_err().to_string();
        assert!(err.contains("2-D"), "{err}");
    }
}
