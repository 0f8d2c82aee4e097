//! What an output path points at, decided once, so every command treats it the same way.
//!
//! Renaming a finished temporary file over the target is right for regular files only. Renamed
//! over `/dev/null` (as root) it would replace the system's null device with a regular file;
//! over a FIFO, the reader would get nothing; over a symlink, the link would become a file and
//! its target would never be written. So a path is first resolved: symlinks are followed to
//! their final target, and devices, FIFOs and sockets are written through, never replaced.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// How many symlinks are followed before giving up (Linux's own limit, `ELOOP`).
const MAX_SYMLINK_HOPS: usize = 40;

/// Where the bytes of one output go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `-`: standard output.
    Stdout,
    /// A regular file, or a path that does not exist yet: written to a temporary file in the
    /// same folder, then renamed over `file`. `file` is the final target of any symlinks.
    Replace {
        /// The file to replace or create.
        file: PathBuf,
        /// Whether it exists already (its permissions and owner are kept).
        exists: bool,
    },
    /// A character device or a FIFO: opened for writing and written through.
    WriteThrough {
        /// The device or FIFO.
        file: PathBuf,
        /// "character device" or "FIFO", for messages.
        kind: &'static str,
    },
    /// A Unix socket: connected to and written through.
    Socket {
        /// The socket's path.
        file: PathBuf,
    },
}

impl Target {
    /// The folder a temporary file goes into, for [`Target::Replace`].
    pub fn folder(&self) -> Option<PathBuf> {
        match self {
            Target::Replace { file, .. } => Some(parent_folder(file)),
            _ => None,
        }
    }
}

/// The folder holding `path` (`.` for a bare file name).
pub fn parent_folder(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Resolves `path` to where its bytes must go. Errors are plain messages; the caller names the
/// path. `-` is standard output.
pub fn resolve(path: &Path) -> Result<Target, String> {
    if path.as_os_str() == "-" {
        return Ok(Target::Stdout);
    }
    let mut current = path.to_path_buf();
    for _ in 0..MAX_SYMLINK_HOPS {
        let meta = match fs::symlink_metadata(&current) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return new_file(path, current);
            }
            Err(e) => return Err(describe(path, &current, e.to_string())),
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            let link = fs::read_link(&current)
                .map_err(|e| describe(path, &current, format!("unreadable symlink ({e})")))?;
            current = if link.is_absolute() {
                link
            } else {
                parent_folder(&current).join(link)
            };
            continue;
        }
        return existing(path, current, &kind);
    }
    Err(format!(
        "more than {MAX_SYMLINK_HOPS} symlinks to follow (a loop?)"
    ))
}

/// A message about `current`, saying it is where `path`'s symlinks led when they differ.
fn describe(path: &Path, current: &Path, message: String) -> String {
    if current == path {
        message
    } else {
        format!(
            "{message} (at {}, where its symlinks lead)",
            current.display()
        )
    }
}

fn new_file(path: &Path, file: PathBuf) -> Result<Target, String> {
    if file.file_name().is_none() {
        return Err(describe(path, &file, "not a file name".into()));
    }
    let folder = parent_folder(&file);
    if !folder.is_dir() {
        return Err(describe(
            path,
            &file,
            format!("folder {} does not exist", folder.display()),
        ));
    }
    Ok(Target::Replace {
        file,
        exists: false,
    })
}

#[cfg(unix)]
fn existing(path: &Path, file: PathBuf, kind: &fs::FileType) -> Result<Target, String> {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_file() {
        Ok(Target::Replace { file, exists: true })
    } else if kind.is_dir() {
        Err(describe(path, &file, "is a folder".into()))
    } else if kind.is_char_device() {
        Ok(Target::WriteThrough {
            file,
            kind: "character device",
        })
    } else if kind.is_fifo() {
        Ok(Target::WriteThrough { file, kind: "FIFO" })
    } else if kind.is_socket() {
        Ok(Target::Socket { file })
    } else if kind.is_block_device() {
        Err(describe(
            path,
            &file,
            "is a block device (a disk): refusing to write over it".into(),
        ))
    } else {
        Err(describe(
            path,
            &file,
            "is not a file selfattn can write".into(),
        ))
    }
}

#[cfg(not(unix))]
fn existing(path: &Path, file: PathBuf, kind: &fs::FileType) -> Result<Target, String> {
    if kind.is_file() {
        Ok(Target::Replace { file, exists: true })
    } else if kind.is_dir() {
        Err(describe(path, &file, "is a folder".into()))
    } else {
        Err(describe(
            path,
            &file,
            "is not a file selfattn can write".into(),
        ))
    }
}

/// Whether this process may create files in `folder` (`access(2)` with W_OK | X_OK, so root's
/// privileges count as the kernel counts them). Elsewhere than Unix: assumed yes.
pub fn folder_writable(folder: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let Ok(c) = std::ffi::CString::new(folder.as_os_str().as_bytes()) else {
            return false;
        };
        // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
        unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
    }
    #[cfg(not(unix))]
    {
        let _ = folder;
        true
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn each_kind_of_path_resolves_to_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let file = d.join("f.png");
        fs::write(&file, b"x").unwrap();
        assert_eq!(
            resolve(&file).unwrap(),
            Target::Replace {
                file: file.clone(),
                exists: true
            }
        );
        assert_eq!(
            resolve(&d.join("new.png")).unwrap(),
            Target::Replace {
                file: d.join("new.png"),
                exists: false
            }
        );
        assert_eq!(resolve(Path::new("-")).unwrap(), Target::Stdout);
        assert!(resolve(d).unwrap_err().contains("is a folder"));
        assert!(
            resolve(&d.join("missing/x.png"))
                .unwrap_err()
                .contains("does not exist")
        );

        // A chain of two links, one relative and one absolute, to a file not yet written.
        fs::create_dir(d.join("real")).unwrap();
        symlink(d.join("real/target.png"), d.join("abs")).unwrap();
        symlink("abs", d.join("link.png")).unwrap();
        assert_eq!(
            resolve(&d.join("link.png")).unwrap(),
            Target::Replace {
                file: d.join("real/target.png"),
                exists: false
            }
        );
        // A link into a folder that does not exist names where the link leads.
        symlink(d.join("nowhere/t.png"), d.join("dangling")).unwrap();
        let err = resolve(&d.join("dangling")).unwrap_err();
        assert!(err.contains("nowhere"), "{err}");

        symlink("loop_b", d.join("loop_a")).unwrap();
        symlink("loop_a", d.join("loop_b")).unwrap();
        assert!(resolve(&d.join("loop_a")).unwrap_err().contains("loop"));
    }

    #[test]
    fn fifos_are_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid path; mkfifo only creates a node in our temporary folder.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(
            resolve(&fifo).unwrap(),
            Target::WriteThrough {
                file: fifo.clone(),
                kind: "FIFO"
            }
        );
    }
}
