//! Expiry, refresh and caching decisions for one `credential_process` (BEHAVIOUR.md §5).

use std::cell::RefCell;

use serde::{Deserialize, Serialize};

use crate::resolve::{Helper, ProcessSettings};
use crate::role::{Endpoint, RoleSettings};
use crate::{
    Command, Credentials, Error, ExitStatus, Platform, PluginError, StsError, StsFailure, SyntaxRule, mask,
    parse_command, validate_credentials, validate_output,
};

/// The user's options (mirrors the WIT `options`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    pub min_ttl_seconds: u64,
    pub timeout_ms: u64,
    pub allow_shell: bool,
    pub platform: Platform,
}

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

/// What the provider asks the host to run (mirrors the WIT `spawn.request`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpawnRequest {
    pub command: Command,
    pub timeout_ms: u64,
    pub label: String,
}

/// A helper that ran to completion (mirrors the WIT `spawn.output`).
pub struct SpawnOutput {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr_tail: String,
}

/// Why a helper did not run to completion (mirrors the WIT `spawn.spawn-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpawnError {
    Denied(String),
    Failed(String),
    TimedOut(u64),
    OutputTooLarge(u64),
}

/// Why a plugin call gave no answer (mirrors the WIT `plugins.call-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PluginCallError {
    Denied(String),
    Failed(String),
    TooLarge(u64),
    Plugin(PluginError),
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

/// An STS `AssumeRole` call (mirrors the WIT `sts.assume-role-request`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssumeRoleRequest {
    pub source: Credentials,
    pub role_arn: String,
    /// Absent: the host names the session.
    pub session_name: Option<String>,
    pub external_id: Option<String>,
    pub duration_seconds: Option<u32>,
    /// The MFA serial and the code.
    pub mfa: Option<(String, String)>,
    pub source_identity: Option<String>,
    pub endpoint: Endpoint,
}

/// Why the person gave no MFA code (mirrors the WIT `prompt.prompt-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PromptError {
    Unavailable(String),
    Cancelled,
    NotACode,
}

/// The provider's view of the outside world: the host's capabilities and the clock.
pub trait Host {
    fn spawn(&self, request: SpawnRequest) -> Result<SpawnOutput, SpawnError>;
    /// The `retrieve` of the credential plugin at `path`.
    fn plugin_retrieve(&self, path: &str) -> Result<Credentials, PluginCallError>;
    /// The `is-expired` of the credential plugin at `path`.
    fn plugin_is_expired(&self, path: &str, credentials: &Credentials) -> Result<bool, PluginCallError>;
    /// STS `AssumeRole`: the credentials and the assumed role's ARN.
    fn assume_role(&self, request: AssumeRoleRequest) -> Result<(Credentials, String), StsError>;
    /// Ask the person for the MFA code of `serial`.
    fn mfa_code(&self, profile: &str, serial: &str) -> Result<String, PromptError>;
    /// Seconds since the Unix epoch.
    fn now(&self) -> i64;
}

/// Credentials and when they were fetched (the start of their lifetime as credbox saw it).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fetched {
    credentials: Credentials,
    fetched_at: i64,
    /// A plugin's `is-expired` was just asked about them (by `restore`): the next reuse need not
    /// ask again.
    vetted: bool,
}

impl Fetched {
    /// The instant from which these credentials must no longer be served: expiration minus the
    /// refresh window, the window being min(min-ttl, lifetime / 2). `i64::MAX` if long-term.
    fn serve_until(&self, min_ttl_seconds: u64) -> i64 {
        let Some(expiration) = self.credentials.expiration else {
            return i64::MAX;
        };
        let lifetime = expiration.saturating_sub(self.fetched_at).max(0);
        let min_ttl = i64::try_from(min_ttl_seconds).unwrap_or(i64::MAX);
        expiration - min_ttl.min(lifetime / 2)
    }
}

