//! What a component is granted and how far it may go: the empty WASI grant, the clock, the
//! instruction and memory limits, and the listing of a component's imports for audits.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::Engine;
use wasmtime::component::{Component, HasData, Linker, ResourceTable};
use wasmtime_wasi::WasiView;

/// The WASI interfaces Rust's std imports, which the host links and grants nothing through.
pub const GRANTED_WASI: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
];

/// What the host grants through each import a guest may have (by interface, without version):
/// the words `credbox contract` prints beside each import. `None` for anything else, which the
/// strict linker does not define.
pub fn grant(import: &str) -> Option<&'static str> {
    let interface = import.split('@').next().unwrap_or(import);
    Some(match interface {
        "credbox:provider/spawn" => {
            "run one command, no shell unless allowed, under the ceilings below and the allow-list"
        }
        "credbox:provider/plugins" => {
            "call a credential plugin at an absolute path, in a store of its own granted nothing, under the allow-list"
        }
        "credbox:provider/sts" => {
            "STS AssumeRole only, signed by the host, sent only to AWS STS or an endpoint the user configured, bounded in time and size"
        }
        "credbox:provider/prompt" => {
            "ask for an MFA code on the controlling terminal, unless prompts are off"
        }
        "credbox:provider/types" => "types only, no functions",
        "wasi:cli/environment" => "empty: no variables, no arguments, no working directory",
        "wasi:cli/exit" => "exit (ends the call with an error)",
        "wasi:cli/stdin" => "a closed stream",
        "wasi:cli/stdout" | "wasi:cli/stderr" => "a stream that discards what is written",
        "wasi:cli/terminal-input"
        | "wasi:cli/terminal-output"
        | "wasi:cli/terminal-stdin"
        | "wasi:cli/terminal-stdout"
        | "wasi:cli/terminal-stderr" => "no terminal",
        "wasi:io/error" | "wasi:io/poll" | "wasi:io/streams" => "only for the streams above",
        "wasi:clocks/wall-clock" | "wasi:clocks/monotonic-clock" => "the time",
        _ => return None,
    })
}

/// The most commands and plugin calls one call into the guest may make. Resolving a profile makes
/// one; the ceiling stops a hostile or broken guest from running helpers in a loop within its fuel.
pub const MAX_SPAWNS_PER_CALL: u32 = 4;

/// What is left of [`MAX_SPAWNS_PER_CALL`] in the current guest call, shared by both imports.
pub(crate) struct CallBudget(u32);

impl CallBudget {
    /// A full budget, for the start of a call.
    pub(crate) fn full() -> Self {
        CallBudget(MAX_SPAWNS_PER_CALL)
    }

    /// Count one command or plugin call; the refusal says why.
    pub(crate) fn take(&mut self) -> Result<(), String> {
        if self.0 == 0 {
            return Err(format!(
                "the policy asked to run more than {MAX_SPAWNS_PER_CALL} commands in one call (a plugin call, an STS call or a prompt counts as one)"
            ));
        }
        self.0 -= 1;
        Ok(())
    }
}

/// The largest plugin file credbox reads.
pub const MAX_PLUGIN_BYTES: u64 = 64 << 20;

/// How much a component may do in one call: instructions (wasmtime fuel) and linear memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The instruction budget of each call (refilled before every call).
    pub fuel: u64,
    /// The most linear memory the instance may have.
    pub memory_bytes: usize,
}

/// Instructions granted per byte of profile-file text a call is given (the parser uses about 190),
/// up to 2^35 more in all: a looping guest given the largest input is stopped within seconds.
const FUEL_PER_INPUT_BYTE: u64 = 1024;
const MAX_INPUT_FUEL: u64 = 1 << 35;
/// Memory granted per byte of profile-file text (the parsed profiles take a few times the text),
/// up to 1 GiB in all.
const MEMORY_PER_INPUT_BYTE: usize = 8;
const MAX_INPUT_MEMORY: usize = (1 << 30) - (128 << 20);

impl Limits {
    /// The limits of a guest call given `input` bytes of profile-file text: the fixed budget, plus
    /// what the input can legitimately need (walking every profile of a generated config takes
    /// about 190 instructions per byte; `tests/scale.rs` prints it, and resolves a 23 MB,
    /// 100,000-profile config). A loop is still stopped; only how soon grows with the input.
    pub fn for_input(self, input: usize) -> Limits {
        Limits {
            fuel: self.fuel + (FUEL_PER_INPUT_BYTE * input as u64).min(MAX_INPUT_FUEL),
            memory_bytes: self.memory_bytes + (MEMORY_PER_INPUT_BYTE * input).min(MAX_INPUT_MEMORY),
        }
    }

    /// The policy guest. Resolving a profile in a 2,000-profile config takes 29 M instructions and
    /// validating a 60 KiB output 0.5 M (`tests/library.rs` measures both); 2^30 leaves 37 times
    /// that, and stops a tight loop in about 0.3 s (release build).
    pub const GUEST: Limits = Limits {
        fuel: 1 << 30,
        memory_bytes: 128 << 20,
    };
    /// A credential plugin.
    pub const PLUGIN: Limits = Limits {
        fuel: 1 << 30,
        memory_bytes: 64 << 20,
    };
}

