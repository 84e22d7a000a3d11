//! `credbox check`: the audit of docs/SECURITY.md, per profile.

use std::path::Path;

use serde::Serialize;

use crate::CapabilityPolicy;
use crate::capabilities::spawn::{self, SpawnCommand};
use crate::component::{
    Context, GuestError, Helper, ProfileReport, ProfilesReport, Runtime, detail, wit, wit_profiles,
};
use crate::error::Error;
use crate::files::{self, Locations};
use crate::platform;

/// How bad a finding is. `check` exits 1 when any finding is an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing is wrong.
    Info,
    /// Probably a mistake, but credentials still resolve.
    Warning,
    /// The profile cannot work, or is unsafe: `check` exits 1.
    Error,
}

/// One thing `check` found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How bad it is.
    pub severity: Severity,
    /// The profile it concerns, if any (file-level findings have none).
    pub profile: Option<String>,
    /// `FILE` or `FILE:LINE`, when it concerns a place in a file.
    pub location: Option<String>,
    /// What is wrong and how to fix it, in one line.
    pub message: String,
}

/// A finding, everything from the files made printable (as text and as JSON).
fn finding(severity: Severity, profile: Option<&str>, location: Option<String>, message: String) -> Finding {
    let shown = |text: &str| crate::text::printable(text).into_owned();
    Finding {
        severity,
        profile: profile.map(shown),
        location: location.as_deref().map(shown),
        message: shown(&message),
    }
}

/// Audit every profile (or only `only`) defined by the files at `locations`.
pub fn check(runtime: &Runtime, locations: &Locations, only: Option<&str>) -> Result<Vec<Finding>, Error> {
    review(runtime, locations, only).map(|(_, findings)| findings)
}

