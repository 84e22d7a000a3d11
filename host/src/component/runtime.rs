//! Loading and calling the guest component.
//!
//! The guest is precompiled at build time and embedded; start-up deserializes it (no JIT). The
//! linker is strict: it links the four capabilities and only the WASI interfaces Rust's std needs,
//! each granted nothing, so a guest that imports anything else fails to instantiate. Every call
//! into the guest has an instruction budget (fuel) and its memory a cap ([`Limits`]), so a guest
//! that loops or allocates without end fails with a clear error instead of hanging credbox.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context, Result};
use tracing::debug;
use wasmtime::component::{Component, HasSelf, Linker, ResourceAny, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::Credentials;
use crate::bindings::wit::{Error as GuestError, ProcessSettings, RoleSettings};
use crate::bindings::wit_profiles::{File, Files, ProfilesReport, Property};
use crate::bindings::wit_provider::Options;
use crate::bindings::{Credbox, CredboxPre, wit, wit_plugins, wit_profiles, wit_prompt, wit_spawn, wit_sts};
use crate::capabilities::plugins::{self, PluginLoader, PluginsView};
use crate::capabilities::prompt::import::{self as prompt_import, PromptView};
use crate::capabilities::spawn::import::{self as spawn_import, SpawnView};
use crate::capabilities::spawn::{SpawnCommand, SpawnPolicy};
use crate::capabilities::sts::StsPolicy;
use crate::capabilities::sts::import::{self as sts_import, StsView};
use crate::files::Platform;
use crate::wasm::in_place::{PageAligned, in_place_engine, plain_engine};
use crate::wasm::sandbox::{self, CallBudget, Clock, ClockAdapter, HasResourceTable, Limits, MemoryCap};

/// The guest component, built from `guest/` by the build script.
pub static GUEST_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/guest.wasm"));
/// The guest precompiled for this host by the same wasmtime and configuration, on a page of its
/// own so that it can run where it is mapped (`in_place`).
static GUEST_PRECOMPILED: &PageAligned<[u8]> =
    &PageAligned(*include_bytes!(concat!(env!("OUT_DIR"), "/guest.cwasm")));
/// The SHA-256 of [`GUEST_WASM`] (hex): which policy build made a decision the host recorded.
pub const GUEST_SHA256: &str = include_str!(concat!(env!("OUT_DIR"), "/guest.sha256"));

/// How a profile supplies credentials.
pub enum Source {
    /// Static keys in the profile (the helper is not run).
    StaticKeys(Credentials),
    /// A helper to run.
    Process(ProcessSettings),
    /// A role on top of another source (`role_arn`).
    Role(wit_profiles::RoleChain),
}

/// The guest, loaded on first use (so that a path that never enters the guest, like a served
/// cache record, pays nothing for it) and then instantiated cheaply many times. Cloning shares it.
#[derive(Clone, Default)]
pub struct Runtime {
    /// A component given to [`Runtime::from_component`]; `None` for the embedded guest, which
    /// every such runtime of the process shares ([`embedded`]).
    component: Option<Arc<Loaded>>,
    /// Instructions (fuel) used by every call into the guest through this runtime, for measuring
    /// how work grows with the input.
    instructions: Arc<AtomicU64>,
}

struct Loaded {
    engine: Engine,
    pre: CredboxPre<HostState>,
    /// The embedded guest's precompiled code runs where the binary maps it (no JIT, no copy).
    in_place: bool,
    /// The embedded guest had to be compiled at start-up: its precompiled code was refused (made
    /// for another CPU or target: a build bug, which a test looks for).
    compiled_at_start: bool,
}

/// Per-instance host state: WASI granted empty, the spawn policy, the plugin loader, the limits.
/// Each import sees only its part, through a view (`SpawnView`, `PluginsView`).
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    policy: SpawnPolicy,
    memory: MemoryCap,
    plugins: PluginLoader,
    /// How many more commands, plugin calls, STS calls and prompts the current guest call may
    /// make.
    calls: CallBudget,
    /// What bounds the `sts` import.
    sts: StsPolicy,
    /// The profile (or label of a profile-less helper) whose credentials the current call fetches,
    /// as the host knows it: what the recursion guard passes down to every command the call runs.
    /// `None` outside `retrieve` and `restore`, where the policy has no reason to run anything.
    resolving: Option<String>,
}

