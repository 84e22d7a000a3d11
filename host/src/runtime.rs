//! Loading and running the guest component.
//!
//! The guest is precompiled at build time and embedded; start-up deserializes it (no JIT). The
//! linker is strict: it links the spawn capability and only the WASI interfaces Rust's std needs,
//! each granted nothing, so a guest that imports anything else fails to instantiate. Every call
//! into the guest has an instruction budget (fuel) and its memory a cap ([`Limits`]), so a guest
//! that loops or allocates without end fails with a clear error instead of hanging credbox.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result};
use wasmtime::component::{Component, HasData, HasSelf, Linker, ResourceAny, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::engine_config::engine_config;
use crate::plugin::{PluginFailure, PluginLoader};
use crate::spawn::{self, SpawnCommand, SpawnPolicy};

// The generated code documents what the WIT documents; the rest (linker glue) is not API.
#[allow(missing_docs)]
mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "credbox",
        imports: { default: trappable },
    });
}

use bindings::credbox::provider::spawn as wit_spawn;
pub use bindings::credbox::provider::types as wit;
use bindings::exports::credbox::provider::profiles as wit_profiles;
use bindings::exports::credbox::provider::provider as wit_provider;
use bindings::{Credbox, CredboxPre};

// The generated `Credentials` type prints its secret in `Debug`: it never leaves this module;
// callers get `crate::Credentials`, whose `Debug` is redacted.
use wit::Credentials as WitCredentials;
pub use wit::{Error as GuestError, ProcessSettings};
pub use wit_profiles::{File, FileKind, Files, ProfileProperties, Property};

/// How a profile supplies credentials.
pub enum Source {
    /// Static keys in the profile (the helper is not run).
    StaticKeys(crate::Credentials),
    /// A `credential_process` to run.
    Process(ProcessSettings),
}

impl From<WitCredentials> for crate::Credentials {
    fn from(c: WitCredentials) -> Self {
        crate::Credentials::new(
            c.access_key_id,
            c.secret_access_key,
            c.session_token,
            c.expiration,
            c.account_id,
        )
    }
}
pub use wit_provider::Options;

/// The guest component, built from `guest/` by the build script.
pub static GUEST_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/guest.wasm"));
/// The guest precompiled for this host by the same wasmtime and configuration.
static GUEST_PRECOMPILED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/guest.cwasm"));
/// The SHA-256 of [`GUEST_WASM`] (hex): which policy build made a decision the host recorded.
pub const GUEST_SHA256: &str = include_str!(concat!(env!("OUT_DIR"), "/guest.sha256"));

/// The WASI interfaces Rust's std imports, which the host links and grants nothing through.
pub const GRANTED_WASI: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
];

/// The guest, loaded on first use (so that a path that never enters the guest, like a served
/// cache record, pays nothing for it) and then instantiated cheaply many times. Cloning shares it.
#[derive(Clone, Default)]
pub struct Runtime {
    loaded: Arc<OnceLock<Loaded>>,
    /// Instructions (fuel) used by every call into the guest through this runtime, for measuring
    /// how work grows with the input.
    instructions: Arc<AtomicU64>,
}

struct Loaded {
    engine: Engine,
    pre: CredboxPre<HostState>,
}

/// How much a component may do in one call: instructions (wasmtime fuel) and linear memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The instruction budget of each call (refilled before every call).
    pub fuel: u64,
    /// The most linear memory the instance may have.
    pub memory_bytes: usize,
}

impl Limits {
    /// The limits of a guest call given `input` bytes of profile-file text: the fixed budget, plus
    /// what the input can legitimately need (walking every profile of a generated config takes
    /// about 190 instructions per byte; `tests/scale.rs` prints it, and resolves a 23 MB,
    /// 100,000-profile config). A loop is still stopped; only how soon grows with the input.
    pub fn for_input(self, input: usize) -> Limits {
        Limits {
            fuel: self.fuel + (FUEL_PER_INPUT_BYTE * input as u64).min(MAX_INPUT_FUEL),
            memory_bytes: self.memory_bytes + (MEMORY_PER_INPUT_BYTE * input).min(MAX_INPUT_MEMORY),
        }
    }

