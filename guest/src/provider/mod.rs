//! Expiry, refresh and caching decisions for one `credential_process` (BEHAVIOUR.md §5).

mod assume;
mod entry;

use assume::RoleJob;
use entry::Fetched;
#[cfg(test)]
mod tests;

use std::cell::RefCell;

use crate::wit::plugins::CallError as PluginCallError;
use crate::wit::prompt::PromptError;
use crate::wit::spawn::{Output as SpawnOutput, Request as SpawnRequest, SpawnError};
use crate::wit::sts::{AssumeRoleRequest, AssumedRole};
use crate::wit::{Helper, ProcessSettings, RoleSettings};
use crate::{
    Credentials, Error, ExitStatus, HelperFailure, Platform, StsError, parse_command, validate_credentials,
    validate_output,
};

pub use crate::wit::provider::Options;

impl Default for Options {
    fn default() -> Self {
        Options {
            min_ttl_seconds: 15 * 60,
            timeout_ms: 60_000,
            allow_shell: false,
            platform: Platform::Unix,
        }
    }
}

impl From<SpawnError> for Error {
    fn from(e: SpawnError) -> Self {
        match e {
            SpawnError::Denied(why) => Error::SpawnDenied(why),
            SpawnError::Failed(why) => Error::SpawnFailed(why),
            SpawnError::TimedOut(ms) => Error::TimedOut(ms),
            SpawnError::OutputTooLarge(limit) => Error::OutputTooLarge(limit),
        }
    }
}

impl From<PluginCallError> for Error {
    fn from(e: PluginCallError) -> Self {
        match e {
            PluginCallError::Denied(why) => Error::SpawnDenied(why),
            PluginCallError::Failed(why) => Error::SpawnFailed(why),
            PluginCallError::TooLarge(limit) => Error::OutputTooLarge(limit),
            PluginCallError::Plugin(e) => Error::Plugin(e),
        }
    }
}

/// The provider's view of the outside world: the host's imports (in the component, the WIT
/// imports themselves; in native tests, a stand-in) and the clock.
pub trait Host {
    /// `spawn.run`.
    fn spawn(&self, request: SpawnRequest) -> Result<SpawnOutput, SpawnError>;
    /// `plugins.retrieve`: the credential plugin at `path`.
    fn plugin_retrieve(&self, path: &str) -> Result<Credentials, PluginCallError>;
    /// `plugins.is-expired`.
    fn plugin_is_expired(&self, path: &str, credentials: &Credentials) -> Result<bool, PluginCallError>;
    /// `sts.assume-role`.
    fn assume_role(&self, request: AssumeRoleRequest) -> Result<AssumedRole, StsError>;
    /// `prompt.mfa-code`: ask the person for the MFA code of `serial`.
    fn mfa_code(&self, profile: &str, serial: &str) -> Result<String, PromptError>;
    /// Seconds since the Unix epoch.
    fn now(&self) -> i64;
}

/// One profile's `credential_process` (or plugin, or role), fetched at most once per refresh
/// window.
pub struct Provider {
    settings: ProcessSettings,
    /// Set for a role: then `settings` only names the profile.
    role: Option<RoleJob>,
    options: Options,
    current: RefCell<Option<Fetched>>,
}

impl Provider {
    pub fn new(settings: ProcessSettings, options: Options) -> Self {
        Provider {
            settings,
            role: None,
            options,
            current: RefCell::new(None),
        }
    }

    /// A provider that assumes `settings`' role with `source`, the credentials of `source_profile`.
    pub fn for_role(
        settings: RoleSettings,
        source: Credentials,
        source_profile: String,
        options: Options,
    ) -> Self {
        Provider {
            settings: ProcessSettings::new(&settings.profile, Helper::CommandLine(String::new())),
            role: Some(RoleJob {
                settings,
                source,
                source_profile,
            }),
            options,
            current: RefCell::new(None),
        }
    }

    /// The cached credentials if they may be reused, else fresh ones.
    pub fn retrieve(&self, host: &impl Host) -> Result<Credentials, Error> {
        if let Some(credentials) = self.reusable(host)? {
            return Ok(credentials);
        }
        let account_id = self.settings.account_id.as_deref();
        let (credentials, now) = match (&self.role, &self.settings.helper) {
            (Some(job), _) => self.assume(job, host)?,
            (None, Helper::CommandLine(command_line)) => {
                let output = host.spawn(SpawnRequest {
                    command: parse_command(command_line, self.options.allow_shell, self.options.platform)?,
                    timeout_ms: self.options.timeout_ms,
                    label: self.settings.profile.clone(),
                })?;
                if output.status != ExitStatus::Code(0) {
                    return Err(Error::NonzeroExit(HelperFailure {
                        status: output.status,
                        stderr_tail: output.stderr_tail,
                    }));
                }
                let now = host.now();
                (validate_output(&output.stdout, account_id, now)?, now)
            }
            (None, Helper::Plugin(path)) => {
                let returned = host.plugin_retrieve(path)?;
                let now = host.now();
                (validate_credentials(returned, account_id, now)?, now)
            }
        };
        *self.current.borrow_mut() = Some(Fetched {
            credentials: credentials.clone(),
            fetched_at: now,
            vetted: false,
        });
        Ok(credentials)
    }

    /// The current credentials, when they are outside the refresh window and (for a plugin) the
    /// plugin does not call them expired; asking the plugin once per reuse, as plugincreds does.
    fn reusable(&self, host: &impl Host) -> Result<Option<Credentials>, Error> {
        let mut current = self.current.borrow_mut();
        let Some(fetched) = current.as_mut() else {
            return Ok(None);
        };
        if host.now() >= fetched.serve_until(self.options.min_ttl_seconds) {
            return Ok(None);
        }
        if let Helper::Plugin(path) = &self.settings.helper
            && !std::mem::take(&mut fetched.vetted)
            && host.plugin_is_expired(path, &fetched.credentials)?
        {
            *current = None;
            return Ok(None);
        }
        Ok(Some(fetched.credentials.clone()))
    }

    /// Until when the current credentials may be served without asking again: never for a
    /// plugin's, whose `is-expired` is asked before every reuse.
    pub fn serve_until(&self) -> Option<i64> {
        if matches!(self.settings.helper, Helper::Plugin(_)) {
            return None;
        }
        self.current
            .borrow()
            .as_ref()
            .map(|f| f.serve_until(self.options.min_ttl_seconds))
    }

    pub fn invalidate(&self) {
        self.current.borrow_mut().take();
    }
}