impl HasResourceTable for HostState {
    fn resource_table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wit::Host for HostState {}

/// Link the four capabilities (spawn, plugins, sts, prompt) and the WASI interfaces in [`sandbox::GRANTED_WASI`], nothing else.
fn strict_linker(engine: &Engine) -> Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wit_spawn::add_to_linker::<_, spawn_import::Spawn>(&mut linker, |s: &mut HostState| SpawnView {
        policy: &s.policy,
        resolving: s.resolving.as_deref(),
        calls: &mut s.calls,
    })?;
    wit_plugins::add_to_linker::<_, plugins::Plugins>(&mut linker, |s: &mut HostState| PluginsView {
        loader: &s.plugins,
        calls: &mut s.calls,
    })?;
    wit_sts::add_to_linker::<_, sts_import::Sts>(&mut linker, |s: &mut HostState| StsView {
        policy: &s.sts,
        calls: &mut s.calls,
    })?;
    wit_prompt::add_to_linker::<_, prompt_import::Prompt>(&mut linker, |s: &mut HostState| PromptView {
        mode: s.policy.prompt,
        sts: &s.sts,
        timeout: s.policy.max_timeout,
        calls: &mut s.calls,
    })?;
    wit::add_to_linker::<_, HasSelf<_>>(&mut linker, |s: &mut HostState| s)?;
    sandbox::link_empty_wasi(&mut linker)?;
    Ok(linker)
}

/// The embedded guest, loaded once per process and kept for its life. Its code runs in place,
/// in the pages the binary maps (`in_place`), and wasmtime registers code by address: two loads
/// of the same pages must never coexist (wasmtime asserts on it), and dropping one would make
/// the pages non-executable under another. One load, never dropped, rules both out. A failed
/// load is not kept: its code was unregistered when it was dropped, and the next call tries again.
fn embedded() -> Result<&'static Loaded> {
    static EMBEDDED: OnceLock<Loaded> = OnceLock::new();
    static LOADING: Mutex<()> = Mutex::new(());
    if let Some(loaded) = EMBEDDED.get() {
        return Ok(loaded);
    }
    let _one_load_at_a_time = LOADING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(loaded) = EMBEDDED.get() {
        return Ok(loaded);
    }
    let loaded = Runtime::load_embedded()?;
    Ok(EMBEDDED.get_or_init(|| loaded))
}

impl Runtime {
    /// The embedded guest, loaded when first needed: the precompiled artifact when this CPU accepts
    /// it, else the embedded `.wasm` compiled (slower start-up, same behaviour).
    pub fn new() -> Result<Self> {
        Ok(Runtime::default())
    }

    fn load_embedded() -> Result<Loaded> {
        if GUEST_PRECOMPILED.fits_in_place() {
            let engine = in_place_engine().map_err(anyhow::Error::from)?;
            // SAFETY: the bytes are this build's own output of `Engine::precompile_component`,
            // made by the build script with the same wasmtime and `engine_config()`; wasmtime
            // checks the version and configuration before using them. They are a `static` in
            // read-only data: alive as long as the process and never written, as
            // `deserialize_raw` requires; and they start on a page boundary (checked above).
            match unsafe { Component::deserialize_raw(&engine, GUEST_PRECOMPILED.memory()) } {
                Ok(component) => {
                    return Ok(Loaded {
                        in_place: true,
                        ..Self::link(engine, &component)?
                    });
                }
                Err(e) => debug!("the precompiled guest cannot run in place ({e}); copying it"),
            }
        }
        let engine = plain_engine().map_err(anyhow::Error::from)?.clone();
        // SAFETY: as above; `deserialize` copies the bytes, so no alignment is needed.
        let (component, compiled_at_start) =
            match unsafe { Component::deserialize(&engine, &GUEST_PRECOMPILED.0) } {
                Ok(component) => (component, false),
                Err(e) => {
                    debug!("the precompiled guest was refused ({e}); compiling it");
                    let compiled = Component::new(&engine, GUEST_WASM).map_err(anyhow::Error::from)?;
                    (compiled, true)
                }
            };
        Ok(Loaded {
            compiled_at_start,
            ..Self::link(engine, &component)?
        })
    }

    fn loaded(&self) -> Result<&Loaded> {
        match &self.component {
            Some(loaded) => Ok(loaded),
            None => embedded(),
        }
    }

