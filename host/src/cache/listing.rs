//! What `credbox cache list` shows of the cache: each credential entry's profile, what it came
//! from, its key (masked), when it was fetched and when it expires. Never a secret.
//!
//! The entries are the guest's (`guest/src/provider/` `CacheEntry`); only the fields below are
//! read here, for display, and an entry of another shape is left out. What an entry means stays
//! the guest's to decide: nothing here is ever served.

use serde::Deserialize;

use super::Cache;
use super::tidy::{OurName, our_name};

/// One cached entry, without its secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// The profile (or `run:PROGRAM`, `plugin:PATH` for credentials got without one).
    pub profile: String,
    /// What the credentials came from.
    pub source: ListedSource,
    /// The access key id, masked.
    pub access_key: String,
    /// When they were fetched (seconds since the epoch).
    pub fetched_at: i64,
    /// When they expire (seconds since the epoch).
    pub expiration: i64,
}

/// What cached credentials came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListedSource {
    /// A `credential_process` helper: its program (arguments left out: they may carry tokens).
    Process(String),
    /// A credential plugin at this path.
    Plugin(String),
    /// A role, assumed with the credentials of a source whose key id is shown masked.
    Role {
        /// `role_arn`.
        role_arn: String,
        /// The source's access key id, masked.
        source_key: String,
    },
}

impl Listed {
    /// The instant from which the credentials are fetched afresh, for `min_ttl_seconds`: the
    /// refresh window is min(min-ttl, lifetime / 2), as the guest decides it.
    pub fn refresh_at(&self, min_ttl_seconds: u64) -> i64 {
        let lifetime = (self.expiration - self.fetched_at).max(0);
        let min_ttl = i64::try_from(min_ttl_seconds).unwrap_or(i64::MAX);
        self.expiration - min_ttl.min(lifetime / 2)
    }
}

/// The fields of a guest cache entry that are shown (never the secret or the token).
#[derive(Deserialize)]
struct Entry {
    profile: String,
    #[serde(default)]
    command_line: String,
    plugin: Option<String>,
    role: Option<String>,
    fetched_at: i64,
    access_key_id: String,
    expiration: i64,
}

/// The parts of a role's key that are shown.
#[derive(Deserialize)]
struct RoleKey {
    role: String,
    source: String,
}

impl Cache {
    /// Every credential entry in the cache, by profile and then expiration.
    pub fn list(&self) -> Vec<Listed> {
        let mut listed: Vec<Listed> = self
            .fd
            .names()
            .into_iter()
            .filter(|name| our_name(name) == Some(OurName::Entry))
            .filter_map(|name| self.read_name(&name))
            .filter_map(|bytes| listed(&bytes))
            .collect();
        listed.sort_by(|a, b| (&a.profile, a.expiration).cmp(&(&b.profile, b.expiration)));
        listed
    }
}

fn listed(bytes: &[u8]) -> Option<Listed> {
    let entry: Entry = serde_json::from_slice(bytes).ok()?;
    let source = match (entry.role, entry.plugin) {
        (Some(role), _) => {
            let key: RoleKey = serde_json::from_str(&role).ok()?;
            ListedSource::Role {
                role_arn: key.role,
                source_key: crate::mask(&key.source),
            }
        }
        (None, Some(path)) => ListedSource::Plugin(path),
        (None, None) => ListedSource::Process(program_of(&entry.command_line)),
    };
    Some(Listed {
        profile: entry.profile,
        source,
        access_key: crate::mask(&entry.access_key_id),
        fetched_at: entry.fetched_at,
        expiration: entry.expiration,
    })
}

/// The program of a command line, for display: its first word, unquoted.
fn program_of(command_line: &str) -> String {
    let line = command_line.trim_start();
    let word = match line.chars().next() {
        Some(quote @ ('"' | '\'')) => line[1..].split(quote).next().unwrap_or(""),
        _ => line.split_whitespace().next().unwrap_or(""),
    };
    word.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_shown_without_its_secrets() {
        let entry = br#"{"credbox_cache":1,"profile":"dev","command_line":"'/opt/my tools/h' --token abc","fetched_at":100,"access_key_id":"ASIAEXAMPLE0001","secret_access_key":"SECRET","session_token":"TOKEN","expiration":3700,"account_id":null}"#;
        let shown = listed(entry).unwrap();
        assert_eq!(shown.source, ListedSource::Process("/opt/my tools/h".into()));
        assert_eq!(shown.access_key, "****************0001");
        assert_eq!(shown.refresh_at(900), 2800);
        assert_eq!(shown.refresh_at(3600), 1900, "at most half the lifetime");
        assert!(!format!("{shown:?}").contains("SECRET") && !format!("{shown:?}").contains("abc"));
    }
}
