//! `credbox contract`: what this binary grants its policy, for an auditor to check against
//! `wit/credbox.wit` and `make component`: the embedded WIT text, the embedded guest's digest and
//! the imports it really has (with what each is granted), and the host's ceilings.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::capabilities::CapabilityPolicy;
use crate::capabilities::spawn;
use crate::component::{self, Limits, Runtime};
use crate::error::Error;
use crate::text::hex;

/// Everything `credbox contract` prints.
#[derive(Serialize)]
pub struct Contract {
    /// The credbox version.
    pub credbox: &'static str,
    /// The WIT contract the binary was built from.
    pub wit: Wit,
    /// The policy component the binary embeds.
    pub guest: Guest,
    /// The host's ceilings, whatever the guest asks.
    pub ceilings: Ceilings,
}

/// The embedded WIT text.
#[derive(Serialize)]
pub struct Wit {
    /// `credbox:provider@VERSION`.
    pub package: String,
    /// SHA-256 (hex) of the text.
    pub sha256: String,
    /// The text itself.
    pub text: &'static str,
}

/// The embedded guest component.
#[derive(Serialize)]
pub struct Guest {
    /// SHA-256 (hex) of its bytes: `sha256sum target/component/credbox.wasm` after `make component`.
    pub sha256: &'static str,
    /// Its size in bytes.
    pub bytes: usize,
    /// Every import it has, with what the host grants through it.
    pub imports: Vec<Import>,
}

/// One import of the guest.
#[derive(Serialize)]
pub struct Import {
    /// The import's name, versioned.
    pub name: String,
    /// What the host grants through it.
    pub granted: &'static str,
}

/// The host's ceilings.
#[derive(Serialize)]
pub struct Ceilings {
    /// How long a helper may run by default (`--timeout`), in milliseconds.
    pub timeout_default_ms: u64,
    /// The most a helper may write to stdout (also the most a plugin may return).
    pub stdout_bytes: usize,
    /// How much of a helper's stderr is kept for messages.
    pub stderr_tail_bytes: usize,
    /// How many commands and plugin calls one guest call may make.
    pub commands_per_call: u32,
    /// How deep credbox may call itself through helpers.
    pub recursion_depth: usize,
    /// The guest's instruction budget per call (more for large profile files).
    pub guest_fuel: u64,
    /// The guest's memory (more for large profile files).
    pub guest_memory_bytes: usize,
    /// A plugin's instruction budget per call.
    pub plugin_fuel: u64,
    /// A plugin's memory, over all its linear memories.
    pub plugin_memory_bytes: usize,
    /// The largest plugin file read.
    pub plugin_file_bytes: u64,
    /// The largest profile file read.
    pub profile_file_bytes: u64,
}

/// The contract of this binary (loads the guest to list its imports).
pub fn contract(runtime: &Runtime) -> Result<Contract, Error> {
    let imports = runtime.guest_imports().map_err(Error::internal)?;
    let package = component::WIT
        .lines()
        .find_map(|line| line.trim().strip_prefix("package "))
        .map(|package| package.trim_end_matches(';').to_string())
        .unwrap_or_default();
    Ok(Contract {
        credbox: env!("CARGO_PKG_VERSION"),
        wit: Wit {
            package,
            sha256: hex(&Sha256::digest(component::WIT.as_bytes())),
            text: component::WIT,
        },
        guest: Guest {
            sha256: component::GUEST_SHA256,
            bytes: component::GUEST_WASM.len(),
            imports: imports
                .into_iter()
                .map(|name| Import {
                    granted: component::grant(&name).unwrap_or("not linked: the guest would not load"),
                    name,
                })
                .collect(),
        },
        ceilings: Ceilings {
            timeout_default_ms: CapabilityPolicy::default().max_timeout.as_millis() as u64,
            stdout_bytes: spawn::STDOUT_CAP,
            stderr_tail_bytes: spawn::STDERR_TAIL,
            commands_per_call: component::MAX_SPAWNS_PER_CALL,
            recursion_depth: spawn::MAX_CHAIN,
            guest_fuel: Limits::GUEST.fuel,
            guest_memory_bytes: Limits::GUEST.memory_bytes,
            plugin_fuel: Limits::PLUGIN.fuel,
            plugin_memory_bytes: Limits::PLUGIN.memory_bytes,
            plugin_file_bytes: component::sandbox::MAX_PLUGIN_BYTES,
            profile_file_bytes: crate::files::MAX_PROFILE_FILE,
        },
    })
}
