//! The cache's directory operations on Unix: every file is opened relative to the descriptor of
//! the directory that was checked, without following symlinks, and created 0600.

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};

/// How the user makes a directory private, for messages.
pub(super) const MAKE_PRIVATE_HINT: &str = "run `chmod 700 {dir}`";

/// A directory held open.
#[derive(Debug)]
pub(super) struct Dir(OwnedFd);

use super::{Access, DirError};

/// Create the missing directories above the cache, 0700.
pub(super) fn create_parents(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

impl Dir {
    pub fn open(path: &Path) -> std::io::Result<Dir> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        Ok(Dir(rfs::open(path, flags, Mode::empty())?))
    }

    /// Create `name` 0700; whether it was created (false: it existed).
    pub fn make_private_dir(&self, name: &OsStr) -> std::io::Result<bool> {
        match rfs::mkdirat(&self.0, name, Mode::from_raw_mode(0o700)) {
            Ok(()) => Ok(true),
            Err(rustix::io::Errno::EXIST) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Open the subdirectory `name`, refusing a symlink.
    pub fn open_dir(&self, name: &OsStr) -> Result<Dir, DirError> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rfs::openat(&self.0, name, flags, Mode::empty()) {
            Ok(fd) => Ok(Dir(fd)),
            Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => Err(DirError::Link),
            Err(e) => Err(DirError::Io(e.into())),
        }
    }

    pub fn access(&self) -> std::io::Result<Access> {
        let stat = rfs::fstat(&self.0)?;
        Ok(Access {
            foreign_owner: stat.st_uid != euid(),
            shared: stat.st_mode & 0o1000 != 0,
            loose: stat.st_mode & 0o077 != 0,
        })
    }

    /// chmod 0700.
    pub fn make_private(&self) -> std::io::Result<()> {
        Ok(rfs::fchmod(&self.0, Mode::from_raw_mode(0o700))?)
    }

    /// The names in the directory (`.` and `..` left out).
    pub fn names(&self) -> Vec<String> {
        let Ok(dir) = rfs::Dir::read_from(&self.0) else {
            return Vec::new();
        };
        dir.filter_map(Result::ok)
            .filter_map(|entry| entry.file_name().to_str().ok().map(String::from))
            .filter(|name| name != "." && name != "..")
            .collect()
    }

    /// Whether `name` may stay in a directory that was open to others: a subdirectory (checked
    /// when opened) or a private file of ours.
    pub fn keeps(&self, name: &str) -> bool {
        rfs::statat(&self.0, name, AtFlags::SYMLINK_NOFOLLOW)
            .is_ok_and(|stat| FileType::from_raw_mode(stat.st_mode) == FileType::Directory || private(&stat))
    }

    pub fn remove(&self, name: &str) -> std::io::Result<()> {
        Ok(rfs::unlinkat(&self.0, name, AtFlags::empty())?)
    }

    /// Open `name` for reading without following a symlink (nor blocking on a FIFO).
    pub fn open_read(&self, name: &str) -> std::io::Result<File> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        Ok(File::from(rfs::openat(&self.0, name, flags, Mode::empty())?))
    }

    /// Open (creating it 0600) the lock file `name`.
    pub fn open_lock(&self, name: &str) -> std::io::Result<File> {
        self.create_private(name, OFlags::RDWR | OFlags::CREATE | OFlags::NONBLOCK)
    }

    /// Create `name` 0600; it must not exist.
    pub fn create_new(&self, name: &str) -> std::io::Result<File> {
        self.create_private(name, OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL)
    }

    /// `name` opened with `flags`, never through a symlink, created 0600.
    fn create_private(&self, name: &str, flags: OFlags) -> std::io::Result<File> {
        let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        Ok(File::from(rfs::openat(
            &self.0,
            name,
            flags,
            Mode::from_raw_mode(0o600),
        )?))
    }

    /// Rename `from` over `to`, atomically.
    pub fn rename(&self, from: &str, to: &str) -> std::io::Result<()> {
        Ok(rfs::renameat(&self.0, from, &self.0, to)?)
    }

    /// Make the directory's entries durable (after a rename).
    pub fn sync(&self) -> std::io::Result<()> {
        Ok(rfs::fsync(&self.0)?)
    }
}

/// A regular file of ours that nobody else can read or write.
pub(super) fn private_file(file: &File) -> bool {
    rfs::fstat(file).is_ok_and(|stat| private(&stat))
}

fn private(stat: &rfs::Stat) -> bool {
    FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile
        && stat.st_uid == euid()
        && stat.st_mode & 0o077 == 0
}

/// Whether process `pid` no longer exists.
pub(super) fn process_gone(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return true;
    };
    // SAFETY: kill with signal 0 only checks whether the process exists.
    let failed = unsafe { libc::kill(pid, 0) } == -1;
    failed && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}
