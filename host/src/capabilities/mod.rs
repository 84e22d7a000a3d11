//! The capabilities the host grants the guest: one folder per import of `wit/credbox.wit`, side
//! by side, each holding the import's glue (`import.rs`: the guest's request in, the answer out)
//! and the policy that bounds it, whatever the guest asks.
//!
//! * [`spawn`]: run one command, bounded (no shell unless allowed, the allow-list and pins, the
//!   timeout that kills everything it started, the output caps, the recursion guard);
//! * [`plugins`]: call a credential plugin component in a sandbox of its own;
//! * [`sts`]: one STS `AssumeRole`, sent only where the person pointed it, signed and bounded;
//! * [`prompt`]: ask the person for an MFA code on the terminal, or not at all.

pub mod plugins;
pub mod prompt;
pub mod spawn;
pub mod sts;

use std::path::PathBuf;
use std::time::Duration;

use spawn::{Allowed, StdinMode};

/// What the host grants the guest's imports, whatever the guest asks: the ceilings on running
/// helpers (`spawn`), the plugins' allow-list and compiled artifacts (`plugins`, under the same
/// allow-list), and where prompts go (`prompt`). (`sts` is bounded by [`sts::StsPolicy`], made
/// from what the profile files say.)
#[derive(Clone, Debug)]
pub struct CapabilityPolicy {
    /// The longest any helper may run; the guest's request is clamped to it.
    pub max_timeout: Duration,
    /// What the helper reads on stdin.
    pub stdin: StdinMode,
    /// Whether shell commands (`sh -c`; on Windows `cmd.exe /c`) may run at all.
    pub allow_shell: bool,
    /// When set, only these programs may run.
    pub allow_list: Option<Vec<Allowed>>,
    /// Copy the helper's stderr to ours as it arrives (prompts reach the user).
    pub forward_stderr: bool,
    /// The cache directory whose `plugins` subdirectory keeps compiled credential plugins between
    /// runs (`None`: compile every time). It is only used when the cache directory passes
    /// [`crate::Cache::open`]'s checks.
    pub plugin_artifacts: Option<PathBuf>,
    /// Where the guest's prompts (a role's MFA code) and, when an SDK captured credbox's stderr,
    /// helpers' stderr go. The library's default is `Never`; the command line's is `Terminal`.
    pub prompt: prompt::PromptMode,
}

impl Default for CapabilityPolicy {
    fn default() -> Self {
        CapabilityPolicy {
            max_timeout: Duration::from_secs(60),
            stdin: StdinMode::Auto,
            allow_shell: false,
            allow_list: None,
            forward_stderr: true,
            plugin_artifacts: None,
            prompt: prompt::PromptMode::Never,
        }
    }
}

/// The name this had when it bounded `spawn` only.
#[deprecated(note = "renamed `CapabilityPolicy`: it bounds every import, not only spawn")]
pub type SpawnPolicy = CapabilityPolicy;