    /// The policy guest. Resolving a profile in a 2,000-profile config takes 29 M instructions and
    /// validating a 60 KiB output 0.5 M (`tests/library.rs` measures both); 2^30 leaves 37 times
    /// that, and stops a tight loop in about 0.3 s (release build).
    pub const GUEST: Limits = Limits {
        fuel: 1 << 30,
        memory_bytes: 128 << 20,
    };
    /// A credential plugin.
    pub const PLUGIN: Limits = Limits {
        fuel: 1 << 30,
        memory_bytes: 64 << 20,
    };
}

/// How much profile-file text `files` holds.
fn text_len(files: &Files) -> usize {
    files.config.text.len() + files.credentials.text.len()
}

/// Instructions granted per byte of profile-file text a call is given (the parser uses about 190),
/// up to 2^35 more in all: a looping guest given the largest input is stopped within seconds.
const FUEL_PER_INPUT_BYTE: u64 = 1024;
const MAX_INPUT_FUEL: u64 = 1 << 35;
/// Memory granted per byte of profile-file text (the parsed profiles take a few times the text),
/// up to 1 GiB in all.
const MEMORY_PER_INPUT_BYTE: usize = 8;
const MAX_INPUT_MEMORY: usize = (1 << 30) - (128 << 20);

/// A store's memory cap, which remembers that it was hit so the error can say so.
pub struct MemoryCap {
    limit: usize,
    exceeded: bool,
}

impl MemoryCap {
    /// A cap of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        MemoryCap {
            limit,
            exceeded: false,
        }
    }

    /// Whether the instance tried to grow past the cap.
    pub fn exceeded(&self) -> bool {
        self.exceeded
    }

    /// The cap, in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.exceeded = true;
            // A trap rather than a failed `memory.grow`: Rust's allocator would abort anyway, and
            // this way the error says why.
            wasmtime::bail!("memory limit of {} MiB reached", self.limit >> 20);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// Per-instance host state: WASI granted empty, the spawn policy, the clock, and the limits.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    policy: SpawnPolicy,
    memory: MemoryCap,
    plugins: PluginLoader,
    /// How many more commands the current guest call may run ([`MAX_SPAWNS_PER_CALL`]).
    spawns_left: u32,
}

/// The most commands one call into the guest may run. Resolving a profile runs one; the ceiling
/// stops a hostile or broken guest from running helpers in a loop within its fuel.
pub const MAX_SPAWNS_PER_CALL: u32 = 4;

/// Store states whose resource table the WASI io bindings use.
pub trait HasResourceTable {
    /// The store's resource table.
    fn resource_table(&mut self) -> &mut ResourceTable;
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

/// Lets the linker hand WASI io bindings the resource table.
struct HasTable;
impl HasData for HasTable {
    type Data<'a> = &'a mut ResourceTable;
}

impl wit::Host for HostState {}

impl wit_spawn::Host for HostState {
    fn run(
        &mut self,
        request: wit_spawn::Request,
    ) -> wasmtime::Result<Result<wit_spawn::Output, wit_spawn::SpawnError>> {
        if self.spawns_left == 0 {
            return Ok(Err(wit_spawn::SpawnError::Denied(format!(
                "the policy asked to run more than {MAX_SPAWNS_PER_CALL} commands in one call"
            ))));
        }
        self.spawns_left -= 1;
        let command = match request.command {
            wit_spawn::Command::Argv(argv) => SpawnCommand::Argv(argv),
            wit_spawn::Command::Shell(text) => SpawnCommand::Shell(text),
            wit_spawn::Command::Plugin(path) => return Ok(self.run_plugin(&path)),
        };
        let timeout = Duration::from_millis(request.timeout_ms);
        Ok(
            match spawn::run(&self.policy, &command, timeout, &request.label) {
                Ok(output) => Ok(wit_spawn::Output {
                    status: match output.status {
                        spawn::Exit::Code(c) => wit::ExitStatus::Code(c),
                        spawn::Exit::Signal(s) => wit::ExitStatus::Signal(s),
                    },
                    stdout: output.stdout,
                    stderr_tail: output.stderr_tail,
                }),
                Err(e) => Err(spawn_error(e)),
            },
        )
    }
}

impl HostState {
    /// The `plugin` command: the allow-list applies to plugins as to programs; then the plugin
    /// runs in its own bounded store and its credentials come back as a helper's stdout would.
    fn run_plugin(&mut self, path: &str) -> Result<wit_spawn::Output, wit_spawn::SpawnError> {
        let path = std::path::Path::new(path);
        if !path.is_absolute() {
            return Err(wit_spawn::SpawnError::Denied(format!(
                "plugin `{}` is not an absolute path",
                path.display()
            )));
        }
        // The allow-list and pins are checked by the loader, on the bytes it compiles.
        let output = match self.plugins.retrieve(path) {
            Ok(credentials) => credentials.to_process_output(),
            Err(PluginFailure::Refused(refusal)) => return Err(spawn_error(refusal)),
            Err(PluginFailure::Plugin(e)) => return Err(wit_spawn::SpawnError::Plugin(e)),
        };
        // The same ceiling as a helper's stdout: a plugin is no more trusted than a helper.
        if output.len() > spawn::STDOUT_CAP {
            return Err(wit_spawn::SpawnError::OutputTooLarge(spawn::STDOUT_CAP as u64));
        }
        Ok(wit_spawn::Output {
            status: wit::ExitStatus::Code(0),
            stdout: output,
            stderr_tail: String::new(),
        })
    }
}

/// The WIT form of a host spawn error.
fn spawn_error(error: spawn::SpawnError) -> wit_spawn::SpawnError {
    match error {
        spawn::SpawnError::Denied(why) => wit_spawn::SpawnError::Denied(why),
        spawn::SpawnError::Failed(why) => wit_spawn::SpawnError::Failed(why),
        spawn::SpawnError::TimedOut(ms) => wit_spawn::SpawnError::TimedOut(ms),
        spawn::SpawnError::OutputTooLarge(n) => wit_spawn::SpawnError::OutputTooLarge(n),
    }
}

/// A wall clock the caller controls, for deterministic expiry (tests, replays).
pub trait Clock: Send + Sync + 'static {
    /// Time since the Unix epoch.
    fn now(&self) -> Duration;
}