    /// A runtime for any component of the credbox world, through the strict linker.
    pub fn from_component(engine: Engine, component: &Component) -> Result<Self> {
        let loaded = Self::link(engine, component)?;
        Ok(Runtime {
            component: Some(Arc::new(loaded)),
            instructions: Arc::default(),
        })
    }

    fn link(engine: Engine, component: &Component) -> Result<Loaded> {
        let linker = strict_linker(&engine)?;
        let pre = linker
            .instantiate_pre(component)
            .map_err(anyhow::Error::from)
            .context("the guest component imports something credbox does not grant")?;
        let pre = CredboxPre::new(pre).map_err(anyhow::Error::from)?;
        Ok(Loaded {
            engine,
            pre,
            in_place: false,
            compiled_at_start: false,
        })
    }

    /// Whether the guest runs from the precompiled code embedded in the binary, in place (the
    /// fast start-up), rather than compiled at start-up (loading the guest if it is not yet).
    pub fn guest_runs_in_place(&self) -> Result<bool> {
        Ok(self.loaded()?.in_place)
    }

    /// Whether the embedded guest had to be compiled when it was loaded, because the precompiled
    /// code in the binary was refused (built for another target: `host/build.rs` precompiles for
    /// the target being built, so this is false in every correct build).
    pub fn guest_compiled_at_start(&self) -> Result<bool> {
        Ok(self.loaded()?.compiled_at_start)
    }

    /// The engine to compile components for this runtime with: the one given to
    /// [`Runtime::from_component`], or for the embedded guest's runtimes the process's plain
    /// engine (the guest's own publishes code in place and loads nothing else).
    pub fn engine(&self) -> Result<&Engine> {
        match &self.component {
            Some(loaded) => Ok(&loaded.engine),
            None => plain_engine().map_err(anyhow::Error::from),
        }
    }

    /// A fresh guest instance with its own memory, running helpers under `policy`. With `clock`,
    /// the guest sees that time instead of the system's.
    pub fn session(&self, policy: SpawnPolicy, clock: Option<Arc<dyn Clock>>) -> Result<Session> {
        let mut wasi = WasiCtx::builder();
        if let Some(clock) = clock {
            wasi.wall_clock(ClockAdapter(clock));
        }
        let loaded = self.loaded()?;
        let plugins = PluginLoader::new(
            // Plugins get the plain engine (created when the first one loads), never the
            // embedded guest's in-place one.
            self.component.as_ref().map(|given| given.engine.clone()),
            policy.plugin_artifacts.clone(),
            Limits::PLUGIN,
            policy.allow_list.clone(),
        );
        let state = HostState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            policy,
            memory: MemoryCap::new(Limits::GUEST.memory_bytes),
            plugins,
            calls: CallBudget::full(),
            sts: StsPolicy::default(),
            resolving: None,
        };
        let mut store = Store::new(&loaded.engine, state);
        store.limiter(|s| &mut s.memory);
        store.set_fuel(Limits::GUEST.fuel).map_err(anyhow::Error::from)?;
        let instance = match loaded.pre.instantiate(&mut store) {
            Ok(instance) => instance,
            Err(e) => return Err(guest_failure(&store, Limits::GUEST.fuel, e)),
        };
        Ok(Session {
            store,
            instance,
            instructions: self.instructions.clone(),
            budget: Limits::GUEST.fuel,
            resolving: Vec::new(),
        })
    }

    /// The names of everything the loaded guest imports (loading it if it is not loaded yet).
    pub fn guest_imports(&self) -> Result<Vec<String>> {
        let loaded = self.loaded()?;
        let component = loaded.pre.instance_pre().component();
        Ok(sandbox::component_imports(&loaded.engine, component))
    }

    /// The instructions (wasmtime fuel) all calls into the guest through this runtime have used.
    pub fn instructions_used(&self) -> u64 {
        self.instructions.load(Ordering::Relaxed)
    }
}

/// One guest instance. Calls into it are serialized by `&mut self`.
pub struct Session {
    store: Store<HostState>,
    instance: Credbox,
    instructions: Arc<AtomicU64>,
    /// The instruction budget of the last call.
    budget: u64,
    /// For each provider made in this session (by [`ProviderHandle`] index), the profile it
    /// fetches for.
    resolving: Vec<String>,
}

