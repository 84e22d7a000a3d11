//! Owners and ACLs (the platform seam, `platform/mod.rs`; the Win32 calls are in `acl.rs`).

use std::io::Write;
use std::path::Path;

use super::acl::{self, PrivateDescriptor, Scope};
use super::{Access, Exposure};

/// How a message says that others may change a file.
pub(crate) const WRITABLE_BY_OTHERS: &str = "can be changed by other users (its ACL)";

/// Who may use what is at `path` (a link is followed).
pub(crate) fn exposure_of_path(path: &Path) -> std::io::Result<Exposure> {
    acl::exposure_of_path(path)
}

/// Who may use the open `file`.
pub(crate) fn exposure_of_file(file: &std::fs::File) -> std::io::Result<Exposure> {
    acl::exposure_of_file(file, Scope::Object)
}

/// The files a bare `program` name may be in `dir`: as named when it has an extension, then with
/// each of PATHEXT's (`.COM;.EXE;.BAT;.CMD` when unset), as cmd.exe looks.
pub(crate) fn program_candidates(dir: &Path, program: &str) -> Vec<std::path::PathBuf> {
    let pathext = std::env::var("PATHEXT")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| ".COM;.EXE;.BAT;.CMD".into());
    let mut found = Vec::new();
    if Path::new(program).extension().is_some() {
        found.push(dir.join(program));
    }
    found.extend(
        pathext
            .split(';')
            .filter(|ext| ext.starts_with('.'))
            .map(|ext| dir.join(format!("{program}{ext}"))),
    );
    found
}

/// A pinned program, opened shared for reading only, so that while credbox holds it (until the
/// helper has started) nobody can write, rename or delete the file.
pub(crate) fn open_pinned(program: &Path) -> std::io::Result<std::fs::File> {
    use std::os::windows::fs::OpenOptionsExt;
    const FILE_SHARE_READ: u32 = 1;
    std::fs::OpenOptions::new()
        .read(true)
        .share_mode(FILE_SHARE_READ)
        .open(program)
}

/// The system credbox runs on.
pub(crate) const CURRENT: super::Platform = super::Platform::Windows;

/// Open for reading (a Windows open never waits for a writer).
pub(crate) fn open_read_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

/// Whether an open file is a file on a disk: on Windows, `is_file` says only "not a directory",
/// so a pipe or a console would pass it.
pub(crate) fn is_disk_file(file: &std::fs::File) -> bool {
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::Storage::FileSystem::{FILE_TYPE_DISK, GetFileType};
    // SAFETY: GetFileType only reads the handle's type.
    unsafe { GetFileType(file.as_raw_handle() as _) == FILE_TYPE_DISK }
}

/// Whether `path` names the null device.
pub(crate) fn is_null_device(path: &Path) -> bool {
    let name = path.as_os_str().to_string_lossy().to_ascii_lowercase();
    matches!(name.as_str(), "nul" | r"\\.\nul")
}

/// Windows has no inode or status-change time in std: a stamp there is never given for a read
/// ([`ctime_kept_locally`] is false), only compared, and differs whenever the file was written.
pub(crate) fn change_stamp(meta: &std::fs::Metadata) -> (u64, u64, u64, i128) {
    use std::os::windows::fs::MetadataExt;
    (0, 0, meta.file_size(), i128::from(meta.last_write_time()) * 100)
}

/// A profile file is always compared by its text.
pub(crate) fn ctime_kept_locally(_file: &std::fs::File) -> bool {
    false
}

/// Windows never runs the guest where the binary maps it (no alignment satisfies this): the
/// artifact is copied, still precompiled, and its pages keep the protection the loader set.
pub(crate) fn code_page_size() -> usize {
    usize::MAX
}

