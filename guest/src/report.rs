//! What `credbox check` and `credbox list` show, decided here rather than re-derived by the host:
//! which profiles supply credentials and how, which helper static keys shadow, what a helper's
//! command line runs (or why it cannot), and where secrets are written.

use crate::command::parse_command;
use crate::profile::{Profile, ProfileSet};
use crate::resolve::{OTHER_SOURCES, not_found, parse};
use crate::role::{self, Environment};
use crate::settings::{FileText, helper_of, path_of, static_keys};
use crate::sso;
use crate::wit::Helper;
use crate::wit::profiles::{
    BaseSource as Base, HelperReport, OtherSource, ProfileReport, ProfilesReport as Report, RoleReport,
};
use crate::{Command, Error, Location, Platform};

/// The keys whose values are secrets, the one list `check` and `configure set` go by: the secret
/// key and session tokens, and `mfa_process`, whose command line may carry a TOTP seed
/// (`oathtool --totp -b SEED`).
pub const SECRET_KEYS: [&str; 4] = [
    "aws_secret_access_key",
    "aws_session_token",
    "aws_security_token",
    "mfa_process",
];

/// The report over both files, from one parse, command lines read by `platform`'s rules. With
/// `only`, a profile neither file defines is an error, as it is for `resolve`.
pub fn report(
    config: FileText,
    credentials: FileText,
    only: Option<&str>,
    platform: Platform,
) -> Result<Report, Error> {
    let set: ProfileSet = parse(&config, &credentials, only)?;
    let chosen: Vec<(&String, &Profile)> = match only {
        Some(name) => match set.profiles.get_key_value(name) {
            Some(entry) => vec![entry],
            None => return Err(not_found(&config, &credentials, name)),
        },
        None => set.profiles.iter().collect(),
    };
    // A chain reaches other profiles, an SSO profile its `[sso-session]`: with `only`, parse
    // everything once if it names either.
    let full;
    let everything = match only {
        Some(_)
            if chosen
                .iter()
                .any(|(_, profile)| role::is_role(profile) || sso::is_sso(profile)) =>
        {
            full = parse(&config, &credentials, None)?;
            &full
        }
        _ => &set,
    };
    // Per file, the first key secret, else the first mfa_process: a host tells them apart by
    // the key at the place (a key is always secret; an mfa_process may carry a seed).
    let mut secrets: Vec<Location> = Vec::new();
    for keys in [&SECRET_KEYS[..3], &SECRET_KEYS[3..]] {
        for (_, profile) in &chosen {
            for key in keys {
                if let Some(value) = profile.get(*key) {
                    let file = path_of(value.file, &config, &credentials);
                    if !secrets.iter().any(|known| known.file == file) {
                        secrets.push((file.to_string(), value.line).into());
                    }
                }
            }
        }
    }
    let mut profiles = Vec::new();
    for (name, profile) in chosen {
        let keys = static_keys(profile)
            .map(|(key, _)| Location::from((path_of(key.file, &config, &credentials).to_string(), key.line)));
        let helper = helper_of(name, profile, &config, &credentials).map(|(helper, place)| {
            let command_line = match &helper {
                Ok(Helper::CommandLine(line)) => Some(line.as_str()),
                _ => None,
            };
            let command = command_line.map(|line| parse_command(line, false, platform));
            let needs_shell = command.as_ref().is_some_and(Result::is_err)
                && command_line
                    .is_some_and(|line| matches!(parse_command(line, true, platform), Ok(Command::Shell(_))));
            HelperReport {
                location: place.into(),
                helper,
                shadowed: keys.is_some(),
                command,
                needs_shell,
            }
        });
        let role = role::is_role(profile).then(|| {
            let role_arn = &profile["role_arn"];
            let chain = role::chain(name, everything, (&config, &credentials), &Environment::default());
            RoleReport {
                location: (
                    path_of(role_arn.file, &config, &credentials).to_string(),
                    role_arn.line,
                )
                    .into(),
                asks_for_mfa: chain.as_ref().is_ok_and(|c| {
                    c.roles
                        .iter()
                        .any(|r| r.mfa_serial.is_some() && r.mfa_process.is_none())
                }),
                chain: chain.map(|c| {
                    let base = match &c.base {
                        Base::StaticKeys(_) => "static keys",
                        Base::Process(settings) => match settings.helper {
                            Helper::CommandLine(_) => "credential_process",
                            Helper::Plugin(_) => "credential_plugin",
                        },
                        Base::Environment => "environment",
                    };
                    let mut names: Vec<String> = c.roles.iter().rev().map(|r| r.profile.clone()).collect();
                    names.push(format!("{} ({base})", c.base_profile));
                    names
                }),
            }
        });
        // A source credbox does not run, when nothing it runs is named.
        let runs_nothing = role.is_none() && keys.is_none() && helper.is_none();
        let sso = (runs_nothing && sso::is_sso(profile))
            .then(|| sso::settings(name, profile, everything, &config, &credentials));
        let other = runs_nothing
            .then(|| {
                OTHER_SOURCES.iter().find_map(|(setting, kind, _)| {
                    let value = profile.get(*setting)?;
                    Some(OtherSource {
                        kind: *kind,
                        setting: setting.to_string(),
                        location: (path_of(value.file, &config, &credentials).to_string(), value.line).into(),
                        sso: sso.as_ref().and_then(|s| s.as_ref().ok()).cloned(),
                        problem: sso.as_ref().and_then(|s| match s {
                            Err(Error::Config(e)) => Some(e.clone()),
                            _ => None,
                        }),
                    })
                })
            })
            .flatten();
        profiles.push(ProfileReport {
            profile: name.clone(),
            static_keys: keys,
            helper,
            role,
            other,
        });
    }
    Ok(Report { profiles, secrets })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SyntaxRule;
    use crate::{ConfigError, SyntaxError};

    fn run(config: &str, credentials: &str, only: Option<&str>) -> Result<Report, Error> {
        let file = |path, text| FileText { path, text };
        report(file("/c", config), file("/k", credentials), only, Platform::Unix)
    }

    #[test]
    fn shadowing_shell_needs_and_secrets_are_the_policy_s() {
        let report = run(
            "[profile keys]\naws_access_key_id = A\naws_secret_access_key = S\ncredential_process = /h\n\
             [profile shell]\ncredential_process = /h | base64 -d\n\
             [profile relative]\ncredential_process = ./h\n\
             [profile region]\nregion = eu-west-1\n",
            "[k]\naws_access_key_id = A\naws_secret_access_key = S\n",
            None,
        )
        .unwrap();
        let names: Vec<&str> = report.profiles.iter().map(|p| p.profile.as_str()).collect();
        assert_eq!(names, ["k", "keys", "region", "relative", "shell"]);
        let region = report.profiles.iter().find(|p| p.profile == "region").unwrap();
        assert_eq!(
            (&region.static_keys, &region.helper),
            (&None, &None),
            "it supplies nothing"
        );
        let helper = |name: &str| {
            report
                .profiles
                .iter()
                .find(|p| p.profile == name)
                .unwrap()
                .helper
                .clone()
        };
        let keys = helper("keys").unwrap();
        assert!(keys.shadowed);
        assert_eq!(keys.location, ("/c".to_string(), 4).into());
        let shell = helper("shell").unwrap();
        assert!(shell.needs_shell);
        assert!(matches!(
            shell.command,
            Some(Err(Error::CommandSyntax(SyntaxError {
                rule: SyntaxRule::ShellOperator,
                ..
            })))
        ));
        let relative = helper("relative").unwrap();
        assert!(
            !relative.needs_shell,
            "no shell makes a relative program absolute"
        );
        assert_eq!(
            report.secrets,
            [("/k".to_string(), 3).into(), ("/c".to_string(), 3).into()]
        );
    }

    #[test]
    fn role_profiles_report_their_chain_or_why_it_is_broken() {
        let config = "[profile base]\ncredential_process = /h\n\
            [profile prod]\nrole_arn = arn:aws:iam::1:role/P\nsource_profile = base\nmfa_serial = arn:mfa\n\
            [profile a]\nrole_arn = arn:aws:iam::1:role/A\nsource_profile = b\n\
            [profile b]\nrole_arn = arn:aws:iam::1:role/B\nsource_profile = a\n";
        let report = run(config, "", None).unwrap();
        let role = |name: &str| {
            report
                .profiles
                .iter()
                .find(|p| p.profile == name)
                .unwrap()
                .role
                .clone()
        };
        let prod = role("prod").unwrap();
        assert_eq!(
            prod.chain,
            Ok(vec!["prod".to_string(), "base (credential_process)".to_string()])
        );
        assert_eq!(prod.location, ("/c".to_string(), 4).into());
        assert!(prod.asks_for_mfa);
        assert!(
            matches!(role("a").unwrap().chain, Err(Error::Config(ConfigError { message, .. })) if message.contains("cycle"))
        );
        assert_eq!(role("base"), None);
        // Asked about one profile, the chain still reaches the others.
        let only = run(config, "", Some("prod")).unwrap();
        assert_eq!(only.profiles[0].role.as_ref().unwrap().chain, prod.chain);
    }

    #[test]
    fn one_profile_or_a_clear_error() {
        let report = run("[profile p]\ncredential_plugin = p.wasm\n", "", Some("p")).unwrap();
        let helper = report.profiles[0].helper.clone().unwrap();
        assert!(
            matches!(helper.helper, Err(Error::Config(ConfigError { .. }))),
            "a relative plugin path"
        );
        assert!(helper.command.is_none());
        let Err(Error::Config(ConfigError { message, .. })) = run("", "", Some("missing")) else {
            panic!()
        };
        assert!(message.contains("profile not found"), "{message}");
    }
}
