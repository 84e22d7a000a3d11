//! The `plugins` import: the guest asks for a plugin's credentials, within the call budget and
//! the ceiling a helper's stdout has.

use std::path::Path;

use tracing::info;
use wasmtime::component::HasData;

use crate::bindings::{wit, wit_plugins};
use crate::capabilities::spawn;
use crate::wasm::sandbox::CallBudget;
use wit_plugins::CallError;

use super::PluginLoader;

/// What the `plugins` import sees of the store: the loader, and the call budget it shares with
/// `spawn`.
pub(crate) struct PluginsView<'a> {
    pub(crate) loader: &'a PluginLoader,
    pub(crate) calls: &'a mut CallBudget,
}

/// Links the `plugins` import to a [`PluginsView`] of the store.
pub(crate) struct Plugins;
impl HasData for Plugins {
    type Data<'a> = PluginsView<'a>;
}

impl wit_plugins::Host for PluginsView<'_> {
    fn retrieve(&mut self, path: String) -> wasmtime::Result<Result<wit::Credentials, CallError>> {
        Ok(self.calls.take().map_err(CallError::Denied).and_then(|()| {
            let credentials = self.loader.retrieve(absolute(&path)?)?;
            // The ceiling a helper's stdout has: a plugin is trusted no more than a helper.
            if byte_len(&credentials) > spawn::STDOUT_CAP {
                return Err(CallError::TooLarge(spawn::STDOUT_CAP as u64));
            }
            Ok(credentials)
        }))
    }

    fn is_expired(
        &mut self,
        path: String,
        credentials: wit::Credentials,
    ) -> wasmtime::Result<Result<bool, CallError>> {
        Ok(self.calls.take().map_err(CallError::Denied).and_then(|()| {
            let expired = self.loader.is_expired(absolute(&path)?, &credentials)?;
            if expired {
                info!("the plugin says its cached credentials have expired");
            }
            Ok(expired)
        }))
    }
}

/// A plugin path must not depend on the working directory.
fn absolute(path: &str) -> Result<&Path, CallError> {
    let path = Path::new(path);
    if !path.is_absolute() {
        return Err(CallError::Denied(format!(
            "plugin `{}` is not an absolute path",
            path.display()
        )));
    }
    Ok(path)
}

/// The bytes of every field, as a helper would have printed them.
fn byte_len(c: &wit::Credentials) -> usize {
    let optional = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    c.access_key_id.len()
        + c.secret_access_key.len()
        + optional(&c.session_token)
        + optional(&c.account_id)
        + 8
}
