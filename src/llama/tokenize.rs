//! The tokenizer a GGUF file describes, built with the `tokenizers` crate exactly as
//! transformers builds it when it loads the file (`integrations/gguf/gguf_tokenizer_mapping.py`,
//! `byte_level_tokenizer` and `add_gguf_special_tokens`), so the ids are transformers':
//!
//! - `tokenizer.ggml.model` must be `gpt2` (byte-level BPE); the vocabulary is
//!   `tokenizer.ggml.tokens` in order, a token spelled outside GPT-2's byte alphabet re-spelled
//!   byte by byte, and the merges `tokenizer.ggml.merges`;
//! - GPT-2's ByteLevel pre-tokenizer (no prefix space, its split regex) and decoder;
//! - tokens of type 3 (control, e.g. `<|im_start|>`) are special tokens matched whole, those of
//!   type 4 (user-defined) added tokens;
//! - the BOS token is put first only when `tokenizer.ggml.add_bos_token` says so.
//!
//! Files whose `tokenizer.ggml.pre` names one of transformers' own split regexes (llama3,
//! qwen2 …) are refused for now rather than tokenized differently.

use std::collections::HashSet;
use std::path::Path;

use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, Tokenizer};

use crate::error::{Error, Result};
use crate::gguf::{Gguf, Value};

/// `tokenizer.ggml.pre` values transformers tokenizes with GPT-2's own split, as here.
const PLAIN_BYTE_LEVEL_PRE: &[&str] = &["default", "gpt2", "smollm", "starcoder", "refact"];

/// A decoder's tokenizer, from its GGUF file.
pub struct LlamaTokenizer {
    inner: Tokenizer,
    /// The BOS token's id (`tokenizer.ggml.bos_token_id`), if the file names one.
    pub bos: Option<u32>,
    /// The EOS token's id (`tokenizer.ggml.eos_token_id`), if the file names one.
    pub eos: Option<u32>,
    /// Every id that ends a generation: the EOS and, for a Hugging Face folder, each id its
    /// `eos_token_id` lists (generation_config.json's when there is one, as transformers'
    /// `generate` reads it; Llama 3 lists three).
    pub stop: Vec<u32>,
    /// The chat template (`tokenizer.chat_template`), if the file has one.
    pub chat_template: Option<String>,
}

