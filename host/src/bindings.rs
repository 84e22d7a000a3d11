//! The only `bindgen!` calls: the credbox world the guest exports, and the credential-plugin world,
//! which reuses the credbox world's `types` so that a plugin's credentials and the guest's are one
//! Rust type.

// The generated code documents what the WIT documents; the rest (linker glue) is not API.
#[allow(missing_docs)]
mod credbox_world {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "credbox",
        imports: { default: trappable },
    });
}

#[allow(missing_docs)]
mod plugin_world {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "credential-plugin",
        imports: { default: trappable },
        with: { "credbox:provider/types": crate::bindings::wit },
    });
}

/// The WIT `types` interface. Its `Credentials` prints its secret in `Debug`: it never leaves
/// `component` and `credentials`; callers get [`crate::Credentials`].
pub use credbox_world::credbox::provider::types as wit;
pub(crate) use credbox_world::credbox::provider::{
    plugins as wit_plugins, prompt as wit_prompt, spawn as wit_spawn, sts as wit_sts,
};
pub(crate) use credbox_world::exports::credbox::provider::profiles as wit_profiles;
pub(crate) use credbox_world::exports::credbox::provider::provider as wit_provider;
pub(crate) use credbox_world::{Credbox, CredboxPre};
pub(crate) use plugin_world::{CredentialPlugin, CredentialPluginPre};

/// `FILE:LINE`, or `FILE` when the place is the whole file: how every message names a place.
impl std::fmt::Display for wit::Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.file),
            None => f.write_str(&self.file),
        }
    }
}

/// The WIT contract this binary was built from, as the auditor reads it.
pub const WIT: &str = include_str!("../../wit/credbox.wit");
