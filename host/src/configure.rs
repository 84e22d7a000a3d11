//! `credbox configure get` / `set`: read and change profile properties like `aws configure`.

use std::path::{Path, PathBuf};

use crate::CapabilityPolicy;
use crate::component::Context;
use crate::component::{CallError, ProfilesReport, Property, Runtime};
use crate::error::{Error, ErrorKind};
use crate::files::{self, Locations};
use crate::platform;
pub use crate::platform::Access;

fn call_error(profile: &str) -> impl Fn(CallError) -> Error + '_ {
    move |e| Error::from_call(e, &Context::Profile(profile), None)
}

/// The profile and the key a `configure get/set` KEY names, as the AWS CLI reads it:
/// `profile.NAME.KEY` and `default.KEY` name their profile (which must agree with `--profile`
/// when both are given); a plain `KEY` is `--profile`'s (else `current`). Nested settings
/// (`s3.max_concurrent_requests`) are refused with a clear error, not written as a dotted key.
pub fn qualified_key(key: &str, profile: Option<&str>, current: &str) -> Result<(String, String), Error> {
    let usage = |message: String| Error::new(ErrorKind::Usage, message);
    let (named, key) = match key.split_once('.') {
        None => (None, key),
        Some(("default", rest)) => (Some("default"), rest),
        Some(("profile", rest)) => match rest.split_once('.') {
            Some((name, key)) if !name.is_empty() => (Some(name), key),
            _ => {
                return Err(usage(format!(
                    "`{key}` names no setting: write profile.NAME.KEY (e.g. profile.dev.region)"
                )));
            }
        },
        Some(_) => (None, key),
    };
    if key.is_empty() || key.contains('.') {
        return Err(usage(format!(
            "`{key}` is a nested setting (SECTION.KEY), which credbox configure does not write; edit the config file, or use profile.NAME.KEY for a plain setting"
        )));
    }
    let chosen = match (named, profile) {
        (Some(named), Some(given)) if named != given => {
            return Err(usage(format!(
                "the key names profile {named} but --profile says {given}; give one of them"
            )));
        }
        (Some(named), _) => named,
        (None, Some(given)) => given,
        (None, None) => current,
    };
    Ok((chosen.to_string(), key.to_string()))
}

/// Every property of `profile` (none if the profile does not exist).
pub fn properties(runtime: &Runtime, locations: &Locations, profile: &str) -> Result<Vec<Property>, Error> {
    let files = files::read_files(locations)?;
    let mut session = runtime
        .session(CapabilityPolicy::default(), None)
        .map_err(Error::internal)?;
    let properties = session.properties(&files, profile).map_err(call_error(profile))?;
    // A profile neither file defines is just an empty one here.
    Ok(properties.unwrap_or_default())
}

/// How every profile (or only `profile`, which must exist) supplies credentials, as the policy
/// sees it, and where secrets are written.
pub fn report(
    runtime: &Runtime,
    locations: &Locations,
    profile: Option<&str>,
) -> Result<ProfilesReport, Error> {
    let files = files::read_files(locations)?;
    let mut session = runtime
        .session(CapabilityPolicy::default(), None)
        .map_err(Error::internal)?;
    session
        .report(&files, profile)
        .map_err(call_error(profile.unwrap_or("(all)")))
}

/// The value of `key` in `profile` (credentials file over config file), if set.
pub fn get(
    runtime: &Runtime,
    locations: &Locations,
    profile: &str,
    key: &str,
) -> Result<Option<String>, Error> {
    let properties = properties(runtime, locations, profile)?;
    let key = key.to_ascii_lowercase();
    Ok(properties.into_iter().find(|p| p.name == key).map(|p| p.value))
}

/// Set `key` to `value` in `profile`, rewriting the one file it belongs in atomically (every
/// other line kept byte for byte, the file's mode kept). Returns the file written.
pub fn set(
    runtime: &Runtime,
    locations: &Locations,
    profile: &str,
    key: &str,
    value: &str,
) -> Result<PathBuf, Error> {
    let files = files::read_files(locations)?;
    let mut session = runtime
        .session(CapabilityPolicy::default(), None)
        .map_err(Error::internal)?;
    let file = session
        .set_property(&files, profile, key, value)
        .map_err(call_error(profile))?;
    let path = PathBuf::from(&file.path);
    // Whether the file will hold a secret is the policy's call (its one list of secret-bearing
    // keys, the one `check` goes by), asked of the files as they will be.
    let mut after = files.clone();
    for kind in [&mut after.config, &mut after.credentials] {
        if kind.path == file.path {
            kind.text.clone_from(&file.text);
        }
    }
    let holds_secret = session.report(&after, None).map_or(true, |report| {
        report.secrets.iter().any(|at| at.file == file.path)
    });
    let access = if holds_secret {
        Access::OwnerOnly
    } else {
        Access::Keep
    };
    write_atomically(&path, file.text.as_bytes(), access).map_err(|e| {
        Error::new(
            ErrorKind::Config,
            format!("{}: cannot write the file: {e}", path.display()),
        )
    })?;
    Ok(path)
}

/// Replace `path` with `contents` so that readers see the old file or the new one, never a mix.
/// A symlink is followed (its target is replaced), the mode is kept (or narrowed, with
/// [`Access::OwnerOnly`]), and a new file is 0600.
pub fn write_atomically(path: &Path, contents: &[u8], access: Access) -> std::io::Result<()> {
    let target = match std::fs::canonicalize(path) {
        Ok(target) => target,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => path.to_path_buf(),
        Err(e) => return Err(e),
    };
    let dir = target.parent().unwrap_or(Path::new("."));
    platform::create_private_dirs(dir)?;
    platform::write_keeping_access(dir, &target, contents, access)?;
    platform::sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::qualified_key;

    #[test]
    fn keys_name_their_profile_as_the_aws_cli_reads_them() {
        let key = |k: &str, p: Option<&str>| qualified_key(k, p, "cur").map_err(|e| e.to_string());
        assert_eq!(key("region", None), Ok(("cur".into(), "region".into())));
        assert_eq!(key("region", Some("dev")), Ok(("dev".into(), "region".into())));
        assert_eq!(
            key("default.region", None),
            Ok(("default".into(), "region".into()))
        );
        assert_eq!(
            key("profile.dev.region", None),
            Ok(("dev".into(), "region".into()))
        );
        assert_eq!(
            key("profile.dev.region", Some("dev")),
            Ok(("dev".into(), "region".into()))
        );
        for refused in [
            "profile.dev.region",
            "s3.max_concurrent_requests",
            "profile.region",
            "default.s3.x",
        ] {
            let given = (refused == "profile.dev.region").then_some("prod");
            assert!(key(refused, given).is_err(), "{refused}");
        }
    }
}