impl LlamaTokenizer {
    /// Builds the tokenizer `gguf` describes. Errors name the file and key: another tokenizer
    /// model, a pre-tokenizer transformers splits differently, merges that do not parse.
    pub fn from_gguf(gguf: &Gguf) -> Result<Self> {
        let model = gguf.string("tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(fail(
                gguf,
                format!("tokenizer.ggml.model is {model:?}; selfattn reads gpt2 (byte-level BPE)"),
            ));
        }
        if let Some(Value::String(pre)) = gguf.get("tokenizer.ggml.pre")
            && !PLAIN_BYTE_LEVEL_PRE.contains(&pre.as_str())
        {
            return Err(fail(
                gguf,
                format!(
                    "tokenizer.ggml.pre is {pre:?}, a split selfattn does not apply yet \
                     (it reads {})",
                    PLAIN_BYTE_LEVEL_PRE.join(", ")
                ),
            ));
        }
        let tokens = gguf.strings("tokenizer.ggml.tokens")?;
        let alphabet = byte_alphabet();
        let vocab: Vocab = tokens
            .iter()
            .enumerate()
            .map(|(id, &token)| (respell(token, &alphabet), id as u32))
            .collect();
        let merges = gguf
            .strings("tokenizer.ggml.merges")?
            .iter()
            .enumerate()
            .map(|(i, merge)| {
                merge
                    .split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .ok_or_else(|| {
                        fail(
                            gguf,
                            format!("tokenizer.ggml.merges[{i}] {merge:?} is not two tokens"),
                        )
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| fail(gguf, format!("the tokenizer's BPE model: {e}")))?;
        let mut inner = Tokenizer::new(bpe);
        inner.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
        inner.with_decoder(Some(ByteLevel::default()));
        let types = token_types(gguf, tokens.len())?;
        let special: Vec<AddedToken> = tokens
            .iter()
            .zip(&types)
            .filter(|(token, kind)| **kind == 3 && token.chars().all(|c| alphabet.contains(&c)))
            .map(|(token, _)| AddedToken::from(token.to_string(), true).normalized(false))
            .collect();
        inner
            .add_special_tokens(special)
            .map_err(|e| fail(gguf, format!("the control tokens: {e}")))?;
        let user: Vec<AddedToken> = tokens
            .iter()
            .zip(&types)
            // As transformers: only those the vocabulary spells (in the byte alphabet).
            .filter(|(token, kind)| **kind == 4 && token.chars().all(|c| alphabet.contains(&c)))
            .map(|(token, _)| AddedToken::from(token.to_string(), false).normalized(false))
            .collect();
        inner
            .add_tokens(user)
            .map_err(|e| fail(gguf, format!("the user-defined tokens: {e}")))?;
        let id = |key: &str| -> Result<Option<u32>> {
            match gguf.get(key) {
                None => Ok(None),
                Some(_) => {
                    let id = gguf.uint(key)?;
                    if id as usize >= tokens.len() {
                        return Err(fail(
                            gguf,
                            format!("{key} is {id}, past the {} tokens", tokens.len()),
                        ));
                    }
                    Ok(Some(id as u32))
                }
            }
        };
        let (bos, eos) = (
            id("tokenizer.ggml.bos_token_id")?,
            id("tokenizer.ggml.eos_token_id")?,
        );
        let add_bos = matches!(
            gguf.get("tokenizer.ggml.add_bos_token"),
            Some(Value::Bool(true))
        );
        if let (true, Some(bos)) = (add_bos, bos) {
            let name = tokens[bos as usize].to_string();
            let template = TemplateProcessing::builder()
                .try_single(format!("{name} $A"))
                .and_then(|t| t.try_pair(format!("{name} $A {name} $B")))
                .map_err(|e| fail(gguf, format!("the BOS template: {e}")))?
                .special_tokens(vec![(name, bos)])
                .build()
                .map_err(|e| fail(gguf, format!("the BOS template: {e}")))?;
            inner.with_post_processor(Some(template));
        }
        let chat_template = match gguf.get("tokenizer.chat_template") {
            Some(Value::String(t)) => Some(t.clone()),
            _ => None,
        };
        Ok(LlamaTokenizer {
            inner,
            bos,
            eos,
            stop: eos.into_iter().collect(),
            chat_template,
        })
    }

    /// The ids of `text`, with the BOS token first where the file asks for it; special tokens
    /// written in the text (`<|im_start|>`) are one id each.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.inner
            .encode(text, true)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| Error::Usage(format!("could not tokenize the text ({e})")))
    }

    /// The tokenizer of a Hugging Face folder: `tokenizer.json` (its own pre-tokenizer, merges
    /// and BOS template, as transformers' fast tokenizer runs it), BOS/EOS ids from
    /// `config.json` (`config`, parsed) and the chat template from `tokenizer_config.json` when
    /// there is one.
    pub fn from_hf_folder(dir: &Path, config: &serde_json::Value) -> Result<Self> {
        let inner = crate::tokenizer_file::load(&dir.join("tokenizer.json"))?;
        // An id, or a list of ids (the first is the token's own).
        let ids = |json: &serde_json::Value, key: &str| -> Vec<u32> {
            match json.get(key) {
                Some(serde_json::Value::Array(items)) => items
                    .iter()
                    .filter_map(|i| i.as_u64().map(|i| i as u32))
                    .collect(),
                Some(v) => v.as_u64().map(|i| i as u32).into_iter().collect(),
                None => Vec::new(),
            }
        };
        let id = |key: &str| ids(config, key).first().copied();
        let generation = dir.join("generation_config.json");
        let mut stop = ids(config, "eos_token_id");
        if generation.is_file() {
            let text = crate::input_file::read_text(&generation, "generation settings")?;
            let json: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| Error::InputFile {
                    path: generation.clone(),
                    message: format!("not valid JSON ({e})"),
                })?;
            let listed = ids(&json, "eos_token_id");
            if !listed.is_empty() {
                stop = listed;
            }
        }
        let settings = dir.join("tokenizer_config.json");
        let chat_template = if settings.is_file() {
            let text = crate::input_file::read_text(&settings, "tokenizer settings")?;
            let json: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| Error::InputFile {
                    path: settings.clone(),
                    message: format!("not valid JSON ({e})"),
                })?;
            json.get("chat_template")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        } else {
            None
        };
        Ok(LlamaTokenizer {
            inner,
            bos: id("bos_token_id"),
            eos: id("eos_token_id"),
            stop,
            chat_template,
        })
    }

    /// `text` as one user message in the file's chat template, with the prompt for the
    /// assistant's reply (`None` when the file has no template).
    pub fn chat(&self, text: &str) -> Option<Result<String>> {
        let spelled = |id: Option<u32>| id.map(|i| self.tokens(&[i]).remove(0)).unwrap_or_default();
        let template = self.chat_template.as_deref()?;
        Some(super::chat::apply(
            template,
            text,
            &spelled(self.bos),
            &spelled(self.eos),
        ))
    }

    /// The ids of `text` without the tokenizer's own special tokens (no BOS added): for text a
    /// chat template has written them into.
    pub fn encode_without_special(&self, text: &str) -> Result<Vec<u32>> {
        self.inner
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| Error::Usage(format!("could not tokenize the text ({e})")))
    }

    /// The tokens of `ids` as the vocabulary spells them (`Ġ` for a leading space).
    pub fn tokens(&self, ids: &[u32]) -> Vec<String> {
        ids.iter()
            .map(|&id| {
                self.inner
                    .id_to_token(id)
                    .unwrap_or_else(|| format!("<{id}>"))
            })
            .collect()
    }

    /// The tokens of `ids` as a reader wants them labelled: each token's bytes (byte-level
    /// BPE spells byte b as one printable character) shown as text, a space as `␣`, a newline
    /// as `↵` and a tab as `⇥`; bytes that are not whole UTF-8 characters (half an emoji) as
    /// `\xF0`. Control tokens (`<|im_start|>`) keep their name.
    pub fn labels(&self, ids: &[u32]) -> Vec<String> {
        self.tokens(ids).iter().map(|t| label(t)).collect()
    }

    /// The text of `ids`, special tokens included.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, false)
            .map_err(|e| Error::Usage(format!("could not decode ids ({e})")))
    }
}

