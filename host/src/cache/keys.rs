//! The names of cache entries: a key per credential source, a key per served record. Both are
//! SHA-256 over length-prefixed fields, prefixed by a hash of the profile so that `cache clear
//! --profile` finds a profile's entries.

use sha2::{Digest, Sha256};

use crate::command::SpawnCommand;
use crate::text::hex;

/// The key of one cached credential source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheKey {
    /// `<profile hash>-<key hash>`: the prefix lets `cache clear --profile` find a profile's entries.
    pub(super) stem: String,
}

impl CacheKey {
    /// SHA-256 over the profile name, the command exactly as it will run, and the settings that
    /// change what is returned, so that editing the command invalidates the entry.
    pub fn new(profile: &str, command: &SpawnCommand, account_id: Option<&str>) -> Self {
        match command {
            SpawnCommand::Argv(argv) => {
                let words = argv.iter().map(|a| a.as_bytes());
                Self::from_fields(profile, std::iter::once(&b"argv"[..]).chain(words), account_id)
            }
            SpawnCommand::Shell(text) => {
                Self::from_fields(profile, [&b"shell"[..], text.as_bytes()], account_id)
            }
        }
    }

    /// The same for a credential plugin at `path`.
    pub fn for_plugin(profile: &str, path: &str, account_id: Option<&str>) -> Self {
        Self::from_fields(profile, [&b"plugin"[..], path.as_bytes()], account_id)
    }

    /// The key of a role's credentials: `guest_key` is what the guest says decides them (the
    /// source's access key id, the role, every parameter of the call, the endpoint).
    pub fn for_role(profile: &str, guest_key: &[u8]) -> Self {
        Self::from_fields(profile, [&b"role"[..], guest_key], None)
    }

    fn from_fields<'a>(
        profile: &'a str,
        helper: impl IntoIterator<Item = &'a [u8]>,
        account_id: Option<&'a str>,
    ) -> Self {
        let mut fields: Vec<&[u8]> = vec![b"credbox-cache-key-v1", profile.as_bytes()];
        fields.extend(helper);
        fields.push(account_id.unwrap_or("").as_bytes());
        CacheKey {
            stem: format!("{}-{}", profile_prefix(profile), hash_fields(&fields)),
        }
    }
}

/// The key of a [`super::Served`] record: what names the decision (the guest build, where the inputs
/// come from: both profile files' paths, or a command line; the profile; the options that change
/// the decision). The record itself holds what the files said ([`super::FileSeen`]), so any change to
/// them, an edit to an unrelated profile included, sends the next call back to the guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeKey {
    pub(super) stem: String,
}

impl ServeKey {
    /// The key for a decision of the guest build `guest` (its SHA-256) over these inputs.
    pub fn new(guest: &str, inputs: &[&str], profile: &str, min_ttl_seconds: u64, allow_shell: bool) -> Self {
        let min_ttl = min_ttl_seconds.to_le_bytes();
        let shell = [u8::from(allow_shell)];
        let mut fields: Vec<&[u8]> = vec![b"credbox-serve-key-v3", guest.as_bytes()];
        fields.extend(inputs.iter().map(|input| input.as_bytes()));
        fields.extend([profile.as_bytes(), &min_ttl[..], &shell[..]]);
        ServeKey {
            stem: format!("{}-served-{}", profile_prefix(profile), hash_fields(&fields)),
        }
    }
}

/// A digest of secret values (each present or absent), for keys that must change with a secret
/// without holding it: SHA-256 over length-prefixed fields, under a label of its own.
pub fn secret_digest(secrets: &[Option<&str>]) -> String {
    let present: Vec<[u8; 1]> = secrets.iter().map(|s| [u8::from(s.is_some())]).collect();
    let mut fields: Vec<&[u8]> = vec![b"credbox-secret-digest-v1"];
    for (secret, present) in secrets.iter().zip(&present) {
        fields.extend([&present[..], secret.unwrap_or("").as_bytes()]);
    }
    hash_fields(&fields)
}

/// SHA-256 (hex) over length-prefixed fields, so that no two different field lists hash the same
/// bytes (`["ab", "c"]` vs `["a", "bc"]`).
pub(super) fn hash_fields(fields: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for field in fields {
        hasher.update((field.len() as u64).to_le_bytes());
        hasher.update(field);
    }
    hex(&hasher.finalize())
}

pub(super) fn profile_prefix(profile: &str) -> String {
    hex(&Sha256::digest(profile.as_bytes())[..8])
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
}
