//! The guest's typed errors as credbox's one-line messages: what each case means for the user and
//! how to fix it, naming the profile (or command, or plugin) and the place.

use super::{CallError, GuestError, wit};
use crate::error::{Error, ErrorKind};
use crate::text::format_time;

/// What an error is about, for its message.
pub(crate) enum Context<'a> {
    Profile(&'a str),
    /// A profile whose credentials come from a `credential_plugin`.
    PluginProfile(&'a str),
    Command(&'a str),
    Plugin(&'a str),
}

impl Context<'_> {
    /// What a message about this context starts with: `profile dev`, `helper /opt/bin/h`, ...
    pub(crate) fn subject(&self) -> String {
        match self {
            Context::Profile(profile) | Context::PluginProfile(profile) => format!("profile {profile}"),
            Context::Command(program) => format!("helper {program}"),
            Context::Plugin(path) => format!("plugin {path}"),
        }
    }
}

impl Error {
    /// Render a guest error about a profile or a profile-less command.
    pub(crate) fn from_guest(error: GuestError, context: &Context, origin: Option<&wit::Location>) -> Self {
        let source = match context {
            Context::PluginProfile(_) | Context::Plugin(_) => "plugin",
            Context::Profile(_) | Context::Command(_) => "helper",
        };
        // Where the command line came from, as the message names it.
        let setting = match context {
            Context::Profile(_) => "credential_process",
            Context::PluginProfile(_) => "credential_plugin",
            Context::Command(_) => "the command",
            Context::Plugin(_) => "the plugin",
        };
        let (kind, detail) = describe(error, origin, source, setting);
        Error::new(kind, format!("{}: {detail}", context.subject()))
    }

    /// Render a failed guest call: the guest's answer about a profile or a profile-less command,
    /// or (a trap, a limit) a failure of credbox itself.
    pub(crate) fn from_call(error: CallError, context: &Context, origin: Option<&wit::Location>) -> Self {
        match error {
            CallError::Policy(e) => Self::from_guest(*e, context, origin),
            CallError::Failed(e) => Self::internal(e),
        }
    }
}

/// A guest error as a finding's message: what is wrong and how to fix it, without the profile or
/// the place (a finding has its own).
pub(crate) fn detail(error: GuestError) -> String {
    match error {
        GuestError::Config(e) => e.message,
        other => describe(other, None, "helper", "credential_process").1,
    }
}

/// The last non-empty line of a helper's stderr, shortened, for a one-line message.
fn last_line(stderr_tail: &str) -> Option<String> {
    let line = stderr_tail.lines().rev().map(str::trim).find(|l| !l.is_empty())?;
    Some(crate::text::one_line(line))
}

const SHAPE: &str = r#"it must print {"Version": 1, "AccessKeyId": ..., "SecretAccessKey": ..., ...}"#;

/// `source` is what produced the output: "helper" or "plugin"; `setting` is where the command
/// came from: "credential_process", or "the command" for `credbox run`.
fn describe(
    error: GuestError,
    origin: Option<&wit::Location>,
    source: &str,
    setting: &str,
) -> (ErrorKind, String) {
    use ErrorKind as K;
    match error {
        GuestError::Config(e) => {
            let message = match &e.location {
                Some(location) => format!("{location}: {}", e.message),
                None => e.message,
            };
            (K::Config, message)
        }
        GuestError::CommandSyntax(e) => {
            let word = e.word;
            let why = match e.rule {
                wit::SyntaxRule::Empty => {
                    "is empty; set it to the helper's absolute path and its arguments".to_string()
                }
                wit::SyntaxRule::UnbalancedQuote => {
                    format!("has an unclosed quote or a trailing backslash at `{word}`; close the quote")
                }
                wit::SyntaxRule::EnvironmentVariable => format!(
                    "uses the environment variable in `{word}`, but {setting} runs without a shell, so nothing expands it; write the value out in full"
                ),
                wit::SyntaxRule::Tilde => format!(
                    "`{word}` starts with ~, which only a shell expands; write the home directory out in full (e.g. /home/me/...)"
                ),
                wit::SyntaxRule::ShellOperator => format!(
                    "`{word}` is shell syntax (a pipe, redirection, `;`, `&&` or substitution), but {setting} runs without a shell; put the pipeline in a script, or pass --allow-shell"
                ),
                wit::SyntaxRule::RelativeProgram => format!(
                    "program `{word}` is a relative path, which would depend on the current directory; use an absolute path or a program name found on PATH"
                ),
            };
            let place = origin.map(|o| format!(" ({o})")).unwrap_or_default();
            (K::CommandSyntax, format!("{setting}{place} {why}"))
        }
        // Where the helper is defined, as every profile error names its place.
        GuestError::SpawnDenied(why) => {
            let place = origin.map(|o| format!(" ({setting} at {o})")).unwrap_or_default();
            (K::SpawnDenied, format!("helper not run{place}: {why}"))
        }
        GuestError::SpawnFailed(why) => {
            let place = origin.map(|o| format!(" ({setting} at {o})")).unwrap_or_default();
            (K::SpawnFailed, format!("could not run the helper{place}: {why}"))
        }
        GuestError::TimedOut(ms) => (
            K::TimedOut,
            format!(
                "the helper did not finish within {:.1} s and was killed; if it needs longer, raise --timeout",
                ms as f64 / 1000.0
            ),
        ),
        GuestError::NonzeroExit(failure) => {
            let how = match failure.status {
                wit::ExitStatus::Code(code) => format!("exited with code {code}"),
                wit::ExitStatus::Signal(signal) => format!("was killed by signal {signal}"),
            };
            let stderr = match last_line(&failure.stderr_tail) {
                Some(line) => format!("; its stderr ends: {line}"),
                None => " and wrote nothing to stderr".to_string(),
            };
            (K::NonzeroExit, format!("the helper {how}{stderr}"))
        }
        GuestError::OutputTooLarge(limit) if source == "plugin" => (
            K::OutputTooLarge,
            format!(
                "the plugin returned more than {} KiB of credentials, the most a helper may print; they were not used",
                limit / 1024
            ),
        ),
        GuestError::OutputTooLarge(limit) => (
            K::OutputTooLarge,
            format!(
                "the helper wrote more than {} KiB to stdout and was killed; {SHAPE}",
                limit / 1024
            ),
        ),
        GuestError::MalformedOutput(m) => {
            let position = match (m.line, m.column) {
                (Some(line), Some(column)) => format!(" at line {line}, column {column}"),
                _ => String::new(),
            };
            (
                K::MalformedOutput,
                format!(
                    "the {source}'s output is not a credential_process document: {}{position}; {SHAPE}",
                    m.reason
                ),
            )
        }
        GuestError::UnsupportedVersion(found) => {
            let found = if found == "missing" {
                "no Version".to_string()
            } else {
                format!("Version {found}")
            };
            (
                K::UnsupportedVersion,
                format!(
                    "the {source}'s output has {found}; credbox understands only \"Version\": 1 (a number)"
                ),
            )
        }
        GuestError::MissingField(field) => (
            K::MissingField,
            format!("the {source}'s output has no {field} (or it is empty); it is required"),
        ),
        GuestError::InvalidField(f) => (
            K::InvalidField,
            format!("the {source}'s output field {} {}", f.field, f.reason),
        ),
        GuestError::Expired(at) => (
            K::Expired,
            format!(
                "the {source} returned expired credentials (Expiration {}); check the {source}'s session or this machine's clock",
                format_time(at)
            ),
        ),
        GuestError::Plugin(e) => (K::Plugin, describe_plugin(e)),
        GuestError::Sts(failure) => (K::Sts, describe_sts(failure)),
        GuestError::Mfa(why) => (K::Mfa, why),
    }
}

/// An STS failure: the role, whose credentials asked (masked), what STS or the network said, and
/// what to do about the common causes.
fn describe_sts(failure: wit::StsFailure) -> String {
    let asked = format!(
        "assuming {} with the credentials of profile {} (access key {})",
        failure.role_arn, failure.source_profile, failure.source_key
    );
    match failure.error {
        wit::StsError::Denied(why) => format!("{asked} was not attempted: {why}"),
        wit::StsError::Unreachable(why) => format!(
            "{asked} failed: {why}; check the network, HTTPS_PROXY/NO_PROXY, or the STS endpoint setting"
        ),
        wit::StsError::Malformed(why) => format!("{asked} failed: {why}"),
        wit::StsError::Rejected(r) => {
            let request = r
                .request_id
                .map(|id| format!(" (request id {id})"))
                .unwrap_or_default();
            let hint = if r.message.contains("MultiFactorAuthentication") || r.message.contains("MFA") {
                "; the MFA code was wrong or expired: enter a fresh one"
            } else {
                match r.code.as_str() {
                    "AccessDenied" => {
                        "; the role's trust policy must allow this identity (and the MFA device, if it requires one)"
                    }
                    "ExpiredToken" => {
                        "; the source credentials have expired: refresh them (credbox cache clear --profile for a helper)"
                    }
                    "InvalidClientTokenId" | "SignatureDoesNotMatch" => {
                        "; the source credentials are not valid for this endpoint"
                    }
                    _ => "",
                }
            };
            format!(
                "{asked} failed: STS {} (HTTP {}): {}{request}{hint}",
                r.code, r.status, r.message
            )
        }
    }
}

fn describe_plugin(error: wit::PluginError) -> String {
    use wit::PluginError as P;
    match error {
        P::NotLoadable(why) => format!("the credential plugin cannot be loaded: {why}"),
        P::MissingExport(what) => format!(
            "the credential plugin does not export {what}; build it for the credential-plugin world in wit/credbox.wit"
        ),
        P::WrongType(why) => format!(
            "the credential plugin's exports do not have the types of the credential-plugin world in wit/credbox.wit: {why}"
        ),
        P::RetrieveFailed(message) => format!("the credential plugin's retrieve failed: {message}"),
        P::Trapped(why) => format!("the credential plugin crashed (trap): {why}"),
        P::OutOfFuel(fuel) => format!(
            "the credential plugin ran past its budget of {fuel} instructions (a loop?) and was stopped"
        ),
        P::OutOfMemory(bytes) => format!(
            "the credential plugin tried to use more than {} MiB of memory and was stopped",
            bytes >> 20
        ),
    }
}
