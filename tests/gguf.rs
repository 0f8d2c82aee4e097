//! The GGUF reader (`selfattn::gguf`): files written here block by block, read back and
//! dequantised against values computed here; every kind of corrupt file refused with its
//! file and key or tensor named; and, when `SELFATTN_SMOLLM2_GGUF` names the real SmolLM2
//! file (`.ci/fetch-model smollm2`), its metadata and every tensor.

mod common;

use common::gguf_writer::{T, W, gguf_bytes, write};
use half::{bf16, f16};
use selfattn::gguf::{Gguf, Value};

/// A small deterministic generator (xorshift), so the blocks' contents vary.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn uniform(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

/// `blocks` quantised blocks of `kind` ("q8_0", "q4_0", "q4_1") with random scales and
/// codes: their bytes, and the values each block stands for, computed here from the codes.
fn quantised(kind: &str, blocks: usize, rng: &mut Rng) -> (Vec<u8>, Vec<f32>) {
    let (mut bytes, mut values) = (Vec::new(), Vec::new());
    for _ in 0..blocks {
        let d = f16::from_f32(rng.uniform() * 0.1);
        let m = f16::from_f32(rng.uniform());
        bytes.extend(d.to_le_bytes());
        let (d, m32) = (d.to_f32(), m.to_f32());
        match kind {
            "q8_0" => {
                let qs: Vec<i8> = (0..32).map(|_| rng.next() as i8).collect();
                bytes.extend(qs.iter().map(|&q| q as u8));
                values.extend(qs.iter().map(|&q| q as f32 * d));
            }
            _ => {
                if kind == "q4_1" {
                    bytes.extend(m.to_le_bytes());
                }
                let qs: Vec<u8> = (0..32).map(|_| (rng.next() % 16) as u8).collect();
                // Byte j: value j in the low nibble, value j + 16 in the high one.
                bytes.extend((0..16).map(|j| qs[j] | (qs[j + 16] << 4)));
                values.extend(qs.iter().map(|&q| {
                    if kind == "q4_0" {
                        (q as f32 - 8.0) * d
                    } else {
                        q as f32 * d + m32
                    }
                }));
            }
        }
    }
    (bytes, values)
}

#[test]
fn every_supported_type_reads_back_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Float tensors of awkward sizes; quantised ones of 1 and 3 blocks (and shape 32 × 3).
    let floats: Vec<f32> = (0..7 * 3).map(|_| rng.uniform() * 3.0).collect();
    let f32_data: Vec<u8> = floats.iter().flat_map(|v| v.to_le_bytes()).collect();
    let f16_data: Vec<u8> = floats
        .iter()
        .flat_map(|&v| f16::from_f32(v).to_le_bytes())
        .collect();
    let bf16_data: Vec<u8> = floats
        .iter()
        .flat_map(|&v| bf16::from_f32(v).to_le_bytes())
        .collect();
    let (q8, q8_values) = quantised("q8_0", 3, &mut rng);
    let (q40, q40_values) = quantised("q4_0", 1, &mut rng);
    let (q41, q41_values) = quantised("q4_1", 3, &mut rng);
    let tensors = vec![
        T {
            name: "f32".into(),
            dims: vec![7, 3],
            type_id: 0,
            data: f32_data,
        },
        T {
            name: "f16".into(),
            dims: vec![7, 3],
            type_id: 1,
            data: f16_data,
        },
        T {
            name: "bf16".into(),
            dims: vec![7, 3],
            type_id: 30,
            data: bf16_data,
        },
        T {
            name: "q8_0".into(),
            dims: vec![32, 3],
            type_id: 8,
            data: q8,
        },
        T {
            name: "q4_0".into(),
            dims: vec![32],
            type_id: 2,
            data: q40,
        },
        T {
            name: "q4_1".into(),
            dims: vec![32, 3],
            type_id: 3,
            data: q41,
        },
    ];
    let metadata = [
        ("general.architecture", W::Str("llama")),
        ("llama.block_count", W::U32(2)),
        ("llama.rope.freq_base", W::F32(1e5)),
        (
            "tokenizer.ggml.tokens",
            W::Strs(vec!["a".into(), "Ġb".into()]),
        ),
    ];
    let path = write(dir.path(), "m.gguf", &gguf_bytes(&metadata, &tensors));
    let g = Gguf::open(&path).unwrap();
    assert_eq!(g.version(), 3);
    assert_eq!(g.string("general.architecture").unwrap(), "llama");
    assert_eq!(g.uint("llama.block_count").unwrap(), 2);
    assert_eq!(g.float("llama.rope.freq_base").unwrap(), 1e5);
    assert_eq!(g.strings("tokenizer.ggml.tokens").unwrap(), ["a", "Ġb"]);
    let cases: [(&str, Vec<usize>, Vec<f32>); 6] = [
        ("f32", vec![3, 7], floats.clone()),
        (
            "f16",
            vec![3, 7],
            floats.iter().map(|&v| f16::from_f32(v).to_f32()).collect(),
        ),
        (
            "bf16",
            vec![3, 7],
            floats.iter().map(|&v| bf16::from_f32(v).to_f32()).collect(),
        ),
        ("q8_0", vec![3, 32], q8_values),
        ("q4_0", vec![32], q40_values),
        ("q4_1", vec![3, 32], q41_values),
    ];
    for (name, shape, want) in cases {
        let t = g.tensor(name).unwrap();
        assert_eq!(t.shape, shape, "{name}'s shape");
        assert_eq!(t.data.len(), want.len(), "{name}'s length");
        for (i, (got, want)) in t.data.iter().zip(&want).enumerate() {
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{name}[{i}]: {got} read, {want} written"
            );
        }
    }
}

