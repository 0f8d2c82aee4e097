//! Atomic file output: write to a temporary sibling, then rename.
//!
//! A crash, a full disk or an error half-way through never leaves a truncated PNG or .npy behind
//! under the name the user asked for.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Writes a file by calling `fill` on a buffered writer to a temporary file in the same folder,
/// then renames it over `path`. On any error the temporary file is removed and `path` is untouched.
pub fn write_atomic<F>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    let fail = |message: String| Error::OutputFile {
        path: path.to_path_buf(),
        message,
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| fail("not a file name".into()))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(fail(format!("folder {} does not exist", dir.display())));
    }
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        let file = fs::File::create(&tmp)?;
        let mut writer = BufWriter::new(file);
        fill(&mut writer)?;
        writer.flush()?;
        writer.get_ref().sync_all()?;
        drop(writer);
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(fail(e.to_string()));
    }
    Ok(())
}

/// Checks, before any work, that a file can be written at `path`: its folder exists and the path
/// is not itself a folder.
pub fn check_file_target(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let fail = |message: String| {
        Err(Error::OutputFile {
            path: path.to_path_buf(),
            message,
        })
    };
    if !dir.is_dir() {
        return fail(format!("folder {} does not exist", dir.display()));
    }
    if path.is_dir() {
        return fail("is a folder".into());
    }
    Ok(())
}

/// Checks, before any work, that folder `dir` exists or could be created: its nearest existing
/// ancestor must be a folder. Nothing is created here, so a failing run leaves nothing behind.
pub fn check_dir_target(dir: &Path) -> Result<()> {
    let existing = dir
        .ancestors()
        .find(|p| !p.as_os_str().is_empty() && p.exists());
    if let Some(p) = existing
        && !p.is_dir()
    {
        return Err(Error::OutputFile {
            path: dir.to_path_buf(),
            message: format!("{} is not a folder", p.display()),
        });
    }
    Ok(())
}

/// Creates folder `dir` (and its parents) for output.
pub fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::OutputFile {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.bin");
        let err = write_atomic(&target, |w| {
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
        write_atomic(&target, |w| w.write_all(b"new")).unwrap();
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

    #[test]
    fn missing_folder_is_an_error_naming_the_path() {
        let err = write_atomic(Path::new("/nonexistent-dir-xyz/out.png"), |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("/nonexistent-dir-xyz"), "{err}");
    }
}
