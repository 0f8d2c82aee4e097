//! Every file selfattn writes goes through here, so no command can treat a target differently.
//!
//! - A regular file or a new path is written to a temporary sibling, then renamed over it: a
//!   crash, a full disk or an error half-way through never leaves a truncated PNG or .npy under
//!   the name the user asked for. The replaced file's permissions (and, where allowed, owner)
//!   are kept.
//! - A symlink is followed, and its final target is replaced in the target's own folder; the
//!   link stays a link.
//! - A character device, FIFO or socket (`/dev/null`, `/dev/stdout`, a named pipe) is written
//!   through, never replaced or unlinked; a write error there (ENOSPC on `/dev/full`, a reader
//!   gone) is an error.
//! - `-` is standard output.
//! - A block device is refused.
//!
//! Temporary files are registered with [`interrupt`], so Ctrl-C or SIGTERM removes them.

pub mod interrupt;
pub mod target;

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
pub use target::Target;

fn output_error(path: &Path, message: impl Into<String>) -> Error {
    Error::OutputFile {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Writes `value` as pretty JSON and a newline to `path`, as [`write_output`] writes.
pub fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    write_output(path, |w| {
        writeln!(
            w,
            "{}",
            serde_json::to_string_pretty(value).expect("plain JSON")
        )?;
        Ok(())
    })
}

/// Writes one output to `path` by calling `fill` on a buffered writer, as the module's rules say
/// for what `path` is. On any error a temporary file is removed and a replaced target is
/// untouched; the error names `path`.
pub fn write_output<F>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let target = target::resolve(path).map_err(|m| output_error(path, m))?;
    match &target {
        Target::Replace { file, exists } => replace(file, *exists, fill)
            .map_err(|e| output_error(path, describe_io(&e, file, path))),
        Target::WriteThrough { file, kind } => {
            let opened = fs::OpenOptions::new()
                .write(true)
                .open(file)
                .map_err(|e| output_error(path, format!("cannot open the {kind}: {e}")))?;
            write_through(opened, fill)
                .map_err(|e| output_error(path, format!("writing to the {kind} failed: {e}")))
        }
        Target::Socket { file } => {
            let stream = connect_socket(file)
                .map_err(|e| output_error(path, format!("cannot connect to the socket: {e}")))?;
            write_through(stream, fill)
                .map_err(|e| output_error(path, format!("writing to the socket failed: {e}")))
        }
        Target::Stdout => write_through(io::stdout().lock(), fill)
            .map_err(|e| output_error(path, format!("writing to standard output failed: {e}"))),
    }
}

/// The message for an I/O error while replacing `file`, saying where symlinks led.
fn describe_io(e: &io::Error, file: &Path, path: &Path) -> String {
    if file == path {
        e.to_string()
    } else {
        format!("{e} (writing {}, where its symlinks lead)", file.display())
    }
}

#[cfg(unix)]
fn connect_socket(file: &Path) -> io::Result<std::os::unix::net::UnixStream> {
    std::os::unix::net::UnixStream::connect(file)
}

#[cfg(not(unix))]
fn connect_socket(_file: &Path) -> io::Result<fs::File> {
    Err(io::Error::other("sockets are not supported here"))
}

/// Writes straight into `sink`, with SIGPIPE ignored meanwhile: a reader that has gone away is
/// then an error (EPIPE) this write reports, not a silent death of the process (the report on
/// standard output keeps dying quietly on a closed pipe, as `cat` does).
fn write_through<W: Write, F>(sink: W, fill: F) -> io::Result<()>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let _guard = SigpipeIgnored::new();
    let mut writer = BufWriter::new(sink);
    fill(&mut writer)?;
    writer.flush()
}

/// Ignores SIGPIPE while alive, restoring the disposition it found.
struct SigpipeIgnored {
    #[cfg(unix)]
    previous: libc::sighandler_t,
}

impl SigpipeIgnored {
    fn new() -> Self {
        #[cfg(unix)]
        {
            // SAFETY: SIG_IGN is a valid disposition for SIGPIPE; the previous one is restored.
            let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
            Self { previous }
        }
        #[cfg(not(unix))]
        Self {}
    }
}

impl Drop for SigpipeIgnored {
    fn drop(&mut self) {
        #[cfg(unix)]
        // SAFETY: restores the disposition `signal` returned.
        unsafe {
            libc::signal(libc::SIGPIPE, self.previous);
        }
    }
}

