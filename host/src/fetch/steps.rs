//! The fetch path as named steps: the served record aside, restore, lock, retrieve, store. What
//! any step decides is the guest's; here is only the order, and the messages around it.

use std::path::Path;
use std::time::Duration;

use tracing::{debug, info, warn};

use crate::Credentials;
use crate::cache::{Cache, CacheKey, LockError};
use crate::capabilities::plugins;
use crate::capabilities::spawn::{self, SpawnCommand};
use crate::component::{
    CallError, Context, GuestError, Helper, Location, ProcessSettings, ProviderHandle, Session,
};
use crate::error::{Error, ErrorKind};
use crate::text::format_time;

use super::{FetchOptions, Origin};

/// What the fetch path got, until when the guest said it may be served, the command that
/// produced it (none for static keys and plugins, which are never recorded), and whether the
/// guest let them go to disk (it gives no cache entry for long-term keys).
pub(crate) struct Fetched {
    pub(crate) credentials: Credentials,
    pub(crate) origin: Origin,
    pub(crate) serve_until: Option<i64>,
    pub(super) command: Option<SpawnCommand>,
    pub(super) storable: bool,
}

/// What a helper runs, as the host keys the cache and checks its policy; or, for a role, what
/// the guest says decides its credentials.
pub(super) enum Runs {
    Command(SpawnCommand),
    Plugin(String),
    Role(Vec<u8>),
}

/// One helper's (or role's) credentials being fetched: the guest's provider for it, and what the
/// host needs around it (the error context, the cache key, the policy check).
pub(super) struct Fetch<'a> {
    pub(super) session: &'a mut Session,
    pub(super) provider: ProviderHandle,
    /// The profile (or label) the credentials are for.
    pub(super) profile: &'a str,
    /// The profile's `aws_account_id`, which keys a helper's entry.
    pub(super) account_id: Option<&'a str>,
    /// Where the helper or role is defined, for messages.
    pub(super) origin: Option<&'a Location>,
    pub(super) options: &'a FetchOptions,
    pub(super) context: &'a Context<'a>,
    pub(super) runs: Runs,
    /// Whether the policy was found to admit the command (checked once, where an entry exists).
    pub(super) admitted: bool,
}

pub(super) fn fetch_process(
    session: &mut Session,
    settings: &ProcessSettings,
    options: &FetchOptions,
    context: &Context,
) -> Result<Fetched, Error> {
    let plugin_context;
    let context = match (context, &settings.helper) {
        (Context::Profile(profile), Helper::Plugin(_)) => {
            plugin_context = Context::PluginProfile(profile);
            &plugin_context
        }
        _ => context,
    };
    cached_or_fresh(Fetch::start(session, settings, options, context)?)
}

/// How long to wait for another credbox's cache lock: the longest its holder may rightly hold it
/// (for a role, an MFA code and then the STS call, each within `--timeout`), and a little more.
pub(crate) fn lock_wait(timeout: Duration) -> Duration {
    timeout.saturating_mul(2) + Duration::from_secs(5)
}

/// The cache's entry when the guest adopts it, else fresh credentials (under the entry's lock,
/// checking again once it is held), stored for the next caller.
pub(super) fn cached_or_fresh(mut fetch: Fetch) -> Result<Fetched, Error> {
    let options = fetch.options;
    let Some(cache) = &options.cache else {
        debug!("cache disabled; running the helper");
        return fetch.fresh();
    };
    let key = fetch.cache_key();
    // Fast path: a good entry needs no lock.
    if let Some(credentials) = fetch.restore(cache, &key)? {
        return fetch.served(credentials, "cache hit");
    }
    let _lock = cache
        .lock(&key, lock_wait(options.timeout))
        .map_err(|e| fetch.lock_error(e))?;
    // Whoever held the lock before us may have just refreshed the entry.
    if let Some(credentials) = fetch.restore(cache, &key)? {
        return fetch.served(credentials, "cache hit after waiting for another credbox");
    }
    match fetch.runs {
        Runs::Role(_) => info!("cache miss; assuming the role"),
        _ => info!("cache miss; running the helper"),
    }
    let mut fetched = fetch.fresh()?;
    fetched.storable = fetch.store(cache, &key)?;
    Ok(fetched)
}

impl<'a> Fetch<'a> {
    /// Parse first: syntax errors are reported before any cache or lock is touched, and the exact
    /// command keys the cache. Recursion is refused before any cache read or lock, exactly as a run
    /// would refuse it: a nested credbox would otherwise wait for the lock its grandparent holds.
    fn start(
        session: &'a mut Session,
        settings: &'a ProcessSettings,
        options: &'a FetchOptions,
        context: &'a Context<'a>,
    ) -> Result<Self, Error> {
        let error = |e: CallError| Error::from_call(e, context, settings.origin.as_ref());
        let runs = match &settings.helper {
            Helper::CommandLine(line) => Runs::Command(
                session
                    .parse_command(line, options.policy.allow_shell)
                    .map_err(error)?,
            ),
            Helper::Plugin(path) => Runs::Plugin(path.clone()),
        };
        log_runs(&runs);
        spawn::check_recursion(&settings.profile)
            .map_err(|refusal| error(CallError::from(GuestError::from(refusal))))?;
        let provider = session
            .new_provider(settings, options.guest_options())
            .map_err(error)?;
        Ok(Fetch {
            session,
            provider,
            profile: &settings.profile,
            account_id: settings.account_id.as_deref(),
            origin: settings.origin.as_ref(),
            options,
            context,
            runs,
            admitted: false,
        })
    }

    fn error(&self, e: CallError) -> Error {
        Error::from_call(e, self.context, self.origin)
    }

