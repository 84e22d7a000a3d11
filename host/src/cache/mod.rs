//! The cross-process credential cache (BEHAVIOUR.md §5).
//!
//! The host only stores bytes: what an entry holds, and whether it may still be served, is the
//! guest's decision (`restore` / `cache-entry`). Here: where entries live, who may read them
//! (directory 0700, files 0600), atomic replacement, and one exclusive lock per key so that
//! concurrent invocations run a helper once.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::warn;

mod keys;
mod listing;
mod served;
mod tidy;
// The directory operations, relative to a directory held open where the system can (Unix).
#[cfg(unix)]
#[path = "unix.rs"]
mod system;
#[cfg(windows)]
#[path = "windows.rs"]
mod system;

use system::Dir;

/// Why a directory could not be opened.
enum DirError {
    /// It is a symlink (on Windows, any reparse point) or not a directory.
    Link,
    Io(std::io::Error),
}

/// Who else may use a directory.
struct Access {
    /// It belongs to another user.
    foreign_owner: bool,
    /// It is a shared directory (sticky; Windows has none).
    shared: bool,
    /// Other users may read or write it (on Windows, also what its files would inherit).
    loose: bool,
}

pub use keys::{CacheKey, ServeKey, secret_digest};
pub use listing::{Listed, ListedSource};
pub use served::{FileSeen, Served, Unchanged};