struct ClockAdapter(Arc<dyn Clock>);
impl wasmtime_wasi::HostWallClock for ClockAdapter {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        self.0.now()
    }
}

/// Link only the spawn capability and the WASI interfaces in [`GRANTED_WASI`].
fn strict_linker(engine: &Engine) -> Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wit_spawn::add_to_linker::<_, HasSelf<_>>(&mut linker, |s: &mut HostState| s)?;
    wit::add_to_linker::<_, HasSelf<_>>(&mut linker, |s: &mut HostState| s)?;
    link_empty_wasi(&mut linker)?;
    Ok(linker)
}

/// Link exactly the WASI interfaces in [`GRANTED_WASI`]; the store's `WasiCtx` grants them nothing
/// (no variables, arguments, streams or preopens).
pub(crate) fn link_empty_wasi<T: WasiView + HasResourceTable + 'static>(
    l: &mut Linker<T>,
) -> wasmtime::Result<()> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView as _};
    use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView as _};
    use wasmtime_wasi::p2::bindings::{cli, clocks, sync::io};

    io::error::add_to_linker::<_, HasTable>(l, T::resource_table)?;
    io::poll::add_to_linker::<_, HasTable>(l, T::resource_table)?;
    io::streams::add_to_linker::<_, HasTable>(l, T::resource_table)?;
    clocks::wall_clock::add_to_linker::<_, WasiClocks>(l, T::clocks)?;
    clocks::monotonic_clock::add_to_linker::<_, WasiClocks>(l, T::clocks)?;
    cli::environment::add_to_linker::<_, WasiCli>(l, T::cli)?;
    cli::exit::add_to_linker::<_, WasiCli>(l, T::cli)?;
    cli::stdin::add_to_linker::<_, WasiCli>(l, T::cli)?;
    cli::stdout::add_to_linker::<_, WasiCli>(l, T::cli)?;
    cli::stderr::add_to_linker::<_, WasiCli>(l, T::cli)?;
    cli::terminal_input::add_to_linker::<_, WasiCli>(l, T::cli)?;
    cli::terminal_output::add_to_linker::<_, WasiCli>(l, T::cli)?;
    cli::terminal_stdin::add_to_linker::<_, WasiCli>(l, T::cli)?;
    cli::terminal_stdout::add_to_linker::<_, WasiCli>(l, T::cli)?;
    cli::terminal_stderr::add_to_linker::<_, WasiCli>(l, T::cli)?;
    Ok(())
}

impl Runtime {
    /// The embedded guest, loaded when first needed: the precompiled artifact when this CPU accepts
    /// it, else the embedded `.wasm` compiled (slower start-up, same behaviour).
    pub fn new() -> Result<Self> {
        Ok(Runtime::default())
    }