    /// The cache lock could not be had: another credbox held it for the whole `--timeout`, or it
    /// could not be taken at all.
    fn lock_error(&self, e: LockError) -> Error {
        match e {
            LockError::Held(lock) => Error::new(
                ErrorKind::TimedOut,
                format!(
                    "{}: another credbox has been getting these credentials for more than {} and still holds their cache lock ({}); it may be waiting for input or stuck: let it finish or end it, or raise --timeout",
                    self.context.subject(),
                    crate::text::format_duration(lock_wait(self.options.timeout)),
                    lock.display()
                ),
            ),
            LockError::Io(e) => Error::internal(anyhow::anyhow!(
                "locking the cache entry in {}: {e}",
                self.options
                    .cache
                    .as_ref()
                    .map_or(Path::new(""), |c| c.dir())
                    .display()
            )),
        }
    }

    fn cache_key(&self) -> CacheKey {
        let (profile, account) = (self.profile, self.account_id);
        match &self.runs {
            Runs::Command(command) => CacheKey::new(profile, command, account),
            Runs::Plugin(path) => CacheKey::for_plugin(profile, path, account),
            Runs::Role(key) => CacheKey::for_role(profile, key),
        }
    }

    /// A stored entry the guest adopts. A cached answer is only used while the current policy
    /// would run the command, or load the plugin, now: checked here, whatever the guest does with
    /// the entry. Checked once, and only where an entry exists, so a miss does not hash a pinned
    /// program more than the run does.
    fn restore(&mut self, cache: &Cache, key: &CacheKey) -> Result<Option<Credentials>, Error> {
        let Some(entry) = cache.read(key) else {
            return Ok(None);
        };
        if !self.admitted {
            let policy = &self.options.policy;
            let refusal: Option<GuestError> = match &self.runs {
                Runs::Command(command) => spawn::check_admitted(policy, command).err().map(Into::into),
                Runs::Plugin(path) => plugins::check_admitted(policy.allow_list.as_deref(), Path::new(path))
                    .err()
                    .map(Into::into),
                // The role's source was fetched (and its helper admitted) just before.
                Runs::Role(_) => None,
            };
            if let Some(refusal) = refusal {
                return Err(self.error(CallError::from(refusal)));
            }
            self.admitted = true;
        }
        let adopted = self
            .session
            .restore(self.provider, &entry)
            .map_err(|e| self.error(e))?;
        if !adopted {
            return Ok(None);
        }
        self.retrieve().map(Some)
    }

    fn retrieve(&mut self) -> Result<Credentials, Error> {
        self.session.retrieve(self.provider).map_err(|e| self.error(e))
    }

    /// Credentials from the helper itself.
    fn fresh(&mut self) -> Result<Fetched, Error> {
        let credentials = self.retrieve()?;
        let origin = match self.runs {
            Runs::Command(_) => Origin::Process,
            Runs::Plugin(_) => Origin::Plugin,
            Runs::Role(_) => Origin::Role,
        };
        self.done(credentials, origin)
    }

    /// Credentials restored from the cache.
    fn served(&mut self, credentials: Credentials, what: &str) -> Result<Fetched, Error> {
        let mut fetched = self.done(credentials, Origin::Cache)?;
        // Asked, not assumed: if the window passed between restore and retrieve, the guest ran
        // the helper afresh, and long-term keys from that run must not be recorded.
        fetched.storable = self
            .session
            .cache_entry(self.provider)
            .map_err(|e| self.error(e))?
            .is_some();
        log_serving(fetched.serve_until, what);
        Ok(fetched)
    }

    fn done(&mut self, credentials: Credentials, origin: Origin) -> Result<Fetched, Error> {
        let serve_until = self
            .session
            .serve_until(self.provider)
            .map_err(|e| self.error(e))?;
        Ok(Fetched {
            credentials,
            origin,
            serve_until,
            command: match &self.runs {
                Runs::Command(command) => Some(command.clone()),
                Runs::Plugin(_) | Runs::Role(_) => None,
            },
            storable: false,
        })
    }

    /// Store what the guest says to store for the credentials just fetched (nothing for long-term
    /// keys, which never go to disk: then any old entry goes too). Whether it gave an entry.
    fn store(&mut self, cache: &Cache, key: &CacheKey) -> Result<bool, Error> {
        let entry = self
            .session
            .cache_entry(self.provider)
            .map_err(|e| self.error(e))?;
        let storable = entry.is_some();
        match entry {
            Some(entry) => match cache.write(key, &entry) {
                Ok(()) => {
                    let until = self
                        .session
                        .serve_until(self.provider)
                        .map_err(|e| self.error(e))?;
                    log_serving(until, "cached");
                }
                Err(e) => warn!(
                    "could not write the cache entry in {}: {e}",
                    cache.dir().display()
                ),
            },
            None => {
                debug!("long-term credentials are never written to disk");
                cache.remove(key);
            }
        }
        Ok(storable)
    }
}

/// Log what runs with its arguments redacted: they may name accounts or carry tokens.
fn log_runs(runs: &Runs) {
    match runs {
        Runs::Command(SpawnCommand::Argv(argv)) => {
            debug!(program = %argv[0], arguments = argv.len() - 1, "helper command (arguments redacted)")
        }
        Runs::Command(SpawnCommand::Shell(_)) => {
            debug!("helper command runs through /bin/sh -c (text redacted)")
        }
        Runs::Plugin(path) => debug!(plugin = %path, "credential plugin"),
        Runs::Role(_) => debug!("role"),
    }
}

fn log_serving(until: Option<i64>, what: &str) {
    match until {
        Some(i64::MAX) | None => info!("{what}"),
        Some(until) => info!(serve_until = %format_time(until), "{what}"),
    }
}
