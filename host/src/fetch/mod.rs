//! Getting credentials: the options, the three entry points (a profile, a command, a plugin), the
//! served record that skips the guest, and the fetch path as named steps (parse, served record,
//! restore, lock, retrieve, store). What any step decides is the guest's; here is only the order.

mod served;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, info, warn};

use crate::Credentials;
use crate::cache::{self, Cache, CacheKey, LockError};
use crate::capabilities::spawn::{self, SpawnCommand, SpawnPolicy};
use crate::capabilities::sts::StsPolicy;
use crate::component::Context;
use crate::component::{
    BaseSource, CallError, Clock, GuestError, Helper, Location, Options, ProcessSettings, ProviderHandle,
    RoleChain, RoleSettings, Runtime, Session, Source, plugins,
};
use crate::error::{Error, ErrorKind};
use crate::files;
use crate::text::format_time;
use served::ServedRecord;

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
            platform: files::Platform::current().into(),
        }
    }

    pub(crate) fn session(&self, runtime: &Runtime) -> Result<Session, Error> {
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
    /// A helper's earlier output (or a role's credentials), from the cross-process cache.
    Cache,
    /// An STS `AssumeRole` call, made now.
    Role,
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (a role's `credential_source = Environment`).
    Environment,
}

/// Resolve `profile` from the files at `locations` and return its credentials: its static keys,
/// or what its helper returns (through the cache when one is given).
pub fn credentials_for_profile(
    runtime: &Runtime,
    locations: &files::Locations,
    profile: &str,
    options: &FetchOptions,
) -> Result<(Credentials, Origin), Error> {
    fetch_for_profile(runtime, locations, profile, options).map(|f| (f.credentials, f.origin))
}

pub(crate) fn fetch_for_profile(
    runtime: &Runtime,
    locations: &files::Locations,
    profile: &str,
    options: &FetchOptions,
) -> Result<Fetched, Error> {
    // A recorded decision is checked against the files' stamps first: a hit reads neither file.
    // The variables that choose a role's endpoint and source are inputs of the decision too.
    let environment = decision_environment();
    let sources = [
        locations.config.as_str(),
        locations.credentials.as_str(),
        &environment,
    ];
    let served = ServedRecord::new(options, &sources, profile);
    if let Some(fetched) = served.lookup(&options.policy, profile) {
        return Ok(fetched);
    }
    let (files, stamps) = files::read_files_stamped(locations)?;
    let mut session = options.session(runtime)?;
    let source = session
        .resolve(&files, profile)
        .map_err(|e| Error::from_call(e, &Context::Profile(profile), None))?;
    let settings = match source {
        Source::StaticKeys(credentials) => {
            debug!(profile, "static keys in the profile; no helper runs");
            return Ok(Fetched {
                credentials,
                origin: Origin::StaticKeys,
                serve_until: Some(i64::MAX),
                command: None,
                storable: false,
            });
        }
        Source::Process(settings) => settings,
        Source::Role(chain) => {
            let texts = [files.config.text.as_str(), files.credentials.text.as_str()];
            session.set_sts_policy(StsPolicy::for_files(&texts, options.timeout));
            let fetched = fetch_chain(&mut session, &chain, options)?;
            served.store(&fetched, || {
                vec![
                    cache::FileSeen::new(&files.config, stamps[0]),
                    cache::FileSeen::new(&files.credentials, stamps[1]),
                ]
            });
            return Ok(fetched);
        }
    };
    if let Some(origin) = &settings.origin {
        debug!(profile, file = %origin.file, line = origin.line.unwrap_or(0), "helper");
    }
    let fetched = fetch_process(&mut session, &settings, options, &Context::Profile(profile))?;
    served.store(&fetched, || {
        vec![
            cache::FileSeen::new(&files.config, stamps[0]),
            cache::FileSeen::new(&files.credentials, stamps[1]),
        ]
    });
    Ok(fetched)
}

/// The environment a profile's resolution depends on, as one string for the served record's key.
fn decision_environment() -> String {
    let mut text = String::new();
    for (name, value) in crate::capabilities::sts::endpoint_environment() {
        text.push_str(&format!("{name}={value}\n"));
    }
    if let Ok(bundle) = std::env::var("AWS_CA_BUNDLE") {
        text.push_str(&format!("AWS_CA_BUNDLE={bundle}\n"));
    }
    // A role over `credential_source = Environment` is assumed with these credentials: the record
    // is bound to all three, the secret and the token through a digest (the record's name is a
    // hash, and nothing of them is stored), so another secret under the same key id is another
    // decision, sent back to the guest and to STS.
    let var = |name| std::env::var(name).ok();
    let (key, secret, token) = (
        var("AWS_ACCESS_KEY_ID"),
        var("AWS_SECRET_ACCESS_KEY"),
        var("AWS_SESSION_TOKEN"),
    );
    if key.is_some() || secret.is_some() || token.is_some() {
        let digest = cache::secret_digest(&[secret.as_deref(), token.as_deref()]);
        text.push_str(&format!(
            "AWS_ACCESS_KEY_ID={}\nsecret digest={digest}\n",
            key.unwrap_or_default()
        ));
    }
    text
}

/// A role chain's credentials: the base's (through the cache, for a helper), then each role's in
/// turn, assumed with the credentials before it (each through the cache and its lock, so that
/// parallel callers make one STS call and show one prompt).
fn fetch_chain(session: &mut Session, chain: &RoleChain, options: &FetchOptions) -> Result<Fetched, Error> {
    let mut fetched = match &chain.base {
        BaseSource::StaticKeys(credentials) => Fetched {
            credentials: credentials.clone().into(),
            origin: Origin::StaticKeys,
            serve_until: Some(i64::MAX),
            command: None,
            storable: false,
        },
        BaseSource::Process(settings) => {
            fetch_process(session, settings, options, &Context::Profile(&chain.base_profile))?
        }
        BaseSource::Environment => environment_credentials(&chain.base_profile)?,
    };
    // A served record of the final credentials is checked against the policy on the base's
    // command, as a helper's own record is.
    let base_command = fetched.command.take();
    let mut source_profile = chain.base_profile.as_str();
    for role in &chain.roles {
        debug!(profile = %role.profile, role = %role.role_arn, source = source_profile, "role");
        fetched = fetch_role(session, role, &fetched.credentials, source_profile, options)?;
        source_profile = &role.profile;
    }
    fetched.command = base_command;
    // A plugin base is asked (`is-expired`) and checked against the allow-list on every use:
    // the chain's answer is not recorded for replay without it.
    if matches!(&chain.base, BaseSource::Process(settings) if matches!(settings.helper, Helper::Plugin(_))) {
        fetched.storable = false;
    }
    Ok(fetched)
}

/// `credential_source = Environment`: the keys in this process's environment, as the SDKs read them.
fn environment_credentials(profile: &str) -> Result<Fetched, Error> {
    let var = |name| std::env::var(name).ok().filter(|v: &String| !v.trim().is_empty());
    let (Some(access_key_id), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) else {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "profile {profile}: credential_source = Environment, but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set; set them, or use a source_profile"
            ),
        ));
    };
    Ok(Fetched {
        credentials: Credentials::new(access_key_id, secret, var("AWS_SESSION_TOKEN"), None, None),
        origin: Origin::Environment,
        serve_until: Some(i64::MAX),
        command: None,
        storable: false,
    })
}