/// A name for a temporary file beside `file`, unique within this process.
fn temporary_name(file: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target::parent_folder(file).join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Writes a temporary file beside `file` and renames it over `file`.
fn replace<F>(file: &Path, exists: bool, fill: F) -> io::Result<()>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let tmp = temporary_name(file);
    // create_new: never follows or reuses something already at the temporary name.
    let created = interrupt::create_registered(&tmp, || {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
    })?;
    let written = (|| -> io::Result<()> {
        let mut writer = BufWriter::new(created);
        fill(&mut writer)?;
        writer.flush()?;
        let file_handle = writer.into_inner().map_err(|e| e.into_error())?;
        if exists {
            keep_permissions(&file_handle, file)?;
        }
        file_handle.sync_all()
    })();
    match written {
        Ok(()) => interrupt::finish_registered(&tmp, || fs::rename(&tmp, file)).inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        }),
        Err(e) => {
            let _ = interrupt::finish_registered(&tmp, || fs::remove_file(&tmp));
            Err(e)
        }
    }
}

/// Gives the temporary file the replaced file's permissions and, where this process may, its
/// owner (root replacing another user's file must not take it over).
fn keep_permissions(tmp: &fs::File, original: &Path) -> io::Result<()> {
    let meta = fs::metadata(original)?;
    tmp.set_permissions(meta.permissions())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = std::os::unix::fs::fchown(tmp, Some(meta.uid()), Some(meta.gid()));
    }
    Ok(())
}

/// Checks, before any work, that an output can be written at `path` as [`write_output`] would:
/// a symlink's final folder exists, a file to create or replace has a folder this process can
/// write in, and the path is not a folder or a block device.
pub fn check_file_target(path: &Path) -> Result<()> {
    let target = target::resolve(path).map_err(|m| output_error(path, m))?;
    if let Some(folder) = target.folder()
        && !target::folder_writable(&folder)
    {
        return Err(output_error(
            path,
            format!("folder {} is not writable", folder.display()),
        ));
    }
    Ok(())
}

/// How an output path is named in a report: "standard output" for `-`.
pub fn shown(path: &Path) -> std::borrow::Cow<'_, str> {
    if path.as_os_str() == "-" {
        "standard output".into()
    } else {
        path.to_string_lossy()
    }
}

/// Refuses `-` (standard output) for an output that is several files or a folder, naming the flag.
pub fn refuse_stdout(path: &Path, why: &str) -> Result<()> {
    if path.as_os_str() == "-" {
        return Err(Error::Usage(format!(
            "'-' (standard output) can't be used {why}"
        )));
    }
    Ok(())
}

/// Checks, before any work, that folder `dir` exists or could be created: its nearest existing
/// ancestor must be a folder this process can write in (or `dir` itself an existing folder).
/// Nothing is created here, so a failing run leaves nothing behind.
pub fn check_dir_target(dir: &Path) -> Result<()> {
    refuse_stdout(dir, "for a folder of outputs")?;
    let existing = dir
        .ancestors()
        .find(|p| !p.as_os_str().is_empty() && p.exists())
        .unwrap_or(Path::new("."));
    if !existing.is_dir() {
        return Err(output_error(
            dir,
            format!("{} is not a folder", existing.display()),
        ));
    }
    if !target::folder_writable(existing) {
        return Err(output_error(
            dir,
            format!("folder {} is not writable", existing.display()),
        ));
    }
    Ok(())
}

/// Creates folder `dir` (and its parents) for output. The folders it creates are registered, so
/// an interrupted run removes those it left empty.
pub fn create_dir(dir: &Path) -> Result<()> {
    let mut missing: Vec<&Path> = dir
        .ancestors()
        .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
        .collect();
    missing.reverse();
    interrupt::create_folders_registered(&missing, || fs::create_dir_all(dir))
        .map_err(|e| output_error(dir, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.bin");
        let err = write_output(&target, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("boom"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("boom"), "{err}");
        assert!(!target.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn successful_write_replaces_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.bin");
        fs::write(&target, b"old").unwrap();
        write_output(&target, |w| w.write_all(b"new")).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
    }

    #[test]
    fn targets_are_checked_without_creating_anything() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, b"x").unwrap();
        assert!(check_file_target(&dir.path().join("out.png")).is_ok());
        assert!(check_file_target(dir.path()).is_err());
        assert!(check_file_target(&dir.path().join("missing/out.png")).is_err());
        assert!(check_dir_target(&dir.path().join("new/deeper")).is_ok());
        assert!(check_dir_target(&file.join("sub")).is_err());
        assert!(!dir.path().join("new").exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_socket_is_connected_to_and_written_through() {
        use std::io::Read;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let reader = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            stream.read_to_end(&mut got).unwrap();
            got
        });
        write_output(&path, |w| w.write_all(b"through the socket")).unwrap();
        assert_eq!(reader.join().unwrap(), b"through the socket");
        use std::os::unix::fs::FileTypeExt;
        assert!(fs::symlink_metadata(&path).unwrap().file_type().is_socket());
    }

    #[test]
    fn missing_folder_is_an_error_naming_the_path() {
        let err = write_output(Path::new("/nonexistent-dir-xyz/out.png"), |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("/nonexistent-dir-xyz"), "{err}");
    }
}
