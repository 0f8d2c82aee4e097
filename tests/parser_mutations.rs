//! Every reader of outside files survives any file: starting from valid files, seeded random
//! mutations (truncations, bit flips, inserted and removed ranges, huge, negative and swapped
//! numbers, wrong dtypes, binary length fields set to extremes, deeply nested or huge JSON
//! values) must give an error that names the file — never a panic, an abort, a hang, or one
//! allocation larger than the file justifies.
//!
//! proptest draws the mutations (seeded, so a run is repeatable) and shrinks a failure to the
//! fewest mutations that still fail. Each case runs on a thread of its own, so a panic is caught
//! at `join` and a hang at a deadline; a counting global allocator records each thread's largest
//! single allocation.
//!
//! `cargo test --test parser_mutations` runs 3,000 cases per reader (about 15 s in all).
//! A longer run: `SELFATTN_MUTATION_CASES=100000 cargo test --release --test parser_mutations`;
//! `SELFATTN_MUTATION_SEED=N` draws another set.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use npyz::WriterBuilder;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use selfattn::bert::{BertConfig, BertTokenizer, BertWeights};
use selfattn::npy::{self, BoolMask};
use selfattn::state_dict::StateDict;

use common::tiny_bert::{TinySizes, write_tiny_bert};

// ---- the largest allocation each thread asks for ----

struct CountingAllocator;

thread_local! {
    static LARGEST_ALLOCATION: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // try_with: the allocator also runs while thread-locals are torn down.
    let _ = LARGEST_ALLOCATION.try_with(|l| l.set(l.get().max(size)));
}

// SAFETY: forwards to the system allocator unchanged; only records sizes.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// What one allocation may take for a file of `len` bytes: a few copies of the file (read,
/// converted, reordered) and a fixed allowance for the parsers' own tables.
fn allocation_allowed(len: usize) -> usize {
    8 * len + (1 << 20)
}

/// A case that has not finished by then is a hang.
const DEADLINE: Duration = Duration::from_secs(30);

// ---- mutations ----

/// Positions are fractions of the file's length, so a mutation means the same on any file and
/// shrinks towards the start.
#[derive(Clone, Debug)]
enum Mutation {
    Truncate(f64),
    FlipBits {
        at: f64,
        mask: u8,
    },
    Overwrite {
        at: f64,
        bytes: Vec<u8>,
    },
    Insert {
        at: f64,
        bytes: Vec<u8>,
    },
    Remove {
        at: f64,
        len: usize,
    },
    Duplicate {
        at: f64,
        len: usize,
    },
    /// Sets a little-endian length field near the start (npy's header length, safetensors'
    /// header size) to an extreme.
    LengthField {
        at: usize,
        width: usize,
        value: u64,
    },
    /// Replaces the `which`-th decimal number of the text (shapes, offsets, sizes, ids).
    Number {
        which: usize,
        value: &'static str,
    },
    /// Copies one number over another (overlapping offsets, repeated dimensions).
    CopyNumber {
        from: usize,
        to: usize,
    },
    /// Replaces the `which`-th quoted string (dtypes, model types, tokenizer kinds).
    Text {
        which: usize,
        value: &'static str,
    },
    /// Replaces the `which`-th number with a valid JSON value nested `depth` deep.
    Deep {
        which: usize,
        depth: usize,
    },
    /// Replaces the `which`-th number with a string of `len` bytes.
    Huge {
        which: usize,
        len: usize,
    },
}

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "-0",
    "2",
    "255",
    "65536",
    "2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "18446744073709551615",
    "18446744073709551616",
    "1099511627776",
    "99999999999999999999999999999999",
    "1e308",
    "-1e308",
    "1e999",
    "0.5",
    "NaN",
];

