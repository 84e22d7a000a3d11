//! The platform seam: what "yours", "private", "others could change it" and "executable" mean on
//! this system, one API over `unix.rs` (owners, modes) and `windows.rs` (owners, ACLs: `acl.rs`).
//! Every check of a file's owner and access goes through here: the audit's, the allow-list's pins,
//! the endpoint's token file, `configure`'s writes. (The cache keeps its own descriptor-relative
//! file operations in `cache/unix.rs` and `cache/windows.rs`, over the same notions.)

use std::path::Path;

#[cfg(windows)]
pub(crate) mod acl;
#[cfg(unix)]
#[path = "unix.rs"]
mod system;
#[cfg(windows)]
#[path = "windows.rs"]
mod system;

pub use system::harden_process;
pub(crate) use system::{
    WRITABLE_BY_OTHERS, create_private_dirs, exposure_of_file, exposure_of_path, is_executable, open_pinned,
    private_hint, program_candidates, sync_dir, unwritable_hint, write_keeping_access,
};
pub(crate) use system::{
    change_stamp, coarse_unix_now, code_page_size, ctime_kept_locally, is_captured, is_program_path,
    never_stop_this_thread_for_background_writes, protect_code, user_cache_dir,
};

/// Which path conventions to follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    /// `~/.aws/...` under `HOME`.
    Unix,
    /// `%USERPROFILE%\\.aws\\...` (for the fixture cases that model Windows).
    Windows,
}

impl Platform {
    /// The system credbox runs on: its rules apply to paths and to `credential_process` values.
    pub const fn current() -> Platform {
        system::CURRENT
    }
}

impl From<Platform> for crate::bindings::wit::Platform {
    fn from(platform: Platform) -> Self {
        match platform {
            Platform::Unix => Self::Unix,
            Platform::Windows => Self::Windows,
        }
    }
}

/// Open `path` for reading, only if it is a regular file, and without ever blocking in the open: a
/// FIFO with no writer, a terminal or a device is refused at once instead of hanging credbox (and,
/// under a cache lock, every other credbox waiting for it). Every file credbox reads on the way to
/// credentials (profile files, CA bundles, pinned programs, plugins) is opened here. The null
/// device is let through: people point `AWS_SHARED_CREDENTIALS_FILE` at it to turn a file off, and
/// it reads as empty.
pub fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    if system::is_null_device(path) {
        return std::fs::File::open(path);
    }
    let not_regular = |metadata: &std::fs::Metadata| {
        let what = if metadata.is_dir() {
            "a directory"
        } else {
            "not a regular file (a FIFO, socket or device)"
        };
        std::io::Error::new(std::io::ErrorKind::InvalidInput, what)
    };
    // Looked at before it is opened: opening a device can act (a serial line, a tape).
    let before = std::fs::metadata(path)?;
    if !before.is_file() {
        return Err(not_regular(&before));
    }
    // Swapped for a FIFO in between, it still cannot block the open, and is refused below.
    let file = system::open_read_nonblocking(path)?;
    let after = file.metadata()?;
    if !after.is_file() || !system::is_disk_file(&file) {
        return Err(not_regular(&after));
    }
    Ok(file)
}

/// Who, besides this user and those who can take any file anyway (root; on Windows SYSTEM, the
/// Administrators, TrustedInstaller), may use a file or directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exposure {
    /// Its owner is someone else.
    pub foreign_owner: bool,
    /// Someone else may read it.
    pub others_read: bool,
    /// Someone else may change it (or, on Windows, its ACL). A sticky directory (`/tmp`) does
    /// not count: others may not replace what is in it.
    pub others_write: bool,
}

impl Exposure {
    /// Ours, and nobody else's.
    pub fn private(&self) -> bool {
        !self.foreign_owner && !self.others_read && !self.others_write
    }

    /// Why someone else could change what is at `path` (`what` names it), or none.
    pub fn changeable_by_others(&self, what: &str, path: &Path) -> Option<String> {
        if self.foreign_owner {
            return Some(format!("{what} {} is owned by another user", path.display()));
        }
        self.others_write.then(|| {
            format!(
                "{what} {} {WRITABLE_BY_OTHERS}; {}",
                path.display(),
                unwritable_hint(path)
            )
        })
    }
}

/// Who may replace a file that is rewritten.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Keep the file's access (private for a new file).
    Keep,
    /// Narrow it to the owner: the file now holds a secret.
    OwnerOnly,
}
