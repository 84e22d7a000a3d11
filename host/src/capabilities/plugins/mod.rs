//! The `plugins` import: credential plugins (docs/PLUGINS.md), the Go SDK's plugincreds, as
//! WebAssembly components granted nothing.
//!
//! A plugin exports `credbox:provider/plugin` (world `credential-plugin` in `wit/credbox.wit`). It
//! runs in a store of its own on the runtime's engine, linked with only the empty WASI interfaces
//! Rust's std needs, with an instruction budget (fuel) and a memory cap, so a plugin that loops or
//! allocates without end is stopped, not waited on. The allow-list and its pins are checked on the
//! very bytes that are compiled; compiled plugins are kept by [`artifacts`].

mod artifacts;
pub(crate) mod import;

use std::io::Read;
use std::path::{Path, PathBuf};

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::wit::{self, PluginError};
use crate::bindings::{CredentialPlugin, CredentialPluginPre, wit_plugins};
use crate::capabilities::spawn::{self, Allowed};
use crate::wasm::sandbox::{self, HasResourceTable, Limits, MAX_PLUGIN_BYTES, MemoryCap, root_cause};

/// The interface a plugin must export.
pub const PLUGIN_INTERFACE: &str = "credbox:provider/plugin@0.5.0";
/// The functions it must export in that interface, with their WIT types for messages.
const PLUGIN_FUNCTIONS: [(&str, &str); 2] = [
    ("retrieve", "func() -> result<credentials, string>"),
    ("is-expired", "func(credentials: credentials) -> bool"),
];

use wit_plugins::CallError;

impl From<spawn::SpawnError> for CallError {
    fn from(error: spawn::SpawnError) -> Self {
        match error {
            spawn::SpawnError::Denied(why) => CallError::Denied(why),
            spawn::SpawnError::Failed(why) => CallError::Failed(why),
            // Admission runs nothing, so it cannot time out or overflow; named for completeness.
            spawn::SpawnError::TimedOut(_) | spawn::SpawnError::OutputTooLarge(_) => {
                CallError::Failed("the plugin could not be checked against the allow-list".into())
            }
        }
    }
}

impl From<PluginError> for CallError {
    fn from(error: PluginError) -> Self {
        CallError::Plugin(error)
    }
}

/// Loads plugins on the runtime's engine, with an optional directory of compiled artifacts.
#[derive(Clone)]
pub struct PluginLoader {
    engine: Option<Engine>,
    artifacts: Option<PathBuf>,
    limits: Limits,
    allow_list: Option<Vec<Allowed>>,
}

