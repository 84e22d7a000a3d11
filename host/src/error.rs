//! credbox's errors: one line each, naming the profile and the file or field, saying how to fix it.
//! Nothing here ever holds a helper's stdout, a secret key or a session token.

use crate::component::{CallError, GuestError, wit};

/// What an error is about, for its message.
pub(crate) enum Context<'a> {
    Profile(&'a str),
    /// A profile whose credentials come from a `credential_plugin`.
    PluginProfile(&'a str),
    Command(&'a str),
    Plugin(&'a str),
}

/// The class of a failure; each maps to a documented exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The command line is wrong (a bad option value, no cache directory to clear).
    Usage,
    /// The profile files or the selected profile are unusable.
    Config,
    /// `credential_process` breaks a syntax rule.
    CommandSyntax,
    /// Policy refused to run the helper (allow-list, pin, shell, recursion).
    SpawnDenied,
    /// The helper could not be started.
    SpawnFailed,
    /// The helper ran past the timeout.
    TimedOut,
    /// The helper exited unsuccessfully.
    NonzeroExit,
    /// The helper wrote more than 64 KiB to stdout.
    OutputTooLarge,
    /// The helper's output is not one JSON object.
    MalformedOutput,
    /// `Version` is missing or not 1.
    UnsupportedVersion,
    /// A required field is missing or empty.
    MissingField,
    /// A field is present but unusable.
    InvalidField,
    /// The helper returned expired credentials.
    Expired,
    /// A credential plugin could not be loaded, failed, or hit its limits.
    Plugin,
    /// A bug or an environment problem in credbox itself (I/O, the WebAssembly runtime).
    Internal,
}

impl ErrorKind {
    /// The process exit code for this class (documented in the README).
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Usage => 2,
            ErrorKind::Config | ErrorKind::CommandSyntax => 3,
            ErrorKind::SpawnDenied
            | ErrorKind::SpawnFailed
            | ErrorKind::TimedOut
            | ErrorKind::NonzeroExit
            | ErrorKind::OutputTooLarge
            | ErrorKind::Plugin => 4,
            ErrorKind::MalformedOutput
            | ErrorKind::UnsupportedVersion
            | ErrorKind::MissingField
            | ErrorKind::InvalidField
            | ErrorKind::Expired => 5,
            ErrorKind::Internal => 70,
        }
    }
}

/// A failure with its class and a one-line message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// An error of class `kind` with a one-line `message` (which must hold no secret).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// The class of the failure, which decides the exit code.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Render a guest error about a profile or a profile-less command.
    pub(crate) fn from_guest(error: GuestError, context: &Context, origin: Option<&wit::Location>) -> Self {
        let source = match context {
            Context::PluginProfile(_) | Context::Plugin(_) => "plugin",
            Context::Profile(_) | Context::Command(_) => "helper",
        };
        let (kind, detail) = describe(error, origin, source);
        let message = match context {
            Context::Profile(profile) | Context::PluginProfile(profile) => {
                format!("profile {profile}: {detail}")
            }
            Context::Command(program) => format!("helper {program}: {detail}"),
            Context::Plugin(path) => format!("plugin {path}: {detail}"),
        };
        Error { kind, message }
    }

    /// Render a failed guest call: the guest's answer about a profile or a profile-less command,
    /// or (a trap, a limit) a failure of credbox itself.
    pub(crate) fn from_call(error: CallError, context: &Context, origin: Option<&wit::Location>) -> Self {
        match error {
            CallError::Policy(e) => Self::from_guest(e, context, origin),
            CallError::Failed(e) => Self::internal(e),
        }
    }

    /// An unexpected failure in credbox itself.
    pub fn internal(error: anyhow::Error) -> Self {
        Error {
            kind: ErrorKind::Internal,
            message: format!("internal error: {error:#}"),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

fn at(location: &wit::Location) -> String {
    match location.line {
        Some(line) => format!("{}:{line}", location.file),
        None => location.file.clone(),
    }
}

/// The last non-empty line of a helper's stderr, shortened, for a one-line message.
fn last_line(stderr_tail: &str) -> Option<String> {
    let line = stderr_tail.lines().rev().map(str::trim).find(|l| !l.is_empty())?;
    let mut shown: String = line.chars().filter(|c| !c.is_control()).take(300).collect();
    if shown.len() < line.len() {
        shown.push('…');
    }
    Some(shown)
}

/// Seconds since the epoch as RFC 3339 UTC with `Z`, as credbox prints expirations.
pub fn format_time(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| seconds.to_string())
}

const SHAPE: &str = r#"it must print {"Version": 1, "AccessKeyId": ..., "SecretAccessKey": ..., ...}"#;

/// `source` is what produced the output: "helper" or "plugin".
fn describe(error: GuestError, origin: Option<&wit::Location>, source: &str) -> (ErrorKind, String) {
    use ErrorKind as K;
    match error {
        GuestError::Config(e) => {
            let message = match &e.location {
                Some(location) => format!("{}: {}", at(location), e.message),
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
                    "uses the environment variable in `{word}`, but credential_process runs without a shell, so nothing expands it; write the value out in full"
                ),
                wit::SyntaxRule::Tilde => format!(
                    "`{word}` starts with ~, which only a shell expands; write the home directory out in full (e.g. /home/me/...)"
                ),
                wit::SyntaxRule::ShellOperator => format!(
                    "`{word}` is shell syntax (a pipe, redirection, `;`, `&&` or substitution), but credential_process runs without a shell; put the pipeline in a script, or pass --allow-shell"
                ),
                wit::SyntaxRule::RelativeProgram => format!(
                    "program `{word}` is a relative path, which would depend on the current directory; use an absolute path or a program name found on PATH"
                ),
            };
            let place = origin.map(|o| format!(" ({})", at(o))).unwrap_or_default();
            (K::CommandSyntax, format!("credential_process{place} {why}"))
        }
        GuestError::SpawnDenied(why) => (K::SpawnDenied, format!("helper not run: {why}")),
        GuestError::SpawnFailed(why) => (K::SpawnFailed, format!("could not run the helper: {why}")),
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
