//! Ctrl-C, SIGTERM and SIGHUP leave no temporary files behind.
//!
//! Every output is written to a temporary file and renamed into place (see [`super`]). Killed
//! half-way, a process would leave those `.name.tmp-…` files in the user's folders. So each
//! temporary file is registered here while it exists, and a thread of its own (signal-hook's
//! iterator: nothing runs inside the signal handler itself) removes the registered files and
//! the still-empty folders this run created, then ends the process with 128 + the signal's
//! number, as a shell reports a process killed by it.
//!
//! One lock serialises creating a temporary file, renaming it into place and the cleanup, so a
//! target is either untouched or complete: a rename under way finishes before the cleanup
//! starts, and once the cleanup has run no new temporary file can be created or renamed.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What the cleanup removes, and whether it has run.
#[derive(Default)]
struct Registry {
    temporary_files: Vec<PathBuf>,
    created_folders: Vec<PathBuf>,
    ended: bool,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    temporary_files: Vec::new(),
    created_folders: Vec::new(),
    ended: false,
});

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    // A panic elsewhere while holding the lock leaves the lists valid: keep using them.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `create` (which makes the temporary file `path`) and registers `path` for removal on a
/// signal, atomically with respect to the cleanup. Fails if the process is being ended.
pub(super) fn create_registered<T>(
    path: &Path,
    create: impl FnOnce() -> std::io::Result<T>,
) -> std::io::Result<T> {
    let mut reg = registry();
    if reg.ended {
        return Err(std::io::Error::other("interrupted"));
    }
    let value = create()?;
    reg.temporary_files.push(path.to_path_buf());
    Ok(value)
}

/// Runs `finish` (rename into place, or removal) on the registered temporary file `path` and
/// forgets it, atomically with respect to the cleanup.
pub(super) fn finish_registered(
    path: &Path,
    finish: impl FnOnce() -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut reg = registry();
    if reg.ended {
        return Err(std::io::Error::other("interrupted"));
    }
    let result = finish();
    reg.temporary_files.retain(|p| p != path);
    result
}

/// Runs `create` (which makes the missing `folders`, outermost first) and remembers them, so an
/// interrupted run removes those still empty; atomically with respect to the cleanup, so a
/// signal between the two cannot leave an empty folder behind. Fails if the process is being
/// ended. They are remembered even when `create` fails part-way: the cleanup only removes
/// empty folders, and those that were never made are skipped.
pub(super) fn create_folders_registered(
    folders: &[&Path],
    create: impl FnOnce() -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut reg = registry();
    if reg.ended {
        return Err(std::io::Error::other("interrupted"));
    }
    let result = create();
    reg.created_folders
        .extend(folders.iter().map(|f| f.to_path_buf()));
    result
}

/// Removes every registered temporary file and every created folder that is empty, and stops
/// any further output. Returns how many files it removed.
pub fn clean_up() -> usize {
    let mut reg = registry();
    reg.ended = true;
    let mut removed = 0;
    for file in reg.temporary_files.drain(..) {
        if std::fs::remove_file(&file).is_ok() {
            removed += 1;
        }
    }
    // Deepest first, so a nested folder is removed before its parent; remove_dir refuses
    // folders that hold anything, so nothing complete is lost.
    for folder in reg.created_folders.drain(..).rev() {
        let _ = std::fs::remove_dir(&folder);
    }
    removed
}

/// Installs the cleanup on SIGINT, SIGTERM and SIGHUP (Unix; elsewhere nothing). Call once, at
/// the start of a command-line program; library users with signal handling of their own can
/// call [`clean_up`] from it instead.
pub fn install_cleanup_on_signals() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        std::thread::Builder::new()
            .name("selfattn-signals".into())
            .spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    clean_up();
                    // _exit: no atexit handlers or destructors, which could touch a GPU
                    // driver mid-submission; the lock stays held so nothing more is written.
                    // SAFETY: _exit ends the process; it is async-signal-safe and takes no
                    // pointers.
                    unsafe { libc::_exit(128 + signal) };
                }
            })?;
    }
    Ok(())
}
