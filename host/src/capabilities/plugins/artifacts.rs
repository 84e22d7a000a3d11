//! Compiled credential plugins, kept between runs. Compiling a component costs tens of
//! milliseconds, so the native code is kept in the cache directory's `plugins` subdirectory, named
//! by the plugin's SHA-256 and the engine's configuration and sealed with a digest: the second run
//! only maps it.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;

use sha2::{Digest, Sha256};
use tracing::{debug, warn};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::Cache;
use crate::bindings::wit::PluginError;
use crate::text::hex;
use crate::wasm::sandbox::{MAX_PLUGIN_BYTES, root_cause};

/// The largest compiled artifact credbox reads back (native code is a few times the wasm).
const MAX_ARTIFACT_BYTES: u64 = 4 * MAX_PLUGIN_BYTES;

/// The component in `bytes` (a plugin file's contents, already admitted by the policy): from the
/// artifacts under `cache_dir` when they hold its compilation, else compiled now (and kept there
/// for the next run). `None` compiles every time.
pub(super) fn compile(
    engine: &Engine,
    cache_dir: Option<&Path>,
    bytes: &[u8],
) -> Result<Component, PluginError> {
    // The cache's own rules: a 0700 directory of ours, files opened without following links
    // and checked on the descriptor.
    let artifacts = match cache_dir.map(|root| Cache::open(root).and_then(|cache| cache.subdir("plugins"))) {
        Some(Ok(store)) => Some(store),
        Some(Err(why)) => {
            warn!("not keeping compiled plugins: {why}");
            None
        }
        None => None,
    };
    let name = artifact_name(engine, bytes);
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
            match unsafe { Component::deserialize(engine, serialized) } {
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
    let component = Component::new(engine, bytes).map_err(|e| {
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
fn artifact_name(engine: &Engine, bytes: &[u8]) -> String {
    let mut configuration = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut configuration);
    env!("CARGO_PKG_VERSION").hash(&mut configuration);
    format!(
        "{}-{:016x}.cwasm",
        hex(&Sha256::digest(bytes)),
        configuration.finish()
    )
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