    fn load_embedded() -> Result<Loaded> {
        let engine = Engine::new(&engine_config()).map_err(anyhow::Error::from)?;
        // SAFETY: the bytes are this build's own output of `Engine::precompile_component`, made by
        // the build script with the same wasmtime and `engine_config()`; wasmtime checks the
        // version and configuration before using them.
        let component = match unsafe { Component::deserialize(&engine, GUEST_PRECOMPILED) } {
            Ok(component) => component,
            Err(_) => Component::new(&engine, GUEST_WASM).map_err(anyhow::Error::from)?,
        };
        Self::link(engine, &component)
    }

    fn loaded(&self) -> Result<&Loaded> {
        if let Some(loaded) = self.loaded.get() {
            return Ok(loaded);
        }
        let loaded = Self::load_embedded()?;
        Ok(self.loaded.get_or_init(|| loaded))
    }

    /// A runtime for any component of the credbox world, through the strict linker.
    pub fn from_component(engine: Engine, component: &Component) -> Result<Self> {
        let loaded = Self::link(engine, component)?;
        Ok(Runtime {
            loaded: Arc::new(OnceLock::from(loaded)),
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
        Ok(Loaded { engine, pre })
    }

    /// The engine (loading the guest if it is not loaded yet).
    pub fn engine(&self) -> Result<&Engine> {
        Ok(&self.loaded()?.engine)
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
            loaded.engine.clone(),
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
            spawns_left: MAX_SPAWNS_PER_CALL,
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
        })
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
}

/// A `credential-provider` resource living in a [`Session`].
#[derive(Clone, Copy)]
pub struct ProviderHandle(ResourceAny);

/// A guest call either traps (a bug: `Err`) or returns the guest's typed answer (`Ok`).
pub type GuestResult<T> = Result<Result<T, GuestError>>;

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

impl Session {
    /// Refill the instruction budget before a call, and turn a failed call into an error that
    /// says which limit was hit.
    fn call<T>(
        &mut self,
        f: impl FnOnce(&Credbox, &mut Store<HostState>) -> wasmtime::Result<T>,
    ) -> Result<T> {
        self.call_given(0, f)
    }

    /// [`Session::call`] for a call given `input` bytes of profile-file text: its limits grow with
    /// the input ([`Limits::for_input`]).
    fn call_given<T>(
        &mut self,
        input: usize,
        f: impl FnOnce(&Credbox, &mut Store<HostState>) -> wasmtime::Result<T>,
    ) -> Result<T> {
        let limits = Limits::GUEST.for_input(input);
        self.budget = limits.fuel;
        self.store.set_fuel(limits.fuel).map_err(anyhow::Error::from)?;
        let state = self.store.data_mut();
        state.spawns_left = MAX_SPAWNS_PER_CALL;
        // Memory never shrinks: a later call keeps the largest cap granted so far.
        state.memory.limit = state.memory.limit.max(limits.memory_bytes);
        state.memory.exceeded = false;
        let result = f(&self.instance, &mut self.store);
        self.instructions.fetch_add(self.fuel_used(), Ordering::Relaxed);
        result.map_err(|e| guest_failure(&self.store, self.budget, e))
    }

    /// The instructions (wasmtime fuel) the last call into the guest used, out of its budget.
    pub fn fuel_used(&self) -> u64 {
        self.budget - self.store.get_fuel().unwrap_or(0)
    }

    /// Ask the credential plugin at `path` whether `credentials` it returned earlier must no
    /// longer be used (plugincreds' `IsExpired`).
    pub fn plugin_is_expired(
        &mut self,
        path: &str,
        credentials: &crate::Credentials,
    ) -> Result<bool, PluginFailure> {
        self.store
            .data()
            .plugins
            .is_expired(std::path::Path::new(path), credentials)
    }

    /// `profiles.resolve`: how `profile` supplies credentials.
    pub fn resolve(&mut self, files: &Files, profile: &str) -> GuestResult<Source> {
        let source = self.call_given(text_len(files), |i, s| {
            i.credbox_provider_profiles().call_resolve(s, files, profile)
        })?;
        Ok(source.map(|source| match source {
            wit_profiles::Source::StaticKeys(c) => Source::StaticKeys(c.into()),
            wit_profiles::Source::Process(settings) => Source::Process(settings),
        }))
    }

    /// `profiles.profile-names`: every profile the files define.
    pub fn profile_names(&mut self, files: &Files) -> GuestResult<Vec<String>> {
        self.call_given(text_len(files), |i, s| {
            i.credbox_provider_profiles().call_profile_names(s, files)
        })
    }

