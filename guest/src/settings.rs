//! What a profile sets, as every source reads it: the files' paths and text, where a value is,
//! static keys, the helper a profile names, and the one-line error for a profile-file mistake.
//! Below both `resolve` and `role`, which each build on it.

use crate::profile::{FileKind, Profile, Value};
use crate::wit::{Helper, ProcessSettings};
use crate::{Error, Location, Place};

/// A profile file's path (for messages) and text.
#[derive(Clone, Debug)]
pub struct FileText<'a> {
    pub path: &'a str,
    pub text: &'a str,
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

/// A mistake in the profile files: the profile, the file and line when known, how to fix it.
pub(crate) fn config_error(profile: &str, file: Option<&str>, line: Option<u32>, message: String) -> Error {
    Error::config(
        Some(profile.to_string()),
        file.map(|file| Location {
            file: file.to_string(),
            line,
        }),
        message,
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
) -> Option<(Result<Helper, Error>, Place)> {
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

pub(crate) fn get<'p>(profile: &'p Profile, key: &str) -> Option<&'p str> {
    profile
        .get(key)
        .map(|v| v.value.as_str())
        .filter(|v| !v.is_empty())
}
