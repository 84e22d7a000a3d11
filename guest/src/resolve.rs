//! Choosing how a profile supplies credentials (BEHAVIOUR.md §1).

use crate::profile::{Profile, ProfileSet};
use crate::role::{self, Environment};
use crate::settings::{FileText, config_error, get, helper_of, path_of, static_keys};
use crate::sso;
use crate::wit::ProcessSettings;
use crate::wit::profiles::{OtherKind, Source};
use crate::{Credentials, Error, Location};

/// The settings that name a source credbox does not run: the setting, its kind, and how a message
/// names it.
pub(crate) const OTHER_SOURCES: [(&str, OtherKind, &str); 6] = [
    ("sso_session", OtherKind::Sso, "IAM Identity Center (sso_session)"),
    (
        "sso_start_url",
        OtherKind::Sso,
        "IAM Identity Center (sso_start_url)",
    ),
    // An account or role alone makes a profile SSO for botocore (it then names what is missing).
    (
        "sso_account_id",
        OtherKind::Sso,
        "IAM Identity Center (sso_account_id)",
    ),
    (
        "sso_role_name",
        OtherKind::Sso,
        "IAM Identity Center (sso_role_name)",
    ),
    (
        "web_identity_token_file",
        OtherKind::WebIdentity,
        "web identity (web_identity_token_file)",
    ),
    (
        "login_session",
        OtherKind::ConsoleLogin,
        "console sign-in (login_session)",
    ),
];

/// Resolve `name` from the two files: a role (`role_arn`) first, then static keys, then
/// `credential_process`. `env` is what the host read of the variables that choose a role's STS
/// endpoint.
pub fn resolve(
    config: FileText,
    credentials: FileText,
    name: &str,
    env: &Environment,
) -> Result<Source, Error> {
    let set = parse(&config, &credentials, Some(name))?;
    let Some(profile) = set.profiles.get(name) else {
        return Err(not_found(&config, &credentials, name));
    };
    if role::is_role(profile) {
        // A chain reaches other profiles and `[services]` sections: parse everything (roles
        // are the rare path; the one-profile scan stays for everything else).
        let set = parse(&config, &credentials, None)?;
        return role::chain(name, &set, (&config, &credentials), env).map(Source::Role);
    }
    resolve_profile(name, profile, &config, &credentials)
}

/// Parse both files, keeping only `profile` when one is given; a syntax error anywhere names the
/// file and line (and the profile being resolved).
pub fn parse(config: &FileText, credentials: &FileText, profile: Option<&str>) -> Result<ProfileSet, Error> {
    ProfileSet::parse_only(config.text, credentials.text, profile).map_err(|(kind, e)| {
        let location = Location {
            file: path_of(kind, config, credentials).to_string(),
            line: Some(e.line),
        };
        Error::config(profile.map(String::from), Some(location), e.message)
    })
}

/// The error for a profile neither file defines, listing those they do (a second, full parse:
/// this is the error path, and the first parse kept only the profile asked for).
pub fn not_found(config: &FileText, credentials: &FileText, name: &str) -> Error {
    let set = ProfileSet::parse(config.text, credentials.text).unwrap_or_default();
    let known: Vec<&str> = set.profiles.keys().map(String::as_str).collect();
    let known = if known.is_empty() {
        "none".to_string()
    } else {
        known.join(", ")
    };
    config_error(
        name,
        None,
        None,
        format!(
            "profile not found in {} or {} (profiles defined: {known}); add a [profile {name}] section to the config file, or choose another with --profile",
            config.path, credentials.path
        ),
    )
}

