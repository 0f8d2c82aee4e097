//! The WGSL that naga compiles, expanded from the committed shaders/ by two directives.
//!
//! WGSL has neither includes nor macros, yet several kernels share a params struct and a mask
//! rule, and the subgroup kernels (flash_shuffle, matmul_shuffle) need their rows unrolled by
//! hand: a loop over rows would count against llvmpipe's loop cap and the accumulators must stay
//! registers. So the committed sources are templates, expanded here before any pipeline is built
//! (`gpu::kernel::Kernel::new`) and before the naga tests parse them (tests/shaders.rs):
//!
//! - `#import NAME` on a line of its own pastes `shaders/shared/NAME.wgsl` (once per shader,
//!   however many times it is imported); shared modules may import others.
//! - `#for VAR in A..B` … `#end` writes its body once for each VAR from A up to B − 1, with
//!   `${EXPR}` in the body replaced by the value of EXPR. A and B and EXPR are integer
//!   arithmetic (`+ - * / %`, parentheses) over loop variables and the shader's own
//!   `const NAME = 8u;` declarations, so changing `const ROWS` rewrites the unrolled body.
//!   Loops nest; `${EXPR}` also works outside loops, over the constants.
//!
//! Like vello's `shader/shared/` + preprocess, this is a text pass: it knows lines, not WGSL.
//! An expansion error is a bug in a committed shader, found by tests/shaders.rs.

use std::collections::HashMap;
use std::fmt;

/// The modules `#import` can name: shaders/shared/NAME.wgsl, embedded in the binary.
pub const SHARED: &[(&str, &str)] = &[
    (
        "flash_bindings",
        include_str!("../shaders/shared/flash_bindings.wgsl"),
    ),
    (
        "flash_params",
        include_str!("../shaders/shared/flash_params.wgsl"),
    ),
    (
        "linear_item",
        include_str!("../shaders/shared/linear_item.wgsl"),
    ),
    (
        "masked_below",
        include_str!("../shaders/shared/masked_below.wgsl"),
    ),
    (
        "matmul_bindings",
        include_str!("../shaders/shared/matmul_bindings.wgsl"),
    ),
    (
        "matmul_params",
        include_str!("../shaders/shared/matmul_params.wgsl"),
    ),
    (
        "softmax_params",
        include_str!("../shaders/shared/softmax_params.wgsl"),
    ),
    (
        "softmax_bindings",
        include_str!("../shaders/shared/softmax_bindings.wgsl"),
    ),
];

/// Why a shader could not be expanded, with the 1-based line of the directive at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandError {
    /// Line number in the shader (or shared module) being expanded.
    pub line: usize,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for ExpandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ExpandError {}

/// Expands `source`'s `#import` and `#for` directives and `${EXPR}` substitutions.
pub fn expand(source: &str) -> Result<String, ExpandError> {
    let mut imported = Vec::new();
    let imported_text = resolve_imports(source, &mut imported)?;
    let lines: Vec<&str> = imported_text.lines().collect();
    let constants = constants(&lines);
    let mut out = String::with_capacity(imported_text.len());
    let mut vars = Vars {
        constants: &constants,
        loops: Vec::new(),
    };
    let end = emit(&lines, 0, &mut vars, &mut out)?;
    if end < lines.len() {
        return Err(ExpandError {
            line: end + 1,
            message: "#end without #for".into(),
        });
    }
    Ok(out)
}

/// The text of shared module `name`, if there is one.
pub fn shared(name: &str) -> Option<&'static str> {
    SHARED.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// `source` with each `#import NAME` line replaced by that module (imports resolved first),
