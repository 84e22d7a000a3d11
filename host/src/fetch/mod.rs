//! Getting credentials: the options, the three entry points (a profile, a command, a plugin), the
//! served record that skips the guest, and the fetch path as named steps (parse, served record,
//! restore, lock, retrieve, store). What any step decides is the guest's; here is only the order.

mod command;
mod served;
mod steps;

use std::sync::Arc;
use std::time::Duration;

use tracing::debug;

use crate::Credentials;
use crate::cache::{self, Cache};
use crate::capabilities::CapabilityPolicy;
use crate::capabilities::spawn;
use crate::capabilities::sts::StsPolicy;
use crate::component::Context;
use crate::component::{
    BaseSource, CallError, Clock, GuestError, Helper, Options, RoleChain, RoleSettings, Runtime, Session,
    Source,
};
use crate::error::{Error, ErrorKind};
use crate::files;
pub(crate) use command::fetch_for_command;
pub use command::{credentials_for_command, credentials_for_plugin};
use served::ServedRecord;
pub(crate) use steps::Fetched;
use steps::{Fetch, Runs, cached_or_fresh, fetch_process};

/// How credentials are fetched.
#[derive(Clone)]
pub struct FetchOptions {
    /// Refresh when less than this remains (the window is also at most half the lifetime).
    pub min_ttl: Duration,
    /// How long the helper may run.
    pub timeout: Duration,
    /// The host's ceilings on running the helper.
    pub policy: CapabilityPolicy,
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
            policy: CapabilityPolicy::default(),
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
