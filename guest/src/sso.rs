//! IAM Identity Center profiles (`sso_session` with an `[sso-session NAME]` section, or the legacy
//! `sso_start_url` and `sso_region` in the profile): the settings botocore requires, checked the
//! way botocore 1.44 checks them (`SSOProvider._load_sso_config` in credentials.py), so that
//! credbox names the same mistakes, with the file and line and the fix. credbox does not sign in
//! or fetch their credentials yet (docs/SSO.md): a valid SSO profile is still refused, for that
//! reason and no other.

use crate::Error;
use crate::profile::{Profile, ProfileSet, Value};
use crate::settings::{FileText, config_error, path_of};

/// The keys a profile names an account and role with: botocore takes a profile as an SSO
/// credential source when it has either. (A profile with only `sso_session` is one that
/// `aws sso login` signs in with; it supplies no credentials.)
const ROLE_KEYS: [&str; 2] = ["sso_role_name", "sso_account_id"];

/// Every key botocore requires, in the order its message lists the missing ones.
const REQUIRED: [&str; 4] = ["sso_role_name", "sso_account_id", "sso_start_url", "sso_region"];

pub use crate::wit::SsoSettings;

/// Whether botocore would resolve `profile`'s credentials through IAM Identity Center.
pub fn is_sso(profile: &Profile) -> bool {
    ROLE_KEYS.iter().any(|key| profile.contains_key(*key))
}

