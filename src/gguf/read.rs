//! The GGUF container (versions 2 and 3, little-endian): header, metadata key–value pairs,
//! tensor descriptions, then the aligned tensor data. Layout as specified in ggml's
//! `docs/gguf.md`. Every length and offset is checked against the bytes that are there, so a
//! truncated or corrupt file is an error naming what was being read, never a panic or an
//! allocation the file's own numbers asked for.

/// A metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Any unsigned integer type (uint8 … uint64), widened.
    Uint(u64),
    /// Any signed integer type (int8 … int64), widened.
    Int(i64),
    /// float32 or float64, widened.
    Float(f64),
    /// bool.
    Bool(bool),
    /// A UTF-8 string.
    String(String),
    /// An array of values of one type.
    Array(Vec<Value>),
}

impl Value {
    /// The value's kind with its article ("an array"), for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Uint(_) => "an unsigned integer",
            Value::Int(_) => "a signed integer",
            Value::Float(_) => "a float",
            Value::Bool(_) => "a bool",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
        }
    }
}

/// One tensor's description: where its data is and how it is stored.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    /// Its name, e.g. "blk.0.attn_q.weight".
    pub name: String,
    /// Its dimensions as GGUF lists them, fastest-varying first (ggml's `ne`): a PyTorch
    /// (out, in) weight is `[in, out]` here.
    pub dims: Vec<u64>,
    /// Its ggml type id (see `types::TensorType::from_id`).
    pub type_id: u32,
    /// Offset of its data from the start of the data section.
    pub offset: u64,
}

/// The parsed header: everything but the tensor data.
#[derive(Clone, Debug)]
pub struct Header {
    /// The format version (2 or 3).
    pub version: u32,
    /// Metadata in file order.
    pub metadata: Vec<(String, Value)>,
    /// Tensor descriptions in file order.
    pub tensors: Vec<TensorInfo>,
    /// Where the data section starts in the file.
    pub data_start: u64,
}

const MAGIC: &[u8; 4] = b"GGUF";
/// The most items reserved ahead for a list whose length the file states; longer lists grow
/// as their items are read, so memory follows what is there, not what the file claims.
const RESERVE_AT_MOST: u64 = 4096;
/// Deepest array nesting read (GGUF allows arrays of arrays; real files nest once at most).
const MAX_NESTING: usize = 4;

/// Reads bytes front to back, each read checked against the end.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], String> {
        let left = (self.bytes.len() - self.at) as u64;
        if n > left {
            return Err(format!(
                "truncated: {what} needs {n} bytes at offset {} but the file has {left} left",
                self.at
            ));
        }
        let start = self.at;
        self.at += n as usize;
        Ok(&self.bytes[start..self.at])
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        Ok(self.take(N as u64, what)?.try_into().expect("N bytes"))
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn string(&mut self, what: &str) -> Result<String, String> {
        let len = self.u64(what)?;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|e| format!("{what} is not UTF-8 ({e})"))
    }

    /// A count of items that take at least `min_bytes` each: more than the bytes left could
    /// hold is corrupt (and would otherwise be a huge allocation).
    fn count(&mut self, what: &str, min_bytes: u64) -> Result<u64, String> {
        let n = self.u64(what)?;
        let left = (self.bytes.len() - self.at) as u64;
        if n.saturating_mul(min_bytes.max(1)) > left {
            return Err(format!(
                "{what} is {n}, more than the {left} bytes left in the file can hold"
            ));
        }
        Ok(n)
    }

    fn value(&mut self, type_id: u32, what: &str, depth: usize) -> Result<Value, String> {
        Ok(match type_id {
            0 => Value::Uint(self.array::<1>(what)?[0] as u64),
            1 => Value::Int(self.array::<1>(what)?[0] as i8 as i64),
            2 => Value::Uint(u16::from_le_bytes(self.array(what)?) as u64),
            3 => Value::Int(i16::from_le_bytes(self.array(what)?) as i64),
            4 => Value::Uint(self.u32(what)? as u64),
            5 => Value::Int(i32::from_le_bytes(self.array(what)?) as i64),
            6 => Value::Float(f32::from_le_bytes(self.array(what)?) as f64),
            7 => match self.array::<1>(what)?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(format!("{what} is a bool of byte {b}, neither 0 nor 1")),
            },
            8 => Value::String(self.string(what)?),
            9 => {
                if depth >= MAX_NESTING {
                    return Err(format!("{what} nests arrays more than {MAX_NESTING} deep"));
                }
                let item_type = self.u32(what)?;
                let len = self.count(&format!("{what}'s length"), value_min_bytes(item_type))?;
                // Reserved up to a bound: the items are bigger in memory than in the file.
                let mut items = Vec::with_capacity(len.min(RESERVE_AT_MOST) as usize);
                for _ in 0..len {
                    items.push(self.value(item_type, what, depth + 1)?);
                }
                Value::Array(items)
            }
            10 => Value::Uint(self.u64(what)?),
            11 => Value::Int(i64::from_le_bytes(self.array(what)?)),
            12 => Value::Float(f64::from_le_bytes(self.array(what)?)),
            other => return Err(format!("{what} has unknown value type {other}")),
        })
    }
}