/// The cache directory: `$CREDBOX_CACHE_DIR`, else `$XDG_CACHE_HOME/credbox`, else
/// `~/.cache/credbox`; on Windows, `%CREDBOX_CACHE_DIR%`, else `%LOCALAPPDATA%\credbox`.
pub fn default_dir() -> Option<PathBuf> {
    std::env::var_os("CREDBOX_CACHE_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| crate::platform::user_cache_dir().map(|d| d.join("credbox")))
}

/// A cache directory that is private to this user, held open: on Unix every file in it is opened
/// relative to the descriptor that was checked, so renaming or replacing the path afterwards
/// changes nothing; on Windows the open handle keeps the path from being renamed or replaced
/// (`cache/windows.rs`).
#[derive(Clone, Debug)]
pub struct Cache {
    dir: PathBuf,
    fd: Arc<Dir>,
}

/// Why [`Cache::lock`] gave no lock.
#[derive(Debug)]
pub enum LockError {
    /// Another process held the lock (this file) for the whole wait.
    Held(PathBuf),
    /// The lock file could not be opened or locked.
    Io(std::io::Error),
}

impl From<std::io::Error> for LockError {
    fn from(error: std::io::Error) -> Self {
        LockError::Io(error)
    }
}

/// An exclusive lock on one key, released when dropped (or when the process dies: the OS releases
/// `flock` locks, so a killed credbox never leaves a stale lock).
pub struct KeyLock {
    _file: File,
}

/// The file that marks a directory credbox created (the cross-tool cache-directory tag, so that
/// backup tools skip it too). Only a directory holding our own, private tag is ever chmodded.
const TAG: &str = "CACHEDIR.TAG";
const TAG_TEXT: &[u8] =
    b"Signature: 8a477f597d28d172789f06886806bc55\n# A cache directory tag created by credbox.\n";
/// Prefix of the temporary files that atomic writes rename into place.
const TEMP_PREFIX: &str = ".entry-";
/// The largest cache entry or served record read (they are a few hundred bytes).
const MAX_ENTRY: u64 = 1 << 20;

impl Cache {
    /// Open (creating it 0700 if needed; on Windows, with an owner-only ACL) the cache at `dir`.
    /// What follows is said in Unix terms; `cache/windows.rs` says what stands for each there.
    ///
    /// The last component is created with `mkdirat` and opened with `O_NOFOLLOW` from a descriptor
    /// of its parent, so a symlink swapped in by someone who can write the parent is refused, not
    /// followed. Refuses a directory owned by another user and a sticky (shared) one. A directory
    /// others can read or write is tightened to 0700 only when it already holds our private
    /// [`TAG`] (credbox created it in an earlier run); then every file in it that is not ours and
    /// private is removed, since someone else may have planted it. Any other loose directory is
    /// refused: credbox never changes the mode of a directory it did not create.
    pub fn open(dir: &Path) -> Result<Self, String> {
        let shown = dir.display();
        let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
            return Err(format!(
                "{shown} cannot be a cache directory; set CREDBOX_CACHE_DIR to a directory of yours"
            ));
        };
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        system::create_parents(parent)
            .map_err(|e| format!("cannot create the cache directory {shown}: {e}"))?;
        let parent_dir = Dir::open(parent).map_err(|e| format!("cannot open {}: {e}", parent.display()))?;
        Cache::open_in(&parent_dir, name, dir)
    }

    /// The subdirectory `name` of this cache (created if needed), held to the same rules: opened
    /// from this directory's verified descriptor, so it is never reached through another user's
    /// directory or a symlink.
    pub(crate) fn subdir(&self, name: &str) -> Result<Cache, String> {
        Cache::open_in(&self.fd, name.as_ref(), &self.dir.join(name))
    }

    fn open_in(parent: &Dir, name: &std::ffi::OsStr, dir: &Path) -> Result<Self, String> {
        let shown = dir.display();
        let created = parent
            .make_private_dir(name)
            .map_err(|e| format!("cannot create the cache directory {shown}: {e}"))?;
        let fd = parent.open_dir(name).map_err(|e| match e {
            DirError::Link => format!(
                "the cache directory {shown} is a symlink or not a directory; not using it (set CREDBOX_CACHE_DIR to a directory of yours)"
            ),
            DirError::Io(e) => format!("cannot open the cache directory {shown}: {e}"),
        })?;
        let access = fd.access().map_err(|e| format!("{shown}: {e}"))?;
        if access.foreign_owner {
            return Err(format!(
                "the cache directory {shown} belongs to another user; not using it (set CREDBOX_CACHE_DIR to a directory of yours)"
            ));
        }
        if access.shared {
            return Err(format!(
                "the cache directory {shown} is a shared (sticky) directory; not using it (set CREDBOX_CACHE_DIR to a private directory of yours)"
            ));
        }
        let cache = Cache {
            dir: dir.to_path_buf(),
            fd: Arc::new(fd),
        };
        if created {
            // Best effort: without the tag, a later loosening is refused instead of repaired.
            let _ = cache.write_file(TAG, TAG_TEXT);
        }
        if access.loose {
            // Only a tag from an earlier run counts (a directory this call made is 0700 anyway).
            if created || cache.open_private(TAG).is_none() {
                return Err(format!(
                    "the cache directory {shown} can be read or written by other users, and credbox did not create it; \
                     {} if it is meant for credbox, or set CREDBOX_CACHE_DIR to a private directory",
                    system::MAKE_PRIVATE_HINT.replace("{dir}", &shown.to_string())
                ));
            }
            cache
                .fd
                .make_private()
                .map_err(|e| format!("cannot make {shown} private: {e}"))?;
            warn!("the cache directory {shown} was open to other users; made it private");
            cache.remove_foreign();
        }
        Ok(cache)
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Open `name` in the directory for reading, without following a symlink, and only if the
    /// opened file is a regular file of ours that nobody else can read or write. Anything else
    /// is ignored (and logged): it was not written by us.
    pub(crate) fn open_private(&self, name: &str) -> Option<File> {
        let file = match self.fd.open_read(name) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                warn!("ignoring {name} in {}: {e}", self.dir.display());
                return None;
            }
        };
        match system::private_file(&file) {
            true => Some(file),
            false => {
                warn!(
                    "ignoring {name} in {}: not a file private to this user",
                    self.dir.display()
                );
                None
            }
        }
    }

    fn read_name(&self, name: &str) -> Option<Vec<u8>> {
        self.read_private(name, MAX_ENTRY)
    }

    /// The contents of `name` if [`Cache::open_private`] admits it and it holds at most `max`
    /// bytes (a longer file reads as absent).
    pub(crate) fn read_private(&self, name: &str, max: u64) -> Option<Vec<u8>> {
        let mut bytes = Vec::new();
        self.open_private(name)?
            .take(max + 1)
            .read_to_end(&mut bytes)
            .ok()?;
        (bytes.len() as u64 <= max).then_some(bytes)
    }

    /// The stored entry, if any. Unreadable entries read as absent: the cache is never fatal.
    pub fn read(&self, key: &CacheKey) -> Option<Vec<u8>> {
        self.read_name(&format!("{}.json", key.stem))
    }

    /// Take the exclusive lock on `key`, waiting at most `wait` for whoever holds it. Whatever
    /// keeps a holder from finishing (a hung helper past its own bound, a file system that stopped
    /// answering, a bug), the others give up with [`LockError::Held`] instead of waiting forever.
    /// The wait polls (a few milliseconds at first, then every 25 ms): a blocking `flock` cannot
    /// be bounded without a signal or a thread left behind holding the lock.
    pub fn lock(&self, key: &CacheKey, wait: Duration) -> Result<KeyLock, LockError> {
        let name = format!("{}.lock", key.stem);
        let file = self.fd.open_lock(&name)?;
        if !system::private_file(&file) {
            return Err(LockError::Io(std::io::Error::other(format!(
                "{name} is not a file private to this user"
            ))));
        }
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(1);
        loop {
            if fs4::fs_std::FileExt::try_lock_exclusive(&file)? {
                return Ok(KeyLock { _file: file });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(LockError::Held(self.dir.join(name)));
            }
            std::thread::sleep(pause.min(left));
            pause = (pause * 2).min(Duration::from_millis(25));
        }
    }

    /// Replace the entry atomically: a temporary file (0600) in the same directory, synced, then
    /// renamed over the old one. Readers see the old entry or the new one, never a mix.
    pub fn write(&self, key: &CacheKey, entry: &[u8]) -> std::io::Result<()> {
        self.write_file(&format!("{}.json", key.stem), entry)
    }

    /// Write `name` in the cache directory atomically, 0600 (also used for compiled plugins).
    pub(crate) fn write_file(&self, name: &str, contents: &[u8]) -> std::io::Result<()> {
        self.remove_abandoned_temporaries();
        crate::atomic::replace_through_new(
            |attempt| {
                let temp = temp_name(attempt);
                self.fd.create_new(&temp).map(|file| (temp, file))
            },
            contents,
            |temp| self.fd.rename(temp, name),
            |temp| {
                let _ = self.fd.remove(temp);
            },
        )?;
        self.fd.sync()
    }

    /// The served record for `key`, if there is a well-formed one.
    pub fn read_served(&self, key: &ServeKey) -> Option<Served> {
        serde_json::from_slice(&self.read_name(&format!("{}.json", key.stem))?).ok()
    }

    /// Store a served record, atomically like an entry.
    pub fn write_served(&self, key: &ServeKey, served: &Served) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(served).map_err(std::io::Error::other)?;
        self.write_file(&format!("{}.json", key.stem), &bytes)
    }

    /// Remove the entry (for credentials that must not be stored).
    pub fn remove(&self, key: &CacheKey) {
        let _ = self.fd.remove(&format!("{}.json", key.stem));
    }
}
/// A unique temporary name for one atomic write (creation is `O_EXCL`, so a clash only retries).
fn temp_name(attempt: u32) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{TEMP_PREFIX}{}-{nanos}-{attempt}", std::process::id())
}

#[cfg(all(test, unix))]
mod tests;