/// skipping a module already in `imported`.
fn resolve_imports(source: &str, imported: &mut Vec<String>) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(source.len());
    for (number, line) in source.lines().enumerate() {
        let Some(name) = line.trim().strip_prefix("#import") else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let name = name.trim();
        let text = shared(name).ok_or_else(|| ExpandError {
            line: number + 1,
            message: format!(
                "#import {name}: no such module in shaders/shared/ (have: {})",
                SHARED
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
        if imported.iter().any(|n| n == name) {
            continue;
        }
        imported.push(name.to_string());
        out.push_str(&resolve_imports(text, imported)?);
    }
    Ok(out)
}

/// The integer `const NAME = 8u;` (or `8`, `8i`) declarations at the start of a line.
fn constants(lines: &[&str]) -> HashMap<String, i64> {
    let mut found = HashMap::new();
    for line in lines {
        let Some(rest) = line.strip_prefix("const ") else {
            continue;
        };
        let Some((name, value)) = rest.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_end_matches(';').trim();
        let digits = value.trim_end_matches(['u', 'i']);
        if let Ok(v) = digits.parse::<i64>() {
            found.insert(name.trim().to_string(), v);
        }
    }
    found
}

/// What names mean while expanding: the shader's constants and the loop variables in scope.
struct Vars<'a> {
    constants: &'a HashMap<String, i64>,
    loops: Vec<(String, i64)>,
}

impl Vars<'_> {
    fn get(&self, name: &str) -> Option<i64> {
        self.loops
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .or_else(|| self.constants.get(name).copied())
    }
}

/// Writes `lines[start..]` to `out` up to the `#end` that closes the caller's loop (or the end);
/// returns the index of that `#end` (or `lines.len()`).
fn emit(
    lines: &[&str],
    start: usize,
    vars: &mut Vars<'_>,
    out: &mut String,
) -> Result<usize, ExpandError> {
    let mut i = start;
    while i < lines.len() {
        let line = lines[i];
        let directive = line.trim();
        if directive == "#end" {
            return Ok(i);
        }
        if let Some(spec) = directive.strip_prefix("#for ") {
            let at = |message: String| ExpandError {
                line: i + 1,
                message,
            };
            let (var, range) = spec
                .split_once(" in ")
                .ok_or_else(|| at(format!("expected `#for VAR in A..B`, found `{directive}`")))?;
            let (from, to) = range
                .split_once("..")
                .ok_or_else(|| at(format!("expected a range A..B, found `{range}`")))?;
            let from = eval(from, vars).map_err(at)?;
            let to = eval(to, vars).map_err(at)?;
            let var = var.trim().to_string();
            // The body ends where a dry run stops; an unclosed loop runs to the end of the file.
            let mut body_end = None;
            for value in from..to {
                vars.loops.push((var.clone(), value));
                let end = emit(lines, i + 1, vars, out);
                vars.loops.pop();
                body_end = Some(end?);
            }
            let end = match body_end {
                Some(end) => end,
                None => skip_body(lines, i + 1),
            };
            if end >= lines.len() {
                return Err(at(format!("#for {var} has no #end")));
            }
            i = end + 1;
            continue;
        }
        substitute(line, vars, out).map_err(|message| ExpandError {
            line: i + 1,
            message,
        })?;
        out.push('\n');
        i += 1;
    }
    Ok(i)
}

/// The index of the `#end` closing a loop whose body starts at `start` (for a loop that runs
/// zero times), or `lines.len()`.
fn skip_body(lines: &[&str], start: usize) -> usize {
    let mut depth = 0usize;
    for (i, line) in lines.iter().enumerate().skip(start) {
        let directive = line.trim();
        if directive.starts_with("#for ") {
            depth += 1;
        } else if directive == "#end" {
            if depth == 0 {
                return i;
            }
            depth -= 1;
        }
    }
    lines.len()
}

/// Appends `line` to `out` with each `${EXPR}` replaced by its value.
fn substitute(line: &str, vars: &Vars<'_>, out: &mut String) -> Result<(), String> {
    let mut rest = line;
    while let Some(open) = rest.find("${") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("`${{` without `}}` in `{}`", line.trim()))?;
        out.push_str(&eval(&after[..close], vars)?.to_string());
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(())
}

/// The value of integer expression `text` (`+ - * / %`, parentheses, names, literals).
fn eval(text: &str, vars: &Vars<'_>) -> Result<i64, String> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens: &tokens,
        at: 0,
        vars,
        text,
    };
    let value = parser.sum()?;
    if parser.at != tokens.len() {
        return Err(format!("unexpected `{}` in `{text}`", tokens[parser.at]));
    }
    Ok(value)
}