/// A plugin's store state: WASI granted empty, and the memory cap.
struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    memory: MemoryCap,
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl HasResourceTable for PluginState {
    fn resource_table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl wit::Host for PluginState {}

/// A loaded plugin, instantiated in its own bounded store.
struct Instance {
    store: Store<PluginState>,
    plugin: CredentialPlugin,
    limits: Limits,
}

impl PluginLoader {
    /// `artifacts`: the cache directory whose `plugins` subdirectory keeps compiled plugins; `None`
    /// compiles every time.
    /// `allow_list`: when set, only plugins it admits (and whose bytes match their pin) load.
    /// `engine`: the one to compile and run plugins on; `None` for the process's plain engine
    /// (`in_place::plain_engine`), created when the first plugin loads.
    pub fn new(
        engine: Option<Engine>,
        artifacts: Option<PathBuf>,
        limits: Limits,
        allow_list: Option<Vec<Allowed>>,
    ) -> Self {
        PluginLoader {
            engine,
            artifacts,
            limits,
            allow_list,
        }
    }

    /// Load the plugin at `path` and call its `retrieve`.
    pub fn retrieve(&self, path: &Path) -> Result<wit::Credentials, CallError> {
        let mut instance = self.instantiate(path)?;
        let result = instance
            .plugin
            .credbox_provider_plugin()
            .call_retrieve(&mut instance.store);
        instance
            .outcome(result)?
            .map_err(|message| PluginError::RetrieveFailed(crate::text::one_line(&message)).into())
    }

    /// Ask the plugin at `path` whether `credentials` must no longer be used.
    pub fn is_expired(&self, path: &Path, credentials: &wit::Credentials) -> Result<bool, CallError> {
        let mut instance = self.instantiate(path)?;
        let result = instance
            .plugin
            .credbox_provider_plugin()
            .call_is_expired(&mut instance.store, credentials);
        Ok(instance.outcome(result)?)
    }

    fn engine(&self) -> Result<Engine, CallError> {
        match &self.engine {
            Some(engine) => Ok(engine.clone()),
            None => Ok(crate::wasm::in_place::plain_engine()
                .map_err(|e| PluginError::NotLoadable(format!("{e:#}")))?
                .clone()),
        }
    }

    fn instantiate(&self, path: &Path) -> Result<Instance, CallError> {
        let engine = self.engine()?;
        let component = self.load(&engine, path)?;
        check_imports(&engine, &component)?;
        check_exports(&engine, &component)?;
        let linker = plugin_linker(&engine).map_err(|e| PluginError::NotLoadable(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| PluginError::NotLoadable(format!("{e:#}")))?;
        let pre = CredentialPluginPre::new(pre).map_err(|e| PluginError::WrongType(root_cause(&e)))?;
        let state = PluginState {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            memory: MemoryCap::new(self.limits.memory_bytes),
        };
        let mut store = Store::new(&engine, state);
        store.limiter(|s| &mut s.memory);
        store
            .set_fuel(self.limits.fuel)
            .map_err(|e| PluginError::NotLoadable(e.to_string()))?;
        let plugin = pre.instantiate(&mut store);
        let mut instance = match plugin {
            Ok(plugin) => Instance {
                store,
                plugin,
                limits: self.limits,
            },
            // Instantiation typechecks the exports: an error that is not a trap is a type mismatch.
            Err(e) if e.downcast_ref::<wasmtime::Trap>().is_none() && !store.data().memory.exceeded() => {
                return Err(PluginError::WrongType(root_cause(&e)).into());
            }
            Err(e) => {
                return Err(classify_trap(&e, store.data().memory.exceeded(), &self.limits).into());
            }
        };
        instance.refuel();
        Ok(instance)
    }

    /// The plugin's component. The allow-list admits the path before anything is opened; the file
    /// is read once, the pin is checked on those bytes, and those bytes are what is compiled (or
    /// what names the artifact), so swapping the file midway loads nothing unchecked.
    fn load(&self, engine: &Engine, path: &Path) -> Result<Component, CallError> {
        let bytes = read_admitted(self.allow_list.as_deref(), path)?;
        Ok(artifacts::compile(engine, self.artifacts.as_deref(), &bytes)?)
    }
}

/// The bytes of the plugin at `path`, if the allow-list admits it: the path is checked first,
/// then the file is opened without blocking and must be a regular file (a FIFO or a device never
/// hangs credbox) of at most [`MAX_PLUGIN_BYTES`], and a pinned plugin's bytes must match.
fn read_admitted(allow_list: Option<&[Allowed]>, path: &Path) -> Result<Vec<u8>, CallError> {
    let pin = spawn::plugin_pin(allow_list, path)?;
    let unreadable = |why: String| PluginError::NotLoadable(why);
    let file = crate::platform::open_regular(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidInput => unreadable("it is not a regular file".into()),
        _ => unreadable(format!("cannot read it: {e}")),
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_PLUGIN_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(format!("cannot read it: {e}")))?;
    if bytes.len() as u64 > MAX_PLUGIN_BYTES {
        return Err(unreadable(format!(
            "it is larger than {MAX_PLUGIN_BYTES} bytes, the most a plugin may be"
        ))
        .into());
    }
    if let Some(pin) = pin {
        spawn::check_pin(path, &pin, &bytes)?;
    }
    Ok(bytes)
}

/// Whether the current allow-list (and pin) admits the plugin at `path`, without loading it: a
/// cached answer of a plugin is only offered to the policy while this holds, as for a command.
pub(crate) fn check_admitted(allow_list: Option<&[Allowed]>, path: &Path) -> Result<(), CallError> {
    match allow_list {
        None => Ok(()),
        Some(_) => read_admitted(allow_list, path).map(drop),
    }
}

/// A refused or failed plugin call, as the policy would have reported it.
impl From<CallError> for wit::Error {
    fn from(error: CallError) -> Self {
        match error {
            CallError::Denied(why) => wit::Error::SpawnDenied(why),
            CallError::Failed(why) => wit::Error::SpawnFailed(why),
            CallError::TooLarge(n) => wit::Error::OutputTooLarge(n),
            CallError::Plugin(e) => wit::Error::Plugin(e),
        }
    }
}

impl Instance {
    fn refuel(&mut self) {
        let _ = self.store.set_fuel(self.limits.fuel);
    }

    /// A call's result, with traps, fuel and memory exhaustion told apart.
    fn outcome<T>(&self, result: wasmtime::Result<T>) -> Result<T, PluginError> {
        result.map_err(|e| classify_trap(&e, self.store.data().memory.exceeded(), &self.limits))
    }
}

fn classify_trap(error: &wasmtime::Error, memory_exceeded: bool, limits: &Limits) -> PluginError {
    if memory_exceeded {
        PluginError::OutOfMemory(limits.memory_bytes as u64)
    } else if error.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::OutOfFuel) {
        PluginError::OutOfFuel(limits.fuel)
    } else {
        PluginError::Trapped(root_cause(error))
    }
}

/// Name every import a plugin is not granted (anything but the package's types and the empty WASI
/// of Rust's std), rather than leaving the linker to report the first one vaguely.
fn check_imports(engine: &Engine, component: &Component) -> Result<(), PluginError> {
    let granted = |name: &str| {
        let interface = name.split('@').next().unwrap_or(name);
        interface == "credbox:provider/types" || sandbox::GRANTED_WASI.contains(&interface)
    };
    let forbidden: Vec<String> = sandbox::component_imports(engine, component)
        .into_iter()
        .filter(|name| !granted(name))
        .collect();
    if forbidden.is_empty() {
        return Ok(());
    }
    Err(PluginError::NotLoadable(format!(
        "it imports {}, which credbox does not grant a plugin (only the clock and the empty WASI of Rust's std)",
        forbidden.join(", ")
    )))
}

/// The missing-export and wrong-type errors of plugincreds, told apart before wasmtime's own
/// (less specific) typecheck.
fn check_exports(engine: &Engine, component: &Component) -> Result<(), PluginError> {
    let ty = component.component_type();
    let Some(export) = ty.get_export(engine, PLUGIN_INTERFACE) else {
        let exports: Vec<String> = ty.exports(engine).map(|(name, _)| name.to_string()).collect();
        let found = if exports.is_empty() {
            "it exports nothing".to_string()
        } else {
            format!("it exports {}", exports.join(", "))
        };
        return Err(PluginError::MissingExport(format!(
            "{PLUGIN_INTERFACE} ({found}); build it for the `credential-plugin` world"
        )));
    };
    let ComponentItem::ComponentInstance(instance) = export.ty else {
        return Err(PluginError::WrongType(format!(
            "{PLUGIN_INTERFACE} is not an interface instance"
        )));
    };
    for (function, signature) in PLUGIN_FUNCTIONS {
        let wrong_type =
            || PluginError::WrongType(format!("{PLUGIN_INTERFACE}#{function} must be `{signature}`"));
        match instance.get_export(engine, function).map(|export| export.ty) {
            None => {
                return Err(PluginError::MissingExport(format!(
                    "{PLUGIN_INTERFACE}#{function}"
                )));
            }
            Some(ComponentItem::ComponentFunc(func)) if !has_shape(function, &func) => {
                return Err(wrong_type());
            }
            Some(ComponentItem::ComponentFunc(_)) => {}
            Some(_) => return Err(wrong_type()),
        }
    }
    Ok(())
}

/// Whether a function has the plugin function's outline (parameter and result kinds), so that the
/// message can name the function; field-level mismatches are left to wasmtime's full typecheck.
fn has_shape(function: &str, func: &wasmtime::component::types::ComponentFunc) -> bool {
    use wasmtime::component::types::Type;
    let params: Vec<Type> = func.params().map(|(_, ty)| ty).collect();
    let results: Vec<Type> = func.results().collect();
    match function {
        "retrieve" => params.is_empty() && matches!(results.as_slice(), [Type::Result(_)]),
        _ => matches!(params.as_slice(), [Type::Record(_)]) && matches!(results.as_slice(), [Type::Bool]),
    }
}

/// A plugin gets the types of the package and the empty WASI of Rust's std: no spawn, nothing else.
fn plugin_linker(engine: &Engine) -> wasmtime::Result<Linker<PluginState>> {
    let mut linker = Linker::new(engine);
    wit::add_to_linker::<_, wasmtime::component::HasSelf<_>>(&mut linker, |s: &mut PluginState| s)?;
    sandbox::link_empty_wasi(&mut linker)?;
    Ok(linker)
}
