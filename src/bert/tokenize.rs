//! Text to token ids with the model's own `tokenizer.json` (the `tokenizers` crate, the same
//! Rust code transformers' fast tokenizers run).
//!
//! A model folder's `tokenizer.json` may carry its training-time padding and truncation
//! (all-MiniLM-L6-v2's pads every input to 128 tokens); transformers' `tokenizer(text)` applies
//! neither, so both are turned off here and truncation is set from the model's position table
//! only when the caller asks for it.

use std::path::{Path, PathBuf};

use tokenizers::{Tokenizer, TruncationParams};

use super::plan::Sequence;
use crate::error::{Error, Result};

/// A tokenized sentence: the ids for the model and the tokens to label pictures with.
#[derive(Clone, Debug, PartialEq)]
pub struct Tokenized {
    /// Ids and token types, special tokens included.
    pub sequence: Sequence,
    /// The tokens as the tokenizer spells them (`[CLS]`, `##pieces`, `[SEP]`).
    pub tokens: Vec<String>,
    /// Tokens before truncation, when the text was cut to fit.
    pub truncated_from: Option<usize>,
}

/// A model's tokenizer.
pub struct BertTokenizer {
    inner: Tokenizer,
    path: PathBuf,
}

impl BertTokenizer {
    /// Loads `path` (a `tokenizer.json`) with padding and truncation off.
    pub fn load(path: &Path) -> Result<Self> {
        let inner = crate::tokenizer_file::load(path)?;
        Ok(BertTokenizer {
            inner,
            path: path.to_path_buf(),
        })
    }

    /// Tokenizes `text` with the special tokens added. Longer than `max_len` tokens: cut to
    /// `max_len` (special tokens kept, as transformers' `truncation=True` does) when `truncate`,
    /// else an error.
    pub fn encode(&self, text: &str, max_len: usize, truncate: bool) -> Result<Tokenized> {
        let full = self.encode_with(&self.inner, text)?;
        if full.sequence.ids.len() <= max_len {
            return Ok(full);
        }
        let n = full.sequence.ids.len();
        if !truncate {
            return Err(Error::InvalidSize(format!(
                "the text has {n} tokens but the model takes at most {max_len} \
                 (max_position_embeddings)"
            )));
        }
        let mut cutting = self.inner.clone();
        cutting
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                ..Default::default()
            }))
            .map_err(|e| fail(&self.path, format!("could not set truncation ({e})")))?;
        let mut cut = self.encode_with(&cutting, text)?;
        cut.truncated_from = Some(n);
        Ok(cut)
    }

    fn encode_with(&self, tokenizer: &Tokenizer, text: &str) -> Result<Tokenized> {
        let enc = tokenizer
            .encode(text, true)
            .map_err(|e| fail(&self.path, format!("could not tokenize the text ({e})")))?;
        Ok(Tokenized {
            sequence: Sequence {
                ids: enc.get_ids().to_vec(),
                type_ids: enc.get_type_ids().to_vec(),
            },
            tokens: enc.get_tokens().to_vec(),
            truncated_from: None,
        })
    }
}

fn fail(path: &Path, message: String) -> Error {
    Error::InputFile {
        path: path.to_path_buf(),
        message,
    }
}