/// A `credential-provider` resource living in a [`Session`], and which of the session's profiles
/// it fetches for.
#[derive(Clone, Copy)]
pub struct ProviderHandle(ResourceAny, usize);

/// Why a call into the guest gave no answer: the policy's typed error, or the call itself failed
/// (a trap, a limit, a bug in the guest). One type, so that callers need one `?`. Its `Debug` and
/// `Display` name the error's case only: a helper's stderr tail or a plugin's message, which may
/// hold anything, is shown by `credbox::Error` (last line, sanitised), never here.
pub enum CallError {
    /// The guest's answer: the profile, the helper or its output is at fault. Boxed: the
    /// largest case (an STS failure) would make every `Result` of a guest call large.
    Policy(Box<GuestError>),
    /// The call failed: the guest trapped or ran past its limits (the message says which).
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for CallError {
    fn from(error: anyhow::Error) -> Self {
        CallError::Failed(error)
    }
}

impl From<GuestError> for CallError {
    fn from(error: GuestError) -> Self {
        CallError::Policy(Box::new(error))
    }
}

/// The WIT name of an error's case.
fn case(error: &GuestError) -> &'static str {
    match error {
        GuestError::Config(_) => "config",
        GuestError::CommandSyntax(_) => "command-syntax",
        GuestError::SpawnDenied(_) => "spawn-denied",
        GuestError::SpawnFailed(_) => "spawn-failed",
        GuestError::TimedOut(_) => "timed-out",
        GuestError::NonzeroExit(_) => "nonzero-exit",
        GuestError::OutputTooLarge(_) => "output-too-large",
        GuestError::MalformedOutput(_) => "malformed-output",
        GuestError::UnsupportedVersion(_) => "unsupported-version",
        GuestError::MissingField(_) => "missing-field",
        GuestError::InvalidField(_) => "invalid-field",
        GuestError::Expired(_) => "expired",
        GuestError::Plugin(_) => "plugin",
        GuestError::Sts(_) => "sts",
        GuestError::Mfa(_) => "mfa",
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Policy(e) => write!(f, "the policy answered with a `{}` error", case(e)),
            CallError::Failed(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::fmt::Debug for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for CallError {}

/// Why a call into the guest failed: its limits, or a trap (a bug in the guest).
fn guest_failure(store: &Store<HostState>, budget: u64, e: wasmtime::Error) -> anyhow::Error {
    let why = if store.data().memory.exceeded() {
        format!(
            "the guest component tried to use more than {} MiB of memory and was stopped",
            store.data().memory.limit() >> 20
        )
    } else if e.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::OutOfFuel) {
        format!("the guest component ran past its budget of {budget} instructions (a loop?) and was stopped")
    } else {
        "the credbox guest component failed".to_string()
    };
    anyhow::Error::from(e).context(why)
}

/// How much profile-file text `files` holds.
fn text_len(files: &Files) -> usize {
    files.config.text.len() + files.credentials.text.len()
}

impl Session {
    /// Refill the limits before a call given `input` bytes of profile-file text (they grow with
    /// it: [`Limits::for_input`]), and turn a failed call into an error that says which limit was
    /// hit.
    fn call<T>(
        &mut self,
        input: usize,
        f: impl FnOnce(&Credbox, &mut Store<HostState>) -> wasmtime::Result<T>,
    ) -> Result<T> {
        let limits = Limits::GUEST.for_input(input);
        self.budget = limits.fuel;
        self.store.set_fuel(limits.fuel).map_err(anyhow::Error::from)?;
        let state = self.store.data_mut();
        state.calls = CallBudget::full();
        state.memory.rearm(limits.memory_bytes);
        let result = f(&self.instance, &mut self.store);
        self.instructions.fetch_add(self.fuel_used(), Ordering::Relaxed);
        result.map_err(|e| guest_failure(&self.store, self.budget, e))
    }

    /// [`Session::call`] for an export that answers with the policy's `result`.
    fn ask<T>(
        &mut self,
        input: usize,
        f: impl FnOnce(&Credbox, &mut Store<HostState>) -> wasmtime::Result<Result<T, GuestError>>,
    ) -> Result<T, CallError> {
        Ok(self.call(input, f)??)
    }

    /// The instructions (wasmtime fuel) the last call into the guest used, out of its budget.
    pub fn fuel_used(&self) -> u64 {
        self.budget - self.store.get_fuel().unwrap_or(0)
    }

    /// `profiles.resolve`: how `profile` supplies credentials, with the environment variables
    /// that choose a role's STS endpoint read from this process's environment.
    pub fn resolve(&mut self, files: &Files, profile: &str) -> Result<Source, CallError> {
        let environment = crate::capabilities::sts::endpoint_environment();
        let source = self.ask(text_len(files), |i, s| {
            i.credbox_provider_profiles()
                .call_resolve(s, files, profile, &environment)
        })?;
        Ok(match source {
            wit_profiles::Source::StaticKeys(c) => Source::StaticKeys(c.into()),
            wit_profiles::Source::Process(settings) => Source::Process(settings),
            wit_profiles::Source::Role(chain) => Source::Role(chain),
        })
    }

    /// Bound this session's STS calls by `policy` (by default: AWS endpoints and the ones set in
    /// the environment).
    pub fn set_sts_policy(&mut self, policy: StsPolicy) {
        self.store.data_mut().sts = policy;
    }

    /// Let the guest's STS calls be signed with `source` (and nothing else): the credentials the
    /// host is about to hand it for a role.
    pub fn allow_sts_source(&mut self, source: &Credentials) {
        self.store.data_mut().sts.set_source(source);
    }

    /// `profiles.report`: how every profile (or only `profile`) supplies credentials, and where
    /// secrets are written, from one parse.
    pub fn report(&mut self, files: &Files, profile: Option<&str>) -> Result<ProfilesReport, CallError> {
        self.ask(text_len(files), |i, s| {
            i.credbox_provider_profiles().call_report(s, files, profile)
        })
    }

    /// `profiles.properties`: a profile's merged properties, with where each is defined; none
    /// when neither file defines the profile.
    pub fn properties(&mut self, files: &Files, profile: &str) -> Result<Option<Vec<Property>>, CallError> {
        self.ask(text_len(files), |i, s| {
            i.credbox_provider_profiles().call_properties(s, files, profile)
        })
    }

    /// `profiles.set-property`: the one file to write back with `key` set to `value`.
    pub fn set_property(
        &mut self,
        files: &Files,
        profile: &str,
        key: &str,
        value: &str,
    ) -> Result<File, CallError> {
        self.ask(text_len(files), |i, s| {
            i.credbox_provider_profiles()
                .call_set_property(s, files, profile, key, value)
        })
    }

    /// `provider.parse-command`: the command a `credential_process` value runs.
    pub fn parse_command(
        &mut self,
        command_line: &str,
        allow_shell: bool,
    ) -> Result<SpawnCommand, CallError> {
        let command = self.ask(0, |i, s| {
            i.credbox_provider_provider().call_parse_command(
                s,
                command_line,
                allow_shell,
                Platform::current().into(),
            )
        })?;
        Ok(command.into())
    }

    /// `provider.validate-output`: check one helper output.
    pub fn validate_output(
        &mut self,
        stdout: &[u8],
        account_id: Option<&str>,
    ) -> Result<Credentials, CallError> {
        let credentials = self.ask(0, |i, s| {
            i.credbox_provider_provider()
                .call_validate_output(s, stdout, account_id)
        })?;
        Ok(credentials.into())
    }

    /// A new `credential-provider` resource for `settings`.
    pub fn new_provider(
        &mut self,
        settings: &ProcessSettings,
        options: Options,
    ) -> Result<ProviderHandle, CallError> {
        let resource = self.call(0, |i, s| {
            i.credbox_provider_provider()
                .credential_provider()
                .call_constructor(s, settings, options)
        })?;
        Ok(self.handle(resource, &settings.profile))
    }

    /// A handle for `resource`, which fetches `profile`'s credentials.
    fn handle(&mut self, resource: ResourceAny, profile: &str) -> ProviderHandle {
        self.resolving.push(profile.to_string());
        ProviderHandle(resource, self.resolving.len() - 1)
    }

    /// Before a call that may run commands for `provider`: the profile the recursion guard passes
    /// down to them is the one the host asked about, whatever label the guest gives.
    fn resolving_for(&mut self, provider: Option<ProviderHandle>) {
        let profile = provider.and_then(|p| self.resolving.get(p.1).cloned());
        self.store.data_mut().resolving = profile;
    }

    /// A new `credential-provider` resource for a role, assumed with `source` (the credentials of
    /// `source_profile`).
    pub fn new_role_provider(
        &mut self,
        settings: &RoleSettings,
        source: &Credentials,
        source_profile: &str,
        options: Options,
    ) -> Result<ProviderHandle, CallError> {
        let source = wit::Credentials::from(source);
        let resource = self.call(0, |i, s| {
            i.credbox_provider_provider().credential_provider().call_for_role(
                s,
                settings,
                &source,
                source_profile,
                options,
            )
        })?;
        Ok(self.handle(resource, &settings.profile))
    }

    /// `credential-provider.cache-key`: what decides the provider's credentials.
    pub fn cache_key(&mut self, provider: ProviderHandle) -> Result<Vec<u8>, CallError> {
        Ok(self.call(0, |i, s| {
            i.credbox_provider_provider()
                .credential_provider()
                .call_cache_key(s, provider.0)
        })?)
    }

    /// `credential-provider.retrieve`: cached credentials, or fresh ones (running the helper).
    pub fn retrieve(&mut self, provider: ProviderHandle) -> Result<Credentials, CallError> {
        self.resolving_for(Some(provider));
        let credentials = self.ask(0, |i, s| {
            i.credbox_provider_provider()
                .credential_provider()
                .call_retrieve(s, provider.0)
        });
        self.resolving_for(None);
        Ok(credentials?.into())
    }

    /// `credential-provider.serve-until`.
    pub fn serve_until(&mut self, provider: ProviderHandle) -> Result<Option<i64>, CallError> {
        Ok(self.call(0, |i, s| {
            i.credbox_provider_provider()
                .credential_provider()
                .call_serve_until(s, provider.0)
        })?)
    }

    /// `credential-provider.invalidate`.
    pub fn invalidate(&mut self, provider: ProviderHandle) -> Result<(), CallError> {
        Ok(self.call(0, |i, s| {
            i.credbox_provider_provider()
                .credential_provider()
                .call_invalidate(s, provider.0)
        })?)
    }

    /// `credential-provider.restore`: offer a stored cache entry; whether it was adopted.
    pub fn restore(&mut self, provider: ProviderHandle, entry: &[u8]) -> Result<bool, CallError> {
        self.resolving_for(Some(provider));
        let adopted = self.ask(0, |i, s| {
            i.credbox_provider_provider()
                .credential_provider()
                .call_restore(s, provider.0, entry)
        });
        self.resolving_for(None);
        adopted
    }

    /// `credential-provider.cache-entry`: what to store for the current credentials.
    pub fn cache_entry(&mut self, provider: ProviderHandle) -> Result<Option<Vec<u8>>, CallError> {
        Ok(self.call(0, |i, s| {
            i.credbox_provider_provider()
                .credential_provider()
                .call_cache_entry(s, provider.0)
        })?)
    }
}

/// The host's credentials as the guest takes them (a role's source).
impl From<&Credentials> for wit::Credentials {
    fn from(c: &Credentials) -> Self {
        wit::Credentials {
            access_key_id: c.access_key_id.clone(),
            secret_access_key: c.secret_access_key().to_string(),
            session_token: c.session_token().map(String::from),
            expiration: c.expiration,
            account_id: c.account_id.clone(),
        }
    }
}

/// The generated type (whose `Debug` shows the secret) becomes the host's at the boundary.
impl From<wit::Credentials> for Credentials {
    fn from(c: wit::Credentials) -> Self {
        Credentials::new(
            c.access_key_id,
            c.secret_access_key,
            c.session_token,
            c.expiration,
            c.account_id,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_error_never_shows_what_a_helper_or_plugin_wrote() {
        let errors = [
            GuestError::NonzeroExit(wit::HelperFailure {
                status: wit::ExitStatus::Code(1),
                stderr_tail: "token=SECRETVALUE".into(),
            }),
            GuestError::Plugin(wit::PluginError::RetrieveFailed("SECRETVALUE".into())),
        ];
        for error in errors {
            let error = CallError::from(error);
            for shown in [format!("{error}"), format!("{error:?}")] {
                assert!(!shown.contains("SECRETVALUE"), "{shown}");
            }
        }
    }
}
