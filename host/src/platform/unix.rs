//! Owners and modes (the platform seam, `platform/mod.rs`).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

use super::{Access, Exposure};

/// How a message says that others may change a file.
pub(crate) const WRITABLE_BY_OTHERS: &str = "is writable by group or others";

fn exposure(meta: &std::fs::Metadata) -> Exposure {
    let me = rustix::process::geteuid().as_raw();
    let sticky_dir = meta.is_dir() && meta.mode() & 0o1000 != 0;
    Exposure {
        foreign_owner: meta.uid() != me && meta.uid() != 0,
        others_read: meta.mode() & 0o044 != 0,
        others_write: meta.mode() & 0o022 != 0 && !sticky_dir,
    }
}

/// Who may use what is at `path` (a link is followed).
pub(crate) fn exposure_of_path(path: &Path) -> std::io::Result<Exposure> {
    std::fs::metadata(path).map(|meta| exposure(&meta))
}

/// Who may use the open `file`.
pub(crate) fn exposure_of_file(file: &std::fs::File) -> std::io::Result<Exposure> {
    file.metadata().map(|meta| exposure(&meta))
}

/// The files a bare `program` name may be in `dir`.
pub(crate) fn program_candidates(dir: &Path, program: &str) -> Vec<std::path::PathBuf> {
    vec![dir.join(program)]
}

/// A pinned program, opened to be hashed and then run from the same descriptor: a regular file
/// only, opened without blocking (a FIFO in its place never hangs credbox).
pub(crate) fn open_pinned(program: &Path) -> std::io::Result<std::fs::File> {
    crate::files::open_regular(program)
}

/// A file someone may execute.
pub(crate) fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The command that makes `path` private.
pub(crate) fn private_hint(path: &Path) -> String {
    format!("run chmod 600 {}", path.display())
}

/// The command that keeps others from changing `path`.
pub(crate) fn unwritable_hint(path: &Path) -> String {
    format!("run chmod go-w {}", path.display())
}

/// Create `dir` and its missing parents, private (0700).
pub(crate) fn create_private_dirs(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Make a rename in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Replace `target` (in `dir`) with `contents` through a temporary file renamed over it, with
/// the mode `target` has (0600 for a new file), narrowed to the owner for [`Access::OwnerOnly`].
pub(crate) fn write_keeping_access(
    dir: &Path,
    target: &Path,
    contents: &[u8],
    access: Access,
) -> std::io::Result<()> {
    let mut temp = tempfile::Builder::new().prefix(".credbox-").tempfile_in(dir)?;
    let mut mode = std::fs::metadata(target).map_or(0o600, |m| m.permissions().mode() & 0o7777);
    if access == Access::OwnerOnly && mode & 0o077 != 0 {
        tracing::warn!(
            "{} was readable by others and now holds a secret: made it {:o}",
            target.display(),
            mode & 0o700
        );
        mode &= 0o700;
    }
    // Set after creation: a mode given at creation would be narrowed by the umask.
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    temp.write_all(contents)?;
    temp.as_file().sync_all()?;
    temp.persist(target).map_err(|e| e.error)?;
    Ok(())
}

/// Before anything holds a secret: no core dump and no ptrace attach by other processes of the
/// user (PR_SET_DUMPABLE 0, which execve resets, so commands credbox runs are unaffected).
#[cfg(target_os = "linux")]
pub fn harden_process() {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } == -1 {
        warn_unhardened(std::io::Error::last_os_error());
    }
}

/// Before anything holds a secret: no core dump (macOS already refuses other processes' debugger
/// attach without an entitlement). The limit is inherited by the commands credbox runs, as a
/// shell's `ulimit -c 0` would be.
#[cfg(not(target_os = "linux"))]
pub fn harden_process() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let none = Rlimit {
        current: Some(0),
        maximum: getrlimit(Resource::Core).maximum,
    };
    if let Err(e) = setrlimit(Resource::Core, none) {
        warn_unhardened(e.into());
    }
}

fn warn_unhardened(e: std::io::Error) {
    eprintln!("credbox: warning: could not disable core dumps: {e}");
}
