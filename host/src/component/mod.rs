//! The guest component and the capabilities the host grants it, cut along `wit/credbox.wit`:
//! [`bindings`] (the generated types), [`sandbox`] (what any component is granted and its limits),
//! one module per imported interface (`spawn`, [`plugins`], `roles` for `sts` and `prompt`), and [`runtime`] (engine, store,
//! typed calls into the guest).

mod messages;
pub mod runtime;

pub use crate::capabilities::plugins;
pub use crate::wasm::sandbox;

pub use crate::bindings::WIT;
pub use crate::bindings::wit;
pub(crate) use crate::bindings::{wit_profiles, wit_provider};
pub(crate) use messages::{Context, detail};
pub use runtime::{CallError, GUEST_SHA256, GUEST_WASM, HostState, ProviderHandle, Runtime, Session, Source};
pub use sandbox::{Clock, GRANTED_WASI, Limits, MAX_SPAWNS_PER_CALL, component_imports, grant};
pub use wit::{Error as GuestError, Helper, Location, ProcessSettings, RoleSettings};
pub use wit_profiles::{
    BaseSource, File, FileKind, Files, HelperReport, OtherKind, OtherSource, ProfileReport, ProfilesReport,
    Property, RoleChain,
};
pub use wit_provider::Options;