/// A cache entry as stored on disk. Versioned and bound to the profile and command line, so that
/// an entry can never be served for another command even if a host mixes files up.
#[derive(Serialize, Deserialize)]
struct CacheEntry {
    credbox_cache: u32,
    profile: String,
    command_line: String,
    /// The plugin's path for `credential_plugin` profiles (absent in entries for processes, whose
    /// `command_line` is then empty: the on-disk format of credbox 0.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plugin: Option<String>,
    /// For a role: its cache key (what decides the credentials; no secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<String>,
    fetched_at: i64,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    expiration: i64,
    account_id: Option<String>,
}

const CACHE_FORMAT: u32 = 1;

/// A role to assume with given source credentials.
struct RoleJob {
    settings: RoleSettings,
    source: Credentials,
    source_profile: String,
}

/// A digest of the whole source credentials (access key id, secret, session token), so that a
/// role's entry is bound to the credentials that signed its call without holding their secret.
/// SHA-256 over length-prefixed fields: no two different triples hash the same bytes.
fn source_digest(source: &Credentials) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let token = source.session_token.as_deref();
    for field in [
        b"credbox-role-source-v1".as_slice(),
        source.access_key_id.as_bytes(),
        source.secret_access_key.as_bytes(),
        token.unwrap_or("").as_bytes(),
        &[u8::from(token.is_some())],
    ] {
        hasher.update((field.len() as u64).to_le_bytes());
        hasher.update(field);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Seconds since the epoch as credbox prints instants (`2026-01-02T03:04:05Z`).
fn utc(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| seconds.to_string())
}

/// STS's longest session: `AssumeRole` grants at most 12 hours, whatever is asked.
const STS_MAX_DURATION: i64 = 12 * 3600;
/// STS's default session when no duration is asked.
const STS_DEFAULT_DURATION: i64 = 3600;

