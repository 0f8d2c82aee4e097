//! Reading and writing `.npy` arrays, with errors that name the file and the tensor.
//!
//! Reading accepts what NumPy writes for float arrays: f32 or f64, either byte order, C or Fortran
//! order. Writing is always little-endian f32 in C order, through a temporary file and a rename.

use std::io::Write;
use std::path::Path;

use npyz::WriterBuilder;

use crate::error::{Error, Result};
use crate::fsutil::write_output;
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

/// The element types we read.
enum Elements {
    Float(Vec<f32>),
    Bool(Vec<bool>),
}

/// Reads `path` as float32, float64 or (when `allow_bool`) bool, in C order.
fn read_elements(path: &Path, tensor: &str, allow_bool: bool) -> Result<(Vec<usize>, Elements)> {
    let bytes = crate::input_file::read_bytes(path, tensor)?;
    check_header(&bytes).map_err(|m| input_error(path, tensor, m))?;
    let file = npyz::NpyFile::new(&bytes[..])
        .map_err(|e| input_error(path, tensor, format!("not a valid .npy file ({e})")))?;
    let shape: Vec<usize> = file.shape().iter().map(|&d| d as usize).collect();
    let order = file.order();
    let expected: usize = shape.iter().product();
    let truncated = |e: std::io::Error| {
        input_error(
            path,
            tensor,
            format!("truncated or unreadable data for shape {shape:?} ({e})"),
        )
    };
    let elements = match file.dtype() {
        npyz::DType::Plain(ts)
            if ts.type_char() == npyz::TypeChar::Float && ts.size_field() == 4 =>
        {
            Elements::Float(file.into_vec::<f32>().map_err(truncated)?)
        }
        npyz::DType::Plain(ts)
            if ts.type_char() == npyz::TypeChar::Float && ts.size_field() == 8 =>
        {
            let v = file.into_vec::<f64>().map_err(truncated)?;
            Elements::Float(v.into_iter().map(|x| x as f32).collect())
        }
        npyz::DType::Plain(ts) if allow_bool && ts.type_char() == npyz::TypeChar::Bool => {
            Elements::Bool(file.into_vec::<bool>().map_err(truncated)?)
        }
        other => {
            let wanted = if allow_bool {
                "bool, float32 or float64"
            } else {
                "float32 or float64"
            };
            return Err(input_error(
                path,
                tensor,
                format!(
                    "dtype {} is not supported (expected {wanted})",
                    other.descr()
                ),
            ));
        }
    };
    let len = match &elements {
        Elements::Float(v) => v.len(),
        Elements::Bool(v) => v.len(),
    };
    if len != expected {
        return Err(input_error(
            path,
            tensor,
            format!("holds {len} values but its shape {shape:?} needs {expected}"),
        ));
    }
    let elements = match (order, elements) {
        (npyz::Order::C, e) => e,
        (npyz::Order::Fortran, Elements::Float(v)) => Elements::Float(fortran_to_c(&shape, &v)),
        (npyz::Order::Fortran, Elements::Bool(v)) => Elements::Bool(fortran_to_c(&shape, &v)),
    };
    Ok((shape, elements))
}

/// The deepest bracket nesting a .npy header may have.
const MAX_HEADER_NESTING: usize = 16;