/// The SSO settings of `name`, completed by its `[sso-session]` section, or the first mistake
/// botocore would report, naming the file and line. `set` must hold the sso-session sections (a
/// full parse).
pub fn settings(
    name: &str,
    profile: &Profile,
    set: &ProfileSet,
    config: &FileText,
    credentials: &FileText,
) -> Result<SsoSettings, Error> {
    let at = |value: &Value, message: String| {
        config_error(
            name,
            Some(path_of(value.file, config, credentials)),
            Some(value.line),
            message,
        )
    };
    let mut merged: Vec<(&str, &Value)> = profile.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let session = match profile.get("sso_session") {
        None => None,
        Some(named) => {
            let Some(section) = set.sso_sessions.get(&named.value) else {
                return Err(at(
                    named,
                    format!(
                        "the specified sso-session does not exist: \"{0}\"; add an [sso-session {0}] section to {1}, or name one that exists",
                        named.value, config.path
                    ),
                ));
            };
            // A key set in both must agree (botocore compares the raw values, in the section's
            // order: the first that differs is the one named).
            let mut in_order: Vec<(&String, &Value)> = section.iter().collect();
            in_order.sort_by_key(|(_, value)| value.line);
            for (key, value) in in_order {
                match profile.get(key) {
                    Some(own) if own.value != value.value => {
                        return Err(at(
                            own,
                            format!(
                                "the value for {key} is inconsistent between profile ({}) and sso-session ({}); remove it from the profile or make the two equal",
                                own.value, value.value
                            ),
                        ));
                    }
                    Some(_) => {}
                    None => merged.push((key.as_str(), value)),
                }
            }
            Some(named.value.clone())
        }
    };
    let get = |key: &str| {
        merged
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.value.clone())
    };
    let missing: Vec<&str> = REQUIRED.into_iter().filter(|key| get(key).is_none()).collect();
    if !missing.is_empty() {
        // Point at the line that made it an SSO profile.
        let anchor = ["sso_session", "sso_start_url", "sso_account_id", "sso_role_name"]
            .iter()
            .find_map(|key| profile.get(*key))
            .expect("an SSO profile has one of its keys");
        let place = if session.is_some() {
            "the profile or its [sso-session] section"
        } else {
            "the profile (or use sso_session and an [sso-session NAME] section)"
        };
        return Err(at(
            anchor,
            format!(
                "profile is configured to use SSO but is missing required configuration: {}; add them to {place}",
                missing.join(", ")
            ),
        ));
    }
    // botocore's token provider then reads the sign-in's start URL and region from the section
    // alone (tokens.py `SSOTokenProvider._load_sso_config`): a value only in the profile, or an
    // empty section, fails there.
    if let (Some(named), Some(section)) = (
        profile.get("sso_session"),
        session.as_ref().and_then(|name| set.sso_sessions.get(name)),
    ) {
        if section.is_empty() {
            return Err(at(
                named,
                format!(
                    "profile is configured to use the SSO token provider but the \"{0}\" sso_session configuration does not exist (its section is empty); add sso_start_url and sso_region to [sso-session {0}]",
                    named.value
                ),
            ));
        }
        let missing: Vec<String> = ["sso_start_url", "sso_region"]
            .into_iter()
            .filter(|key| !section.contains_key(*key))
            .map(|key| format!("'{key}'"))
            .collect();
        if !missing.is_empty() {
            return Err(at(
                named,
                format!(
                    "profile is configured to use the SSO token provider but is missing the following configuration: [{}]; move it into [sso-session {}] (the sign-in reads it from there, not from the profile)",
                    missing.join(", "),
                    named.value
                ),
            ));
        }
    }
    let value = |key: &str| get(key).unwrap_or_default();
    Ok(SsoSettings {
        profile: name.to_string(),
        session,
        start_url: value("sso_start_url"),
        region: value("sso_region"),
        account_id: value("sso_account_id"),
        role_name: value("sso_role_name"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(config: &str, name: &str) -> Result<SsoSettings, String> {
        let set = ProfileSet::parse(config, "").unwrap();
        let files = (
            FileText {
                path: "/c",
                text: config,
            },
            FileText { path: "/k", text: "" },
        );
        settings(name, &set.profiles[name], &set, &files.0, &files.1).map_err(|e| match e {
            Error::Config(e) => {
                let at = e.location.unwrap();
                format!("{}:{} {}", at.file, at.line.unwrap(), e.message)
            }
            other => panic!("{other:?}"),
        })
    }

    const SESSION: &str =
        "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n";

    #[test]
    fn a_session_completes_the_profile() {
        let config =
            format!("[profile p]\nsso_session = corp\nsso_account_id = 111\nsso_role_name = Dev\n{SESSION}");
        assert_eq!(
            check(&config, "p").unwrap(),
            SsoSettings {
                profile: "p".into(),
                session: Some("corp".into()),
                start_url: "https://corp.awsapps.com/start".into(),
                region: "us-east-1".into(),
                account_id: "111".into(),
                role_name: "Dev".into(),
            }
        );
    }

    #[test]
    fn the_legacy_form_needs_no_session() {
        let config = "[profile p]\nsso_start_url = https://x/start/\nsso_region = eu-west-1\nsso_account_id = 1\nsso_role_name = R\n";
        let settings = check(config, "p").unwrap();
        assert_eq!(
            (settings.session, settings.start_url.as_str()),
            (None, "https://x/start/")
        );
    }

    #[test]
    fn mistakes_are_named_as_botocore_names_them_with_the_line() {
        let missing_session = "[profile p]\nsso_session = nope\nsso_account_id = 1\nsso_role_name = R\n";
        let e = check(missing_session, "p").unwrap_err();
        assert!(
            e.contains("/c:2") && e.contains("the specified sso-session does not exist: \"nope\""),
            "{e}"
        );

        let inconsistent = format!(
            "[profile p]\nsso_session = corp\nsso_region = eu-west-1\nsso_account_id = 1\nsso_role_name = R\n{SESSION}"
        );
        let e = check(&inconsistent, "p").unwrap_err();
        assert!(
            e.contains("/c:3") && e.contains("the value for sso_region is inconsistent between profile (eu-west-1) and sso-session (us-east-1)"),
            "{e}"
        );

        // Several keys differ: the first in the section's order is named, as botocore names it.
        let both = "[profile p]\nsso_session = corp\nsso_start_url = A\nsso_region = B\nsso_account_id = 1\nsso_role_name = R\n\
                    [sso-session corp]\nsso_start_url = C\nsso_region = D\n";
        let e = check(both, "p").unwrap_err();
        assert!(
            e.contains("/c:3") && e.contains("the value for sso_start_url is inconsistent"),
            "{e}"
        );

        // The sign-in's start URL and region come from the section alone.
        let thin = "[profile p]\nsso_session = corp\nsso_start_url = U\nsso_account_id = 1\nsso_role_name = R\n\
                    [sso-session corp]\nsso_region = us-east-1\n";
        let e = check(thin, "p").unwrap_err();
        assert!(
            e.contains("/c:2") && e.contains("missing the following configuration: ['sso_start_url']"),
            "{e}"
        );
        let empty = "[profile p]\nsso_session = e\nsso_start_url = U\nsso_region = r\nsso_account_id = 1\nsso_role_name = R\n\
                     [sso-session e]\n";
        let e = check(empty, "p").unwrap_err();
        assert!(
            e.contains("/c:2") && e.contains("the \"e\" sso_session configuration does not exist"),
            "{e}"
        );

        let missing = "[profile p]\nsso_account_id = 1\n";
        let e = check(missing, "p").unwrap_err();
        assert!(
            e.contains("/c:2")
                && e.contains("missing required configuration: sso_role_name, sso_start_url, sso_region;"),
            "{e}"
        );
    }
}