const TEXTS: &[&str] = &[
    "",
    "<f4",
    ">f4",
    "<f8",
    ">f8",
    "|b1",
    "<i4",
    "<f2",
    "O",
    "<U3",
    "|V4",
    "<c8",
    "F32",
    "F16",
    "BF16",
    "I64",
    "U8",
    "F64",
    "bert",
    "gpt2",
    "WordPiece",
    "BPE",
    "Unigram",
    "WordLevel",
    "gelu",
    "relu",
    "[UNK]",
    "[CLS]",
    "##",
    "\\u0000",
    "\\ud800",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0.0..1.0f64;
    let bytes = proptest::collection::vec(any::<u8>(), 1..16);
    prop_oneof![
        at.clone().prop_map(Mutation::Truncate),
        (at.clone(), 1..=255u8).prop_map(|(at, mask)| Mutation::FlipBits { at, mask }),
        (at.clone(), bytes.clone()).prop_map(|(at, bytes)| Mutation::Overwrite { at, bytes }),
        (at.clone(), bytes).prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (at.clone(), 1..256usize).prop_map(|(at, len)| Mutation::Remove { at, len }),
        (at, 1..256usize).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
        (
            0..12usize,
            prop::sample::select(vec![2usize, 4, 8]),
            prop::sample::select(vec![
                0u64,
                1,
                0xffff,
                0xffff_ffff,
                u64::MAX,
                1 << 40,
                u64::MAX / 2
            ])
        )
            .prop_map(|(at, width, value)| Mutation::LengthField { at, width, value }),
        (any::<usize>(), prop::sample::select(NUMBERS))
            .prop_map(|(which, value)| Mutation::Number { which, value }),
        (any::<usize>(), any::<usize>()).prop_map(|(from, to)| Mutation::CopyNumber { from, to }),
        (any::<usize>(), prop::sample::select(TEXTS))
            .prop_map(|(which, value)| Mutation::Text { which, value }),
        (any::<usize>(), 1..4000usize).prop_map(|(which, depth)| Mutation::Deep { which, depth }),
        (any::<usize>(), 1..(1usize << 20)).prop_map(|(which, len)| Mutation::Huge { which, len }),
    ]
}

/// Byte ranges of the decimal numbers (an optional minus, digits, a fraction, an exponent).
fn numbers(b: &[u8]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let start = if i > 0 && b[i - 1] == b'-' { i - 1 } else { i };
            let mut end = i;
            while end < b.len() && (b[end].is_ascii_digit() || b"+-.eE".contains(&b[end])) {
                end += 1;
            }
            found.push((start, end));
            i = end;
        } else {
            i += 1;
        }
    }
    found
}

/// Byte ranges of the insides of '…' and "…" strings.
fn strings(b: &[u8]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'"' || b[i] == b'\'' {
            let quote = b[i];
            if let Some(len) = b[i + 1..].iter().position(|&c| c == quote) {
                found.push((i + 1, i + 1 + len));
                i += len + 2;
                continue;
            }
        }
        i += 1;
    }
    found
}

fn replace(b: &mut Vec<u8>, (start, end): (usize, usize), with: &[u8]) {
    b.splice(start..end, with.iter().copied());
}

/// Replaces the `which`-th (modulo their count) of the ranges `find` finds with `with`.
fn replace_nth(b: &mut Vec<u8>, find: fn(&[u8]) -> Vec<(usize, usize)>, which: usize, with: &[u8]) {
    let ranges = find(b);
    if !ranges.is_empty() {
        replace(b, ranges[which % ranges.len()], with);
    }
}

