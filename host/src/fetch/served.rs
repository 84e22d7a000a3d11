//! The served record: the host's copy of what the guest decided for exactly these inputs, replayed
//! without loading the guest until the instant the guest chose (BEHAVIOUR.md §5).

use tracing::{debug, info, warn};

use super::{FetchOptions, Fetched, Origin};
use crate::cache::{self, Cache};
use crate::capabilities::CapabilityPolicy;
use crate::capabilities::spawn;
use crate::component;
use crate::text::format_time;
use crate::text::unix_now;

/// The host's record of what the guest decided for exactly these inputs (BEHAVIOUR.md §5 allows serving
/// a copy until the instant the guest chose): a hit skips loading the guest entirely.
pub(super) struct ServedRecord<'a> {
    place: Option<(&'a Cache, cache::ServeKey)>,
}

impl<'a> ServedRecord<'a> {
    /// The record for `label`'s decision over `sources` (profile-file paths, or a command line).
    pub(super) fn new(options: &'a FetchOptions, sources: &[&str], label: &str) -> Self {
        // With a substituted clock the guest's time is not the system's: always ask the guest.
        let place = options
            .cache
            .as_ref()
            .filter(|_| options.clock.is_none())
            .map(|cache| {
                let key = cache::ServeKey::new(
                    component::GUEST_SHA256,
                    sources,
                    label,
                    options.min_ttl.as_secs(),
                    options.policy.allow_shell,
                );
                (cache, key)
            });
        ServedRecord { place }
    }

    /// The recorded answer, if it may still be served and the current policy would still run the
    /// command that produced it (caching never widens what runs); else the guest decides again.
    pub(super) fn lookup(&self, policy: &CapabilityPolicy, label: &str) -> Option<Fetched> {
        let (cache, key) = self.place.as_ref()?;
        let mut served = cache.read_served(key)?;
        if unix_now() >= served.serve_until {
            return None;
        }
        let Some(refreshed) = served.files_unchanged() else {
            debug!(
                "a profile file changed since the credentials were last served; resolving the profile again"
            );
            return None;
        };
        let admitted = match &served.command {
            Some(command) => spawn::check_admitted(policy, command),
            None => Ok(()),
        };
        if let Err(refusal) = admitted.and_then(|()| spawn::check_recursion(label)) {
            debug!("not serving the recorded answer: {refusal:?}");
            return None;
        }
        if refreshed {
            debug!("the profile files were touched but say the same; recording their new stamps");
            if let Err(e) = cache.write_served(key, &served) {
                debug!("could not refresh the record's file stamps: {e}");
            }
        }
        info!(serve_until = %format_time(served.serve_until), "cache hit (profile files unchanged)");
        Some(Fetched {
            credentials: served.credentials,
            origin: Origin::Cache,
            serve_until: Some(served.serve_until),
            command: served.command,
            // Recorded because the guest let them go to disk.
            storable: true,
        })
    }

    /// Record the guest's decision, made from the profile files as `files` says they were (only
    /// worked out, hashing the files' text, when a record is written). Nothing is recorded for
    /// a plugin's credentials (the guest gives no instant: the plugin is asked before each reuse).
    pub(super) fn store(&self, fetched: &Fetched, files: impl FnOnce() -> Vec<cache::FileSeen>) {
        let (Some((cache, key)), Some(serve_until)) = (&self.place, fetched.serve_until) else {
            return;
        };
        if fetched.command.is_none() && fetched.origin != Origin::Role && fetched.origin != Origin::Cache {
            return;
        }
        // What the guest gave no cache entry for (long-term keys) is not recorded either.
        if !fetched.storable {
            return;
        }
        let record = cache::Served {
            serve_until,
            credentials: fetched.credentials.clone(),
            command: fetched.command.clone(),
            files: files(),
        };
        if let Err(e) = cache.write_served(key, &record) {
            warn!(
                "could not write the cache record in {}: {e}",
                cache.dir().display()
            );
        }
    }
}