    /// `profiles.every-profile`: every profile with its properties, from one parse.
    pub fn every_profile(&mut self, files: &Files) -> GuestResult<Vec<ProfileProperties>> {
        self.call_given(text_len(files), |i, s| {
            i.credbox_provider_profiles().call_every_profile(s, files)
        })
    }

    /// `profiles.properties`: a profile's merged properties, with where each is defined.
    pub fn properties(&mut self, files: &Files, profile: &str) -> GuestResult<Vec<Property>> {
        self.call_given(text_len(files), |i, s| {
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
    ) -> GuestResult<File> {
        self.call_given(text_len(files), |i, s| {
            i.credbox_provider_profiles()
                .call_set_property(s, files, profile, key, value)
        })
    }

    /// `provider.parse-command`: the command a `credential_process` value runs.
    pub fn parse_command(&mut self, command_line: &str, allow_shell: bool) -> GuestResult<SpawnCommand> {
        let parsed = self.call(|i, s| {
            i.credbox_provider_provider()
                .call_parse_command(s, command_line, allow_shell)
        })?;
        Ok(parsed.map(|command| match command {
            wit_spawn::Command::Argv(argv) => SpawnCommand::Argv(argv),
            wit_spawn::Command::Shell(text) => SpawnCommand::Shell(text),
            wit_spawn::Command::Plugin(path) => SpawnCommand::Plugin(path),
        }))
    }

    /// `provider.validate-output`: check one helper output.
    pub fn validate_output(
        &mut self,
        stdout: &[u8],
        account_id: Option<&str>,
    ) -> GuestResult<crate::Credentials> {
        let validated = self.call(|i, s| {
            i.credbox_provider_provider()
                .call_validate_output(s, stdout, account_id)
        })?;
        Ok(validated.map(Into::into))
    }

    /// A new `credential-provider` resource for `settings`.
    pub fn new_provider(&mut self, settings: &ProcessSettings, options: Options) -> Result<ProviderHandle> {
        self.call(|i, s| {
            i.credbox_provider_provider()
                .credential_provider()
                .call_constructor(s, settings, options)
                .map(ProviderHandle)
        })
    }

    /// `credential-provider.retrieve`: cached credentials, or fresh ones (running the helper).
    pub fn retrieve(&mut self, provider: ProviderHandle) -> GuestResult<crate::Credentials> {
        let retrieved = self.call(|i, s| {
            i.credbox_provider_provider()
                .credential_provider()
                .call_retrieve(s, provider.0)
        })?;
        Ok(retrieved.map(Into::into))
    }

    /// `credential-provider.serve-until`.
    pub fn serve_until(&mut self, provider: ProviderHandle) -> Result<Option<i64>> {
        self.call(|i, s| {
            i.credbox_provider_provider()
                .credential_provider()
                .call_serve_until(s, provider.0)
        })
    }

    /// `credential-provider.is-expired`.
    pub fn is_expired(&mut self, provider: ProviderHandle) -> Result<bool> {
        self.call(|i, s| {
            i.credbox_provider_provider()
                .credential_provider()
                .call_is_expired(s, provider.0)
        })
    }

    /// `credential-provider.invalidate`.
    pub fn invalidate(&mut self, provider: ProviderHandle) -> Result<()> {
        self.call(|i, s| {
            i.credbox_provider_provider()
                .credential_provider()
                .call_invalidate(s, provider.0)
        })
    }

    /// `credential-provider.restore`: offer a stored cache entry; whether it was adopted.
    pub fn restore(&mut self, provider: ProviderHandle, entry: &[u8]) -> Result<bool> {
        self.call(|i, s| {
            i.credbox_provider_provider()
                .credential_provider()
                .call_restore(s, provider.0, entry)
        })
    }

    /// `credential-provider.cache-entry`: what to store for the current credentials.
    pub fn cache_entry(&mut self, provider: ProviderHandle) -> Result<Option<Vec<u8>>> {
        self.call(|i, s| {
            i.credbox_provider_provider()
                .credential_provider()
                .call_cache_entry(s, provider.0)
        })
    }

    /// The spawn policy this session runs helpers under.
    pub fn policy_mut(&mut self) -> &mut SpawnPolicy {
        &mut self.store.data_mut().policy
    }
}

/// The names of everything a component imports, for the sandbox audit.
pub fn component_imports(engine: &Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect()
}