fn apply(b: &mut Vec<u8>, m: &Mutation) {
    let pos = |b: &Vec<u8>, at: f64| ((b.len() as f64) * at) as usize;
    match m {
        Mutation::Truncate(at) => b.truncate(pos(b, *at)),
        Mutation::FlipBits { at, mask } => {
            let i = pos(b, *at);
            if let Some(x) = b.get_mut(i) {
                *x ^= mask;
            }
        }
        Mutation::Overwrite { at, bytes } => {
            let i = pos(b, *at);
            for (j, &x) in bytes.iter().enumerate() {
                if let Some(y) = b.get_mut(i + j) {
                    *y = x;
                }
            }
        }
        Mutation::Insert { at, bytes } => {
            let i = pos(b, *at);
            b.splice(i..i, bytes.iter().copied());
        }
        Mutation::Remove { at, len } => {
            let i = pos(b, *at);
            b.drain(i..(i + len).min(b.len()));
        }
        Mutation::Duplicate { at, len } => {
            let i = pos(b, *at);
            let copy = b[i..(i + len).min(b.len())].to_vec();
            b.splice(i..i, copy);
        }
        Mutation::LengthField { at, width, value } => {
            let bytes = value.to_le_bytes();
            for (j, &x) in bytes.iter().take(*width).enumerate() {
                if let Some(y) = b.get_mut(at + j) {
                    *y = x;
                }
            }
        }
        Mutation::Number { which, value } => replace_nth(b, numbers, *which, value.as_bytes()),
        Mutation::CopyNumber { from, to } => {
            let n = numbers(b);
            if !n.is_empty() {
                let (s, e) = n[from % n.len()];
                let value = b[s..e].to_vec();
                replace(b, n[to % n.len()], &value);
            }
        }
        Mutation::Text { which, value } => replace_nth(b, strings, *which, value.as_bytes()),
        Mutation::Deep { which, depth } => {
            let value = format!("{}1{}", "[".repeat(*depth), "]".repeat(*depth));
            replace_nth(b, numbers, *which, value.as_bytes());
        }
        Mutation::Huge { which, len } => {
            let value = format!("\"{}\"", "x".repeat(*len));
            replace_nth(b, numbers, *which, value.as_bytes());
        }
    }
}

// ---- the harness ----