/// Refuses, before npyz reads the file, a header that claims more than the file holds or nests too deep: npyz
/// allocates the header text at its stated length and multiplies the shape's dimensions without
/// an overflow check, so a 2^40-element shape or a 4 GiB header length in a small file must stop
/// here. Anything else malformed is left to npyz, whose errors name the problem.
fn check_header(bytes: &[u8]) -> std::result::Result<(), String> {
    if bytes.len() < 10 || !bytes.starts_with(b"\x93NUMPY") {
        return Ok(());
    }
    let (length_field, header_len) = match bytes[6] {
        1 => (2, u16::from_le_bytes([bytes[8], bytes[9]]) as usize),
        2 | 3 if bytes.len() >= 12 => (
            4,
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
        ),
        _ => return Ok(()),
    };
    let after_preamble = bytes.len() - (8 + length_field);
    if header_len > after_preamble {
        return Err(format!(
            "the header claims {header_len} bytes but only {after_preamble} follow its preamble \
             (truncated?)"
        ));
    }
    let header = &bytes[8 + length_field..][..header_len];
    // npyz's Python-literal parser takes exponential time on deep nesting; NumPy's headers
    // nest a few levels at most (a structured dtype's fields).
    let mut depth = 0usize;
    for &b in header {
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_HEADER_NESTING {
            return Err(format!(
                "the header nests brackets more than {MAX_HEADER_NESTING} deep; \
                 NumPy's headers nest a few levels at most"
            ));
        }
    }
    let data_bytes = (after_preamble - header_len) as u64;
    for dims in claimed_shapes(&String::from_utf8_lossy(header)) {
        let dims = dims?;
        // Each element takes at least one byte, and no partial product may overflow.
        let nonzero = dims
            .iter()
            .filter(|&&d| d > 0)
            .try_fold(1u64, |acc, &d| acc.checked_mul(d));
        let elements = if dims.contains(&0) { Some(0) } else { nonzero };
        match elements {
            Some(n) if nonzero.is_some() && n <= data_bytes => {}
            _ => {
                return Err(format!(
                    "its shape {dims:?} claims more elements than the {data_bytes} data bytes \
                     in the file can hold"
                ));
            }
        }
    }
    Ok(())
}

/// Every `'shape': (…)` tuple in a .npy header's text, as dimensions (or why not).
fn claimed_shapes(header: &str) -> Vec<std::result::Result<Vec<u64>, String>> {
    let mut found = Vec::new();
    for (at, _) in header.match_indices("shape") {
        let rest = header[at + 5..]
            .trim_start_matches(['\'', '"'])
            .trim_start();
        let Some(rest) = rest.strip_prefix(':') else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix('(') else {
            continue;
        };
        let Some(end) = rest.find(')') else {
            continue;
        };
        let dims = rest[..end]
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| {
                t.bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| t.parse::<u64>().ok())
                    .flatten()
                    .ok_or_else(|| {
                        format!("its shape holds {t:?}, which is not a dimension (0 to 2^64 - 1)")
                    })
            })
            .collect();
        found.push(dims);
    }
    found
}

/// Reads a float array (f32 or f64) from `path`; `tensor` names it in errors.
pub fn read_array(path: &Path, tensor: &str) -> Result<Array> {
    match read_elements(path, tensor, false)? {
        (shape, Elements::Float(data)) => Ok(Array { shape, data }),
        (_, Elements::Bool(_)) => unreachable!("bool not allowed"),
    }
}

/// What True means in a boolean mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoolMask {
    /// True = this key may NOT be attended to (`nn.MultiheadAttention`'s masks).
    TrueMasks,
    /// True = this key takes part (`scaled_dot_product_attention`'s mask).
    TrueAllows,
}

/// A mask read from .npy as additive f32 values: bool masks become 0 (allowed) or
/// [`MASKED`](crate::kernels::softmax::MASKED); float masks are kept, with −inf turned into `MASKED`.
#[derive(Clone, Debug, PartialEq)]
pub struct Mask {
    /// The values, C order.
    pub array: Array,
    /// Whether the file was boolean.
    pub was_bool: bool,
}

/// Reads a bool or float mask; NaN and +inf are refused, naming the first bad index.
pub fn read_mask(path: &Path, tensor: &str, meaning: BoolMask) -> Result<Mask> {
    let (shape, elements) = read_elements(path, tensor, true)?;
    match elements {
        Elements::Bool(v) => Ok(bool_mask(shape, &v, meaning)),
        Elements::Float(v) => float_mask(shape, v, &format!("{tensor} ({})", path.display())),
    }
}

/// A bool mask as additive values (0 where a key takes part, `MASKED` where it does not),
/// `meaning` saying what True is. For masks that come from memory rather than a file (the Python
/// package's numpy arrays) as well as from [`read_mask`].
pub fn bool_mask(shape: Vec<usize>, values: &[bool], meaning: BoolMask) -> Mask {
    use crate::kernels::softmax::MASKED;
    let data = values
        .iter()
        .map(|&b| {
            let masked = match meaning {
                BoolMask::TrueMasks => b,
                BoolMask::TrueAllows => !b,
            };
            if masked { MASKED } else { 0.0 }
        })
        .collect();
    Mask {
        array: Array { shape, data },
        was_bool: true,
    }
}