/// STS `TokenCode`s are six digits.
fn is_mfa_code(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// The account of an assumed role's ARN (`arn:aws:sts::ACCOUNT:assumed-role/...`), as botocore
/// reads it; only twelve digits are an account.
fn account_of(assumed_role_arn: &str) -> Option<String> {
    let account = assumed_role_arn.split(':').nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then(|| account.to_string())
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

    /// What decides this provider's credentials, as text: for a role, the source credentials (their
    /// access key id, and a digest of the whole key, secret and token: two sources that share a key
    /// id but not a secret are different sources) and every parameter of the call; for a helper,
    /// its command line or plugin path.
    pub fn cache_key(&self) -> Vec<u8> {
        let Some(job) = &self.role else {
            let (command_line, plugin) = self.entry_helper();
            return serde_json::to_vec(&(
                &self.settings.profile,
                command_line,
                plugin,
                &self.settings.account_id,
            ))
            .unwrap_or_default();
        };
        let r = &job.settings;
        serde_json::to_vec(&serde_json::json!({
            "role": r.role_arn,
            "profile": r.profile,
            "source": job.source.access_key_id,
            "source_digest": source_digest(&job.source),
            "session": r.session_name,
            "external_id": r.external_id,
            "duration": r.duration_seconds,
            "mfa_serial": r.mfa_serial,
            "source_identity": r.source_identity,
            "endpoint": r.endpoint.url,
            "region": r.endpoint.region,
            "ca_bundle": r.endpoint.ca_bundle,
        }))
        .unwrap_or_default()
    }

    /// Assume the role: ask for an MFA code first when the role needs one.
    fn assume(&self, job: &RoleJob, host: &impl Host) -> Result<(Credentials, i64), Error> {
        let r = &job.settings;
        let mfa = match &r.mfa_serial {
            None => None,
            Some(serial) => Some((serial.clone(), self.mfa_code(r, serial, host)?)),
        };
        let request = AssumeRoleRequest {
            source: job.source.clone(),
            role_arn: r.role_arn.clone(),
            session_name: r.session_name.clone(),
            external_id: r.external_id.clone(),
            duration_seconds: r.duration_seconds,
            mfa,
            source_identity: r.source_identity.clone(),
            endpoint: r.endpoint.clone(),
        };
        let (returned, assumed_role_arn) = host.assume_role(request).map_err(|error| {
            Error::Sts(Box::new(StsFailure {
                role_arn: r.role_arn.clone(),
                source_key: mask(&job.source.access_key_id),
                source_profile: job.source_profile.clone(),
                error,
            }))
        })?;
        let now = host.now();
        let malformed = |why: String| {
            Error::Sts(Box::new(StsFailure {
                role_arn: r.role_arn.clone(),
                source_key: mask(&job.source.access_key_id),
                source_profile: job.source_profile.clone(),
                error: StsError::Malformed(why),
            }))
        };
        // What STS says is bounded by what was asked: credentials that outlive the session asked
        // for (or STS's longest) are kept only that long, and expired ones are STS's fault, not a
        // helper's.
        let asked = r
            .duration_seconds
            .map_or(STS_DEFAULT_DURATION, i64::from)
            .min(STS_MAX_DURATION);
        let mut returned = returned;
        match returned.expiration {
            None => return Err(malformed("the answer has no expiration".into())),
            Some(expiration) if expiration <= now => {
                return Err(malformed(format!(
                    "the answer's credentials expired at {} (this machine's clock says {}); check the clock, or the STS endpoint",
                    utc(expiration),
                    utc(now)
                )));
            }
            Some(expiration) => returned.expiration = Some(expiration.min(now.saturating_add(asked))),
        }
        let account_id = account_of(&assumed_role_arn);
        let credentials =
            validate_credentials(returned, account_id.as_deref(), now).map_err(|e| match e {
                // STS's answer, not a helper's output, is at fault: say so.
                Error::MissingField(field) => malformed(format!("the answer has no {field}")),
                Error::InvalidField { field, reason } => malformed(format!("the answer's {field}: {reason}")),
                other => other,
            })?;
        if credentials.session_token.is_none() {
            return Err(malformed("the answer has no session token".into()));
        }
        Ok((credentials, now))
    }

    /// The MFA code: from `mfa_process` (run through `spawn`) or from the person. Every failure
    /// is an `mfa` error (the host names the role's profile in front of it).
    fn mfa_code(&self, r: &RoleSettings, serial: &str, host: &impl Host) -> Result<String, Error> {
        let not_a_code = || {
            Error::Mfa(format!(
                "what was entered for {serial} is not a 6-digit MFA code; run the command again and type the code your device shows"
            ))
        };
        let Some(process) = &r.mfa_process else {
            let code = host.mfa_code(&r.profile, serial).map_err(|e| match e {
                PromptError::Unavailable(why) => Error::Mfa(format!(
                    "needs an MFA code for {serial}, but {why}; run credbox where it can ask on a terminal, or set mfa_process to a command that prints the code"
                )),
                PromptError::Cancelled => Error::Mfa(format!("no MFA code was entered for {serial}")),
                PromptError::NotACode => not_a_code(),
            })?;
            // What was typed is never shown: it may be a password typed into the wrong prompt.
            return if is_mfa_code(&code) {
                Ok(code)
            } else {
                Err(not_a_code())
            };
        };
        // The command line is never quoted back: it may carry a TOTP seed (`oathtool -b SEED`).
        let command = parse_command(process, self.options.allow_shell, self.options.platform).map_err(|e| {
            let why = match e {
                Error::CommandSyntax { rule, .. } => match rule {
                    SyntaxRule::Empty => "is empty",
                    SyntaxRule::UnbalancedQuote => "has an unclosed quote or a trailing backslash",
                    SyntaxRule::EnvironmentVariable => "uses an environment variable, which nothing expands",
                    SyntaxRule::Tilde => "uses ~, which only a shell expands",
                    SyntaxRule::ShellOperator => "uses shell syntax (a pipe, redirection, `;`, `&&` or substitution)",
                    SyntaxRule::RelativeProgram => "names its program by a relative path",
                },
                _ => "cannot be parsed",
            };
            Error::Mfa(format!(
                "mfa_process {why}, but it runs without a shell; write the program's absolute path (or a name on PATH) and its arguments, or put the pipeline in a script"
            ))
        })?;
        let output = host
            .spawn(SpawnRequest {
                command,
                timeout_ms: self.options.timeout_ms,
                label: format!("{} mfa_process", r.profile),
            })
            .map_err(|e| {
                Error::Mfa(match e {
                    SpawnError::Denied(why) => format!("mfa_process was not run: {why}"),
                    SpawnError::Failed(why) => format!("mfa_process could not run: {why}"),
                    SpawnError::TimedOut(ms) => {
                        format!(
                            "mfa_process did not finish within {:.1} s and was killed",
                            ms as f64 / 1000.0
                        )
                    }
                    SpawnError::OutputTooLarge(n) => {
                        format!(
                            "mfa_process printed more than {} KiB; make it print only the code",
                            n / 1024
                        )
                    }
                })
            })?;
        if output.status != ExitStatus::Code(0) {
            let how = match output.status {
                ExitStatus::Code(code) => format!("exited with code {code}"),
                ExitStatus::Signal(signal) => format!("was killed by signal {signal}"),
            };
            return Err(Error::Mfa(format!(
                "mfa_process {how}; run it by hand to see why (its output is never shown: it holds codes)"
            )));
        }
        // The code itself is never shown: a message says only what shape it had.
        let code = String::from_utf8(output.stdout).unwrap_or_default();
        let code = code.trim();
        if !is_mfa_code(code) {
            return Err(Error::Mfa(format!(
                "mfa_process printed {} characters, not a 6-digit MFA code; make it print only the code",
                code.chars().count()
            )));
        }
        Ok(code.to_string())
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
                    return Err(Error::NonzeroExit {
                        status: output.status,
                        stderr_tail: output.stderr_tail,
                    });
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

    /// A role's cache key as its cache entry records it.
    fn role_key(&self) -> Option<String> {
        self.role
            .as_ref()
            .map(|_| String::from_utf8_lossy(&self.cache_key()).into_owned())
    }

    /// The command line and plugin path as the cache entry records them.
    fn entry_helper(&self) -> (&str, Option<&str>) {
        match &self.settings.helper {
            Helper::CommandLine(command_line) => (command_line, None),
            Helper::Plugin(path) => ("", Some(path)),
        }
    }

    /// Adopt a stored entry if it is ours, well-formed, still outside the refresh window and (for
    /// a plugin) not expired in the plugin's own judgement.
    pub fn restore(&self, entry: &[u8], host: &impl Host) -> Result<bool, Error> {
        let Ok(entry) = serde_json::from_slice::<CacheEntry>(entry) else {
            return Ok(false);
        };
        let (command_line, plugin) = self.entry_helper();
        if entry.credbox_cache != CACHE_FORMAT
            || entry.profile != self.settings.profile
            || entry.command_line != command_line
            || entry.plugin.as_deref() != plugin
            || entry.role != self.role_key()
            || entry.access_key_id.is_empty()
            || entry.secret_access_key.is_empty()
        {
            return Ok(false);
        }
        let fetched = Fetched {
            credentials: Credentials {
                access_key_id: entry.access_key_id,
                secret_access_key: entry.secret_access_key,
                session_token: entry.session_token,
                expiration: Some(entry.expiration),
                account_id: entry.account_id,
            },
            fetched_at: entry.fetched_at,
            vetted: plugin.is_some(),
        };
        if host.now() >= fetched.serve_until(self.options.min_ttl_seconds) {
            return Ok(false);
        }
        if let Some(path) = plugin
            && host.plugin_is_expired(path, &fetched.credentials)?
        {
            return Ok(false);
        }
        *self.current.borrow_mut() = Some(fetched);
        Ok(true)
    }

    /// The entry to store for the current credentials; `None` for long-term ones, which never go
    /// to disk.
    pub fn cache_entry(&self) -> Option<Vec<u8>> {
        let current = self.current.borrow();
        let Fetched {
            credentials,
            fetched_at,
            ..
        } = current.as_ref()?;
        let (command_line, plugin) = self.entry_helper();
        let entry = CacheEntry {
            credbox_cache: CACHE_FORMAT,
            profile: self.settings.profile.clone(),
            command_line: command_line.to_string(),
            plugin: plugin.map(String::from),
            role: self.role_key(),
            fetched_at: *fetched_at,
            access_key_id: credentials.access_key_id.clone(),
            secret_access_key: credentials.secret_access_key.clone(),
            session_token: credentials.session_token.clone(),
            expiration: credentials.expiration?,
            account_id: credentials.account_id.clone(),
        };
        serde_json::to_vec(&entry).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A host with a clock the test moves, a helper whose output the test sets, and a plugin that
    /// calls its credentials expired when the test says so.
    struct TestHost {
        now: Cell<i64>,
        lifetime: Cell<Option<i64>>,
        runs: Cell<u32>,
        plugin_says_expired: Cell<bool>,
        expiry_asks: Cell<u32>,
        assumed: RefCell<Vec<AssumeRoleRequest>>,
        prompts: Cell<u32>,
        /// The expiration STS answers with; `None`: an hour from now.
        sts_expiration: Cell<Option<i64>>,
    }

    impl TestHost {
        fn new(lifetime: Option<i64>) -> Self {
            TestHost {
                now: Cell::new(1_000_000),
                lifetime: Cell::new(lifetime),
                runs: Cell::new(0),
                plugin_says_expired: Cell::new(false),
                expiry_asks: Cell::new(0),
                assumed: RefCell::new(Vec::new()),
                prompts: Cell::new(0),
                sts_expiration: Cell::new(None),
            }
        }

        /// The same host, `seconds` later.
        fn at(&self, seconds: i64) -> &Self {
            self.now.set(self.now.get() + seconds);
            self
        }
    }

    impl Host for TestHost {
        fn spawn(&self, request: SpawnRequest) -> Result<SpawnOutput, SpawnError> {
            assert_eq!(request.command, Command::Argv(vec!["/h".into()]));
            self.runs.set(self.runs.get() + 1);
            let expiration = self.lifetime.get().map(|l| {
                let t = jiff::Timestamp::from_second(self.now.get() + l).unwrap();
                format!(r#","Expiration":"{t}""#)
            });
            let json = format!(
                r#"{{"Version":1,"AccessKeyId":"AK{}","SecretAccessKey":"S"{}}}"#,
                self.runs.get(),
                expiration.unwrap_or_default()
            );
            Ok(SpawnOutput {
                status: ExitStatus::Code(0),
                stdout: json.into_bytes(),
                stderr_tail: String::new(),
            })
        }
        fn plugin_retrieve(&self, path: &str) -> Result<Credentials, PluginCallError> {
            assert_eq!(path, "/p.wasm");
            self.runs.set(self.runs.get() + 1);
            Ok(Credentials {
                access_key_id: format!("AK{}", self.runs.get()),
                secret_access_key: "S".into(),
                session_token: None,
                expiration: self.lifetime.get().map(|l| self.now.get() + l),
                account_id: None,
            })
        }
        fn plugin_is_expired(&self, _: &str, _: &Credentials) -> Result<bool, PluginCallError> {
            self.expiry_asks.set(self.expiry_asks.get() + 1);
            Ok(self.plugin_says_expired.get())
        }
        fn assume_role(&self, request: AssumeRoleRequest) -> Result<(Credentials, String), StsError> {
            self.runs.set(self.runs.get() + 1);
            self.assumed.borrow_mut().push(request);
            Ok((
                Credentials {
                    access_key_id: format!("ASIA{}", self.runs.get()),
                    secret_access_key: "S".into(),
                    session_token: Some("T".into()),
                    expiration: Some(self.sts_expiration.get().unwrap_or(self.now.get() + 3600)),
                    account_id: None,
                },
                "arn:aws:sts::210987654321:assumed-role/Deploy/s".into(),
            ))
        }
        fn mfa_code(&self, _: &str, _: &str) -> Result<String, PromptError> {
            self.prompts.set(self.prompts.get() + 1);
            Ok("123456".into())
        }
        fn now(&self) -> i64 {
            self.now.get()
        }
    }

    fn role(mfa_serial: Option<&str>) -> RoleSettings {
        RoleSettings {
            profile: "prod".into(),
            role_arn: "arn:aws:iam::210987654321:role/Deploy".into(),
            session_name: None,
            external_id: Some("x".into()),
            duration_seconds: Some(1800),
            mfa_serial: mfa_serial.map(String::from),
            mfa_process: None,
            source_identity: None,
            endpoint: Endpoint {
                url: "https://sts.amazonaws.com".into(),
                region: "us-east-1".into(),
                ca_bundle: None,
            },
            origin: ("/c".into(), 1),
        }
    }

    fn source(key: &str) -> Credentials {
        Credentials {
            access_key_id: key.into(),
            secret_access_key: "base-secret".into(),
            session_token: None,
            expiration: None,
            account_id: None,
        }
    }

    #[test]
    fn a_role_asks_once_and_its_entry_is_bound_to_source_and_parameters() {
        let host = TestHost::new(None);
        let p = Provider::for_role(
            role(Some("arn:mfa")),
            source("AKIABASE"),
            "base".into(),
            Options::default(),
        );
        let credentials = p.retrieve(&host).unwrap();
        assert_eq!(credentials.account_id.as_deref(), Some("210987654321"));
        p.retrieve(host.at(60)).unwrap();
        assert_eq!(
            (host.runs.get(), host.prompts.get()),
            (1, 1),
            "one STS call, one prompt"
        );
        let sent = host.assumed.borrow()[0].clone();
        assert_eq!(sent.mfa, Some(("arn:mfa".into(), "123456".into())));
        assert_eq!(sent.session_name, None, "the host names an unnamed session");
        assert_eq!(
            (sent.duration_seconds, sent.external_id.as_deref()),
            (Some(1800), Some("x"))
        );

        let entry = p.cache_entry().unwrap();
        let same = Provider::for_role(
            role(Some("arn:mfa")),
            source("AKIABASE"),
            "base".into(),
            Options::default(),
        );
        assert!(same.restore(&entry, &host).unwrap());
        assert_eq!(same.cache_key(), p.cache_key());
        for other in [
            Provider::for_role(
                role(Some("arn:mfa")),
                source("AKIAOTHER"),
                "base".into(),
                Options::default(),
            ),
            // The same key id with another secret, or with a session token: another source.
            Provider::for_role(
                role(Some("arn:mfa")),
                Credentials {
                    secret_access_key: "wrong-secret".into(),
                    ..source("AKIABASE")
                },
                "base".into(),
                Options::default(),
            ),
            Provider::for_role(
                role(Some("arn:mfa")),
                Credentials {
                    session_token: Some("token".into()),
                    ..source("AKIABASE")
                },
                "base".into(),
                Options::default(),
            ),
            Provider::for_role(role(None), source("AKIABASE"), "base".into(), Options::default()),
            provider(),
        ] {
            assert!(!other.restore(&entry, &host).unwrap());
            assert_ne!(other.cache_key(), p.cache_key());
        }
    }

    #[test]
    fn a_role_s_key_and_entry_hold_no_secret_of_its_source() {
        let host = TestHost::new(None);
        let p = Provider::for_role(role(None), source("AKIABASE"), "base".into(), Options::default());
        p.retrieve(&host).unwrap();
        let entry = String::from_utf8(p.cache_entry().unwrap()).unwrap();
        let key = String::from_utf8(p.cache_key()).unwrap();
        for text in [&entry, &key] {
            assert!(!text.contains("base-secret"), "{text}");
        }
        assert!(key.contains("source_digest"), "{key}");
    }

    #[test]
    fn what_sts_says_is_bounded_by_what_was_asked() {
        let host = TestHost::new(None);
        // 2200-01-01: kept only as long as the 1800 s session asked for.
        host.sts_expiration.set(Some(7_258_118_400));
        let p = Provider::for_role(role(None), source("AKIABASE"), "base".into(), Options::default());
        let credentials = p.retrieve(&host).unwrap();
        assert_eq!(credentials.expiration, Some(host.now() + 1800));
        // Already expired: STS's fault, said as such, never "the helper's output".
        host.sts_expiration.set(Some(host.now() - 1));
        let p = Provider::for_role(role(None), source("AKIABASE"), "base".into(), Options::default());
        let Err(Error::Sts(failure)) = p.retrieve(&host) else {
            panic!("an expired answer was accepted");
        };
        let StsError::Malformed(why) = failure.error else {
            panic!("{:?}", failure.error);
        };
        assert!(why.contains("expired at"), "{why}");
    }

    fn provider() -> Provider {
        let settings = ProcessSettings::command("p", "/h");
        Provider::new(settings, Options::default())
    }

    /// Advance the clock by `step` seconds until `until`, counting helper runs.
    fn runs_over(host: &TestHost, provider: &Provider, until: i64, step: i64) -> u32 {
        let start = host.now.get();
        while host.now.get() < start + until {
            provider.retrieve(host).unwrap();
            host.now.set(host.now.get() + step);
        }
        host.runs.get()
    }

    #[test]
    fn one_hour_credentials_are_reused_until_fifteen_minutes_remain() {
        let host = TestHost::new(Some(3600));
        let p = provider();
        p.retrieve(&host).unwrap();
        host.now.set(host.now.get() + 45 * 60 - 1);
        assert_eq!(p.retrieve(&host).unwrap().access_key_id, "AK1");
        host.now.set(host.now.get() + 1);
        assert_eq!(p.retrieve(&host).unwrap().access_key_id, "AK2");
    }

    #[test]
    fn fifteen_minute_credentials_are_not_refetched_on_every_call() {
        let host = TestHost::new(Some(900));
        // Window = min(15 min, 7.5 min): one run per 7.5 minutes, over an hour with a call every 10 s.
        assert_eq!(runs_over(&host, &provider(), 3600, 10), 8);
    }

    #[test]
    fn long_term_credentials_are_never_refetched_nor_stored() {
        let host = TestHost::new(None);
        let p = provider();
        assert_eq!(runs_over(&host, &p, 86_400 * 30, 3600), 1);
        assert_eq!(p.serve_until(), Some(i64::MAX));
        assert_eq!(p.cache_entry(), None);
    }

    #[test]
    fn cache_entries_round_trip_and_are_bound_to_the_command() {
        let host = TestHost::new(Some(3600));
        let p = provider();
        p.retrieve(&host).unwrap();
        let entry = p.cache_entry().unwrap();

        let other = provider();
        assert!(other.restore(&entry, host.at(60)).unwrap());
        assert_eq!(other.retrieve(&host).unwrap().access_key_id, "AK1");
        assert!(!provider().restore(b"{not json", &host).unwrap());
        let settings = ProcessSettings::command("p", "/h2");
        let elsewhere = Provider::new(settings, Options::default());
        assert!(
            !elsewhere.restore(&entry, &host).unwrap(),
            "another command's entry"
        );
        let plugin = Provider::new(plugin_settings(), Options::default());
        assert!(
            !plugin.restore(&entry, &host).unwrap(),
            "a command's entry, for a plugin"
        );
        assert!(
            !provider().restore(&entry, host.at(45 * 60)).unwrap(),
            "inside the window"
        );
    }

    fn plugin_settings() -> ProcessSettings {
        ProcessSettings::new("p", Helper::Plugin("/p.wasm".into()))
    }

    #[test]
    fn a_plugin_is_asked_before_every_reuse_and_restore_counts_as_the_ask() {
        let host = TestHost::new(Some(3600));
        let p = Provider::new(plugin_settings(), Options::default());
        assert_eq!(p.retrieve(&host).unwrap().access_key_id, "AK1");
        assert_eq!(host.expiry_asks.get(), 0, "fresh credentials need no ask");
        assert_eq!(
            p.serve_until(),
            None,
            "hosts must not serve a plugin's credentials on their own"
        );
        assert_eq!(p.retrieve(host.at(60)).unwrap().access_key_id, "AK1");
        assert_eq!(host.expiry_asks.get(), 1);

        // Another process adopts the entry: restore asks, and the retrieve right after does not.
        let entry = p.cache_entry().unwrap();
        let other = Provider::new(plugin_settings(), Options::default());
        assert!(other.restore(&entry, &host).unwrap());
        assert_eq!(other.retrieve(&host).unwrap().access_key_id, "AK1");
        assert_eq!(host.expiry_asks.get(), 2);

        // The plugin calls them expired: restore refuses the entry, retrieve fetches anew.
        host.plugin_says_expired.set(true);
        let third = Provider::new(plugin_settings(), Options::default());
        assert!(!third.restore(&entry, &host).unwrap());
        assert_eq!(p.retrieve(&host).unwrap().access_key_id, "AK2");
        assert_eq!(host.runs.get(), 2);
    }
}
