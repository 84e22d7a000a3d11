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
