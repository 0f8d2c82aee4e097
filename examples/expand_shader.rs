//! Prints a shader as naga and the pipelines see it: `#import`ed shared modules pasted in and
//! `#for` rows unrolled (src/shader_source.rs). For reading a generated kernel, or diffing what
//! a change to a template does to it.
//!
//! `cargo run --example expand_shader -- shaders/flash_shuffle.wgsl`

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: expand_shader SHADER.wgsl");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match selfattn::shader_source::expand(&text) {
        Ok(expanded) => {
            print!("{expanded}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {path}: {e}");
            ExitCode::FAILURE
        }
    }
}
