//! credbox: a sandboxed runner for AWS `credential_process` helpers.
//!
//! All policy (profile files, command syntax, output validation, expiry) runs in a WebAssembly
//! component whose only capability is [`spawn`], which this crate implements with hard ceilings.
//! See `docs/ARCHITECTURE.md`, and `docs/EMBEDDING.md` for using it as a library.

#![warn(missing_docs)]

pub mod audit;
#[cfg(feature = "aws-sdk")]
pub mod aws;
pub mod cache;
pub mod configure;
#[doc(hidden)] // Shared with the build script; not part of the API.
pub mod engine_config;
pub mod error;
pub mod files;
pub mod format;
pub mod plugin;
pub mod provider;
pub mod runtime;
pub mod serve;
pub mod spawn;

use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, info, warn};

pub use cache::Cache;
pub use error::{Error, ErrorKind};
pub use provider::{Provider, Target};
pub use runtime::{Clock, Runtime};
use runtime::{GuestError, Options, ProcessSettings, Session, Source};
pub use spawn::{SpawnCommand, SpawnPolicy, StdinMode};

/// AWS credentials. `Debug` shows the access key id masked and never the secret or the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id (not secret; shown masked in messages).
    pub access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    /// Seconds since the Unix epoch; `None` for long-term credentials.
    pub expiration: Option<i64>,
    /// The AWS account they belong to, when the helper or the profile says.
    pub account_id: Option<String>,
}

impl Credentials {
    /// The secret access key. Kept private so that it is only read on purpose.
    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    /// The session token of temporary credentials.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    /// Credentials from their parts (`expiration` in seconds since the Unix epoch).
    pub fn new(
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
        expiration: Option<i64>,
        account_id: Option<String>,
    ) -> Self {
        Credentials {
            access_key_id,
            secret_access_key,
            session_token,
            expiration,
            account_id,
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

/// How credentials are fetched.
#[derive(Clone)]
pub struct FetchOptions {
    /// Refresh when less than this remains (the window is also at most half the lifetime).
    pub min_ttl: Duration,
    /// How long the helper may run.
    pub timeout: Duration,
    /// The host's ceilings on running the helper.
    pub policy: SpawnPolicy,
    /// The cross-process cache, or `None` to always run the helper.
    pub cache: Option<Cache>,
    /// The time the guest sees; `None` for the system clock.
    pub clock: Option<Arc<dyn Clock>>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            min_ttl: Duration::from_secs(15 * 60),
            timeout: Duration::from_secs(60),
            policy: SpawnPolicy::default(),
            cache: None,
            clock: None,
        }
    }
}

impl FetchOptions {
    fn guest_options(&self) -> Options {
        Options {
            min_ttl_seconds: self.min_ttl.as_secs(),
            timeout_ms: self.timeout.as_millis() as u64,
            allow_shell: self.policy.allow_shell,
        }
    }

    fn session(&self, runtime: &Runtime) -> Result<Session, Error> {
        let mut policy = self.policy.clone();
        policy.max_timeout = policy.max_timeout.min(self.timeout);
        runtime
            .session(policy, self.clock.clone())
            .map_err(Error::internal)
    }
}

/// Where a profile's credentials come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Static keys in a profile file.
    StaticKeys,
    /// A helper process, run now.
    Process,
    /// A credential plugin, run now.
    Plugin,
    /// A helper's earlier output, from the cross-process cache.
    Cache,
}

/// Resolve `profile` from the files at `locations` and return its credentials: its static keys,
/// or what its `credential_process` prints (through the cache when one is given).
pub fn credentials_for_profile(
    runtime: &Runtime,
    locations: &files::Locations,
    profile: &str,
    options: &FetchOptions,
) -> Result<(Credentials, Origin), Error> {
    fetch_for_profile(runtime, locations, profile, options).map(|f| (f.credentials, f.origin))
}

