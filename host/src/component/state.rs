//! The store's data: what each import sees of it (through a view), and the strict linker that
//! grants the four capabilities and nothing else.

use anyhow::Result;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::{wit, wit_plugins, wit_prompt, wit_spawn, wit_sts};
use crate::capabilities::CapabilityPolicy;
use crate::capabilities::plugins::PluginLoader;
use crate::capabilities::plugins::import::{self as plugins_import, PluginsView};
use crate::capabilities::prompt::import::{self as prompt_import, PromptView};
use crate::capabilities::spawn::import::{self as spawn_import, SpawnView};
use crate::capabilities::sts::StsPolicy;
use crate::capabilities::sts::import::{self as sts_import, StsView};
use crate::wasm::sandbox::{self, CallBudget, HasResourceTable, MemoryCap};

/// Per-instance host state: WASI granted empty, the spawn policy, the plugin loader, the limits.
/// Each import sees only its part, through a view (`SpawnView`, `PluginsView`).
pub struct HostState {
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) policy: CapabilityPolicy,
    pub(super) memory: MemoryCap,
    pub(super) plugins: PluginLoader,
    /// How many more commands, plugin calls, STS calls and prompts the current guest call may
    /// make.
    pub(super) calls: CallBudget,
    /// What bounds the `sts` import.
    pub(super) sts: StsPolicy,
    /// The profile (or label of a profile-less helper) whose credentials the current call fetches,
    /// as the host knows it: what the recursion guard passes down to every command the call runs.
    /// `None` outside `retrieve` and `restore`, where the policy has no reason to run anything.
    pub(super) resolving: Option<String>,
}

impl HasResourceTable for HostState {
    fn resource_table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wit::Host for HostState {}

/// Link the four capabilities (spawn, plugins, sts, prompt) and the WASI interfaces in [`sandbox::GRANTED_WASI`], nothing else.
pub(super) fn strict_linker(engine: &Engine) -> Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wit_spawn::add_to_linker::<_, spawn_import::Spawn>(&mut linker, |s: &mut HostState| SpawnView {
        policy: &s.policy,
        resolving: s.resolving.as_deref(),
        calls: &mut s.calls,
    })?;
    wit_plugins::add_to_linker::<_, plugins_import::Plugins>(&mut linker, |s: &mut HostState| PluginsView {
        loader: &s.plugins,
        calls: &mut s.calls,
    })?;
    wit_sts::add_to_linker::<_, sts_import::Sts>(&mut linker, |s: &mut HostState| StsView {
        policy: &s.sts,
        calls: &mut s.calls,
    })?;
    wit_prompt::add_to_linker::<_, prompt_import::Prompt>(&mut linker, |s: &mut HostState| PromptView {
        mode: s.policy.prompt,
        sts: &s.sts,
        timeout: s.policy.max_timeout,
        calls: &mut s.calls,
    })?;
    wit::add_to_linker::<_, HasSelf<_>>(&mut linker, |s: &mut HostState| s)?;
    sandbox::link_empty_wasi(&mut linker)?;
    Ok(linker)
}

/// Why a call into the guest failed: its limits, or a trap (a bug in the guest).
pub(super) fn guest_failure(store: &Store<HostState>, budget: u64, e: wasmtime::Error) -> anyhow::Error {
    let why = if store.data().memory.exceeded() {
        format!(
            "the guest component tried to use more than {} MiB of memory and was stopped",
            store.data().memory.limit() >> 20
        )
    } else if e.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::OutOfFuel) {
        format!("the guest component ran past its budget of {budget} instructions (a loop?) and was stopped")
    } else {
        "the credbox guest component failed".to_string()
    };
    anyhow::Error::from(e).context(why)
}
