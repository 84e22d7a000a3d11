//! Credential plugins (docs/PLUGINS.md): the Go SDK's plugincreds, as WebAssembly components granted
//! nothing.
//!
//! A plugin exports `credbox:provider/plugin` (world `credential-plugin` in `wit/credbox.wit`). It
//! runs in a store of its own on the runtime's engine, linked with only the empty WASI interfaces
//! Rust's std needs, with an instruction budget (fuel) and a memory cap, so a plugin that loops or
//! allocates without end is stopped, not waited on. Compiling a component costs tens of
//! milliseconds, so the compiled artifact is kept in the cache directory, keyed by the plugin's
//! SHA-256 and the engine's configuration: the second run only maps it.

use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tracing::{debug, warn};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::Cache;
use crate::runtime::{self, Limits, MemoryCap};
use crate::spawn::{self, Allowed, hex};

#[allow(missing_docs)]
mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "credential-plugin",
        imports: { default: trappable },
    });
}

use bindings::credbox::provider::types as wit;
use bindings::{CredentialPlugin, CredentialPluginPre};

/// The interface a plugin must export.
pub const PLUGIN_INTERFACE: &str = "credbox:provider/plugin@0.1.0";
/// The functions it must export in that interface, with their WIT types for messages.
const PLUGIN_FUNCTIONS: [(&str, &str); 2] = [
    ("retrieve", "func() -> result<credentials, string>"),
    ("is-expired", "func(credentials: credentials) -> bool"),
];
/// The largest plugin file credbox reads.
const MAX_PLUGIN_BYTES: u64 = 64 << 20;
/// The largest compiled artifact credbox reads back (native code is a few times the wasm).
const MAX_ARTIFACT_BYTES: u64 = 4 * MAX_PLUGIN_BYTES;

/// Why a plugin gave no credentials: the WIT `plugin-error`, as the guest receives it.
pub use crate::runtime::wit::PluginError;

/// Why a plugin was not used: the host's policy refused it before any of its code ran, or the
/// plugin itself failed.
#[derive(Debug)]
pub enum PluginFailure {
    /// The allow-list or a pin refused it (never loaded), or its file could not be read for the
    /// check.
    Refused(spawn::SpawnError),
    /// It was loaded (or could not be) and failed.
    Plugin(PluginError),
}

impl From<PluginError> for PluginFailure {
    fn from(error: PluginError) -> Self {
        PluginFailure::Plugin(error)
    }
}

/// What a plugin returned. `Debug` is deliberately not derived: it holds a secret.
pub struct PluginCredentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token, for temporary credentials.
    pub session_token: Option<String>,
    /// When they expire, in seconds since the Unix epoch.
    pub expiration: Option<i64>,
    /// The account they belong to.
    pub account_id: Option<String>,
}

impl PluginCredentials {
    /// The credentials as a credential_process document, so that the guest validates them exactly
    /// like a helper's stdout.
    pub fn to_process_output(&self) -> Vec<u8> {
        let mut document = serde_json::Map::new();
        document.insert("Version".into(), 1.into());
        document.insert("AccessKeyId".into(), self.access_key_id.clone().into());
        document.insert("SecretAccessKey".into(), self.secret_access_key.clone().into());
        if let Some(token) = &self.session_token {
            document.insert("SessionToken".into(), token.clone().into());
        }
        if let Some(expiration) = self.expiration {
            document.insert("Expiration".into(), crate::error::format_time(expiration).into());
        }
        if let Some(account) = &self.account_id {
            document.insert("AccountId".into(), account.clone().into());
        }
        serde_json::to_vec(&document).expect("a map of strings serializes")
    }
}

