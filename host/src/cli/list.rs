//! `credbox list`: where a profile's credentials come from, like `aws configure list`.

use credbox::component::{Helper, Location, OtherKind, ProfileReport};
use std::io::Write;

use credbox::text::printable;
use credbox::{Error, Origin, Runtime, files};

use super::args::RunArgs;

/// How the profile was chosen, as `aws configure list` shows it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Chosen {
    /// `--profile`.
    Manual,
    /// `AWS_PROFILE` or `AWS_DEFAULT_PROFILE`.
    Environment,
    /// Neither: the `default` profile.
    NotSet,
}

impl Chosen {
    /// The "Type" and "Location" columns.
    fn columns(self) -> (&'static str, &'static str) {
        match self {
            Chosen::Manual => ("manual", "--profile"),
            Chosen::Environment => ("env", "AWS_PROFILE"),
            Chosen::NotSet => ("None", "None"),
        }
    }
}

/// The profile to use and how it was chosen.
fn choose_profile(profile: Option<String>, locations: &files::Locations) -> (String, Chosen) {
    match profile {
        Some(profile) => (profile, Chosen::Manual),
        None if std::env::var_os("AWS_PROFILE").is_some()
            || std::env::var_os("AWS_DEFAULT_PROFILE").is_some() =>
        {
            (locations.profile.clone(), Chosen::Environment)
        }
        None => (locations.profile.clone(), Chosen::NotSet),
    }
}

/// Print the profile, the keys (masked) and the region, each with where it comes from.
pub fn list(profile: Option<String>, run: &RunArgs) -> Result<(), Error> {
    let locations = files::locate_from_env();
    let (profile, chosen) = choose_profile(profile, &locations);
    let runtime = Runtime::new().map_err(Error::internal)?;
    // Names, values and places come from the files and the environment: shown, never obeyed.
    let row = |name: &str, value: &str, kind: &str, location: &str| {
        let (value, location) = (printable(value), printable(location));
        println!("{name:>10} {value:>24} {kind:>16}    {location}")
    };
    row("Name", "Value", "Type", "Location");
    row("----", "-----", "----", "--------");
    let shown_profile = match chosen {
        Chosen::NotSet => "<not set>",
        _ => profile.as_str(),
    };
    let (how, profile_location) = chosen.columns();
    row("profile", shown_profile, how, profile_location);
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let properties = credbox::configure::properties(&runtime, &locations, &profile)?;
    if let (Some(key), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        row("access_key", &credbox::mask(&key), "env", "");
        row("secret_key", &credbox::mask(&secret), "env", "");
    } else if properties.is_empty() {
        row("access_key", "<not set>", "None", "None");
        row("secret_key", "<not set>", "None", "None");
    } else {
        let report = credbox::configure::report(&runtime, &locations, Some(&profile))?
            .profiles
            .into_iter()
            .next();
        // A role is assumed when it is used, not to be listed: no STS call, no MFA prompt.
        if let Some(ProfileReport { role: Some(role), .. }) = &report {
            let location = role.location.to_string();
            row("access_key", "<assumed when used>", "assume-role", &location);
            row("secret_key", "<assumed when used>", "assume-role", &location);
            return list_region(&properties, row);
        }
        let (credentials, origin) =
            credbox::credentials_for_profile(&runtime, &locations, &profile, &run.options()?)?;
        // Where the policy says the credentials come from; the kind of file by its path.
        let file_kind = |at: &Location| {
            if at.file == locations.credentials {
                "shared-credentials-file"
            } else {
                "config-file"
            }
        };
        let (kind, location) = match (origin, report.as_ref()) {
            (
                Origin::StaticKeys,
                Some(ProfileReport {
                    static_keys: Some(at),
                    ..
                }),
            ) => (file_kind(at), at.to_string()),
            (
                _,
                Some(ProfileReport {
                    helper: Some(helper), ..
                }),
            ) => match helper.helper {
                Ok(Helper::Plugin(_)) => ("custom-plugin", helper.location.to_string()),
                _ => ("custom-process", helper.location.to_string()),
            },
            _ => ("None", String::new()),
        };
        row(
            "access_key",
            &credbox::mask(&credentials.access_key_id),
            kind,
            &location,
        );
        row(
            "secret_key",
            &credbox::mask(credentials.secret_access_key()),
            kind,
            &location,
        );
    }
    list_region(&properties, row)
}

/// The region row: the environment's, else the profile's.
fn list_region(
    properties: &[credbox::component::Property],
    row: impl Fn(&str, &str, &str, &str),
) -> Result<(), Error> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let property = |key: &str| properties.iter().find(|p| p.name == key);
    match (
        env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")),
        property("region"),
    ) {
        (Some(region), _) => row("region", &region, "env", "AWS_REGION"),
        (None, Some(region)) => row(
            "region",
            &region.value,
            "config-file",
            &region.location.to_string(),
        ),
        (None, None) => row("region", "<not set>", "None", "None"),
    }
    Ok(())
}

