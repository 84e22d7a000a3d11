//! The cross-process credential cache (SPEC §5).
//!
//! The host only stores bytes: what an entry holds, and whether it may still be served, is the
//! guest's decision (`restore` / `cache-entry`). Here: where entries live, who may read them
//! (directory 0700, files 0600), atomic replacement, and one exclusive lock per key so that
//! concurrent invocations run a helper once.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::spawn::{SpawnCommand, hex};

/// The cache directory: `$CREDBOX_CACHE_DIR`, else `$XDG_CACHE_HOME/credbox`, else
/// `~/.cache/credbox`.
pub fn default_dir() -> Option<PathBuf> {
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("CREDBOX_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("credbox")))
        .or_else(|| var("HOME").map(|h| h.join(".cache/credbox")))
}

/// The key of one cached credential source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheKey {
    /// `<profile hash>-<key hash>`: the prefix lets `cache clear --profile` find a profile's entries.
    stem: String,
}

impl CacheKey {
    /// SHA-256 over the profile name, the command exactly as it will run, and the settings that
    /// change what is returned, so that editing the command invalidates the entry.
    pub fn new(profile: &str, command: &SpawnCommand, account_id: Option<&str>) -> Self {
        let mut fields: Vec<&[u8]> = vec![b"credbox-cache-key-v1", profile.as_bytes()];
        match command {
            SpawnCommand::Argv(argv) => {
                fields.push(b"argv");
                fields.extend(argv.iter().map(|a| a.as_bytes()));
            }
            SpawnCommand::Shell(text) => fields.extend([&b"shell"[..], text.as_bytes()]),
            SpawnCommand::Plugin(path) => fields.extend([&b"plugin"[..], path.as_bytes()]),
        }
        fields.push(account_id.unwrap_or("").as_bytes());
        CacheKey {
            stem: format!("{}-{}", profile_prefix(profile), hash_fields(&fields)),
        }
    }
}

/// The key of a [`Served`] record: everything the guest saw when it decided (its own build, the
/// text of both profile files, the profile, the options that change its decision). Any change to
/// them, an edit to an unrelated profile included, makes a new key, and the guest decides again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeKey {
    stem: String,
}

impl ServeKey {
    /// The key for a decision of the guest build `guest` (its SHA-256) over these inputs.
    pub fn new(guest: &str, files: &[&str], profile: &str, min_ttl_seconds: u64, allow_shell: bool) -> Self {
        let min_ttl = min_ttl_seconds.to_le_bytes();
        let shell = [u8::from(allow_shell)];
        let mut fields: Vec<&[u8]> = vec![b"credbox-serve-key-v1", guest.as_bytes()];
        fields.extend(files.iter().map(|text| text.as_bytes()));
        fields.extend([profile.as_bytes(), &min_ttl[..], &shell[..]]);
        ServeKey {
            stem: format!("{}-served-{}", profile_prefix(profile), hash_fields(&fields)),
        }
    }
}

/// Credentials the guest returned and the instant it said they may be served until: the host may
/// hand them out without entering the guest until then (for the same [`ServeKey`]).
#[derive(Clone, Serialize, Deserialize)]
pub struct Served {
    /// Until when (seconds since the epoch) the guest said these may be served.
    pub serve_until: i64,
    /// The credentials' fields, as in [`crate::Credentials`].
    pub access_key_id: String,
    /// The secret access key (this record is written 0600 and never logged).
    pub secret_access_key: String,
    /// The session token, for temporary credentials.
    pub session_token: Option<String>,
    /// When the credentials expire (seconds since the epoch).
    pub expiration: Option<i64>,
    /// The account they belong to, when known.
    pub account_id: Option<String>,
}

/// SHA-256 (hex) over length-prefixed fields, so that no two different field lists hash the same
/// bytes (`["ab", "c"]` vs `["a", "bc"]`).
fn hash_fields(fields: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for field in fields {
        hasher.update((field.len() as u64).to_le_bytes());
        hasher.update(field);
    }
    hex(&hasher.finalize())
}

fn profile_prefix(profile: &str) -> String {
    hex(&Sha256::digest(profile.as_bytes())[..8])
}

/// A cache directory that is private to this user.
#[derive(Clone, Debug)]
pub struct Cache {
    dir: PathBuf,
}

/// An exclusive lock on one key, released when dropped (or when the process dies: the OS releases
/// `flock` locks, so a killed credbox never leaves a stale lock).
pub struct KeyLock {
    _file: File,
}