/// Loads plugins on the runtime's engine, with an optional directory of compiled artifacts.
#[derive(Clone)]
pub struct PluginLoader {
    engine: Engine,
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

impl runtime::HasResourceTable for PluginState {
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
    pub fn new(
        engine: Engine,
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
    pub fn retrieve(&self, path: &Path) -> Result<PluginCredentials, PluginFailure> {
        let mut instance = self.instantiate(path)?;
        instance.refuel();
        let result = instance
            .plugin
            .credbox_provider_plugin()
            .call_retrieve(&mut instance.store);
        match instance.outcome(result)? {
            Ok(c) => Ok(PluginCredentials {
                access_key_id: c.access_key_id,
                secret_access_key: c.secret_access_key,
                session_token: c.session_token,
                expiration: c.expiration,
                account_id: c.account_id,
            }),
            Err(message) => Err(PluginError::RetrieveFailed(one_line(&message)).into()),
        }
    }

    /// Ask the plugin at `path` whether `credentials` must no longer be used.
    pub fn is_expired(&self, path: &Path, credentials: &crate::Credentials) -> Result<bool, PluginFailure> {
        let mut instance = self.instantiate(path)?;
        instance.refuel();
        let credentials = wit::Credentials {
            access_key_id: credentials.access_key_id.clone(),
            secret_access_key: credentials.secret_access_key().to_string(),
            session_token: credentials.session_token().map(String::from),
            expiration: credentials.expiration,
            account_id: credentials.account_id.clone(),
        };
        let result = instance
            .plugin
            .credbox_provider_plugin()
            .call_is_expired(&mut instance.store, &credentials);
        Ok(instance.outcome(result)?)
    }

    fn instantiate(&self, path: &Path) -> Result<Instance, PluginFailure> {
        let component = self.load(path)?;
        check_imports(&self.engine, &component)?;
        check_exports(&self.engine, &component)?;
        let linker = plugin_linker(&self.engine).map_err(|e| PluginError::NotLoadable(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| PluginError::NotLoadable(format!("{e:#}")))?;
        let pre = CredentialPluginPre::new(pre).map_err(|e| PluginError::WrongType(root_cause(&e)))?;
        let state = PluginState {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            memory: MemoryCap::new(self.limits.memory_bytes),
        };
        let mut store = Store::new(&self.engine, state);
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

    /// The compiled plugin: from the artifact directory when it holds this file's compilation,
    /// else compiled now (and stored there for the next run). The file is read once; the
    /// allow-list's pin is checked on those bytes, and those bytes are what is compiled (or what
    /// names the artifact), so swapping the file midway loads nothing unchecked.
    fn load(&self, path: &Path) -> Result<Component, PluginFailure> {
        let unreadable = |e: std::io::Error| PluginError::NotLoadable(format!("cannot read it: {e}"));
        let mut bytes = Vec::new();
        fs::File::open(path)
            .and_then(|file| file.take(MAX_PLUGIN_BYTES + 1).read_to_end(&mut bytes))
            .map_err(unreadable)?;
        if bytes.len() as u64 > MAX_PLUGIN_BYTES {
            return Err(PluginError::NotLoadable(format!(
                "it is larger than {MAX_PLUGIN_BYTES} bytes, the most a plugin may be"
            ))
            .into());
        }
        spawn::admit_plugin(self.allow_list.as_deref(), path, &bytes).map_err(PluginFailure::Refused)?;
        // The cache's own rules: a 0700 directory of ours, files opened without following links
        // and checked on the descriptor.
        let artifacts = self
            .artifacts
            .as_deref()
            .map(|root| Cache::open(root).and_then(|cache| cache.subdir("plugins")));
        let artifacts = match artifacts {
            Some(Ok(store)) => Some(store),
            Some(Err(why)) => {
                warn!("not keeping compiled plugins: {why}");
                None
            }
            None => None,
        };
        let name = self.artifact_name(&bytes);
        let sealed = artifacts
            .as_ref()
            .and_then(|a| a.read_private(&name, MAX_ARTIFACT_BYTES));
        match sealed.as_deref().map(|file| unseal(&name, file)) {
            Some(Some(serialized)) => {
                // SAFETY: these bytes are `Component::serialize` output that this code wrote for
                // these exact plugin bytes and this engine configuration (the name), sealed with
                // a digest over the name and the contents (checked just now), read from a private
                // file of this user in a directory only this user can write. wasmtime also checks
                // its version and configuration header and refuses a mismatch.
                match unsafe { Component::deserialize(&self.engine, serialized) } {
                    Ok(component) => {
                        debug!(artifact = %name, "plugin: compiled artifact reused");
                        return Ok(component);
                    }
                    Err(e) => debug!("plugin: compiled artifact not usable ({e}); compiling"),
                }
            }
            Some(None) => debug!("plugin: compiled artifact damaged or not this plugin's; compiling"),
            None => {}
        }
        let component = Component::new(&self.engine, &bytes).map_err(|e| {
            PluginError::NotLoadable(format!("it is not a WebAssembly component: {}", root_cause(&e)))
        })?;
        if let Some(artifacts) = &artifacts {
            match component.serialize() {
                Ok(serialized) => {
                    if let Err(e) = artifacts.write_file(&name, &seal(&name, &serialized)) {
                        warn!(
                            "could not keep the compiled plugin in {}: {e}",
                            artifacts.dir().display()
                        );
                    }
                }
                Err(e) => warn!("could not serialize the compiled plugin: {e}"),
            }
        }
        Ok(component)
    }

    /// `<sha256 of the plugin>-<hash of the engine's configuration and wasmtime version>.cwasm`
    fn artifact_name(&self, bytes: &[u8]) -> String {
        let mut engine = DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut engine);
        env!("CARGO_PKG_VERSION").hash(&mut engine);
        format!("{}-{:016x}.cwasm", hex(&Sha256::digest(bytes)), engine.finish())
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
        interface == "credbox:provider/types" || runtime::GRANTED_WASI.contains(&interface)
    };
    let forbidden: Vec<String> = runtime::component_imports(engine, component)
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
    runtime::link_empty_wasi(&mut linker)?;
    Ok(linker)
}

/// A compiled artifact as stored: a SHA-256 over its file name and the serialized component, then
/// the component. The digest catches a truncated or damaged file and one renamed from another
/// plugin's artifact, none of which wasmtime's header check would notice before running it as
/// native code.
fn seal(name: &str, serialized: &[u8]) -> Vec<u8> {
    let mut sealed = artifact_digest(name, serialized).to_vec();
    sealed.extend_from_slice(serialized);
    sealed
}

/// The serialized component in `file`, if its seal matches `name` and its contents.
fn unseal<'a>(name: &str, file: &'a [u8]) -> Option<&'a [u8]> {
    let (digest, serialized) = file.split_at_checked(32)?;
    (digest == artifact_digest(name, serialized)).then_some(serialized)
}

fn artifact_digest(name: &str, serialized: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update((name.len() as u64).to_le_bytes());
    hasher.update(name.as_bytes());
    hasher.update(serialized);
    hasher.finalize().into()
}

/// The innermost message of an error chain, on one line.
fn root_cause(error: &wasmtime::Error) -> String {
    one_line(&error.root_cause().to_string())
}

/// A plugin's message on one line, shortened.
fn one_line(message: &str) -> String {
    let line: String = message
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect();
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_intact_artifact_of_this_name_unseals() {
        let sealed = seal("a.cwasm", b"native code");
        assert_eq!(unseal("a.cwasm", &sealed), Some(&b"native code"[..]));
        assert_eq!(unseal("b.cwasm", &sealed), None, "renamed from another plugin's");
        assert_eq!(unseal("a.cwasm", &sealed[..sealed.len() - 1]), None, "truncated");
        assert_eq!(unseal("a.cwasm", &sealed[..10]), None, "shorter than its seal");
        let mut damaged = sealed.clone();
        damaged[40] ^= 1;
        assert_eq!(unseal("a.cwasm", &damaged), None, "damaged");
    }
}