fn fetch_role(
    session: &mut Session,
    role: &RoleSettings,
    source: &Credentials,
    source_profile: &str,
    options: &FetchOptions,
) -> Result<Fetched, Error> {
    let context = Context::Profile(&role.profile);
    let error = |e: CallError| Error::from_call(e, &context, Some(&role.origin));
    // The recursion guard before the role's lock, as for a helper: an `mfa_process` that calls
    // credbox for this profile would otherwise wait for the lock its parent holds.
    spawn::check_recursion(&role.profile)
        .map_err(|refusal| error(CallError::from(GuestError::from(refusal))))?;
    session.allow_sts_source(source);
    let provider = session
        .new_role_provider(role, source, source_profile, options.guest_options())
        .map_err(error)?;
    let mut key = session.cache_key(provider).map_err(error)?;
    // The trust store the call is made with is the host's to add: `AWS_CA_BUNDLE` wins over the
    // profile's `ca_bundle` (in the guest's key), and credentials fetched through another store
    // are another entry.
    key.extend_from_slice(
        format!(
            "\nAWS_CA_BUNDLE={}",
            std::env::var("AWS_CA_BUNDLE").unwrap_or_default()
        )
        .as_bytes(),
    );
    let fetch = Fetch {
        session,
        provider,
        profile: &role.profile,
        account_id: None,
        origin: Some(&role.origin),
        options,
        context: &context,
        runs: Runs::Role(key),
        admitted: false,
    };
    cached_or_fresh(fetch)
}

