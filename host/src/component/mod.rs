//! The guest component: [`runtime`] loads it, `state` is the store's data and the strict linker
//! (the capabilities themselves live in `crate::capabilities`), `session` makes the typed calls
//! into one instance, `call_error` is their one error, and `messages` turns the policy's typed
//! errors into credbox's one-line messages.

mod call_error;
mod messages;
pub mod runtime;
mod session;
mod state;

pub use crate::capabilities::plugins;
pub use crate::wasm::sandbox;

pub use crate::bindings::WIT;
pub use crate::bindings::wit;
pub(crate) use crate::bindings::{wit_profiles, wit_provider};
pub use call_error::CallError;
pub(crate) use messages::{Context, detail};
pub use runtime::{GUEST_SHA256, GUEST_WASM, Runtime};
pub use sandbox::{Clock, GRANTED_WASI, Limits, MAX_SPAWNS_PER_CALL, component_imports, grant};
pub use session::{ProviderHandle, Session, Source};
pub use state::HostState;
pub use wit::{Error as GuestError, Helper, Location, ProcessSettings, RoleSettings, SsoSettings};
pub use wit_profiles::{
    BaseSource, File, FileKind, Files, HelperReport, OtherKind, OtherSource, ProfileReport, ProfilesReport,
    Property, RoleChain,
};
pub use wit_provider::Options;
