//! credbox's errors: one line each, naming the profile and the file or field, saying how to fix it.
//! Nothing here ever holds a helper's stdout, a secret key or a session token.

pub use crate::text::format_time;

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
    /// A role could not be assumed: STS refused, could not be reached, or gave no credentials.
    Sts,
    /// A role needs an MFA code and none could be had (no terminal, `mfa_process` failed).
    Mfa,
    /// `exec`'s command was not found (exit 127, as a shell reports it).
    CommandNotFound,
    /// `exec`'s command was found but could not be run (exit 126, as a shell reports it).
    CommandNotRunnable,
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
            ErrorKind::Sts | ErrorKind::Mfa => 6,
            ErrorKind::CommandNotRunnable => 126,
            ErrorKind::CommandNotFound => 127,
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
    /// An error of class `kind` with a one-line `message` (which must hold no secret). Whatever
    /// it quotes (a profile value, a path, what STS or a helper said) is made printable here, once
    /// for every message: a control character is shown as an escape, never sent to a terminal.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let message = message.into();
        Error {
            kind,
            message: match crate::text::printable(&message) {
                std::borrow::Cow::Borrowed(_) => message,
                std::borrow::Cow::Owned(shown) => shown,
            },
        }
    }

    /// The class of the failure, which decides the exit code.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// An unexpected failure in credbox itself.
    pub fn internal(error: anyhow::Error) -> Self {
        Error::new(ErrorKind::Internal, format!("internal error: {error:#}"))
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