fn resolve_profile(
    name: &str,
    profile: &Profile,
    config: &FileText,
    credentials: &FileText,
) -> Result<Source, Error> {
    let account_id = get(profile, "aws_account_id").map(String::from);
    if let Some((access_key_id, secret)) = static_keys(profile) {
        return Ok(Source::StaticKeys(Credentials {
            access_key_id: access_key_id.value.clone(),
            secret_access_key: secret.value.clone(),
            session_token: get(profile, "aws_session_token").map(String::from),
            expiration: None,
            account_id,
        }));
    }
    if let Some((helper, origin)) = helper_of(name, profile, config, credentials) {
        return Ok(Source::Process(ProcessSettings {
            profile: name.to_string(),
            helper: helper?,
            account_id,
            origin: Some(origin.into()),
        }));
    }
    let path_of = |kind| path_of(kind, config, credentials);
    // Half a key pair is a typo worth naming exactly.
    for (present, missing) in [
        ("aws_access_key_id", "aws_secret_access_key"),
        ("aws_secret_access_key", "aws_access_key_id"),
    ] {
        if let Some(value) = profile.get(present).filter(|v| !v.value.is_empty()) {
            return Err(config_error(
                name,
                Some(path_of(value.file)),
                Some(value.line),
                format!(
                    "profile sets {present} but not {missing}; add {missing}, or remove {present} and use credential_process"
                ),
            ));
        }
    }
    if sso::is_sso(profile) {
        // A broken SSO profile is named for its mistake, as botocore names it, rather than only
        // for what credbox does not run. Its `[sso-session]` section may be anywhere: parse all.
        let set = parse(config, credentials, None)?;
        sso::settings(name, profile, &set, config, credentials)?;
    }
    if let Some((key, _, what)) = OTHER_SOURCES
        .iter()
        .find(|(key, _, _)| profile.contains_key(*key))
    {
        let value = &profile[*key];
        return Err(config_error(
            name,
            Some(path_of(value.file)),
            Some(value.line),
            format!(
                "profile uses {what}, which credbox does not run; give it a credential_process or static keys"
            ),
        ));
    }
    Err(config_error(
        name,
        None,
        None,
        format!(
            "profile has neither static keys nor credential_process in {} or {}; add `credential_process = /path/to/helper`",
            config.path, credentials.path
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ConfigError;
    use crate::wit::Helper;

    fn run(config: &str, credentials: &str, name: &str) -> Result<Source, Error> {
        resolve(
            FileText {
                path: "/c",
                text: config,
            },
            FileText {
                path: "/k",
                text: credentials,
            },
            name,
            &Environment::default(),
        )
    }

    #[test]
    fn static_keys_win_over_the_process() {
        let config = "[profile p]\ncredential_process = /h\naws_account_id = 1\n";
        let credentials = "[p]\naws_access_key_id = AK\naws_secret_access_key = S\n";
        match run(config, credentials, "p").unwrap() {
            Source::StaticKeys(c) => assert_eq!(
                (c.access_key_id.as_str(), c.account_id.as_deref()),
                ("AK", Some("1"))
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn process_with_account_fallback() {
        let source = run(
            "[default]\ncredential_process = /h a\naws_account_id = 9\n",
            "",
            "default",
        )
        .unwrap();
        assert_eq!(
            source,
            Source::Process(ProcessSettings {
                profile: "default".into(),
                helper: Helper::CommandLine("/h a".into()),
                account_id: Some("9".into()),
                origin: Some(("/c".to_string(), 2).into()),
            })
        );
    }

    #[test]
    fn credential_plugin_is_a_source_and_excludes_credential_process() {
        let source = run("[profile p]\ncredential_plugin = /opt/p.wasm\n", "", "p").unwrap();
        let Source::Process(settings) = source else {
            panic!()
        };
        assert_eq!(settings.helper, Helper::Plugin("/opt/p.wasm".into()));

        let both = "[profile p]\ncredential_process = /h\ncredential_plugin = /opt/p.wasm\n";
        let Err(Error::Config(ConfigError {
            message, location, ..
        })) = run(both, "", "p")
        else {
            panic!()
        };
        assert!(
            message.contains("both credential_process and credential_plugin"),
            "{message}"
        );
        assert_eq!(location.and_then(|l| l.line), Some(3));

        let Err(Error::Config(ConfigError { message, .. })) =
            run("[profile p]\ncredential_plugin = p.wasm\n", "", "p")
        else {
            panic!()
        };
        assert!(message.contains("absolute path"), "{message}");

        let keys =
            "[profile p]\naws_access_key_id = A\naws_secret_access_key = S\ncredential_plugin = /p.wasm\n";
        assert!(
            matches!(run(keys, "", "p"), Ok(Source::StaticKeys(_))),
            "static keys win"
        );
    }

    #[test]
    fn errors_say_where_and_what_to_do() {
        let Err(Error::Config(ConfigError { message, .. })) = run("[profile a]\n", "", "b") else {
            panic!()
        };
        assert!(
            message.contains("/c") && message.contains("/k") && message.contains("profiles defined: a"),
            "{message}"
        );
        let Err(Error::Config(ConfigError {
            location, message, ..
        })) = run("", "[a]\naws_access_key_id = AK\n", "a")
        else {
            panic!()
        };
        assert_eq!(location, Some(("/k".to_string(), 2).into()));
        assert!(message.contains("aws_secret_access_key"));
        let Err(Error::Config(ConfigError { message, .. })) = run("[profile a]\nrole_arn = x\n", "", "a")
        else {
            panic!()
        };
        assert!(message.contains("not an ARN"), "{message}");
        let Err(Error::Config(ConfigError { location, .. })) = run("[profile a]\nbroken\n", "", "a") else {
            panic!()
        };
        assert_eq!(location, Some(("/c".to_string(), 2).into()));
    }
}