/// [`check`], with the guest's report it was made from (`credbox list --all` shows both, from
/// one read and one parse of the files).
pub fn review(
    runtime: &Runtime,
    locations: &Locations,
    only: Option<&str>,
) -> Result<(ProfilesReport, Vec<Finding>), Error> {
    let files = files::read_files(locations)?;
    let mut findings = Vec::new();
    for path in [&locations.config, &locations.credentials] {
        if let Some(problem) = unsafe_ownership(Path::new(path), "profile file") {
            findings.push(finding(Severity::Error, None, None, problem));
        }
    }
    let mut session = runtime
        .session(CapabilityPolicy::default(), None)
        .map_err(Error::internal)?;
    // One guest call for all profiles: asking per profile would parse the files once each. What
    // supplies credentials, what is shadowed, what needs a shell: the guest's answers.
    let report = session
        .report(&files, only)
        .map_err(|e| Error::from_call(e, &Context::Profile(only.unwrap_or("(all)")), None))?;
    for ProfileReport {
        profile: name,
        helper,
        role,
        other,
        ..
    } in &report.profiles
    {
        // A source the SDKs run and credbox does not: not a mistake in the file, but `export`
        // will refuse it, so say so; a mistake in its settings (an SSO profile botocore would
        // refuse too) is an error.
        if let Some(wit_profiles::OtherSource {
            problem: Some(problem),
            ..
        }) = other
        {
            findings.push(finding(
                Severity::Error,
                Some(name),
                problem.location.as_ref().map(ToString::to_string),
                problem.message.clone(),
            ));
        } else if let Some(other) = other {
            let what = match other.kind {
                wit_profiles::OtherKind::Sso => "IAM Identity Center",
                wit_profiles::OtherKind::WebIdentity => "web identity",
                wit_profiles::OtherKind::ConsoleLogin => "console sign-in",
            };
            findings.push(finding(
                Severity::Warning,
                Some(name),
                Some(other.location.to_string()),
                format!(
                    "profile uses {what} ({}), which credbox does not run yet: credbox export refuses it (the AWS CLI runs it)",
                    other.setting
                ),
            ));
        }
        if let Some(role) = role {
            let helper_key = helper.as_ref().map(|h| match h.helper {
                Ok(Helper::Plugin(_)) => "credential_plugin",
                _ => "credential_process",
            });
            findings.extend(role_findings(name, role, helper_key));
        }
        let Some(helper) = helper else {
            continue;
        };
        let profile = Some(name.as_str());
        let at = Some(helper.location.to_string());
        let mut add = |severity, message| findings.push(finding(severity, profile, at.clone(), message));
        if let Err(e) = &helper.helper {
            add(Severity::Error, detail(e.clone()));
        }
        if helper.shadowed {
            let key = match &helper.helper {
                Ok(Helper::Plugin(_)) => "credential_plugin",
                _ => "credential_process",
            };
            add(
                Severity::Warning,
                format!("static keys shadow {key}: the helper never runs; remove one of them"),
            );
            continue;
        }
        match (&helper.helper, &helper.command) {
            (Err(_), _) => {}
            (Ok(Helper::Plugin(path)), _) => findings.extend(plugin_findings(name, &helper.location, path)),
            // The advice `export` gives (the same words), and what --allow-shell would change.
            (Ok(Helper::CommandLine(_)), Some(Err(e @ GuestError::CommandSyntax(_))))
                if helper.needs_shell =>
            {
                let advice = detail(e.clone());
                // A shell operator's advice already names --allow-shell.
                let message = if advice.contains("--allow-shell") {
                    format!("{advice} (which lets the command do whatever a shell can)")
                } else {
                    format!(
                        "{advice}; --allow-shell would run it through a shell, which lets the command do whatever a shell can"
                    )
                };
                add(Severity::Error, message)
            }
            (Ok(Helper::CommandLine(_)), Some(Err(e))) => add(Severity::Error, detail(e.clone())),
            (Ok(Helper::CommandLine(_)), Some(Ok(command))) => {
                if let SpawnCommand::Argv(argv) = SpawnCommand::from(command.clone()) {
                    findings.extend(program_findings(name, &helper.location, &argv));
                }
            }
            (Ok(Helper::CommandLine(_)), None) => {}
        }
    }
    for location in &report.secrets {
        let file = &location.file;
        if !readable_by_others(Path::new(file)) {
            continue;
        }
        // A key is a secret; an mfa_process may hold one (a TOTP seed) or not (a YubiKey's).
        let text = [&files.config, &files.credentials]
            .into_iter()
            .find(|f| &f.path == file)
            .map_or("", |f| f.text.as_str());
        let line = location
            .line
            .and_then(|n| text.lines().nth(n as usize - 1))
            .unwrap_or("");
        let mfa_process = line
            .split_once('=')
            .is_some_and(|(key, _)| key.trim().eq_ignore_ascii_case("mfa_process"));
        let (severity, what) = if mfa_process {
            (
                Severity::Warning,
                "an mfa_process, whose command line may carry a TOTP seed",
            )
        } else {
            (Severity::Error, "a secret key or session token")
        };
        findings.push(finding(
            severity,
            None,
            Some(location.to_string()),
            format!(
                "profile file {file} holds secrets ({what}) and can be read by group or others; {}",
                platform::private_hint(Path::new(file))
            ),
        ));
    }
    for file in [&files.config, &files.credentials] {
        findings.extend(unprintable_findings(file));
    }
    Ok((report, findings))
}

/// Lines of a profile file holding a character that could act on a terminal (ESC, BEL, a
/// bidirectional override...): credbox shows such text escaped, but other tools print values
/// raw. (Tabs are blanks in a profile file, and a line may end in CR.)
fn unprintable_findings(file: &wit_profiles::File) -> Vec<Finding> {
    let hostile = |c: char| c != '\t' && crate::text::unprintable(c);
    file.text
        .lines()
        .enumerate()
        .filter(|(_, line)| line.trim_end_matches('\r').chars().any(hostile))
        .map(|(index, line)| {
            // Named by code point, never quoted: the line may hold a secret.
            let mut named: Vec<String> = line.chars().filter(|&c| hostile(c)).map(|c| format!("U+{:04X}", c as u32)).collect();
            named.dedup();
            finding(
                Severity::Warning,
                None,
                Some(format!("{}:{}", file.path, index + 1)),
                format!(
                    "this line holds a control character ({}); remove it: other tools print values as they are, and it would act on the terminal",
                    named.join(", ")
                ),
            )
        })
        .collect()
}

