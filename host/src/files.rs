//! Where the AWS profile files are, and reading them (BEHAVIOUR.md §1). The host owns the environment and
//! the filesystem; the guest only ever sees the files' text.

use std::path::Path;

use crate::bindings::wit_profiles::{File, Files};
use crate::error::{Error, ErrorKind};

pub use crate::platform::Platform;

/// The config and credentials file paths, and the profile selected by the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Locations {
    /// The config file's path.
    pub config: String,
    /// The shared credentials file's path.
    pub credentials: String,
    /// `AWS_PROFILE`, else `AWS_DEFAULT_PROFILE`, else `default`.
    pub profile: String,
}

/// Work out the locations from environment variables (looked up through `var`).
pub fn locate(var: impl Fn(&str) -> Option<String>, platform: Platform) -> Locations {
    let separator = if platform == Platform::Windows { "\\" } else { "/" };
    let home = home(&var);
    let var = |name: &str| var(name).filter(|v| !v.is_empty());
    let in_home = |rest: &str| match &home {
        Some(home) => format!("{}{separator}{rest}", home.trim_end_matches(separator)),
        None => rest.to_string(),
    };
    // `~/` at the start of an override means the home directory, as the SDKs read it.
    let expand = |path: String| match path.strip_prefix("~/").or_else(|| path.strip_prefix("~\\")) {
        Some(rest) if home.is_some() => in_home(rest),
        _ => path,
    };
    Locations {
        config: var("AWS_CONFIG_FILE")
            .map(expand)
            .unwrap_or_else(|| in_home(&format!(".aws{separator}config"))),
        credentials: var("AWS_SHARED_CREDENTIALS_FILE")
            .map(expand)
            .unwrap_or_else(|| in_home(&format!(".aws{separator}credentials"))),
        profile: var("AWS_PROFILE")
            .or_else(|| var("AWS_DEFAULT_PROFILE"))
            .unwrap_or_else(|| "default".into()),
    }
}

/// The home directory the SDKs use: `HOME`, else `USERPROFILE`, else `HOMEDRIVE` and `HOMEPATH`.
fn home(var: impl Fn(&str) -> Option<String>) -> Option<String> {
    let var = |name: &str| var(name).filter(|v| !v.is_empty());
    var("HOME")
        .or_else(|| var("USERPROFILE"))
        .or_else(|| Some(format!("{}{}", var("HOMEDRIVE")?, var("HOMEPATH")?)))
}

/// The home directory of this process's environment, as [`locate_from_env`] finds it.
pub fn home_from_env() -> Option<String> {
    home(|name| std::env::var(name).ok())
}

/// The locations for this process's environment.
pub fn locate_from_env() -> Locations {
    locate(|name| std::env::var(name).ok(), Platform::current())
}

/// The largest profile file credbox reads. A 100,000-profile config is about 23 MB; anything past
/// this is not a profile file (a log, a disk image) and would only feed the guest's budgets.
pub const MAX_PROFILE_FILE: u64 = 32 << 20;

/// What a profile file was when it was read: enough to see later, without reading it, that it has
/// not changed since. The kernel sets `ctime` on every change and no user can set it back, and a
/// replaced file has a new inode (see `cache::Served` for how a record uses it). Only given for
/// a file on a local filesystem that had settled before it was read ([`read_file_stamped`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    /// The status-change time, in nanoseconds since the epoch.
    pub ctime_ns: i128,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        let (dev, ino, size, ctime_ns) = crate::platform::change_stamp(meta);
        Stamp {
            dev,
            ino,
            size,
            ctime_ns,
        }
    }
}

/// The file at `path` as it is now (`None` when it does not exist or cannot be looked at).
pub fn stamp(path: &str) -> Option<Stamp> {
    std::fs::metadata(path).ok().map(|meta| Stamp::of(&meta))
}

/// Read one profile file; a missing file is an empty one.
pub fn read_file(path: &str) -> Result<File, Error> {
    read_file_stamped(path).map(|(file, _)| file)
}