/// Each token's type (`tokenizer.ggml.token_type`; all normal, 1, when absent).
fn token_types(gguf: &Gguf, tokens: usize) -> Result<Vec<i64>> {
    let Some(value) = gguf.get("tokenizer.ggml.token_type") else {
        return Ok(vec![1; tokens]);
    };
    let types: Option<Vec<i64>> = match value {
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Int(v) => Some(*v),
                Value::Uint(v) => i64::try_from(*v).ok(),
                _ => None,
            })
            .collect(),
        _ => None,
    };
    match types {
        Some(types) if types.len() == tokens => Ok(types),
        _ => Err(fail(
            gguf,
            format!("tokenizer.ggml.token_type is not one integer per token ({tokens} tokens)"),
        )),
    }
}

/// One token's label (see [`LlamaTokenizer::labels`]).
pub fn label(token: &str) -> String {
    let chars = byte_chars();
    let bytes: Option<Vec<u8>> = token
        .chars()
        .map(|c| chars.iter().position(|&b| b == c).map(|b| b as u8))
        .collect();
    // A token outside the byte alphabet (an added token) is shown as it is spelled.
    let Some(bytes) = bytes else {
        return token.to_string();
    };
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                ' ' => out.push('␣'),
                '\n' => out.push('↵'),
                '\t' => out.push('⇥'),
                c if c.is_control() => out.push_str(&format!("\\x{:02X}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

/// GPT-2's byte alphabet (`bytes_to_unicode`): printable Latin-1 bytes stand for themselves,
/// the other 68 bytes for the characters from U+0100 on, in byte order.
pub fn byte_chars() -> [char; 256] {
    let mut chars = ['\0'; 256];
    let mut next = 256u32;
    for byte in 0..=255u8 {
        let printable = matches!(byte, b'!'..=b'~' | 0xa1..=0xac | 0xae..=0xff);
        chars[byte as usize] = if printable {
            byte as char
        } else {
            next += 1;
            char::from_u32(next - 1).expect("U+0100 … U+0143")
        };
    }
    chars
}

fn byte_alphabet() -> HashSet<char> {
    byte_chars().into_iter().collect()
}

/// `token` as the vocabulary must spell it: unchanged when every character is in the byte
/// alphabet, else its UTF-8 bytes spelled in it (a GGUF writer stored the raw text).
fn respell(token: &str, alphabet: &HashSet<char>) -> String {
    if token.chars().all(|c| alphabet.contains(&c)) {
        token.to_string()
    } else {
        let chars = byte_chars();
        token.bytes().map(|b| chars[b as usize]).collect()
    }
}

fn fail(gguf: &Gguf, message: String) -> Error {
    Error::InputFile {
        path: gguf.path().to_path_buf(),
        message,
    }
}