/// How many cases per reader: `SELFATTN_MUTATION_CASES`, else 3,000.
fn cases() -> u32 {
    std::env::var("SELFATTN_MUTATION_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

fn seed() -> u64 {
    std::env::var("SELFATTN_MUTATION_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5e1f_a77e)
}

/// Runs `read` on mutations of `valid` written to `name` in a fresh folder, and fails on a
/// panic, a hang, an oversized allocation or an error that does not name the file.
fn survive(name: &str, valid: &[u8], read: fn(&Path) -> selfattn::Result<()>) {
    // The unmutated file must read, or the harness would only ever test error paths.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, valid).unwrap();
    read(&path).unwrap_or_else(|e| panic!("the valid {name} does not read: {e}"));

    let config = Config {
        cases: cases(),
        rng_seed: RngSeed::Fixed(seed()),
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let strategy = proptest::collection::vec(mutation(), 1..4);
    let result = runner.run(&strategy, |mutations| {
        let mut bytes = valid.to_vec();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        std::fs::write(&path, &bytes).unwrap();
        check_one(&path, bytes.len(), read).map_err(|why| {
            // Kept for a look with a hex viewer or the CLI: the last failing file of this reader.
            let kept = std::env::temp_dir().join(format!("selfattn-mutation-failure-{name}"));
            let _ = std::fs::write(&kept, &bytes);
            TestCaseError::fail(format!("{why} (the file: {})", kept.display()))
        })
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
}

/// One case, on a thread of its own.
fn check_one(
    path: &Path,
    len: usize,
    read: fn(&Path) -> selfattn::Result<()>,
) -> Result<(), String> {
    let (send, receive) = mpsc::channel();
    let owned: PathBuf = path.to_path_buf();
    let worker = std::thread::spawn(move || {
        LARGEST_ALLOCATION.with(|l| l.set(0));
        let outcome = read(&owned).map_err(|e| e.to_string());
        let largest = LARGEST_ALLOCATION.with(Cell::get);
        let _ = send.send((outcome, largest));
    });
    let (outcome, largest) = match receive.recv_timeout(DEADLINE) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            return Err(format!("no answer within {DEADLINE:?} (a hang)"));
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let panic = worker.join().err().map(|p| {
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            });
            return Err(format!("panicked: {}", panic.unwrap_or_default()));
        }
    };
    let _ = worker.join();
    if largest > allocation_allowed(len) {
        return Err(format!(
            "allocated {largest} bytes at once for a file of {len} bytes"
        ));
    }
    if let Err(message) = outcome {
        let name = path.file_name().unwrap().to_string_lossy();
        if !message.contains(&*name) {
            return Err(format!("the error does not name the file: {message}"));
        }
    }
    Ok(())
}

// ---- one test per reader ----

fn tiny_model() -> (tempfile::TempDir, TinySizes) {
    let dir = tempfile::tempdir().unwrap();
    let sizes = TinySizes::default();
    write_tiny_bert(dir.path(), sizes, 7);
    (dir, sizes)
}

#[test]
fn npy_float_arrays() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npy");
    let data: Vec<f32> = (0..15).map(|i| i as f32 * 0.25 - 1.0).collect();
    npy::write_array(&path, &[3, 5], &data).unwrap();
    survive("x.npy", &std::fs::read(&path).unwrap(), |p| {
        npy::read_matrix(p, "W_Q").map(drop)
    });
}

#[test]
fn npy_f64_fortran_and_bool_masks() {
    // A float64 Fortran-order array and a bool mask, read as masks (either dtype is accepted).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.npy");
    let mut writer = npyz::WriteOptions::<f64>::new()
        .default_dtype()
        .order(npyz::Order::Fortran)
        .shape(&[2, 3])
        .writer(std::fs::File::create(&path).unwrap())
        .begin_nd()
        .unwrap();
    writer.extend([0.5, -1.0, 2.0, 0.0, -3.5, 1.25]).unwrap();
    writer.finish().unwrap();
    let read: fn(&Path) -> selfattn::Result<()> =
        |p| npy::read_mask(p, "attn_mask", BoolMask::TrueMasks).map(drop);
    survive("m.npy", &std::fs::read(&path).unwrap(), read);
    npyz::to_file_1d(&path, vec![true, false, true, true, false]).unwrap();
    survive("m.npy", &std::fs::read(&path).unwrap(), read);
}

#[test]
fn safetensors_weights() {
    let (model, _) = tiny_model();
    let bytes = std::fs::read(model.path().join("model.safetensors")).unwrap();
    survive("model.safetensors", &bytes, |p| {
        let sd = StateDict::load(p)?;
        let config = BertConfig::parse(Path::new("config.json"), &tiny_config())?;
        BertWeights::from_state_dict(&sd, &config).map(drop)
    });
}

fn tiny_config() -> String {
    common::tiny_bert::config_json(TinySizes::default(), "bert")
}

#[test]
fn config_json() {
    survive("config.json", tiny_config().as_bytes(), |p| {
        BertConfig::load(p).map(drop)
    });
}

#[test]
fn tokenizer_json() {
    let json = common::tiny_bert::tokenizer_json();
    survive("tokenizer.json", json.as_bytes(), |p| {
        let tokenizer = BertTokenizer::load(p)?;
        tokenizer
            .encode("The cat sat on the unbelievable mat!", 24, true)
            .map(drop)
    });
}

#[test]
fn token_and_text_files() {
    survive(
        "tokens.txt",
        "[CLS]\nthe\ncat\n##s\nsat\n[SEP]\n".as_bytes(),
        |p| selfattn::input_file::read_lines(p, "token labels").map(drop),
    );
}

/// The harness can fail: a reader that panics on a truncated file, allocates what a header
/// claims, or forgets the file's name is caught.
#[test]
fn the_harness_catches_panics_allocations_and_nameless_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("probe.bin");
    std::fs::write(&path, [1u8, 2, 3]).unwrap();
    let panics: fn(&Path) -> selfattn::Result<()> = |p| {
        let b = std::fs::read(p).unwrap();
        assert!(b.len() > 3, "short file");
        Ok(())
    };
    assert!(
        check_one(&path, 3, panics)
            .unwrap_err()
            .contains("panicked")
    );
    let trusts_header: fn(&Path) -> selfattn::Result<()> = |_| {
        let v: Vec<u8> = Vec::with_capacity(1 << 30);
        std::hint::black_box(&v);
        Ok(())
    };
    assert!(
        check_one(&path, 3, trusts_header)
            .unwrap_err()
            .contains("allocated")
    );
    let nameless: fn(&Path) -> selfattn::Result<()> =
        |_| Err(selfattn::Error::InvalidSize("bad".into()));
    assert!(
        check_one(&path, 3, nameless)
            .unwrap_err()
            .contains("name the file")
    );
    let fine: fn(&Path) -> selfattn::Result<()> =
        |p| selfattn::input_file::read_bytes(p, "x").map(drop);
    assert_eq!(check_one(&path, 3, fine), Ok(()));
}