fn fetch_for_profile(
    runtime: &Runtime,
    locations: &files::Locations,
    profile: &str,
    options: &FetchOptions,
) -> Result<Fetched, Error> {
    // A recorded decision is checked against the files' stamps first: a hit reads neither file.
    let sources = [locations.config.as_str(), locations.credentials.as_str()];
    let served = ServedRecord::new(options, &sources, profile);
    if let Some(fetched) = served.lookup(&options.policy, profile) {
        return Ok(fetched);
    }
    let (files, stamps) = files::read_files_stamped(locations)?;
    let mut session = options.session(runtime)?;
    let source = session
        .resolve(&files, profile)
        .map_err(Error::internal)?
        .map_err(|e| Error::from_guest(e, &Context::Profile(profile), None))?;
    match source {
        Source::StaticKeys(credentials) => {
            debug!(profile, "static keys in the profile; no helper runs");
            Ok(Fetched {
                credentials,
                origin: Origin::StaticKeys,
                serve_until: Some(i64::MAX),
                command: None,
            })
        }
        Source::Process(settings) => {
            if let Some(origin) = &settings.origin {
                debug!(profile, file = %origin.file, line = origin.line.unwrap_or(0), "credential_process");
            }
            let fetched = fetch_process(&mut session, &settings, options, &Context::Profile(profile))?;
            // A plugin's `is-expired` is asked before each reuse, so its answer is never recorded.
            if settings.plugin.is_none() {
                served.store(&fetched, || {
                    vec![
                        cache::FileSeen::new(&files.config, stamps[0]),
                        cache::FileSeen::new(&files.credentials, stamps[1]),
                    ]
                });
            }
            Ok(fetched)
        }
    }
}

/// The host's record of what the guest decided for exactly these inputs (BEHAVIOUR.md §5 allows serving
/// a copy until the instant the guest chose): a hit skips loading the guest entirely.
struct ServedRecord<'a> {
    place: Option<(&'a Cache, cache::ServeKey)>,
}

impl<'a> ServedRecord<'a> {
    /// The record for `label`'s decision over `sources` (profile-file paths, or a command line).
    fn new(options: &'a FetchOptions, sources: &[&str], label: &str) -> Self {
        // With a substituted clock the guest's time is not the system's: always ask the guest.
        let place = options
            .cache
            .as_ref()
            .filter(|_| options.clock.is_none())
            .map(|cache| {
                let key = cache::ServeKey::new(
                    runtime::GUEST_SHA256,
                    sources,
                    label,
                    options.min_ttl.as_secs(),
                    options.policy.allow_shell,
                );
                (cache, key)
            });
        ServedRecord { place }
    }

    /// The recorded answer, if it may still be served and the current policy would still run the
    /// command that produced it (caching never widens what runs); else the guest decides again.
    fn lookup(&self, policy: &SpawnPolicy, label: &str) -> Option<Fetched> {
        let (cache, key) = self.place.as_ref()?;
        let mut served = cache.read_served(key)?;
        if unix_now() >= served.serve_until {
            return None;
        }
        let Some(refreshed) = served.files_unchanged() else {
            debug!("a profile file changed since the recorded decision; asking the guest");
            return None;
        };
        if let Err(refusal) =
            spawn::check_admitted(policy, &served.command).and_then(|()| spawn::check_recursion(label))
        {
            debug!("not serving the recorded answer: {refusal:?}");
            return None;
        }
        if refreshed {
            debug!("the profile files were touched but say the same; recording their new stamps");
            if let Err(e) = cache.write_served(key, &served) {
                debug!("could not refresh the record's file stamps: {e}");
            }
        }
        info!(serve_until = %error::format_time(served.serve_until), "cache hit (the guest's earlier decision)");
        Some(Fetched {
            credentials: Credentials {
                access_key_id: served.access_key_id,
                secret_access_key: served.secret_access_key,
                session_token: served.session_token,
                expiration: served.expiration,
                account_id: served.account_id,
            },
            origin: Origin::Cache,
            serve_until: Some(served.serve_until),
            command: Some(served.command),
        })
    }

    /// Record the guest's decision, made from the profile files as `files` says they were (only
    /// worked out, hashing the files' text, when a record is written).
    fn store(&self, fetched: &Fetched, files: impl FnOnce() -> Vec<cache::FileSeen>) {
        let (Some((cache, key)), Some(serve_until), Some(command)) =
            (&self.place, fetched.serve_until, &fetched.command)
        else {
            return;
        };
        // Long-term credentials (served forever) never go to disk.
        if serve_until == i64::MAX || fetched.credentials.expiration.is_none() {
            return;
        }
        let c = &fetched.credentials;
        let record = cache::Served {
            serve_until,
            access_key_id: c.access_key_id.clone(),
            secret_access_key: c.secret_access_key.clone(),
            session_token: c.session_token.clone(),
            expiration: c.expiration,
            account_id: c.account_id.clone(),
            command: command.clone(),
            files: files(),
        };
        if let Err(e) = cache.write_served(key, &record) {
            warn!(
                "could not write the cache record in {}: {e}",
                cache.dir().display()
            );
        }
    }
}

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// What `fetch_process` got, until when the guest said it may be served, and the command that
/// produced it (none for static keys).
struct Fetched {
    credentials: Credentials,
    origin: Origin,
    serve_until: Option<i64>,
    command: Option<SpawnCommand>,
}