/// The fewest bytes a value of `type_id` takes (a string or array: its u64 length).
fn value_min_bytes(type_id: u32) -> u64 {
    match type_id {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        _ => 8,
    }
}

/// Parses everything before the tensor data; `Err` says what is wrong, naming the key or
/// tensor being read.
pub fn header(bytes: &[u8]) -> Result<Header, String> {
    let mut c = Cursor { bytes, at: 0 };
    let magic = c.array::<4>("the magic number").map_err(|_| {
        format!(
            "not a GGUF file: {} bytes, shorter than the magic number",
            bytes.len()
        )
    })?;
    if &magic != MAGIC {
        return Err(format!(
            "not a GGUF file: it starts with {magic:02x?}, not \"GGUF\""
        ));
    }
    let version = c.u32("the version")?;
    if !(2..=3).contains(&version) {
        return Err(format!(
            "GGUF version {version} is not supported (versions 2 and 3 are)"
        ));
    }
    // A tensor description takes at least 24 bytes, a key–value pair at least 12.
    let tensor_count = c.count("the tensor count", 24)?;
    let kv_count = c.count("the metadata count", 12)?;
    let mut metadata = Vec::with_capacity(kv_count.min(RESERVE_AT_MOST) as usize);
    for i in 0..kv_count {
        let key = c.string(&format!("metadata key {i}"))?;
        let type_id = c.u32(&format!("metadata {key}"))?;
        let value = c.value(type_id, &format!("metadata {key}"), 0)?;
        metadata.push((key, value));
    }
    let mut tensors = Vec::with_capacity(tensor_count.min(RESERVE_AT_MOST) as usize);
    for i in 0..tensor_count {
        let name = c.string(&format!("tensor {i}'s name"))?;
        let what = format!("tensor {name}");
        let n_dims = c.u32(&what)?;
        if n_dims == 0 || n_dims > 4 {
            return Err(format!(
                "{what} has {n_dims} dimensions (GGUF allows 1 to 4)"
            ));
        }
        let dims = (0..n_dims)
            .map(|_| c.u64(&what))
            .collect::<Result<Vec<_>, _>>()?;
        let type_id = c.u32(&what)?;
        let offset = c.u64(&what)?;
        tensors.push(TensorInfo {
            name,
            dims,
            type_id,
            offset,
        });
    }
    let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
        None => 32,
        Some((_, Value::Uint(a))) if a.is_power_of_two() => *a,
        Some((_, v)) => {
            return Err(format!(
                "metadata general.alignment is {v:?}, not a power of two"
            ));
        }
    };
    let data_start = (c.at as u64).div_ceil(alignment) * alignment;
    Ok(Header {
        version,
        metadata,
        tensors,
        data_start,
    })
}
