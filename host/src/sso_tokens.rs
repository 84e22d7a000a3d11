//! The AWS CLI's IAM Identity Center sign-ins (`~/.aws/sso/cache/`), read as botocore 1.44 reads
//! them (utils.py `SSOTokenLoader`, tokens.py `SSOTokenProvider`): the file of an
//! `[sso-session NAME]` is named by the SHA-1 hex of NAME, a legacy profile's by the SHA-1 hex of
//! its exact `sso_start_url`. Only a sign-in's state is told here (`list --all`), without calling
//! anything: the file is read into a buffer that is dropped at once, and the token fields are
//! skipped, never made into strings, kept or shown.
//!
//! botocore writes these files with no owner or mode check; credbox refuses a token file that
//! another user owns or can write, one in a directory they could change (they could swap whose
//! sign-in is used, or delete it), and a symbolic link (botocore writes plain files there).

use std::io::Read;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Deserialize;
use serde::de::IgnoredAny;
use sha1::{Digest, Sha1};

use crate::platform;

/// The largest token file read: a real one is under 4 KiB.
const MAX_TOKEN_FILE: u64 = 64 * 1024;

/// Where a sign-in stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignIn {
    /// No token file, or one without an access token and its expiry.
    None,
    /// An access token that is still valid.
    Valid {
        /// When it expires.
        until: Timestamp,
        /// Whether it can be refreshed without a new sign-in.
        refreshable: bool,
    },
    /// An access token that expired.
    Expired {
        /// When it did.
        at: Timestamp,
        /// Whether botocore (and later credbox) can still refresh it without a new sign-in.
        refreshable: bool,
    },
    /// A file credbox does not use, and why.
    Refused(String),
}

/// The fields of a token file that say its state. The secrets are present-or-not only.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenFile {
    access_token: Option<IgnoredAny>,
    expires_at: Option<String>,
    refresh_token: Option<IgnoredAny>,
    client_id: Option<IgnoredAny>,
    client_secret: Option<IgnoredAny>,
    registration_expires_at: Option<String>,
}

/// The AWS CLI's token directory: `~/.aws/sso/cache` (botocore expands `~`; there is no variable
/// that moves it).
pub fn cache_dir() -> Option<PathBuf> {
    // Python's `expanduser`: on Windows `USERPROFILE` (else `HOMEDRIVE` + `HOMEPATH`), never
    // `HOME`, which Git Bash sets; elsewhere `HOME`.
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let home = if platform::Platform::current() == platform::Platform::Windows {
        var("USERPROFILE").or_else(|| Some(format!("{}{}", var("HOMEDRIVE")?, var("HOMEPATH")?)))
    } else {
        var("HOME")
    };
    home.map(|home| Path::new(&home).join(".aws").join("sso").join("cache"))
}

/// The token file of a session (`session` set) or of a legacy profile's start URL.
pub fn token_file(dir: &Path, session: Option<&str>, start_url: &str) -> PathBuf {
    let key = session.unwrap_or(start_url);
    dir.join(format!(
        "{}.json",
        crate::text::hex(&Sha1::digest(key.as_bytes()))
    ))
}