impl Cache {
    /// Open (creating it 0700 if needed) the cache at `dir`. Refuses a directory owned by another
    /// user, and tightens one of ours that others can read or write.
    pub fn open(dir: &Path) -> Result<Self, String> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create the cache directory {}: {e}", dir.display()))?;
        let meta = fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if meta.uid() != rustix::process::geteuid().as_raw() {
            return Err(format!(
                "the cache directory {} belongs to another user; not using it (set CREDBOX_CACHE_DIR)",
                dir.display()
            ));
        }
        if meta.mode() & 0o077 != 0 {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| format!("cannot make {} private: {e}", dir.display()))?;
        }
        Ok(Cache {
            dir: dir.to_path_buf(),
        })
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry_path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}.json", key.stem))
    }

    /// The stored entry, if any. Unreadable entries read as absent: the cache is never fatal.
    pub fn read(&self, key: &CacheKey) -> Option<Vec<u8>> {
        fs::read(self.entry_path(key)).ok()
    }

    /// Wait for the exclusive lock on `key`.
    pub fn lock(&self, key: &CacheKey) -> std::io::Result<KeyLock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(self.dir.join(format!("{}.lock", key.stem)))?;
        fs4::fs_std::FileExt::lock_exclusive(&file)?;
        Ok(KeyLock { _file: file })
    }

    /// Replace the entry atomically: a temporary file (0600) in the same directory, synced, then
    /// renamed over the old one. Readers see the old entry or the new one, never a mix.
    pub fn write(&self, key: &CacheKey, entry: &[u8]) -> std::io::Result<()> {
        self.write_file(&format!("{}.json", key.stem), entry)
    }

    /// Write `name` in the cache directory atomically, 0600 (also used for compiled plugins).
    pub(crate) fn write_file(&self, name: &str, contents: &[u8]) -> std::io::Result<()> {
        let mut temp = tempfile::Builder::new()
            .prefix(".entry-")
            .permissions(fs::Permissions::from_mode(0o600))
            .tempfile_in(&self.dir)?;
        temp.write_all(contents)?;
        temp.as_file().sync_all()?;
        temp.persist(self.dir.join(name)).map_err(|e| e.error)?;
        File::open(&self.dir)?.sync_all()
    }

    /// The served record for `key`, if there is a well-formed one.
    pub fn read_served(&self, key: &ServeKey) -> Option<Served> {
        serde_json::from_slice(&fs::read(self.dir.join(format!("{}.json", key.stem))).ok()?).ok()
    }

    /// Store a served record, atomically like an entry.
    pub fn write_served(&self, key: &ServeKey, served: &Served) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(served).map_err(std::io::Error::other)?;
        self.write_file(&format!("{}.json", key.stem), &bytes)
    }

    /// Remove the entry (for credentials that must not be stored).
    pub fn remove(&self, key: &CacheKey) {
        let _ = fs::remove_file(self.entry_path(key));
    }

    /// Remove every entry, or only `profile`'s. Returns how many entries were removed.
    pub fn clear(&self, profile: Option<&str>) -> std::io::Result<usize> {
        let prefix = profile.map(profile_prefix);
        let mut removed = 0;
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let ours = name.ends_with(".json") || name.ends_with(".lock") || name.starts_with(".entry-");
            let matches = prefix.as_ref().is_none_or(|p| name.starts_with(p.as_str()));
            if ours && matches {
                fs::remove_file(entry.path())?;
                removed += usize::from(name.ends_with(".json") && !name.contains("-served-"));
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_change_with_every_input() {
        let argv = |a: &[&str]| SpawnCommand::Argv(a.iter().map(|s| s.to_string()).collect());
        let base = CacheKey::new("dev", &argv(&["/h", "a"]), None);
        assert_eq!(base, CacheKey::new("dev", &argv(&["/h", "a"]), None));
        for other in [
            CacheKey::new("prod", &argv(&["/h", "a"]), None),
            CacheKey::new("dev", &argv(&["/h", "b"]), None),
            CacheKey::new("dev", &argv(&["/h a"]), None),
            CacheKey::new("dev", &SpawnCommand::Shell("/h a".into()), None),
            CacheKey::new("dev", &argv(&["/h", "a"]), Some("123")),
        ] {
            assert_ne!(base, other);
        }
        assert!(base.stem.starts_with(&profile_prefix("dev")));
    }

    #[test]
    fn entries_are_private_and_replaced_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(&dir.path().join("c")).unwrap();
        assert_eq!(fs::metadata(cache.dir()).unwrap().mode() & 0o777, 0o700);
        let key = CacheKey::new("p", &SpawnCommand::Shell("x".into()), None);
        cache.write(&key, b"one").unwrap();
        cache.write(&key, b"two").unwrap();
        assert_eq!(cache.read(&key).as_deref(), Some(&b"two"[..]));
        assert_eq!(
            fs::metadata(cache.entry_path(&key)).unwrap().mode() & 0o777,
            0o600
        );
        drop(cache.lock(&key).unwrap());
        assert_eq!(cache.clear(Some("other")).unwrap(), 0);
        assert_eq!(cache.clear(Some("p")).unwrap(), 1);
        assert_eq!(fs::read_dir(cache.dir()).unwrap().count(), 0);
    }

    #[test]
    fn a_loose_directory_is_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let loose = dir.path().join("loose");
        fs::create_dir(&loose).unwrap();
        fs::set_permissions(&loose, fs::Permissions::from_mode(0o777)).unwrap();
        Cache::open(&loose).unwrap();
        assert_eq!(fs::metadata(&loose).unwrap().mode() & 0o777, 0o700);
    }
}