/// `list --all`: every profile, where its credentials come from (as the policy resolves them) and
/// what `check` finds about it. No helper runs.
pub fn list_all() -> Result<(), Error> {
    use credbox::audit::Severity;
    let locations = files::locate_from_env();
    let runtime = Runtime::new().map_err(Error::internal)?;
    let (report, findings) = credbox::audit::review(&runtime, &locations, None)?;
    // Errors and warnings per profile, counted once.
    let mut counts: std::collections::HashMap<&str, (usize, usize)> = std::collections::HashMap::new();
    for finding in &findings {
        if let Some(profile) = &finding.profile {
            let count = counts.entry(profile.as_str()).or_default();
            match finding.severity {
                Severity::Error => count.0 += 1,
                Severity::Warning => count.1 += 1,
                Severity::Info => {}
            }
        }
    }
    let mut rows: Vec<[String; 4]> = vec![
        ["Profile", "Source", "Location", "Check"].map(String::from),
        ["-------", "------", "--------", "-----"].map(String::from),
    ];
    for ProfileReport {
        profile,
        static_keys,
        helper,
        role,
        other,
    } in &report.profiles
    {
        let (source, location) = match (static_keys, helper, role) {
            // The role's place, and the chain after it: `config:7 via mid -> base (static keys)`.
            (_, _, Some(role)) => match &role.chain {
                Ok(names) => (
                    "role",
                    format!("{} via {}", role.location, names[1..].join(" -> ")),
                ),
                Err(_) => ("role", format!("{} (broken chain)", role.location)),
            },
            (Some(at), _, None) => ("static-keys", at.to_string()),
            (None, Some(helper), None) => match &helper.helper {
                Ok(Helper::CommandLine(_)) => ("process", helper.location.to_string()),
                Ok(Helper::Plugin(_)) => ("plugin", helper.location.to_string()),
                Err(_) => ("unusable", helper.location.to_string()),
            },
            (None, None, None) => match other {
                // What the profile names, and that credbox does not run it (`check` says more);
                // for IAM Identity Center, also where its sign-in stands (nothing is called).
                Some(other) => (
                    match other.kind {
                        OtherKind::Sso => "sso",
                        OtherKind::WebIdentity => "web-identity",
                        OtherKind::ConsoleLogin => "login",
                    },
                    match &other.sso {
                        Some(sso) => format!("{} ({}; not run by credbox)", other.location, sign_in(sso)),
                        None => format!("{} (not run by credbox)", other.location),
                    },
                ),
                None => ("none", String::new()),
            },
        };
        let check = match counts.get(profile.as_str()).copied().unwrap_or_default() {
            (0, 0) => "ok".to_string(),
            (errors, 0) => format!("{errors} error(s)"),
            (0, warnings) => format!("{warnings} warning(s)"),
            (errors, warnings) => format!("{errors} error(s), {warnings} warning(s)"),
        };
        // Names and places come from the files: shown, never obeyed.
        rows.push([
            printable(profile).into_owned(),
            source.to_string(),
            printable(&location).into_owned(),
            check,
        ]);
    }
    // Columns as wide as their widest cell, whatever a name or a path is.
    let width = |column: usize| rows.iter().map(|r| r[column].chars().count()).max().unwrap_or(0);
    let widths = [width(0), width(1), width(2)];
    let mut out = std::io::stdout().lock();
    for [profile, source, location, check] in &rows {
        let line = format!(
            "{profile:<w0$}  {source:<w1$}  {location:<w2$}  {check}",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let about_files = findings.iter().filter(|f| f.profile.is_none()).count();
    if about_files > 0 {
        let _ = writeln!(
            out,
            "{about_files} finding(s) about the profile files themselves: run `credbox check`"
        );
    }
    Ok(())
}

/// An IAM Identity Center profile's session and the state of its sign-in in the AWS CLI's token
/// cache, read without calling anything.
fn sign_in(sso: &credbox::component::SsoSettings) -> String {
    use credbox::sso_tokens;
    let (who, login) = match &sso.session {
        Some(session) => (
            format!("session {session}"),
            format!("aws sso login --sso-session {session}"),
        ),
        None => (
            format!("start URL {}", sso.start_url),
            format!("aws sso login --profile {}", sso.profile),
        ),
    };
    let state = match sso_tokens::cache_dir() {
        Some(dir) => sso_tokens::state(
            &sso_tokens::token_file(&dir, sso.session.as_deref(), &sso.start_url),
            sso.session.is_none(),
            jiff::Timestamp::now(),
        ),
        None => sso_tokens::SignIn::None,
    };
    format!("{who}: {}", state.describe(&login))
}