/// The state of the sign-in in `file` at `now`. A legacy sign-in (`session` none) never
/// refreshes, as in botocore.
pub fn state(file: &Path, legacy: bool, now: Timestamp) -> SignIn {
    match std::fs::symlink_metadata(file) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return SignIn::None,
        Ok(meta) if meta.file_type().is_symlink() => {
            return SignIn::Refused(format!(
                "{} is a symbolic link (the AWS CLI writes plain files there)",
                file.display()
            ));
        }
        _ => {}
    }
    // Whoever could change a directory on the way could swap the file or take it away: the
    // four from the home directory down (`~`, `.aws`, `sso`, `cache`). Above home is the
    // system's (on Windows `C:\` lets any user add folders, which swaps nothing here).
    for dir in file
        .ancestors()
        .skip(1)
        .take(4)
        .filter(|dir| !dir.as_os_str().is_empty())
    {
        if let Some(why) = platform::exposure_of_path(dir)
            .ok()
            .and_then(|exposure| exposure.changeable_by_others("the directory", dir))
        {
            return SignIn::Refused(why);
        }
    }
    let opened = match platform::open_regular(file) {
        Ok(opened) => opened,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return SignIn::None,
        Err(e) => return SignIn::Refused(format!("{}: {e}", file.display())),
    };
    match platform::exposure_of_file(&opened) {
        Ok(exposure) => {
            if let Some(why) = exposure.changeable_by_others("the sign-in token file", file) {
                return SignIn::Refused(why);
            }
        }
        Err(e) => return SignIn::Refused(format!("{}: {e}", file.display())),
    }
    let mut text = Vec::new();
    if let Err(e) = opened.take(MAX_TOKEN_FILE + 1).read_to_end(&mut text) {
        return SignIn::Refused(format!("{}: {e}", file.display()));
    }
    if text.len() as u64 > MAX_TOKEN_FILE {
        return SignIn::Refused(format!("{} is larger than any token file", file.display()));
    }
    // What is not a token file (a JSON object) is no sign-in, as botocore treats it ("is
    // invalid"). serde would read a struct from an array too: only an object is one.
    if text.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return SignIn::None;
    }
    let Ok(token) = serde_json::from_slice::<TokenFile>(&text) else {
        return SignIn::None;
    };
    drop(text);
    let (Some(_), Some(Some(expires))) = (&token.access_token, token.expires_at.as_deref().map(parse_time))
    else {
        return SignIn::None;
    };
    // botocore's `_refresh_access_token`: all four present, the registration still live.
    let refreshable = !legacy
        && token.refresh_token.is_some()
        && token.client_id.is_some()
        && token.client_secret.is_some()
        && token
            .registration_expires_at
            .as_deref()
            .and_then(parse_time)
            .is_some_and(|registration| registration > now);
    if expires <= now {
        SignIn::Expired {
            at: expires,
            refreshable,
        }
    } else {
        SignIn::Valid {
            until: expires,
            refreshable,
        }
    }
}

/// A token file's time: RFC 3339 as the AWS CLI writes it (`2026-12-08T14:00:00Z`), or ending
/// `UTC` instead of an offset (botocore's dateutil reads both). A time with no zone is none:
/// botocore fails on one (it cannot compare it with an aware "now").
fn parse_time(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    text.parse::<Timestamp>().ok().or_else(|| {
        text.strip_suffix("UTC")?
            .trim()
            .parse::<jiff::civil::DateTime>()
            .ok()?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|zoned| zoned.timestamp())
    })
}

impl SignIn {
    /// One line for `list --all`: the state, and what to do when it needs a sign-in. `login`
    /// is the command that signs in.
    pub fn describe(&self, login: &str) -> String {
        let when = |at: &Timestamp| at.strftime("%Y-%m-%d %H:%M UTC").to_string();
        match self {
            SignIn::None => format!("not signed in: run `{login}`"),
            SignIn::Valid { until, .. } => format!("signed in until {}", when(until)),
            SignIn::Expired {
                at,
                refreshable: true,
            } => format!("expired {}, refreshable", when(at)),
            SignIn::Expired { at, .. } => format!("expired {}: run `{login}`", when(at)),
            SignIn::Refused(why) => format!("token file refused: {why}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_named_as_botocore_names_them() {
        // hashlib.sha1(b"corp").hexdigest() and of the URL with its trailing slash.
        let dir = Path::new("/c");
        assert_eq!(
            token_file(dir, Some("corp"), "https://ignored"),
            dir.join("ee0bfd2552fbd840c02cc48b6e823320543c450f.json")
        );
        assert_ne!(
            token_file(dir, None, "https://corp.awsapps.com/start"),
            token_file(dir, None, "https://corp.awsapps.com/start/")
        );
    }

    #[test]
    fn times_are_read_as_the_cli_writes_them() {
        let at = parse_time("2026-12-08T14:00:00Z").unwrap();
        assert_eq!(parse_time("2026-12-08T14:00:00UTC"), Some(at));
        assert_eq!(
            parse_time("2026-12-08T14:00:00"),
            None,
            "no zone: botocore fails on it"
        );
        assert_eq!(parse_time("2026-12-08T15:00:00+01:00"), Some(at));
        assert_eq!(parse_time("soon"), None);
    }
}
