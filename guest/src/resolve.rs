//! Choosing how a profile supplies credentials (BEHAVIOUR.md §1).

use crate::profile::{FileKind, Profile, ProfileSet, Value};
use crate::role::{self, Chain, Environment};
use crate::{Credentials, Error};

/// A profile file's path (for messages) and text.
#[derive(Clone, Debug)]
pub struct FileText<'a> {
    pub path: &'a str,
    pub text: &'a str,
}

/// What fetches a profile's credentials (mirrors the WIT `helper`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Helper {
    /// A `credential_process` value, as written.
    CommandLine(String),
    /// A `credential_plugin` component's absolute path.
    Plugin(String),
}

/// The settings of a profile's helper (mirrors the WIT `process-settings`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessSettings {
    pub profile: String,
    pub helper: Helper,
    pub account_id: Option<String>,
    /// The file and line defining `credential_process` (or `credential_plugin`), for messages.
    pub origin: Option<(String, u32)>,
}

impl ProcessSettings {
    /// Settings for running `command_line` under `profile`'s name, with nothing else known.
    pub fn command(profile: &str, command_line: &str) -> Self {
        Self::new(profile, Helper::CommandLine(command_line.to_string()))
    }

    /// Settings for `helper` under `profile`'s name, with nothing else known.
    pub fn new(profile: &str, helper: Helper) -> Self {
        ProcessSettings {
            profile: profile.to_string(),
            helper,
            account_id: None,
            origin: None,
        }
    }
}

/// How a profile supplies credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    StaticKeys(Credentials),
    Process(ProcessSettings),
    /// A role on top of another source (`role_arn`).
    Role(Chain),
}

/// A credential source of the SDKs that credbox does not run (mirrors the WIT `other-kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtherKind {
    Sso,
    WebIdentity,
    ConsoleLogin,
}

/// The settings that name a source credbox does not run: the setting, its kind, and how a message
/// names it.
pub(crate) const OTHER_SOURCES: [(&str, OtherKind, &str); 4] = [
    ("sso_session", OtherKind::Sso, "IAM Identity Center (sso_session)"),
    (
        "sso_start_url",
        OtherKind::Sso,
        "IAM Identity Center (sso_start_url)",
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

pub(crate) fn config_error(profile: &str, file: Option<&str>, line: Option<u32>, message: String) -> Error {
    Error::Config {
        profile: Some(profile.to_string()),
        file: file.map(String::from),
        line,
        message,
    }
}

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
    ProfileSet::parse_only(config.text, credentials.text, profile).map_err(|(kind, e)| Error::Config {
        profile: profile.map(String::from),
        file: Some(path_of(kind, config, credentials).to_string()),
        line: Some(e.line),
        message: e.message,
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

/// The path of the file of `kind`.
pub fn path_of<'a>(kind: FileKind, config: &FileText<'a>, credentials: &FileText<'a>) -> &'a str {
    if kind == FileKind::Config {
        config.path
    } else {
        credentials.path
    }
}

/// The static keys of a profile: both halves of the pair, non-empty.
pub fn static_keys(profile: &Profile) -> Option<(&Value, &Value)> {
    let non_empty = |key| profile.get(key).filter(|v: &&Value| !v.value.is_empty());
    Some((
        non_empty("aws_access_key_id")?,
        non_empty("aws_secret_access_key")?,
    ))
}

/// The helper a profile names, where it is named, and whether it can be used: `None` when the
/// profile names none; an error when it sets both kinds, or a plugin by a relative path.
pub fn helper_of(
    name: &str,
    profile: &Profile,
    config: &FileText,
    credentials: &FileText,
) -> Option<(Result<Helper, Error>, (String, u32))> {
    let process = profile.get("credential_process");
    let plugin = profile.get("credential_plugin");
    let place = |value: &Value| (path_of(value.file, config, credentials).to_string(), value.line);
    let error = |value: &Value, message: String| {
        let (file, line) = place(value);
        config_error(name, Some(&file), Some(line), message)
    };
    Some(match (process, plugin) {
        (Some(_), Some(value)) => (
            Err(error(
                value,
                "profile sets both credential_process and credential_plugin; keep one of them".into(),
            )),
            place(value),
        ),
        (Some(value), None) => (Ok(Helper::CommandLine(value.value.clone())), place(value)),
        (None, Some(value)) => {
            let path = value.value.trim();
            // Like a helper's program, the plugin must not depend on the working directory. The
            // files do not say which system they are on: a path absolute on either is taken, and
            // the host opens it by its own rules (a Windows path on Unix is not found).
            let helper = if path.starts_with('/') || crate::command::windows_absolute(path) {
                Ok(Helper::Plugin(path.to_string()))
            } else {
                Err(error(
                    value,
                    format!("credential_plugin must be an absolute path to a .wasm component, not `{path}`"),
                ))
            };
            (helper, place(value))
        }
        (None, None) => return None,
    })
}

fn get<'p>(profile: &'p Profile, key: &str) -> Option<&'p str> {
    profile
        .get(key)
        .map(|v| v.value.as_str())
        .filter(|v| !v.is_empty())
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
            origin: Some(origin),
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
                origin: Some(("/c".into(), 2)),
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
        let Err(Error::Config { message, line, .. }) = run(both, "", "p") else {
            panic!()
        };
        assert!(
            message.contains("both credential_process and credential_plugin"),
            "{message}"
        );
        assert_eq!(line, Some(3));

        let Err(Error::Config { message, .. }) = run("[profile p]\ncredential_plugin = p.wasm\n", "", "p")
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
        let Err(Error::Config { message, .. }) = run("[profile a]\n", "", "b") else {
            panic!()
        };
        assert!(
            message.contains("/c") && message.contains("/k") && message.contains("profiles defined: a"),
            "{message}"
        );
        let Err(Error::Config {
            file, line, message, ..
        }) = run("", "[a]\naws_access_key_id = AK\n", "a")
        else {
            panic!()
        };
        assert_eq!((file.as_deref(), line), (Some("/k"), Some(2)));
        assert!(message.contains("aws_secret_access_key"));
        let Err(Error::Config { message, .. }) = run("[profile a]\nrole_arn = x\n", "", "a") else {
            panic!()
        };
        assert!(message.contains("not an ARN"), "{message}");
        let Err(Error::Config { file, line, .. }) = run("[profile a]\nbroken\n", "", "a") else {
            panic!()
        };
        assert_eq!((file.as_deref(), line), (Some("/c"), Some(2)));
    }
}