/// How long before it is read a file must have last changed for its stamp to be given. Timestamps
/// come from a coarse clock (a tick of a few milliseconds on many kernels), so a change made in
/// the same tick as the last one, just after the read, could keep the ctime; a file that had not
/// changed for 2 s before the read cannot be changed again within that tick. (git's "racily
/// clean" files, the same problem.)
const SETTLED_NS: i128 = 2_000_000_000;

/// Read one profile file, with its [`Stamp`] taken from the open file before reading it, so a
/// change made while it is read changes the stamp: the stamp never vouches for text it did not
/// see. No stamp is given unless the file is on a local filesystem and had settled (its last
/// change [`SETTLED_NS`] before the read began): then any later change shows in its ctime.
pub fn read_file_stamped(path: &str) -> Result<(File, Option<Stamp>), Error> {
    let read_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    let mut stamp = None;
    let read = crate::platform::open_regular(Path::new(path)).and_then(|file| {
        let local = crate::platform::ctime_kept_locally(&file);
        let metadata = file.metadata()?;
        stamp = Some(Stamp::of(&metadata)).filter(|s| local && s.ctime_ns < read_ns - SETTLED_NS);
        // Sized from the file (at most the cap), so a large file is read in one go instead of
        // through a buffer doubling from 32 bytes.
        let mut bytes = Vec::with_capacity(metadata.len().min(MAX_PROFILE_FILE + 1) as usize + 1);
        std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_PROFILE_FILE + 1), &mut bytes)?;
        Ok(bytes)
    });
    if read
        .as_ref()
        .is_ok_and(|bytes| bytes.len() as u64 > MAX_PROFILE_FILE)
    {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "{path}: the file is larger than {} MiB, more than any profile file; check that AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE name profile files",
                MAX_PROFILE_FILE >> 20
            ),
        ));
    }
    let text = match read {
        Ok(bytes) => String::from_utf8(bytes).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!(
                    "{path}: the file is not valid UTF-8 (at byte {}); save it as UTF-8",
                    e.utf8_error().valid_up_to()
                ),
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "{path}: {e}, not a profile file; point AWS_CONFIG_FILE or AWS_SHARED_CREDENTIALS_FILE at a file (or /dev/null for none)"
                ),
            ));
        }
        Err(e) => {
            return Err(Error::new(
                ErrorKind::Config,
                format!("{path}: cannot read the file: {e}; check its permissions"),
            ));
        }
    };
    let file = File {
        path: path.to_string(),
        text,
    };
    Ok((file, stamp))
}

/// Read both files.
pub fn read_files(locations: &Locations) -> Result<Files, Error> {
    read_files_stamped(locations).map(|(files, _)| files)
}

/// Read both files, with their stamps (config, credentials).
pub fn read_files_stamped(locations: &Locations) -> Result<(Files, [Option<Stamp>; 2]), Error> {
    let (config, config_stamp) = read_file_stamped(&locations.config)?;
    let (credentials, credentials_stamp) = read_file_stamped(&locations.credentials)?;
    let files = Files {
        config,
        credentials,
        platform: Platform::current().into(),
    };
    Ok((files, [config_stamp, credentials_stamp]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_settled_file_gets_a_stamp() {
        // A file changed just now could change again within the same clock tick without its ctime
        // moving, so its stamp must not vouch for it: it is compared by its text instead.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, "[default]\n").unwrap();
        let path = path.to_str().unwrap();
        let (file, stamp) = read_file_stamped(path).unwrap();
        assert_eq!(file.text, "[default]\n");
        assert_eq!(stamp, None, "a file changed within the last 2 s");
        std::thread::sleep(std::time::Duration::from_millis(2100));
        let (_, stamp) = read_file_stamped(path).unwrap();
        assert_eq!(stamp, super::stamp(path), "a settled file on a local filesystem");
        let (_, stamp) = read_file_stamped(&dir.path().join("missing").display().to_string()).unwrap();
        assert_eq!(stamp, None);
    }
}
