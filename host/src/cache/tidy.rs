//! Which files in the cache directory are credbox's, and tidying: what another user planted,
//! the temporaries of killed writers, `credbox cache clear`.

use tracing::warn;

use super::keys::profile_prefix;
use super::{Cache, TEMP_PREFIX, system};

impl Cache {
    /// After tightening: remove what another user could have planted or changed (anything not a
    /// regular file of ours that only we can read and write). Subdirectories are left to their
    /// own check when opened.
    pub(super) fn remove_foreign(&self) {
        for name in self.fd.names() {
            if self.fd.keeps(&name) {
                continue;
            }
            match self.fd.remove(&name) {
                Ok(()) => warn!(
                    "removed {name} from {}: it was not private to this user",
                    self.dir.display()
                ),
                Err(e) => warn!("could not remove {name} from {}: {e}", self.dir.display()),
            }
        }
    }

    /// Remove every entry, or only `profile`'s. Only names credbox's own scheme produces are
    /// touched, so a cache directory pointed at a folder of other files loses none of them.
    /// Returns how many credential entries were removed.
    pub fn clear(&self, profile: Option<&str>) -> std::io::Result<usize> {
        let prefix = profile.map(profile_prefix);
        let mut removed = 0;
        for name in self.fd.names() {
            let Some(kind) = our_name(&name) else {
                continue;
            };
            if prefix.as_ref().is_some_and(|p| !name.starts_with(p.as_str())) {
                continue;
            }
            match self.fd.remove(&name) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            removed += usize::from(kind == OurName::Entry);
        }
        Ok(removed)
    }

    /// Remove the temporary files of writers that were killed between creating them and renaming
    /// them into place (their names carry the writer's pid, and that process no longer exists).
    /// Done on the write path only, which already runs a helper or compiles a plugin.
    pub(super) fn remove_abandoned_temporaries(&self) {
        for name in self.fd.names() {
            let Some(pid) = name
                .strip_prefix(TEMP_PREFIX)
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if system::process_gone(pid) {
                let _ = self.fd.remove(&name);
            }
        }
    }
}

/// What one of credbox's own file names is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OurName {
    /// `<16 hex>-<64 hex>.json`: a cache entry.
    Entry,
    /// `<16 hex>-<64 hex>.lock` or `<16 hex>-served-<64 hex>.json`, or an interrupted write.
    Other,
}

/// Whether `name` is one credbox's naming scheme produces, and which kind.
pub(super) fn our_name(name: &str) -> Option<OurName> {
    let is_hex =
        |s: &str, len: usize| s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if let Some(rest) = name.strip_prefix(TEMP_PREFIX) {
        let plain = !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        return plain.then_some(OurName::Other);
    }
    let (stem, extension) = name.rsplit_once('.')?;
    let (profile, key) = stem.split_once('-')?;
    if !is_hex(profile, 16) {
        return None;
    }
    match (key.strip_prefix("served-"), extension) {
        (Some(hash), "json") if is_hex(hash, 64) => Some(OurName::Other),
        (None, "json") if is_hex(key, 64) => Some(OurName::Entry),
        (None, "lock") if is_hex(key, 64) => Some(OurName::Other),
        _ => None,
    }
}
