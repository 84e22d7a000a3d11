//! credbox: a sandboxed runner for AWS `credential_process` helpers.
//!
//! All policy (profile files, command syntax, output validation, expiry, role chains) runs in a
//! WebAssembly component whose only capabilities are running a command ([`spawn`]), calling a
//! credential plugin ([`component::plugins`]), one STS AssumeRole call ([`sts`]) and asking for
//! an MFA code ([`prompt`]), all with hard ceilings. See `docs/ARCHITECTURE.md`, and
//! `docs/EMBEDDING.md` for using it as a library.

#![warn(missing_docs)]

mod atomic;
pub mod audit;
#[cfg(feature = "aws-sdk")]
pub mod aws;
#[doc(hidden)] // The generated WIT types; `component` re-exports what is API.
pub mod bindings;
pub mod cache;
pub mod capabilities;
mod command;
pub mod component;
pub mod configure;
pub mod contract;
mod credentials;
#[doc(hidden)] // Shared with the build script; not part of the API.
pub mod engine_config;
pub mod error;
mod fetch;
pub mod files;
pub mod format;
pub mod platform;
pub mod provider;
pub mod serve;
pub mod sso_tokens;
pub mod text;
pub mod wasm;

pub use cache::Cache;
pub use capabilities::CapabilityPolicy;
#[allow(deprecated)]
pub use capabilities::SpawnPolicy;
pub use capabilities::{prompt, spawn, sts};
pub use component::{Clock, Runtime};
pub use credentials::{Credentials, mask};
pub use error::{Error, ErrorKind};
pub use fetch::{
    FetchOptions, Origin, credentials_for_command, credentials_for_plugin, credentials_for_profile,
};
pub use provider::{Provider, Target};
pub use spawn::{SpawnCommand, StdinMode};