/// Never called on Windows (see [`code_page_size`]).
///
/// # Safety
/// None needed: it touches nothing.
pub(crate) unsafe fn protect_code(_ptr: *const u8, _len: usize, _executable: bool) -> std::io::Result<()> {
    Err(std::io::Error::other(
        "the guest does not run in place on Windows",
    ))
}

/// Windows has no job-control stop for background writes.
pub(crate) fn never_stop_this_thread_for_background_writes() {}

/// Whether `stderr` is a pipe: captured by a program (Windows' sockets are not handed out as
/// stderr).
pub(crate) fn is_captured(stderr: &std::io::Stderr) -> bool {
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::Storage::FileSystem::{FILE_TYPE_PIPE, GetFileType};
    // SAFETY: GetFileType only reads the handle's type.
    unsafe { GetFileType(stderr.as_raw_handle() as _) == FILE_TYPE_PIPE }
}

/// Where a user's caches go: `%LOCALAPPDATA%`.
pub(crate) fn user_cache_dir() -> Option<std::path::PathBuf> {
    std::env::var_os("LOCALAPPDATA")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
}

/// Whether a program name is a path rather than a name to look up on PATH (either separator, or
/// a drive).
pub(crate) fn is_program_path(program: &str) -> bool {
    program.contains(['/', '\\', ':'])
}

/// Seconds since the Unix epoch.
pub(crate) fn coarse_unix_now() -> i64 {
    crate::text::unix_now()
}

/// A file someone may execute (Windows runs any file it is asked to; PATHEXT chooses which).
pub(crate) fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

/// The command that makes `path` private.
pub(crate) fn private_hint(path: &Path) -> String {
    format!(
        "in cmd.exe: icacls \"{}\" /inheritance:r /grant:r \"%USERNAME%\":F, then remove any other entry icacls lists",
        path.display()
    )
}

/// The command that keeps others from changing `path`.
pub(crate) fn unwritable_hint(path: &Path) -> String {
    format!("remove their write access: icacls \"{}\"", path.display())
}

/// Create `dir` and its missing parents; under the user's profile they inherit its ACL.
pub(crate) fn create_private_dirs(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Windows cannot flush a directory; NTFS journals the rename.
pub(crate) fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Replace `target` (in `dir`) with `contents` through a temporary file renamed over it. A new
/// file, a file that was private, and a file that now holds a secret ([`Access::OwnerOnly`]) are
/// private (an ACL for this user, SYSTEM and the Administrators only), through a temporary file
/// created private from its first instant; any other keeps what its directory gives.
pub(crate) fn write_keeping_access(
    dir: &Path,
    target: &Path,
    contents: &[u8],
    access: Access,
) -> std::io::Result<()> {
    let was = exposure_of_path(target);
    if access == Access::OwnerOnly && was.as_ref().is_ok_and(|e| !e.private()) {
        tracing::warn!(
            "{} was readable by others and now holds a secret: made it private",
            target.display()
        );
    }
    let private = match (was, access) {
        (Err(_), _) | (_, Access::OwnerOnly) => true,
        (Ok(exposure), Access::Keep) => exposure.private(),
    };
    if !private {
        let mut temp = tempfile::Builder::new().prefix(".credbox-").tempfile_in(dir)?;
        temp.write_all(contents)?;
        temp.as_file().sync_all()?;
        temp.persist(target).map_err(|e| e.error)?;
        return Ok(());
    }
    let descriptor = PrivateDescriptor::new()?;
    crate::atomic::replace_through_new(
        |attempt| {
            let temp = dir.join(format!(".credbox-{}-{attempt}", std::process::id()));
            descriptor.create_new(&temp).map(|file| (temp, file))
        },
        contents,
        |temp| std::fs::rename(temp, target),
        |temp| {
            let _ = std::fs::remove_file(temp);
        },
    )
}

/// Windows writes no core dump unless the user configured Windows Error Reporting to, and has no
/// per-process protection against a debugger of the same user (docs/SECURITY.md, "Platforms").
pub fn harden_process() {}