/// Problems with a role profile: a broken chain, a helper the role makes unused, an MFA code
/// that nobody could type here.
fn role_findings(profile: &str, role: &wit_profiles::RoleReport, helper_key: Option<&str>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut add = |severity, message| {
        findings.push(finding(
            severity,
            Some(profile),
            Some(role.location.to_string()),
            message,
        ))
    };
    if let Err(e) = &role.chain {
        let message = detail(e.clone());
        // A chain that ends at a source credbox does not run (SSO, web identity, instance
        // metadata) is not a mistake in the file: the SDKs run it. A cycle or a missing profile is.
        let unsupported =
            message.contains("which credbox does not run") || message.contains("not supported by credbox");
        add(
            if unsupported {
                Severity::Warning
            } else {
                Severity::Error
            },
            message,
        );
    }
    if let Some(key) = helper_key {
        add(
            Severity::Warning,
            format!(
                "role_arn wins over {key} here: the helper only runs if this profile names itself as its source_profile; move it to a profile of its own and name that one"
            ),
        );
    }
    if role.asks_for_mfa && std::fs::File::open("/dev/tty").is_err() {
        add(
            Severity::Warning,
            "a role of this chain needs an MFA code, and there is no terminal here to type it; set mfa_process to a command that prints the code".into(),
        );
    }
    findings
}

/// Problems with the program a profile runs: missing, not executable, writable by others, or
/// credbox calling itself for the same profile.
fn program_findings(profile: &str, at: &wit::Location, argv: &[String]) -> Vec<Finding> {
    let mut found = Vec::new();
    let mut add =
        |severity, message| found.push(finding(severity, Some(profile), Some(at.to_string()), message));
    let program = match spawn::resolve_program(&argv[0]) {
        Ok(program) => program,
        Err(e) => {
            add(Severity::Error, spawn_error_text(e));
            return found;
        }
    };
    match std::fs::metadata(&program) {
        Err(_) => add(
            Severity::Error,
            format!("program `{}` does not exist", program.display()),
        ),
        Ok(_) if !platform::is_executable(&program) => add(
            Severity::Error,
            format!("program `{}` is not an executable file", program.display()),
        ),
        Ok(_) => {
            let resolved = std::fs::canonicalize(&program).unwrap_or(program.clone());
            for path in [Some(resolved.clone()), resolved.parent().map(Path::to_path_buf)]
                .into_iter()
                .flatten()
            {
                if let Some(problem) = unsafe_ownership(&path, "program") {
                    add(Severity::Error, problem);
                }
            }
            if calls_credbox_for(profile, &resolved, argv) {
                add(
                    Severity::Error,
                    "credential_process runs credbox for this same profile: it would recurse".into(),
                );
            }
        }
    }
    found
}

/// Problems with a `credential_plugin`: a missing file, or a file (or its directory) that others
/// could replace with a plugin of their own.
fn plugin_findings(profile: &str, at: &wit::Location, path: &str) -> Vec<Finding> {
    let mut found = Vec::new();
    let mut add = |message| {
        found.push(finding(
            Severity::Error,
            Some(profile),
            Some(at.to_string()),
            message,
        ))
    };
    let path = Path::new(path);
    match std::fs::canonicalize(path) {
        Err(_) => add(format!("plugin `{}` does not exist", path.display())),
        Ok(resolved) => {
            for path in [Some(resolved.clone()), resolved.parent().map(Path::to_path_buf)]
                .into_iter()
                .flatten()
            {
                if let Some(problem) = unsafe_ownership(&path, "plugin") {
                    add(problem);
                }
            }
        }
    }
    found
}

fn spawn_error_text(error: spawn::SpawnError) -> String {
    match error {
        spawn::SpawnError::Denied(why) | spawn::SpawnError::Failed(why) => why,
        other => format!("{other:?}"),
    }
}

/// Whether `argv` runs credbox for `profile` (explicitly, or `default` implicitly).
fn calls_credbox_for(profile: &str, program: &Path, argv: &[String]) -> bool {
    let is_credbox = program.file_name().is_some_and(|n| n == "credbox")
        || std::env::current_exe()
            .ok()
            .and_then(|e| std::fs::canonicalize(e).ok())
            == Some(program.to_path_buf());
    if !is_credbox {
        return false;
    }
    let named = argv
        .windows(2)
        .find(|w| w[0] == "--profile")
        .map(|w| w[1].as_str());
    let named = named.or_else(|| argv.iter().find_map(|a| a.strip_prefix("--profile=")));
    named.unwrap_or("default") == profile
}

/// Whether group or others may read `file`.
fn readable_by_others(file: &Path) -> bool {
    platform::exposure_of_path(file).is_ok_and(|e| e.others_read)
}

/// A file or directory that someone but its owner (or root, SYSTEM, the Administrators) could
/// change, said with the fix.
fn unsafe_ownership(path: &Path, what: &str) -> Option<String> {
    platform::exposure_of_path(path)
        .ok()?
        .changeable_by_others(what, path)
}
