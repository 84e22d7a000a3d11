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
    super::open_regular(program)
}

/// The system credbox runs on.
pub(crate) const CURRENT: super::Platform = super::Platform::Unix;

/// Open for reading without blocking in the open (a FIFO with no writer) and without taking a
/// terminal as the controlling one.
pub(crate) fn open_read_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

/// Whether an open regular file is a file on a disk (on Unix, `is_file` already says so).
pub(crate) fn is_disk_file(_file: &std::fs::File) -> bool {
    true
}

/// Whether `path` names the null device.
pub(crate) fn is_null_device(path: &Path) -> bool {
    path == Path::new("/dev/null")
}

/// What a served record compares a profile file by: device, inode, size, status-change time (ns).
pub(crate) fn change_stamp(meta: &std::fs::Metadata) -> (u64, u64, u64, i128) {
    let ctime_ns = i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec());
    (meta.dev(), meta.ino(), meta.size(), ctime_ns)
}

/// Filesystems whose ctime is kept by the local kernel on every change (`statfs` magic numbers:
/// ext2/3/4, xfs, btrfs, tmpfs, f2fs, overlayfs, zfs). On others (NFS caches attributes; FUSE
/// reports what its server says) a file is always compared by its text.
#[cfg(target_os = "linux")]
const STAMPED_FILESYSTEMS: [i64; 7] = [
    0xEF53,
    0x5846_5342,
    0x9123_683E,
    0x0102_1994,
    0xF2F5_2010,
    0x794C_7630,
    0x2FC1_2FC1,
];

/// Whether the open file's ctime is kept by the local kernel on every change, so that an
/// unchanged stamp means unchanged text.
#[cfg(target_os = "linux")]
pub(crate) fn ctime_kept_locally(file: &std::fs::File) -> bool {
    // `f_type` is i64 here and narrower on other architectures; the magic numbers are Linux's.
    #[allow(clippy::unnecessary_cast)]
    rustix::fs::fstatfs(file).is_ok_and(|fs| STAMPED_FILESYSTEMS.contains(&(fs.f_type as i64)))
}

/// Elsewhere a file is always compared by its text.
#[cfg(not(target_os = "linux"))]
pub(crate) fn ctime_kept_locally(_file: &std::fs::File) -> bool {
    false
}

/// The alignment code run where the binary maps it needs: a page.
pub(crate) fn code_page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
}

/// Make the `len` bytes of code at `ptr` read+execute, or read-only (`mprotect`).
///
/// # Safety
/// `ptr..ptr+len` must be page-aligned code that the caller keeps mapped; nothing else may be
/// using those pages as data.
pub(crate) unsafe fn protect_code(ptr: *const u8, len: usize, executable: bool) -> std::io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    let flags = match executable {
        true => libc::PROT_READ | libc::PROT_EXEC,
        false => libc::PROT_READ,
    };
    // SAFETY: the caller's contract; the kernel rounds the length up to a page, within the image.
    match unsafe { libc::mprotect(ptr as *mut libc::c_void, len, flags) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// Block SIGTTOU for the calling thread, so that its writes to a terminal whose foreground is a
/// helper (credbox then being in the background, `tostop` set) never stop credbox.
pub(crate) fn never_stop_this_thread_for_background_writes() {
    // SAFETY: changes this thread's signal mask only.
    unsafe {
        let mut ttou: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut ttou);
        libc::sigaddset(&mut ttou, libc::SIGTTOU);
        libc::pthread_sigmask(libc::SIG_BLOCK, &ttou, std::ptr::null_mut());
    }
}

/// Whether `stderr` is captured by a program: a pipe (botocore) or a socket (Node's libuv), not a
/// file or a terminal.
pub(crate) fn is_captured(stderr: &std::io::Stderr) -> bool {
    rustix::fs::fstat(stderr).is_ok_and(|stat| {
        matches!(
            rustix::fs::FileType::from_raw_mode(stat.st_mode),
            rustix::fs::FileType::Fifo | rustix::fs::FileType::Socket
        )
    })
}

/// Where a user's caches go: `$XDG_CACHE_HOME`, else `~/.cache`.
pub(crate) fn user_cache_dir() -> Option<std::path::PathBuf> {
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
    };
    var("XDG_CACHE_HOME").or_else(|| var("HOME").map(|home| home.join(".cache")))
}

/// Whether a program name is a path rather than a name to look up on PATH.
pub(crate) fn is_program_path(program: &str) -> bool {
    program.contains('/')
}

/// Seconds since the Unix epoch. Linux's coarse clock (updated every few milliseconds) is enough
/// against a deadline in whole seconds, and costs a fraction of a precise read on the hot path.
#[cfg(target_os = "linux")]
pub(crate) fn coarse_unix_now() -> i64 {
    rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse).tv_sec
}

/// Seconds since the Unix epoch.
#[cfg(not(target_os = "linux"))]
pub(crate) fn coarse_unix_now() -> i64 {
    crate::text::unix_now()
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
