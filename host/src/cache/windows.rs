//! The cache's directory operations on Windows.
//!
//! "Private" is an owner and an ACL (`crate::acl`) where Unix has a uid and a mode: the directory
//! is created with an ACL for this user, SYSTEM and the Administrators only, and every file
//! credbox writes in it is created with that ACL (never a moment with an inherited one); a
//! directory another user owns is refused, a loose one (counting what its files would inherit) is
//! repaired only when credbox made it, and a file that is not private is never read.
//!
//! std has no handle-relative opens on Windows, so files are opened by path, but the directory is
//! held open for as long as the `Cache` lives, without sharing deletion: while a handle inside a
//! directory is open, Windows renames or deletes neither it nor any directory above it, so the
//! path keeps naming the directory that was checked. Links are refused (a reparse point, symlink
//! or junction, in place of the directory or a file is not followed), files are only created new,
//! and entries are replaced by an atomic rename.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::os::windows::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use windows_sys::Win32::Foundation::ERROR_ALREADY_EXISTS;
use windows_sys::Win32::Security::SECURITY_ATTRIBUTES;
use windows_sys::Win32::Storage::FileSystem::{
    CreateDirectoryW, FILE_ATTRIBUTE_REPARSE_POINT, FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT,
};

use crate::platform::acl::{PrivateDescriptor, Scope, exposure_of_file};

/// What the cache directory is held with: listing it, reading and setting its ACL (its parent
/// is only read).
const GENERIC_READ: u32 = 0x8000_0000;
const WRITE_DAC: u32 = 0x0004_0000;
/// FILE_SHARE_READ | FILE_SHARE_WRITE: not FILE_SHARE_DELETE, so nobody renames it while held.
const SHARE_ALL_BUT_DELETE: u32 = 0x1 | 0x2;

/// How the user makes a directory private, for messages.
pub(super) const MAKE_PRIVATE_HINT: &str = "make it yours alone (icacls \"{dir}\" /inheritance:r /grant:r \"%USERNAME%\":(OI)(CI)F, then remove any other entry icacls lists)";

/// A directory: its checked path, and a handle that keeps the path naming it.
#[derive(Debug)]
pub(super) struct Dir {
    path: PathBuf,
    held: File,
}

use super::{Access, DirError};

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

/// Hold the directory at `path` (with `flags`: whether a link in its place is followed).
fn hold(path: &Path, access: u32, flags: u32) -> std::io::Result<File> {
    OpenOptions::new()
        .access_mode(access)
        .share_mode(SHARE_ALL_BUT_DELETE)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS | flags)
        .open(path)
}

impl Dir {
    /// Hold `path` (a link is followed: it is the parent the user named).
    pub fn open(path: &Path) -> std::io::Result<Dir> {
        Ok(Dir {
            path: path.to_path_buf(),
            held: hold(path, GENERIC_READ, 0)?,
        })
    }

    fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }

    /// Create `name` with the private ACL (inherited by what is created in it).
    pub fn make_private_dir(&self, name: &OsStr) -> std::io::Result<bool> {
        use std::os::windows::ffi::OsStrExt;
        let private = PrivateDescriptor::new()?;
        let attributes = SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: private.as_ptr(),
            bInheritHandle: 0,
        };
        let path: Vec<u16> = self.join(name).as_os_str().encode_wide().chain(Some(0)).collect();
        // SAFETY: a NUL-terminated path and a descriptor alive for the call.
        if unsafe { CreateDirectoryW(path.as_ptr(), &attributes) } != 0 {
            return Ok(true);
        }
        let error = std::io::Error::last_os_error();
        match error.raw_os_error() {
            Some(code) if code == ERROR_ALREADY_EXISTS as i32 => Ok(false),
            _ => Err(error),
        }
    }

    /// Hold the subdirectory `name`, refusing a link in its place.
    pub fn open_dir(&self, name: &OsStr) -> Result<Dir, DirError> {
        let path = self.join(name);
        let held =
            hold(&path, GENERIC_READ | WRITE_DAC, FILE_FLAG_OPEN_REPARSE_POINT).map_err(DirError::Io)?;
        let meta = held.metadata().map_err(DirError::Io)?;
        if !meta.is_dir() || meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
            return Err(DirError::Link);
        }
        Ok(Dir { path, held })
    }

    pub fn access(&self) -> std::io::Result<Access> {
        // What files made here would inherit counts too.
        let exposure = exposure_of_file(&self.held, Scope::WithInherited)?;
        Ok(Access {
            foreign_owner: exposure.foreign_owner,
            // Windows has no sticky directories: one others may write is loose.
            shared: false,
            loose: exposure.others_read || exposure.others_write,
        })
    }

    /// Give the directory the private ACL, for what is created in it from now on. The files
    /// already there are judged one by one afterwards (`remove_foreign`), by owner as well as
    /// ACL, whatever they inherit from this.
    pub fn make_private(&self) -> std::io::Result<()> {
        PrivateDescriptor::new()?.apply_to_file(&self.held)
    }

    pub fn names(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.path) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|entry| entry.file_name().to_str().map(String::from))
            .collect()
    }

    /// Whether `name` may stay in a directory that was open to others: a subdirectory (checked
    /// when opened) or a private file of ours.
    pub fn keeps(&self, name: &str) -> bool {
        std::fs::symlink_metadata(self.join(name)).is_ok_and(|m| {
            m.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT == 0
                && (m.is_dir() || self.open_read(name).is_ok_and(|file| private_file(&file)))
        })
    }

    pub fn remove(&self, name: &str) -> std::io::Result<()> {
        std::fs::remove_file(self.join(name))
    }

    pub fn open_read(&self, name: &str) -> std::io::Result<File> {
        open_no_reparse(&self.join(name), OpenOptions::new().read(true))
    }

    /// Open the lock file `name`, creating it private if it does not exist (an existing one is
    /// judged by the caller, never re-permissioned).
    pub fn open_lock(&self, name: &str) -> std::io::Result<File> {
        match self.create_new(name) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                open_no_reparse(&self.join(name), OpenOptions::new().read(true).write(true))
            }
            result => result,
        }
    }

    /// Create `name` with the private ACL from its first instant (whatever the directory's); it
    /// must not exist.
    pub fn create_new(&self, name: &str) -> std::io::Result<File> {
        PrivateDescriptor::new()?.create_new(&self.join(name))
    }

    /// Rename `from` over `to` (MoveFileEx with MOVEFILE_REPLACE_EXISTING: atomic on NTFS).
    pub fn rename(&self, from: &str, to: &str) -> std::io::Result<()> {
        std::fs::rename(self.join(from), self.join(to))
    }

    /// Windows cannot flush a directory; the rename is journaled by NTFS.
    pub fn sync(&self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A regular file (opened without following a reparse point) of ours that nobody else may use.
pub(super) fn private_file(file: &File) -> bool {
    file.metadata().is_ok_and(|m| m.is_file())
        && exposure_of_file(file, Scope::Object).is_ok_and(|e| e.private())
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