fn tokenize(text: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c.is_ascii_alphanumeric() || c == '_' {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if !(c.is_ascii_alphanumeric() || c == '_') {
                    break;
                }
                word.push(c);
                chars.next();
            }
            tokens.push(word);
        } else if "+-*/%()".contains(c) {
            tokens.push(c.to_string());
            chars.next();
        } else {
            return Err(format!("unexpected `{c}` in `{text}`"));
        }
    }
    Ok(tokens)
}

/// Recursive descent over the usual precedence: sum := product (± product)*, product := atom
/// (*|/|% atom)*, atom := number | name | (sum).
struct Parser<'a> {
    tokens: &'a [String],
    at: usize,
    vars: &'a Vars<'a>,
    text: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.at).map(String::as_str)
    }

    fn sum(&mut self) -> Result<i64, String> {
        let mut value = self.product()?;
        while let Some(op @ ("+" | "-")) = self.peek() {
            let add = op == "+";
            self.at += 1;
            let rhs = self.product()?;
            value = if add { value + rhs } else { value - rhs };
        }
        Ok(value)
    }

    fn product(&mut self) -> Result<i64, String> {
        let mut value = self.atom()?;
        while let Some(op @ ("*" | "/" | "%")) = self.peek() {
            let op = op.to_string();
            self.at += 1;
            let rhs = self.atom()?;
            value = match op.as_str() {
                "*" => value * rhs,
                _ if rhs == 0 => return Err(format!("division by zero in `{}`", self.text)),
                "/" => value / rhs,
                _ => value % rhs,
            };
        }
        Ok(value)
    }

    fn atom(&mut self) -> Result<i64, String> {
        let token = self
            .peek()
            .ok_or_else(|| format!("`{}` ends too soon", self.text))?
            .to_string();
        self.at += 1;
        if token == "(" {
            let value = self.sum()?;
            if self.peek() != Some(")") {
                return Err(format!("missing `)` in `{}`", self.text));
            }
            self.at += 1;
            return Ok(value);
        }
        if let Ok(v) = token.parse::<i64>() {
            return Ok(v);
        }
        self.vars.get(&token).ok_or_else(|| {
            format!(
                "`{token}` is neither a loop variable nor an integer const in `{}`",
                self.text
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unrolls_with_arithmetic_over_constants_and_loop_variables() {
        let source = "const WG = 4u;\n#for r in 0..WG * 2\nlet x${r} = m${r / WG}[${r % WG}u] + ${(r + 1) * 3 - 1};\n#end\ndone\n";
        let text = expand(source).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + 8 + 1);
        assert_eq!(lines[1], "let x0 = m0[0u] + 2;");
        assert_eq!(lines[6], "let x5 = m1[1u] + 17;");
        assert_eq!(lines[9], "done");
    }

    #[test]
    fn loops_nest_and_empty_loops_skip_their_body() {
        let source = "#for i in 0..2\n#for j in i..2\np${i}${j}\n#end\n#end\n#for k in 3..3\nnever\n#end\nend\n";
        assert_eq!(expand(source).unwrap(), "p00\np01\np11\nend\n");
    }

    #[test]
    fn imports_paste_a_module_once() {
        let source = "#import flash_params\n#import flash_params\nfn f() {}\n";
        let text = expand(source).unwrap();
        assert_eq!(text.matches("struct FlashParams").count(), 1);
        assert!(text.ends_with("fn f() {}\n"));
    }

    #[test]
    fn errors_name_the_line_and_the_problem() {
        let cases = [
            ("a\n#import nope\n", 2, "no such module"),
            ("#for r in 0..3\nx\n", 1, "has no #end"),
            ("x\n#end\n", 2, "#end without #for"),
            ("#for r in 0..N\n#end\n", 1, "`N` is neither"),
            ("${1 / 0}\n", 1, "division by zero"),
            ("${(1 + 2}\n", 1, "missing `)`"),
            ("#for r 0..3\n#end\n", 1, "expected `#for VAR in A..B`"),
            ("x ${r\n", 1, "without `}`"),
        ];
        for (source, line, message) in cases {
            let error = expand(source).unwrap_err();
            assert_eq!(error.line, line, "{source:?}: {error}");
            assert!(error.message.contains(message), "{source:?}: {error}");
        }
    }
}
