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
use wasmtime::component::{Component, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::WasiCtx;

use super::session::Session;
use super::state::{HostState, guest_failure, strict_linker};
use crate::bindings::CredboxPre;
use crate::capabilities::CapabilityPolicy;
use crate::capabilities::plugins::PluginLoader;
use crate::capabilities::sts::StsPolicy;
use crate::wasm::in_place::{PageAligned, in_place_engine, plain_engine};
use crate::wasm::sandbox::{self, CallBudget, Clock, ClockAdapter, Limits, MemoryCap};

/// The guest component, built from `guest/` by the build script.
pub static GUEST_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/guest.wasm"));
/// The guest precompiled for this host by the same wasmtime and configuration, on a page of its
/// own so that it can run where it is mapped (`in_place`).
static GUEST_PRECOMPILED: &PageAligned<[u8]> =
    &PageAligned(*include_bytes!(concat!(env!("OUT_DIR"), "/guest.cwasm")));
/// The SHA-256 of [`GUEST_WASM`] (hex): which policy build made a decision the host recorded.
pub const GUEST_SHA256: &str = include_str!(concat!(env!("OUT_DIR"), "/guest.sha256"));

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
    pub fn session(&self, policy: CapabilityPolicy, clock: Option<Arc<dyn Clock>>) -> Result<Session> {
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