/// Run `argv` as a credential_process helper (no profile), with the same validation and caching.
pub fn credentials_for_command(
    runtime: &Runtime,
    argv: &[String],
    options: &FetchOptions,
) -> Result<(Credentials, Origin), Error> {
    fetch_for_command(runtime, argv, options).map(|f| (f.credentials, f.origin))
}

pub(crate) fn fetch_for_command(
    runtime: &Runtime,
    argv: &[String],
    options: &FetchOptions,
) -> Result<Fetched, Error> {
    let program = argv.first().map(String::as_str).unwrap_or("");
    let command_line = shell_join(argv);
    // The label binds cache entries and the recursion guard to this program.
    let settings = profileless(
        format!("run:{program}"),
        Helper::CommandLine(command_line.clone()),
    );
    let served = ServedRecord::new(options, &[&command_line], &settings.profile);
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
    let shown = path.display().to_string();
    let path = std::path::absolute(path).map_err(|e| {
        Error::new(
            ErrorKind::Usage,
            format!("plugin {shown}: cannot make the path absolute: {e}"),
        )
    })?;
    let path = path.to_string_lossy().into_owned();
    let settings = profileless(format!("plugin:{path}"), Helper::Plugin(path));
    let mut session = options.session(runtime)?;
    fetch_process(&mut session, &settings, options, &Context::Plugin(&shown))
        .map(|f| (f.credentials, f.origin))
}

/// Settings for a helper given without a profile.
fn profileless(label: String, helper: Helper) -> ProcessSettings {
    ProcessSettings {
        profile: label,
        helper,
        account_id: None,
        origin: None,
    }
}

/// Quote words so that the guest's splitting, by this system's rules, gives them back unchanged.
fn shell_join(argv: &[String]) -> String {
    let quote = match files::Platform::current() {
        files::Platform::Unix => |word: &str| format!("'{}'", word.replace('\'', r"'\''")),
        files::Platform::Windows => windows_quote,
    };
    argv.iter().map(|word| quote(word)).collect::<Vec<_>>().join(" ")
}

/// One word in double quotes by the Windows C runtime's rules (which the guest splits by, as
/// botocore does): a backslash run is doubled where it ends at a quote, and a quote is escaped.
/// (std quotes so inside `Command`, but does not expose it.)
fn windows_quote(word: &str) -> String {
    let mut quoted = String::from("\"");
    let mut backslashes = 0;
    for c in word.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                quoted.extend(std::iter::repeat_n('\\', 2 * backslashes + 1));
                quoted.push('"');
                backslashes = 0;
            }
            c => {
                quoted.extend(std::iter::repeat_n('\\', backslashes));
                quoted.push(c);
                backslashes = 0;
            }
        }
    }
    quoted.extend(std::iter::repeat_n('\\', 2 * backslashes));
    quoted.push('"');
    quoted
}

/// Seconds since the Unix epoch, by the system clock.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// What the fetch path got, until when the guest said it may be served, the command that
/// produced it (none for static keys and plugins, which are never recorded), and whether the
/// guest let them go to disk (it gives no cache entry for long-term keys).
pub(crate) struct Fetched {
    pub(crate) credentials: Credentials,
    pub(crate) origin: Origin,
    pub(crate) serve_until: Option<i64>,
    command: Option<SpawnCommand>,
    storable: bool,
}

/// What a helper runs, as the host keys the cache and checks its policy; or, for a role, what
/// the guest says decides its credentials.
enum Runs {
    Command(SpawnCommand),
    Plugin(String),
    Role(Vec<u8>),
}

/// One helper's (or role's) credentials being fetched: the guest's provider for it, and what the
/// host needs around it (the error context, the cache key, the policy check).
struct Fetch<'a> {
    session: &'a mut Session,
    provider: ProviderHandle,
    /// The profile (or label) the credentials are for.
    profile: &'a str,
    /// The profile's `aws_account_id`, which keys a helper's entry.
    account_id: Option<&'a str>,
    /// Where the helper or role is defined, for messages.
    origin: Option<&'a Location>,
    options: &'a FetchOptions,
    context: &'a Context<'a>,
    runs: Runs,
    /// Whether the policy was found to admit the command (checked once, where an entry exists).
    admitted: bool,
}

fn fetch_process(
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
fn cached_or_fresh(mut fetch: Fetch) -> Result<Fetched, Error> {
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