/// Run `argv` as a credential_process helper (no profile), with the same validation and caching.
pub fn credentials_for_command(
    runtime: &Runtime,
    argv: &[String],
    options: &FetchOptions,
) -> Result<(Credentials, Origin), Error> {
    fetch_for_command(runtime, argv, options).map(|f| (f.credentials, f.origin))
}

fn fetch_for_command(runtime: &Runtime, argv: &[String], options: &FetchOptions) -> Result<Fetched, Error> {
    let program = argv.first().map(String::as_str).unwrap_or("");
    let settings = ProcessSettings {
        // The label binds cache entries and the recursion guard to this program.
        profile: format!("run:{program}"),
        command_line: shell_join(argv),
        account_id: None,
        origin: None,
        plugin: None,
    };
    let served = ServedRecord::new(options, &[&settings.command_line], &settings.profile);
    if let Some(fetched) = served.lookup(&options.policy, &settings.profile) {
        return Ok(fetched);
    }
    let mut session = options.session(runtime)?;
    let fetched = fetch_process(&mut session, &settings, options, &Context::Command(program))?;
    served.store(&fetched, Vec::new);
    Ok(fetched)
}

/// Get credentials from the credential plugin component at `path` (no profile), with the same
/// validation and caching as a helper's.
pub fn credentials_for_plugin(
    runtime: &Runtime,
    path: &std::path::Path,
    options: &FetchOptions,
) -> Result<(Credentials, Origin), Error> {
    fetch_for_plugin(runtime, path, options).map(|f| (f.credentials, f.origin))
}

fn fetch_for_plugin(
    runtime: &Runtime,
    path: &std::path::Path,
    options: &FetchOptions,
) -> Result<Fetched, Error> {
    let shown = path.display().to_string();
    let path = std::path::absolute(path).map_err(|e| {
        Error::new(
            ErrorKind::Usage,
            format!("plugin {shown}: cannot make the path absolute: {e}"),
        )
    })?;
    let path = path.to_string_lossy().into_owned();
    let settings = ProcessSettings {
        profile: format!("plugin:{path}"),
        command_line: String::new(),
        account_id: None,
        origin: None,
        plugin: Some(path),
    };
    let mut session = options.session(runtime)?;
    fetch_process(&mut session, &settings, options, &Context::Plugin(&shown))
}

