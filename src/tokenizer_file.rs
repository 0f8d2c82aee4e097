//! Reading a `tokenizer.json` with the `tokenizers` crate, padding and truncation off (as
//! transformers' `tokenizer(text)` applies neither), for every model family that ships one.

use std::path::Path;

use tokenizers::Tokenizer;

use crate::error::{Error, Result};

/// Loads `path`. The tokenizers crate panics on some malformed files (an `unwrap` in its
/// deserializers, found by tests/parser_mutations.rs); that is a bad file, not a crash.
pub fn load(path: &Path) -> Result<Tokenizer> {
    let fail = |message: String| Error::InputFile {
        path: path.to_path_buf(),
        message,
    };
    let text = crate::input_file::read_text(path, "tokenizer")?;
    let parsed = std::panic::catch_unwind(|| text.parse::<Tokenizer>()).unwrap_or_else(|p| {
        let why = p
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| p.downcast_ref::<&str>().copied())
            .unwrap_or("a panic in the tokenizers library");
        Err(why.to_string().into())
    });
    let mut inner = parsed.map_err(|e| {
        fail(format!(
            "not a tokenizer.json the tokenizers library can read ({e})"
        ))
    })?;
    inner.with_padding(None);
    inner
        .with_truncation(None)
        .map_err(|e| fail(format!("could not turn truncation off ({e})")))?;
    Ok(inner)
}
