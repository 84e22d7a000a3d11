//! What a provider keeps: the credentials it fetched and when, and the cache entry that carries
//! them to the next credbox, bound to what decides them.

use serde::{Deserialize, Serialize};

use super::assume::source_digest;
use super::{Host, Provider};
use crate::wit::Helper;
use crate::{Credentials, Error};

/// Credentials and when they were fetched (the start of their lifetime as credbox saw it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Fetched {
    pub(super) credentials: Credentials,
    pub(super) fetched_at: i64,
    /// A plugin's `is-expired` was just asked about them (by `restore`): the next reuse need not
    /// ask again.
    pub(super) vetted: bool,
}

impl Fetched {
    /// The instant from which these credentials must no longer be served: expiration minus the
    /// refresh window, the window being min(min-ttl, lifetime / 2). `i64::MAX` if long-term.
    pub(super) fn serve_until(&self, min_ttl_seconds: u64) -> i64 {
        let Some(expiration) = self.credentials.expiration else {
            return i64::MAX;
        };
        let lifetime = expiration.saturating_sub(self.fetched_at).max(0);
        let min_ttl = i64::try_from(min_ttl_seconds).unwrap_or(i64::MAX);
        expiration - min_ttl.min(lifetime / 2)
    }
}

/// A cache entry as stored on disk. Versioned and bound to the profile and command line, so that
/// an entry can never be served for another command even if a host mixes files up.
#[derive(Serialize, Deserialize)]
struct CacheEntry {
    credbox_cache: u32,
    profile: String,
    command_line: String,
    /// The plugin's path for `credential_plugin` profiles (absent in entries for processes, whose
    /// `command_line` is then empty: the on-disk format of credbox 0.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plugin: Option<String>,
    /// For a role: its cache key (what decides the credentials; no secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<String>,
    fetched_at: i64,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    expiration: i64,
    account_id: Option<String>,
}

pub(super) const CACHE_FORMAT: u32 = 1;

impl Provider {
    /// What decides this provider's credentials, as text: for a role, the source credentials (their
    /// access key id, and a digest of the whole key, secret and token: two sources that share a key
    /// id but not a secret are different sources) and every parameter of the call; for a helper,
    /// its command line or plugin path.
    pub fn cache_key(&self) -> Vec<u8> {
        let Some(job) = &self.role else {
            let (command_line, plugin) = self.entry_helper();
            return serde_json::to_vec(&(
                &self.settings.profile,
                command_line,
                plugin,
                &self.settings.account_id,
            ))
            .unwrap_or_default();
        };
        let r = &job.settings;
        serde_json::to_vec(&serde_json::json!({
            "role": r.role_arn,
            "profile": r.profile,
            "source": job.source.access_key_id,
            "source_digest": source_digest(&job.source),
            "session": r.session_name,
            "external_id": r.external_id,
            "duration": r.duration_seconds,
            "mfa_serial": r.mfa_serial,
            "source_identity": r.source_identity,
            "endpoint": r.endpoint.url,
            "region": r.endpoint.region,
            "ca_bundle": r.endpoint.ca_bundle,
        }))
        .unwrap_or_default()
    }

    /// A role's cache key as its cache entry records it.
    pub(super) fn role_key(&self) -> Option<String> {
        self.role
            .as_ref()
            .map(|_| String::from_utf8_lossy(&self.cache_key()).into_owned())
    }

    /// The command line and plugin path as the cache entry records them.
    pub(super) fn entry_helper(&self) -> (&str, Option<&str>) {
        match &self.settings.helper {
            Helper::CommandLine(command_line) => (command_line, None),
            Helper::Plugin(path) => ("", Some(path)),
        }
    }

    /// Adopt a stored entry if it is ours, well-formed, still outside the refresh window and (for
    /// a plugin) not expired in the plugin's own judgement.
    pub fn restore(&self, entry: &[u8], host: &impl Host) -> Result<bool, Error> {
        let Ok(entry) = serde_json::from_slice::<CacheEntry>(entry) else {
            return Ok(false);
        };
        let (command_line, plugin) = self.entry_helper();
        if entry.credbox_cache != CACHE_FORMAT
            || entry.profile != self.settings.profile
            || entry.command_line != command_line
            || entry.plugin.as_deref() != plugin
            || entry.role != self.role_key()
            || entry.access_key_id.is_empty()
            || entry.secret_access_key.is_empty()
        {
            return Ok(false);
        }
        let fetched = Fetched {
            credentials: Credentials {
                access_key_id: entry.access_key_id,
                secret_access_key: entry.secret_access_key,
                session_token: entry.session_token,
                expiration: Some(entry.expiration),
                account_id: entry.account_id,
            },
            fetched_at: entry.fetched_at,
            vetted: plugin.is_some(),
        };
        if host.now() >= fetched.serve_until(self.options.min_ttl_seconds) {
            return Ok(false);
        }
        if let Some(path) = plugin
            && host.plugin_is_expired(path, &fetched.credentials)?
        {
            return Ok(false);
        }
        *self.current.borrow_mut() = Some(fetched);
        Ok(true)
    }

    /// The entry to store for the current credentials; `None` for long-term ones, which never go
    /// to disk.
    pub fn cache_entry(&self) -> Option<Vec<u8>> {
        let current = self.current.borrow();
        let Fetched {
            credentials,
            fetched_at,
            ..
        } = current.as_ref()?;
        let (command_line, plugin) = self.entry_helper();
        let entry = CacheEntry {
            credbox_cache: CACHE_FORMAT,
            profile: self.settings.profile.clone(),
            command_line: command_line.to_string(),
            plugin: plugin.map(String::from),
            role: self.role_key(),
            fetched_at: *fetched_at,
            access_key_id: credentials.access_key_id.clone(),
            secret_access_key: credentials.secret_access_key.clone(),
            session_token: credentials.session_token.clone(),
            expiration: credentials.expiration?,
            account_id: credentials.account_id.clone(),
        };
        serde_json::to_vec(&entry).ok()
    }
}