/// A store's memory cap, over all its linear memories together (a component can instantiate
/// many core modules, each with memories of its own), which remembers that it was hit so the error
/// can say so.
pub struct MemoryCap {
    limit: usize,
    /// The bytes of every linear memory of the store so far.
    total: usize,
    exceeded: bool,
}

impl MemoryCap {
    /// A cap of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        MemoryCap {
            limit,
            total: 0,
            exceeded: false,
        }
    }

    /// Whether the instance tried to grow past the cap.
    pub fn exceeded(&self) -> bool {
        self.exceeded
    }

    /// The cap, in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Before a call: raise the cap to `limit` if that is higher (memory never shrinks, so a later
    /// call keeps the largest cap granted so far) and forget an earlier hit.
    pub(crate) fn rearm(&mut self, limit: usize) {
        self.limit = self.limit.max(limit);
        self.exceeded = false;
    }
}

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // A new memory grows from 0, so the sum of every growth is the store's whole memory.
        let total = self.total.saturating_add(desired.saturating_sub(current));
        if total > self.limit {
            self.exceeded = true;
            // A trap rather than a failed `memory.grow`: Rust's allocator would abort anyway, and
            // this way the error says why.
            wasmtime::bail!("memory limit of {} MiB reached", self.limit >> 20);
        }
        self.total = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// A wall clock the caller controls, for deterministic expiry (tests, replays).
pub trait Clock: Send + Sync + 'static {
    /// Time since the Unix epoch.
    fn now(&self) -> Duration;
}

/// A [`Clock`] as WASI's wall clock.
pub(crate) struct ClockAdapter(pub(crate) Arc<dyn Clock>);

impl wasmtime_wasi::HostWallClock for ClockAdapter {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        self.0.now()
    }
}

/// Store states whose resource table the WASI io bindings use.
pub trait HasResourceTable {
    /// The store's resource table.
    fn resource_table(&mut self) -> &mut ResourceTable;
}

/// Lets the linker hand WASI io bindings the resource table.
struct HasTable;
impl HasData for HasTable {
    type Data<'a> = &'a mut ResourceTable;
}

/// Link exactly the WASI interfaces in [`GRANTED_WASI`]; the store's `WasiCtx` grants them nothing
/// (no variables, arguments, streams or preopens).
pub(crate) fn link_empty_wasi<T: WasiView + HasResourceTable + 'static>(
    l: &mut Linker<T>,
) -> wasmtime::Result<()> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView as _};
    use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView as _};
    use wasmtime_wasi::p2::bindings::{cli, clocks, sync::io};

    io::error::add_to_linker::<_, HasTable>(l, T::resource_table)?;
    io::poll::add_to_linker::<_, HasTable>(l, T::resource_table)?;
    io::streams::add_to_linker::<_, HasTable>(l, T::resource_table)?;
    clocks::wall_clock::add_to_linker::<_, WasiClocks>(l, T::clocks)?;
    clocks::monotonic_clock::add_to_linker::<_, WasiClocks>(l, T::clocks)?;
    cli::environment::add_to_linker::<_, WasiCli>(l, T::cli)?;
    cli::exit::add_to_linker::<_, WasiCli>(l, T::cli)?;
    cli::stdin::add_to_linker::<_, WasiCli>(l, T::cli)?;
    cli::stdout::add_to_linker::<_, WasiCli>(l, T::cli)?;
    cli::stderr::add_to_linker::<_, WasiCli>(l, T::cli)?;
    cli::terminal_input::add_to_linker::<_, WasiCli>(l, T::cli)?;
    cli::terminal_output::add_to_linker::<_, WasiCli>(l, T::cli)?;
    cli::terminal_stdin::add_to_linker::<_, WasiCli>(l, T::cli)?;
    cli::terminal_stdout::add_to_linker::<_, WasiCli>(l, T::cli)?;
    cli::terminal_stderr::add_to_linker::<_, WasiCli>(l, T::cli)?;
    Ok(())
}

/// The names of everything a component imports, for the sandbox audit.
pub fn component_imports(engine: &Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect()
}

/// The innermost message of an error chain, on one line.
pub(crate) fn root_cause(error: &wasmtime::Error) -> String {
    crate::text::one_line(&error.root_cause().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    #[test]
    fn the_memory_cap_counts_every_memory_of_the_store() {
        let mut cap = MemoryCap::new(64 << 20);
        assert!(cap.memory_growing(0, 40 << 20, None).unwrap());
        assert!(
            cap.memory_growing(40 << 20, 50 << 20, None).unwrap(),
            "the same memory, grown"
        );
        // A second memory of 20 MiB would make 70 MiB in all, though each is under the cap.
        assert!(cap.memory_growing(0, 20 << 20, None).is_err());
        assert!(cap.exceeded());
    }
}
