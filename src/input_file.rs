//! Every outside file selfattn reads (.npy, safetensors, `config.json`, `tokenizer.json`, token
//! and text files) is read through here, so no reader can trust a file differently.
//!
//! - A folder is refused by name, not read as an empty file.
//! - A regular file is read whole, after its size is checked against host memory
//!   ([`crate::limits`]): a 100 GB file is refused up front instead of filling memory.
//! - A FIFO or character device (`<(…)`, `/dev/stdin`) is read as a stream, but never past the
//!   same limit, so `/dev/zero` is an error, not an allocation that grows until the OOM killer.
//! - Text must be UTF-8; the error names the first bad byte's offset.
//!
//! The parsers behind these readers are mutation-tested in `tests/parser_mutations.rs`.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};
use crate::limits;

/// The most a stream (a FIFO, a device) is read when the host memory limit is unknown.
const STREAM_CAP_WITHOUT_LIMIT: u64 = 16 << 30;

fn fail(path: &Path, what: &str, message: impl std::fmt::Display) -> Error {
    Error::InputFile {
        path: path.to_path_buf(),
        message: format!("{what}: {message}"),
    }
}

/// Reads all of `path`; `what` names the file's role in errors ("tokenizer.json", "W_Q").
pub fn read_bytes(path: &Path, what: &str) -> Result<Vec<u8>> {
    let mut file = std::fs::File::open(path).map_err(|e| fail(path, what, e))?;
    let meta = file.metadata().map_err(|e| fail(path, what, e))?;
    if meta.is_dir() {
        return Err(fail(path, what, "is a folder, not a file"));
    }
    if meta.is_file() {
        limits::check_host_bytes(
            &format!("{what} ({}) is read whole: its bytes", path.display()),
            meta.len(),
            "is it the file meant?",
        )?;
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.read_to_end(&mut bytes)
            .map_err(|e| fail(path, what, e))?;
        return Ok(bytes);
    }
    // A stream: its length is known only at its end.
    let cap = limits::host_memory_limit()?.map_or(STREAM_CAP_WITHOUT_LIMIT, |(bytes, _)| bytes);
    read_with_cap(file, path, what, cap)
}

/// Reads the stream `file` (opened from `path`) up to `cap` bytes; longer is an error.
fn read_with_cap(file: std::fs::File, path: &Path, what: &str, cap: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(path, what, e))?;
    if bytes.len() as u64 > cap {
        return Err(fail(
            path,
            what,
            format!(
                "the stream is longer than {}, the most selfattn reads",
                limits::human_bytes(cap)
            ),
        ));
    }
    Ok(bytes)
}

/// Reads `path` as UTF-8 text.
pub fn read_text(path: &Path, what: &str) -> Result<String> {
    String::from_utf8(read_bytes(path, what)?).map_err(|e| {
        fail(
            path,
            what,
            format!(
                "is not UTF-8 text (bad byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// The trimmed, non-empty lines of the text file `path` (token labels, sentences).
pub fn read_lines(path: &Path, what: &str) -> Result<Vec<String>> {
    Ok(read_text(path, what)?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_and_bad_utf8_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_bytes(dir.path(), "config.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("config.json") && e.contains("folder"), "{e}");
        let path = dir.path().join("t.txt");
        std::fs::write(&path, b"ok\n\xff\xfe").unwrap();
        let e = read_text(&path, "token labels").unwrap_err().to_string();
        assert!(e.contains("t.txt") && e.contains("offset 3"), "{e}");
        std::fs::write(&path, " a \n\n b\n").unwrap();
        assert_eq!(read_lines(&path, "token labels").unwrap(), ["a", "b"]);
    }

    #[test]
    fn a_stream_longer_than_the_cap_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("endless");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let writer_path = fifo.clone();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let mut w = std::fs::OpenOptions::new()
                .write(true)
                .open(writer_path)
                .unwrap();
            // Writes until the reader hangs up (EPIPE: Rust ignores SIGPIPE).
            while w.write_all(&[7u8; 1 << 12]).is_ok() {}
        });
        let file = std::fs::File::open(&fifo).unwrap();
        let e = read_with_cap(file, &fifo, "token labels", 1 << 16)
            .unwrap_err()
            .to_string();
        writer.join().unwrap();
        assert!(e.contains("endless") && e.contains("64.00 KiB"), "{e}");
    }
}
