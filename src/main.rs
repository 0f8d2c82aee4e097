//! The `selfattn` command line: parses flags, runs a command, maps the result to an exit code.

mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use commands::Outcome;
use selfattn::Error;

/// Mesa's Vulkan loader prints "XDG_RUNTIME_DIR is invalid" on every start when the variable is
/// unset (headless machines, CI). We never present to a display, so a private folder will do.
fn quiet_vulkan_loader() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
        return;
    }
    let user = std::env::var("USER").unwrap_or_else(|_| "user".into());
    let dir = std::env::temp_dir().join(format!("selfattn-runtime-{user}"));
    if std::fs::create_dir_all(&dir).is_ok() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        }
        // SAFETY: called first thing in main, before any other thread exists.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
    }
}

/// Rust ignores SIGPIPE, so `selfattn … | head` made every later `println!` panic ("failed
/// printing to stdout: Broken pipe"). Restoring the default makes a closed pipe end the process
/// quietly, as it ends `cat` or `grep`. Files are only ever renamed into place once complete, so
/// this leaves nothing half-written; outputs written through to a pipe ignore SIGPIPE while they
/// write, so a reader gone away is an error there (see `selfattn::fsutil`).
fn die_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    die_quietly_on_closed_pipe();
    quiet_vulkan_loader();
    // Ctrl-C / SIGTERM / SIGHUP: remove this run's temporary files, then exit 128 + signal.
    if let Err(e) = selfattn::fsutil::interrupt::install_cleanup_on_signals() {
        eprintln!("warning: could not install the cleanup on Ctrl-C ({e})");
    }
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("warn,wgpu_hal::gles::egl=off"),
    )
    .init();
    let cli = Cli::parse();
    let result = match &cli.command {
        None => commands::run::run(&cli.run),
        Some(Command::Run(args)) => commands::run::run(args),
        Some(Command::Explain(args)) => commands::explain::explain(args),
        Some(Command::Devices(args)) => commands::devices::devices(args),
        Some(Command::Mha(args)) => commands::mha::mha(args),
        Some(Command::Sdpa(args)) => commands::sdpa::sdpa(args),
        Some(Command::Bench(args)) => commands::bench::bench(args),
        Some(Command::Model(args)) => commands::model::model(args),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Mismatch(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("error: {}", message(&e));
            ExitCode::from(exit_code(&e))
        }
    }
}

/// What the command line prints for `e`: the library's message, a parameter shown as its flag,
/// and the command line's own advice where it has some.
fn message(e: &Error) -> String {
    match e {
        Error::Parameter { name, problem } => format!("{} {problem}", cli::flag(name)),
        Error::NoAdapter(_) => format!(
            "{e}\n  `--backend gl` chooses the GL backend; `selfattn devices` lists what wgpu can \
             see."
        ),
        _ => e.to_string(),
    }
}

/// The exit code for `e`, as `selfattn --help` lists them: 4 when no adapter exists, 2 for a
/// bad command line, 1 for everything else the user can fix (bad input, limits, unwritable
/// output). (3, a disagreement with the CPU, is an [`Outcome`], not an error.)
fn exit_code(e: &Error) -> u8 {
    match e {
        Error::NoAdapter(_) => 4,
        Error::Usage(_) => 2,
        _ => 1,
    }
}
