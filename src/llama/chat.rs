//! A GGUF file's chat template (`tokenizer.chat_template`, Jinja) applied to one user message,
//! as transformers' `apply_chat_template(messages, add_generation_prompt=True)` applies it:
//! the same variables (`messages`, `add_generation_prompt`, `bos_token`, `eos_token`), Jinja's
//! `trim_blocks` and `lstrip_blocks` on, and `raise_exception` for templates that refuse a
//! conversation. Rendered with minijinja, a Jinja2 engine in Rust.

use minijinja::{Environment, ErrorKind, context};

use crate::error::{Error, Result};

/// The template's text for a conversation of one `user` message, ending with the prompt for the
/// assistant's reply. `bos` and `eos` are the tokens' spellings (empty when the file has none).
pub fn apply(template: &str, user: &str, bos: &str, eos: &str) -> Result<String> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_function(
        "raise_exception",
        |message: String| -> std::result::Result<String, minijinja::Error> {
            Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
        },
    );
    let fail = |e: minijinja::Error| {
        Error::Usage(format!(
            "the model's chat template (tokenizer.chat_template) failed: {e}"
        ))
    };
    env.add_template("chat", template).map_err(fail)?;
    let messages = vec![context! { role => "user", content => user }];
    env.get_template("chat")
        .map_err(fail)?
        .render(context! {
            messages => messages,
            add_generation_prompt => true,
            bos_token => bos,
            eos_token => eos,
        })
        .map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_trimmed_as_transformers_trims_them() {
        // Expected values from Python's jinja2 3.1 with trim_blocks and lstrip_blocks: the
        // newline after a block tag goes, as does the indentation before one (not before text).
        let template = "{% for m in messages %}\n  [{{ m['role'] }}] {{ m['content'] }}{{ eos_token }}\n{% endfor %}\n{% if add_generation_prompt %}{{ bos_token }}>{% endif %}";
        assert_eq!(
            apply(template, "hi", "<s>", "</s>").unwrap(),
            "  [user] hi</s>\n<s>>"
        );
        let template = "{% for m in messages %}\n    {% if true %}x{% endif %}\n{% endfor %}";
        assert_eq!(apply(template, "hi", "", "").unwrap(), "x");
    }

    #[test]
    fn a_template_that_raises_is_an_error_naming_it() {
        let template = "{{ raise_exception('only system messages') }}";
        let err = apply(template, "hi", "", "").unwrap_err().to_string();
        assert!(
            err.contains("chat template") && err.contains("only system messages"),
            "{err}"
        );
    }
}
