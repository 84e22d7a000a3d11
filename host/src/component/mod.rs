//! The guest component and the capabilities the host grants it, cut along `wit/credbox.wit`:
//! [`bindings`] (the generated types), [`sandbox`] (what any component is granted and its limits),
//! one module per imported interface (`spawn`, [`plugins`], `roles` for `sts` and `prompt`), and [`runtime`] (engine, store,
//! typed calls into the guest).

mod artifacts;
pub(crate) mod bindings;
mod in_place;
pub mod plugins;
mod roles;
pub mod runtime;
pub mod sandbox;
mod spawn;

pub use bindings::WIT;
pub use bindings::wit;
pub(crate) use bindings::{wit_profiles, wit_provider};
pub use runtime::{CallError, GUEST_SHA256, GUEST_WASM, HostState, ProviderHandle, Runtime, Session, Source};
pub use sandbox::{Clock, GRANTED_WASI, Limits, MAX_SPAWNS_PER_CALL, component_imports, grant};
pub use wit::{Error as GuestError, Helper, Location, ProcessSettings, RoleSettings};
pub use wit_profiles::{
    BaseSource, File, FileKind, Files, HelperReport, OtherKind, OtherSource, ProfileReport, ProfilesReport,
    Property, RoleChain,
};
pub use wit_provider::Options;