/// `gguf` with bytes `at..` replaced by `with`, or cut at `at` when `with` is empty.
fn corrupt(gguf: &[u8], at: usize, with: &[u8]) -> Vec<u8> {
    let mut bytes = gguf[..at].to_vec();
    if !with.is_empty() {
        bytes.extend(with);
        bytes.extend(&gguf[(at + with.len()).min(gguf.len())..]);
    }
    bytes
}

#[test]
fn corrupt_files_are_refused_naming_the_file_and_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(7);
    let (q8, _) = quantised("q8_0", 2, &mut rng);
    let good = gguf_bytes(
        &[("general.architecture", W::Str("llama"))],
        &[T {
            name: "blk.0.attn_q.weight".into(),
            dims: vec![32, 2],
            type_id: 8,
            data: q8.clone(),
        }],
    );
    // The tensor count is at byte 8; the single key's type follows its name.
    let key_type_at = 24 + 8 + "general.architecture".len();
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        ("empty", Vec::new(), &["not a GGUF file"]),
        (
            "magic",
            corrupt(&good, 0, b"GGML"),
            &["not a GGUF file", "GGUF"],
        ),
        (
            "version",
            corrupt(&good, 4, &1u32.to_le_bytes()),
            &["version 1"],
        ),
        (
            "count",
            corrupt(&good, 8, &u64::MAX.to_le_bytes()),
            &["tensor count"],
        ),
        (
            "value type",
            corrupt(&good, key_type_at, &99u32.to_le_bytes()),
            &["general.architecture", "value type 99"],
        ),
        (
            "cut in metadata",
            corrupt(&good, key_type_at + 6, &[]),
            &["truncated", "general.architecture"],
        ),
        (
            "cut in data",
            corrupt(&good, good.len() - 5, &[]),
            &["blk.0.attn_q.weight", "past the end"],
        ),
        (
            "half blocks",
            gguf_bytes(
                &[],
                &[T {
                    name: "w".into(),
                    dims: vec![16, 2],
                    type_id: 8,
                    data: q8[..34].to_vec(),
                }],
            ),
            &["tensor w", "rows of 16 values", "Q8_0 blocks of 32"],
        ),
    ];
    for (what, bytes, needles) in cases {
        let path = write(dir.path(), &format!("{what}.gguf"), &bytes);
        let err = match Gguf::open(&path) {
            Ok(_) => panic!("{what}: a corrupt file was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(&*path.to_string_lossy()), "{what}: {err}");
        common::assert_says(what, &err, needles);
    }
    // An unsupported type is refused when the tensor is read, naming it and its type; a
    // missing key or tensor, or one of the wrong kind, names the key or tensor.
    let k_quant = gguf_bytes(
        &[(
            "llama.block_count",
            W::Raw(8, {
                let mut s = 2u64.to_le_bytes().to_vec();
                s.extend(b"30");
                s
            }),
        )],
        &[T {
            name: "blk.0.ffn_down.weight".into(),
            dims: vec![256],
            type_id: 14,
            data: vec![1; 210],
        }],
    );
    let path = write(dir.path(), "q6k.gguf", &k_quant);
    let g = Gguf::open(&path).unwrap();
    for (err, needles) in [
        (
            g.tensor("blk.0.ffn_down.weight").err(),
            &["blk.0.ffn_down.weight", "Q6_K"][..],
        ),
        (
            g.tensor("output.weight").err(),
            &["output.weight", "missing"],
        ),
        (
            g.uint("llama.block_count").err(),
            &["llama.block_count", "a string", "unsigned"],
        ),
        (
            g.string("general.architecture").err(),
            &["general.architecture", "missing"],
        ),
    ] {
        let err = err.expect("an error").to_string();
        assert!(err.contains("q6k.gguf"), "{err}");
        common::assert_says("q6k.gguf", &err, needles);
    }
}

#[test]
fn the_real_smollm2_file_reads_whole() {
    let Some(path) = common::smollm2_gguf() else {
        return;
    };
    let g = Gguf::open(&path).unwrap();
    assert_eq!(g.string("general.architecture").unwrap(), "llama");
    // The facts issue 15 lists for SmolLM2-135M-Instruct.
    for (key, want) in [
        ("llama.block_count", 30),
        ("llama.embedding_length", 576),
        ("llama.attention.head_count", 9),
        ("llama.attention.head_count_kv", 3),
        ("llama.context_length", 8192),
    ] {
        assert_eq!(g.uint(key).unwrap(), want, "{key}");
    }
    assert_eq!(g.float("llama.rope.freq_base").unwrap(), 1e5);
    assert_eq!(g.strings("tokenizer.ggml.tokens").unwrap().len(), 49152);
    let embeddings = g.tensor("token_embd.weight").unwrap();
    assert_eq!(embeddings.shape, [49152, 576]);
    let mut types = std::collections::BTreeMap::new();
    for info in g.tensors() {
        let t = g.tensor(&info.name).unwrap();
        let n: usize = t.shape.iter().product();
        assert_eq!(t.data.len(), n, "{}", info.name);
        assert!(
            t.data.iter().all(|v| v.is_finite()),
            "{} holds a non-finite value",
            info.name
        );
        assert!(
            t.data.iter().any(|&v| v != 0.0),
            "{} is all zeros",
            info.name
        );
        *types.entry(info.type_id).or_insert(0) += 1;
    }
    eprintln!("{} tensors, by ggml type id: {types:?}", g.tensors().len());
    assert!(matches!(g.get("tokenizer.ggml.merges"), Some(Value::Array(m)) if !m.is_empty()));

    // What gguf-py (transformers' GGUF reader) dequantises, bit for bit at sampled indices.
    let digest: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/smollm2/gguf_digest.json")).unwrap();
    for want in digest["tensors"].as_array().unwrap() {
        let name = want["name"].as_str().unwrap();
        let t = g.tensor(name).unwrap();
        let shape: Vec<usize> = serde_json::from_value(want["shape"].clone()).unwrap();
        assert_eq!(t.shape, shape, "{name}");
        let indices: Vec<usize> = serde_json::from_value(want["indices"].clone()).unwrap();
        let bits: Vec<u32> = serde_json::from_value(want["bits"].clone()).unwrap();
        for (i, b) in indices.iter().zip(bits) {
            let got = t.data[*i];
            assert_eq!(
                got.to_bits(),
                b,
                "{name}[{i}]: selfattn reads {got}, gguf-py {}",
                f32::from_bits(b)
            );
        }
        let sum: f64 = t.data.iter().map(|&v| v as f64).sum();
        let squares: f64 = t.data.iter().map(|&v| v as f64 * v as f64).sum();
        for (what, got, want) in [
            ("sum", sum, want["sum"].as_f64().unwrap()),
            (
                "sum of squares",
                squares,
                want["sum_of_squares"].as_f64().unwrap(),
            ),
        ] {
            assert!(
                (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                "{name}: {what} {got}, gguf-py {want}"
            );
        }
    }
}

#[test]
fn no_truncation_or_byte_change_makes_the_reader_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(99);
    let (q41, _) = quantised("q4_1", 2, &mut rng);
    let good = gguf_bytes(
        &[
            ("general.architecture", W::Str("llama")),
            (
                "tokenizer.ggml.tokens",
                W::Strs(vec!["<s>".into(), "Ġa".into()]),
            ),
            ("llama.block_count", W::U32(1)),
        ],
        &[
            T {
                name: "a".into(),
                dims: vec![32, 2],
                type_id: 3,
                data: q41,
            },
            T {
                name: "b".into(),
                dims: vec![3],
                type_id: 0,
                data: vec![0x3f; 12],
            },
        ],
    );
    let path = dir.path().join("m.gguf");
    // Every read must end in Ok or an error naming the file, whatever the bytes say.
    let read_all = |bytes: &[u8], what: &str| {
        std::fs::write(&path, bytes).unwrap();
        let result = std::panic::catch_unwind(|| match Gguf::open(&path) {
            Ok(g) => g
                .tensors()
                .iter()
                .map(|t| g.tensor(&t.name).map(|_| ()))
                .find(Result::is_err)
                .unwrap_or(Ok(())),
            Err(e) => Err(e),
        });
        match result {
            Err(_) => panic!("{what}: the reader panicked"),
            Ok(Err(e)) => assert!(e.to_string().contains("m.gguf"), "{what}: {e}"),
            Ok(Ok(())) => {}
        }
    };
    for len in 0..good.len() {
        read_all(&good[..len], &format!("cut at {len}"));
    }
    for at in 0..good.len() {
        for value in [0x00, 0xff, 0x7f, good[at] ^ 0x01] {
            let mut bytes = good.clone();
            bytes[at] = value;
            read_all(&bytes, &format!("byte {at} set to {value:#04x}"));
        }
    }
}
