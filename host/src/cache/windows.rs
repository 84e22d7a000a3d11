//! The cache's directory operations on Windows, by path: std has no handle-relative opens there.
//!
//! What holds: links are refused (the directory and every file are opened with
//! `FILE_FLAG_OPEN_REPARSE_POINT` and a reparse point, a symlink or junction, is not used), files
//! are only created new, and entries are replaced by an atomic rename. The default directory,
//! `%LOCALAPPDATA%\credbox`, inherits the user profile's ACL (the user, SYSTEM and
//! Administrators). What does not (docs/SECURITY.md, "Platforms"): the owner and ACL of a
//! directory named by `CREDBOX_CACHE_DIR` are not checked, and a directory replaced between the
//! check and a later open is not noticed.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::os::windows::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use windows_sys::Win32::Storage::FileSystem::{
    FILE_ATTRIBUTE_REPARSE_POINT, FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT,
};

/// A directory, by its checked path.
#[derive(Debug)]
pub(super) struct Dir(PathBuf);

/// Why a directory could not be opened.
pub(super) enum DirError {
    /// It is a symlink, a junction, or not a directory.
    Link,
    Io(std::io::Error),
}

/// Who else may use a directory (see the module's documentation for what is not checked).
pub(super) struct Access {
    pub foreign_owner: bool,
    pub shared: bool,
    pub loose: bool,
}

pub(super) fn create_parents(path: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)
}

/// Open `path` itself, never what a reparse point in its place leads to.
fn open_no_reparse(path: &Path, options: &mut OpenOptions) -> std::io::Result<File> {
    let file = options
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS)
        .open(path)?;
    if file.metadata()?.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
        return Err(std::io::Error::other("a symlink or junction"));
    }
    Ok(file)
}

impl Dir {
    pub fn open(path: &Path) -> std::io::Result<Dir> {
        Ok(Dir(path.to_path_buf()))
    }

    pub fn make_private_dir(&self, name: &OsStr) -> std::io::Result<bool> {
        match std::fs::create_dir(self.0.join(name)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub fn open_dir(&self, name: &OsStr) -> Result<Dir, DirError> {
        let path = self.0.join(name);
        let meta = std::fs::symlink_metadata(&path).map_err(DirError::Io)?;
        if !meta.is_dir() || meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
            return Err(DirError::Link);
        }
        Ok(Dir(path))
    }

    pub fn access(&self) -> std::io::Result<Access> {
        Ok(Access {
            foreign_owner: false,
            shared: false,
            loose: false,
        })
    }

    pub fn make_private(&self) -> std::io::Result<()> {
        Ok(())
    }

    pub fn names(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.0) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|entry| entry.file_name().to_str().map(String::from))
            .collect()
    }

    pub fn keeps(&self, name: &str) -> bool {
        std::fs::symlink_metadata(self.0.join(name))
            .is_ok_and(|m| m.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT == 0)
    }

    pub fn remove(&self, name: &str) -> std::io::Result<()> {
        std::fs::remove_file(self.0.join(name))
    }

    pub fn open_read(&self, name: &str) -> std::io::Result<File> {
        open_no_reparse(&self.0.join(name), OpenOptions::new().read(true))
    }

    pub fn open_lock(&self, name: &str) -> std::io::Result<File> {
        open_no_reparse(
            &self.0.join(name),
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false),
        )
    }

    pub fn create_new(&self, name: &str) -> std::io::Result<File> {
        open_no_reparse(
            &self.0.join(name),
            OpenOptions::new().write(true).create_new(true),
        )
    }

    /// Rename `from` over `to` (MoveFileEx with MOVEFILE_REPLACE_EXISTING: atomic on NTFS).
    pub fn rename(&self, from: &str, to: &str) -> std::io::Result<()> {
        std::fs::rename(self.0.join(from), self.0.join(to))
    }

    /// Windows cannot flush a directory; the rename is journaled by NTFS.
    pub fn sync(&self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A regular file (opened without following a reparse point).
pub(super) fn private_file(file: &File) -> bool {
    file.metadata().is_ok_and(|m| m.is_file())
}

/// Whether process `pid` no longer exists.
pub(super) fn process_gone(pid: u32) -> bool {
    use windows_sys::Win32::Foundation::{CloseHandle, STILL_ACTIVE};
    use windows_sys::Win32::System::Threading::{
        GetExitCodeProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
    };
    // SAFETY: a handle opened here and closed here.
    unsafe {
        let process = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
        if process.is_null() {
            // No such process (or not ours to see: then it is not a credbox of this user).
            return true;
        }
        let mut code = 0u32;
        let running = GetExitCodeProcess(process, &mut code) != 0 && code == STILL_ACTIVE as u32;
        CloseHandle(process);
        !running
    }
}