/// A float (additive) mask: −inf becomes `MASKED`; NaN and +inf are refused, the error naming
/// `tensor` and the first bad index. Shared by [`read_mask`] and in-memory masks.
pub fn float_mask(shape: Vec<usize>, values: Vec<f32>, tensor: &str) -> Result<Mask> {
    use crate::kernels::softmax::MASKED;
    if let Some(i) = values
        .iter()
        .position(|x| x.is_nan() || *x == f32::INFINITY)
    {
        return Err(Error::NonFinite {
            tensor: tensor.to_string(),
            index: format!("{} (flat)", i),
            value: values[i] as f64,
        });
    }
    let data = values
        .into_iter()
        .map(|x| if x == f32::NEG_INFINITY { MASKED } else { x })
        .collect();
    Ok(Mask {
        array: Array { shape, data },
        was_bool: false,
    })
}

fn fortran_to_c<T: Copy + Default>(shape: &[usize], data: &[T]) -> Vec<T> {
    let mut out = vec![T::default(); data.len()];
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
    write_output(path, |w: &mut dyn Write| {
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
    fn bool_masks_follow_their_polarity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.npy");
        npyz::to_file_1d(&path, vec![true, false]).unwrap();
        let masks = read_mask(&path, "attn_mask", BoolMask::TrueMasks).unwrap();
        assert_eq!(masks.array.data, vec![crate::kernels::softmax::MASKED, 0.0]);
        assert!(masks.was_bool);
        let allows = read_mask(&path, "attn_mask", BoolMask::TrueAllows).unwrap();
        assert_eq!(
            allows.array.data,
            vec![0.0, crate::kernels::softmax::MASKED]
        );
        // bool is refused where a float tensor is needed
        assert!(read_array(&path, "X").is_err());
    }

    #[test]
    fn float_masks_keep_values_and_map_minus_infinity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.npy");
        write_array(&path, &[3], &[-2.5, f32::NEG_INFINITY, 1.0]).unwrap();
        let m = read_mask(&path, "key_padding_mask", BoolMask::TrueMasks).unwrap();
        assert_eq!(
            m.array.data,
            vec![-2.5, crate::kernels::softmax::MASKED, 1.0]
        );
        write_array(&path, &[2], &[0.0, f32::NAN]).unwrap();
        let err = read_mask(&path, "key_padding_mask", BoolMask::TrueMasks)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("key_padding_mask") && err.contains("1 (flat)"),
            "{err}"
        );
    }

    #[test]
    fn headers_claiming_more_than_the_file_are_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.npy");
        write_array(&path, &[2, 2], &[0.5, 1.5, 2.5, 3.5]).unwrap();
        let valid = std::fs::read(&path).unwrap();
        let header_len = u16::from_le_bytes([valid[8], valid[9]]) as usize;
        let header = std::str::from_utf8(&valid[10..10 + header_len]).unwrap();
        let data = &valid[10 + header_len..];
        // A shape whose product overflows u64 (npyz would panic multiplying it) and ones that
        // only claim more elements than the 16 data bytes hold.
        for shape in ["(4294967296, 4294967296, 2)", "(1099511627776, 2)", "(17,)"] {
            let open = header.find('(').unwrap();
            let close = header.find(')').unwrap();
            let edited = format!(
                "{}{shape}{}\n",
                &header[..open],
                header[close + 1..].trim_end()
            );
            let mut bytes = valid[..8].to_vec();
            bytes.extend((edited.len() as u16).to_le_bytes());
            bytes.extend(edited.as_bytes());
            bytes.extend(data);
            std::fs::write(&path, &bytes).unwrap();
            let err = read_matrix(&path, "X").unwrap_err().to_string();
            assert!(
                err.contains("h.npy") && err.contains("claims more elements"),
                "{shape}: {err}"
            );
        }
        // A version-2 header length of 4 GiB in a small file.
        let mut bytes = valid.clone();
        bytes[6] = 2;
        bytes.splice(8..10, [0xff, 0xff, 0xff, 0xff]);
        std::fs::write(&path, &bytes).unwrap();
        let err = read_matrix(&path, "X").unwrap_err().to_string();
        assert!(err.contains("header claims 4294967295 bytes"), "{err}");
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
