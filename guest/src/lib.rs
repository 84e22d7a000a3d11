//! credbox's policy, as plain Rust: profile files, `credential_process` syntax, output validation,
//! and expiry and caching decisions.
//!
//! Everything here is a pure function of its inputs (file text, helper output, the time), so it
//! unit-tests natively and fuzzes. It speaks the WIT contract's own types ([`wit`], generated on
//! every target); the WebAssembly component (`component`, built only for `wasm32`) is glue that
//! exports the policy and hands it the host's imports.

// The policy's error is the WIT `error` variant itself, whose largest case (an STS failure) is a
// few hundred bytes: boxing it would mean a type of our own again, and errors are the cold path.
#![allow(clippy::result_large_err)]

pub mod command;
pub mod edit;
pub mod output;
pub mod profile;
pub mod provider;
pub mod report;
pub mod resolve;
pub mod role;
pub mod settings;
pub mod sso;
pub mod wit;

#[cfg(target_family = "wasm")]
mod component;

pub use command::parse_command;
pub use output::{validate_credentials, validate_output};
pub use wit::spawn::Command;
pub use wit::{
    ConfigError, Error, ExitStatus, HelperFailure, InvalidField, Location, MalformedOutput, Platform,
    PluginError, StsError, StsFailure, StsRejection, SyntaxError, SyntaxRule,
};

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

/// A place in a profile file: the file as the host named it, and the 1-based line.
pub type Place = (String, u32);

impl From<Place> for Location {
    fn from((file, line): Place) -> Self {
        Location {
            file,
            line: Some(line),
        }
    }
}

impl Error {
    /// A profile-file mistake: the profile, where it is (when known), and how to fix it.
    pub fn config(profile: Option<String>, location: Option<Location>, message: String) -> Self {
        Error::Config(ConfigError {
            profile,
            location,
            message,
        })
    }

    /// A field of the helper's output that is present but wrong.
    pub fn invalid_field(field: &str, reason: impl Into<String>) -> Self {
        Error::InvalidField(InvalidField {
            field: field.to_string(),
            reason: reason.into(),
        })
    }
}
