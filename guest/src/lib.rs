//! credbox's policy, as plain Rust: profile files, `credential_process` syntax, output validation,
//! and expiry and caching decisions.
//!
//! Everything here is a pure function of its inputs (file text, helper output, the time), so it
//! unit-tests natively and fuzzes. The WebAssembly component is a thin layer over it
//! (`component`, built only for `wasm32`), whose only way out is the host's spawn capability.

pub mod command;
pub mod edit;
pub mod output;
pub mod profile;
pub mod provider;
pub mod report;
pub mod resolve;
pub mod role;

#[cfg(target_family = "wasm")]
mod component;

pub use command::{Command, parse_command};
pub use output::{validate_credentials, validate_output};

/// AWS credentials. `Debug` never shows the secret key or the session token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// Seconds since the Unix epoch; `None` for long-term credentials.
    pub expiration: Option<i64>,
    pub account_id: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &mask(&self.access_key_id))
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .field("expiration", &self.expiration)
            .field("account_id", &self.account_id)
            .finish()
    }
}

/// An access key id as `aws configure list` shows it: the last four characters, the rest starred.
pub fn mask(access_key_id: &str) -> String {
    let chars: Vec<char> = access_key_id.chars().collect();
    let shown: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("{}{shown}", "*".repeat(16))
}

/// Which system's rules a command line follows (mirrors the WIT `platform`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Platform {
    /// Words as Python's `shlex.split` makes them; programs are `/`-rooted or bare.
    #[default]
    Unix,
    /// Words as the Windows C runtime (and botocore on Windows) makes them; programs are
    /// `X:\`-rooted, UNC, or bare.
    Windows,
}

/// The rules of `credential_process` syntax (mirrors the WIT `syntax-rule`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyntaxRule {
    Empty,
    UnbalancedQuote,
    EnvironmentVariable,
    Tilde,
    ShellOperator,
    RelativeProgram,
}

/// How a helper ended (mirrors the WIT `exit-status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

/// Every way getting credentials can fail (mirrors the WIT `error`; see its docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    Config {
        profile: Option<String>,
        file: Option<String>,
        line: Option<u32>,
        message: String,
    },
    CommandSyntax {
        rule: SyntaxRule,
        word: String,
    },
    SpawnDenied(String),
    SpawnFailed(String),
    TimedOut(u64),
    NonzeroExit {
        status: ExitStatus,
        stderr_tail: String,
    },
    OutputTooLarge(u64),
    MalformedOutput {
        reason: String,
        line: Option<u32>,
        column: Option<u32>,
    },
    UnsupportedVersion(String),
    MissingField(String),
    InvalidField {
        field: String,
        reason: String,
    },
    Expired(i64),
    Plugin(PluginError),
    /// An STS call for a role failed.
    Sts(Box<StsFailure>),
    /// No MFA code could be had; says why and how to fix it.
    Mfa(String),
}

/// An STS call that gave no credentials (mirrors the WIT `sts-failure`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StsFailure {
    pub role_arn: String,
    /// Masked.
    pub source_key: String,
    pub source_profile: String,
    pub error: StsError,
}

/// Why STS gave no credentials (mirrors the WIT `sts-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StsError {
    Denied(String),
    Unreachable(String),
    Rejected {
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    Malformed(String),
}

/// Why a credential plugin gave no credentials (mirrors the WIT `plugin-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PluginError {
    NotLoadable(String),
    MissingExport(String),
    WrongType(String),
    RetrieveFailed(String),
    Trapped(String),
    OutOfFuel(u64),
    OutOfMemory(u64),
}