/// Quote words so that the guest's shell-word splitting gives them back unchanged.
fn shell_join(argv: &[String]) -> String {
    argv.iter()
        .map(|word| format!("'{}'", word.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What an error is about, for its message.
pub(crate) enum Context<'a> {
    Profile(&'a str),
    /// A profile whose credentials come from a `credential_plugin`.
    PluginProfile(&'a str),
    Command(&'a str),
    Plugin(&'a str),
}

fn fetch_process(
    session: &mut Session,
    settings: &ProcessSettings,
    options: &FetchOptions,
    context: &Context,
) -> Result<Fetched, Error> {
    let context = match (context, &settings.plugin) {
        (Context::Profile(profile), Some(_)) => &Context::PluginProfile(profile),
        _ => context,
    };
    let guest_error = |e: GuestError| Error::from_guest(e, context, settings.origin.as_ref());
    // Parsing first reports syntax errors before any cache or lock is touched, and gives the
    // exact command for the cache key.
    let command = match &settings.plugin {
        Some(path) => SpawnCommand::Plugin(path.clone()),
        None => session
            .parse_command(&settings.command_line, options.policy.allow_shell)
            .map_err(Error::internal)?
            .map_err(guest_error)?,
    };
    log_command(&command);
    // Recursion is refused before any cache read or lock, exactly as a run would refuse it: a
    // nested credbox would otherwise wait for the lock its grandparent holds until the timeout.
    spawn::check_recursion(&settings.profile).map_err(|refusal| guest_error(refusal.into()))?;
    let fresh = if settings.plugin.is_some() {
        Origin::Plugin
    } else {
        Origin::Process
    };
    let provider = session
        .new_provider(settings, options.guest_options())
        .map_err(Error::internal)?;
    let retrieve = |session: &mut Session| {
        session
            .retrieve(provider)
            .map_err(Error::internal)?
            .map_err(guest_error)
    };
    let done = |session: &mut Session, credentials, origin| -> Result<Fetched, Error> {
        let serve_until = session.serve_until(provider).map_err(Error::internal)?;
        Ok(Fetched {
            credentials,
            origin,
            serve_until,
            command: Some(command.clone()),
        })
    };
    let Some(cache) = &options.cache else {
        debug!("cache disabled; running the helper");
        let credentials = retrieve(session)?;
        return done(session, credentials, fresh);
    };
    let key = cache::CacheKey::new(&settings.profile, &command, settings.account_id.as_deref());
    let admitted = std::cell::Cell::new(false);
    // A stored entry the guest adopts, and (for a plugin) the plugin does not call expired.
    let restore = |session: &mut Session| -> Result<Option<Credentials>, Error> {
        let Some(entry) = cache.read(&key) else {
            return Ok(None);
        };
        // A cached answer is only used while the current policy would run the command now (a
        // plugin is checked by its loader, before `is-expired` runs). Checked once, and only
        // where an entry exists, so a miss does not hash a pinned program more than the run does.
        if !admitted.get() {
            spawn::check_admitted(&options.policy, &command)
                .map_err(|refusal| guest_error(refusal.into()))?;
            admitted.set(true);
        }
        if !session.restore(provider, &entry).map_err(Error::internal)? {
            return Ok(None);
        }
        let credentials = retrieve(session)?;
        if let Some(path) = &settings.plugin {
            let expired = session.plugin_is_expired(path, &credentials).map_err(|e| {
                guest_error(match e {
                    plugin::PluginFailure::Refused(refusal) => refusal.into(),
                    plugin::PluginFailure::Plugin(e) => GuestError::Plugin(e),
                })
            })?;
            if expired {
                info!("the plugin says its cached credentials have expired");
                session.invalidate(provider).map_err(Error::internal)?;
                return Ok(None);
            }
        }
        Ok(Some(credentials))
    };
    // Fast path: a good entry needs no lock.
    if let Some(credentials) = restore(session)? {
        log_serving(session, provider, "cache hit")?;
        return done(session, credentials, Origin::Cache);
    }
    let _lock = cache.lock(&key).map_err(|e| {
        Error::internal(anyhow::anyhow!(
            "locking the cache entry in {}: {e}",
            cache.dir().display()
        ))
    })?;
    // Whoever held the lock before us may have just refreshed the entry.
    if let Some(credentials) = restore(session)? {
        log_serving(session, provider, "cache hit after waiting for another credbox")?;
        return done(session, credentials, Origin::Cache);
    }
    info!("cache miss; running the helper");
    let credentials = retrieve(session)?;
    match session.cache_entry(provider).map_err(Error::internal)? {
        Some(entry) => match cache.write(&key, &entry) {
            Ok(()) => log_serving(session, provider, "cached")?,
            Err(e) => warn!(
                "could not write the cache entry in {}: {e}",
                cache.dir().display()
            ),
        },
        None => {
            debug!("long-term credentials are never written to disk");
            cache.remove(&key);
        }
    }
    done(session, credentials, fresh)
}

/// Log the command with its arguments redacted: they may name accounts or carry tokens.
fn log_command(command: &SpawnCommand) {
    match command {
        SpawnCommand::Argv(argv) => {
            debug!(program = %argv[0], arguments = argv.len() - 1, "helper command (arguments redacted)")
        }
        SpawnCommand::Shell(_) => debug!("helper command runs through /bin/sh -c (text redacted)"),
        SpawnCommand::Plugin(path) => debug!(plugin = %path, "credential plugin"),
    }
}

fn log_serving(session: &mut Session, provider: runtime::ProviderHandle, what: &str) -> Result<(), Error> {
    let until = session.serve_until(provider).map_err(Error::internal)?;
    match until {
        Some(i64::MAX) | None => info!("{what}"),
        Some(until) => info!(serve_until = %error::format_time(until), "{what}"),
    }
    Ok(())
}
