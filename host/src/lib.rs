//! credbox: a sandboxed runner for AWS `credential_process` helpers.
//!
//! All policy (profile files, command syntax, output validation, expiry) runs in a WebAssembly
//! component whose only capability is [`spawn`], which this crate implements with hard ceilings.
//! See `docs/ARCHITECTURE.md`.

pub mod engine_config;
pub mod error;
pub mod files;
pub mod format;
pub mod runtime;
pub mod spawn;

use std::time::Duration;

pub use error::{Error, ErrorKind};
pub use runtime::Runtime;
use runtime::{Options, Session, Source};
pub use spawn::{SpawnPolicy, StdinMode};

/// AWS credentials. `Debug` shows the access key id masked and never the secret or the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    /// Seconds since the Unix epoch; `None` for long-term credentials.
    pub expiration: Option<i64>,
    pub account_id: Option<String>,
}

impl Credentials {
    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }
}

impl From<runtime::Credentials> for Credentials {
    fn from(c: runtime::Credentials) -> Self {
        Credentials {
            access_key_id: c.access_key_id,
            secret_access_key: c.secret_access_key,
            session_token: c.session_token,
            expiration: c.expiration,
            account_id: c.account_id,
        }
    }
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

/// An access key id as `aws configure list` shows it: 16 stars and the last four characters.
pub fn mask(access_key_id: &str) -> String {
    let chars: Vec<char> = access_key_id.chars().collect();
    let shown: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("{}{shown}", "*".repeat(16))
}

/// How credentials for a profile are fetched.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// Refresh when less than this remains (the window is also at most half the lifetime).
    pub min_ttl: Duration,
    /// How long the helper may run.
    pub timeout: Duration,
    /// The host's ceilings on running the helper.
    pub policy: SpawnPolicy,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            min_ttl: Duration::from_secs(15 * 60),
            timeout: Duration::from_secs(60),
            policy: SpawnPolicy::default(),
        }
    }
}

impl ExportOptions {
    fn guest_options(&self) -> Options {
        Options {
            min_ttl_seconds: self.min_ttl.as_secs(),
            timeout_ms: self.timeout.as_millis() as u64,
            allow_shell: self.policy.allow_shell,
        }
    }
}

/// Resolve `profile` from the profile files at `locations` and return its credentials: its static
/// keys, or what its `credential_process` prints.
pub fn credentials_for_profile(
    runtime: &Runtime,
    locations: &files::Locations,
    profile: &str,
    options: &ExportOptions,
) -> Result<Credentials, Error> {
    let files = files::read_files(locations)?;
    let mut policy = options.policy.clone();
    policy.max_timeout = policy.max_timeout.min(options.timeout);
    let mut session = runtime.session(policy, None).map_err(Error::internal)?;
    let source = session
        .resolve(&files, profile)
        .map_err(Error::internal)?
        .map_err(|e| Error::from_guest(e, Some(profile), None))?;
    match source {
        Source::StaticKeys(credentials) => Ok(credentials.into()),
        Source::Process(settings) => retrieve(&mut session, &settings, options),
    }
}

fn retrieve(
    session: &mut Session,
    settings: &runtime::ProcessSettings,
    options: &ExportOptions,
) -> Result<Credentials, Error> {
    let provider = session
        .new_provider(settings, options.guest_options())
        .map_err(Error::internal)?;
    session
        .retrieve(provider)
        .map_err(Error::internal)?
        .map(Credentials::from)
        .map_err(|e| Error::from_guest(e, Some(&settings.profile), settings.origin.as_ref()))
}
