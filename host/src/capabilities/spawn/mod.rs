//! The spawn capability: run one helper, bounded (BEHAVIOUR.md §3).
//!
//! The guest only says what to run and how long it would like to wait. Everything else is decided
//! here, whatever the guest asks: no shell unless the user allowed one, an allow-list of programs
//! with optional SHA-256 pins, a timeout ceiling that kills everything the helper started (its
//! process group on Unix, its Job Object on Windows: `unix.rs`, `windows.rs`), a stdout cap, a
//! bounded stderr tail, and a recursion guard.

use std::path::{Path, PathBuf};

use crate::capabilities::CapabilityPolicy;
pub use crate::command::SpawnCommand;
use std::time::Duration;

mod admission;
mod forward;
pub(crate) mod import;
mod recursion;
#[cfg(unix)]
#[path = "unix/mod.rs"]
mod system;
#[cfg(windows)]
#[path = "windows/mod.rs"]
mod system;

pub use admission::{Allowed, check_admitted};
use admission::{admit, refuse_shell, spawn_failure};
pub(crate) use admission::{check_pin, plugin_pin, resolve_program};
/// credbox's own lines (its errors, `-v` logs) to its stderr without ever waiting on it: once a
/// pipe nobody reads is full, a plain write would keep credbox from exiting (spawn/forward.rs).
pub use forward::{flush_own as flush_own_stderr, own as write_own_stderr};
use recursion::check_chain;
pub use recursion::check_recursion;
pub use system::become_subreaper;

/// The largest stdout a helper may write (the AWS SDK for Java's limit).
pub const STDOUT_CAP: usize = 64 * 1024;
/// How much of a helper's stderr is kept for error messages.
pub const STDERR_TAIL: usize = 2 * 1024;
/// How long to wait for the rest of stderr once the helper has exited and closed stdout.
const STDERR_DRAIN: Duration = Duration::from_millis(100);
/// The environment variable that carries the chain of credbox invocations (BEHAVIOUR.md §3).
pub const CHAIN_VAR: &str = "CREDBOX_CHAIN";
/// The longest chain of nested credbox invocations allowed (the AWS CLI's limit).
pub const MAX_CHAIN: usize = 4;

/// What the helper's stdin is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StdinMode {
    /// credbox's stdin when it is the terminal the helper may use (credbox is in its foreground
    /// and prompts go to it: [`crate::capabilities::prompt::PromptMode::Terminal`]; the helper then gets the
    /// terminal for as long as it runs), else empty: a helper that asks the person works as it
    /// would from a shell, and one that reads a pipe nobody writes to (an SDK's) or a terminal it
    /// may not use gets end-of-file at once instead of hanging until the timeout.
    #[default]
    Auto,
    /// Always credbox's stdin, whatever it is.
    Inherit,
    /// Empty: the helper reads end-of-file at once.
    Null,
}

/// Whether a helper may be handed the terminal (Unix: made its foreground process group) while
/// it runs. `exec --server` turns it off once its command runs: that command owns the terminal,
/// and a refresh in the background must not take it away.
static TERMINAL_FOR_HELPERS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// From now on, no helper is handed the terminal (nor, with [`StdinMode::Auto`], credbox's stdin).
pub fn keep_the_terminal() {
    TERMINAL_FOR_HELPERS.store(false, std::sync::atomic::Ordering::Relaxed);
}

/// Whether `policy` lets a helper have the terminal now.
fn terminal_for_helpers(policy: &CapabilityPolicy) -> bool {
    policy.prompt == crate::capabilities::prompt::PromptMode::Terminal
        && TERMINAL_FOR_HELPERS.load(std::sync::atomic::Ordering::Relaxed)
}

/// How a helper ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// This signal ended it.
    Signal(i32),
}

/// A helper that ran to completion.
pub struct SpawnOutput {
    /// How it ended.
    pub status: Exit,
    /// All of its stdout (at most [`STDOUT_CAP`] bytes).
    pub stdout: Vec<u8>,
    /// The last [`STDERR_TAIL`] bytes of its stderr, lossily decoded.
    pub stderr_tail: String,
}

/// Why a helper did not run to completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpawnError {
    /// Policy refused it; the rule and how to allow it.
    Denied(String),
    /// The OS could not start it; why.
    Failed(String),
    /// It ran past this many milliseconds and was killed with everything it started.
    TimedOut(u64),
    /// It wrote more than this many bytes to stdout and was killed.
    OutputTooLarge(u64),
}

/// Run `command` under `policy`. `label` names it in the recursion guard (the profile, or the
/// program for profile-less runs).
pub fn run(
    policy: &CapabilityPolicy,
    command: &SpawnCommand,
    timeout: Duration,
    label: &str,
) -> Result<SpawnOutput, SpawnError> {
    let chain = check_chain(label)?;
    refuse_shell(policy, command)?;
    let (program, args) = program_and_args(command)?;
    // A pinned program is hashed from an open descriptor and run from that same descriptor (on
    // Windows: held open against writers, and the started process's image compared with it), so
    // swapping the file between the check and the exec runs nothing unpinned.
    let pinned = match &policy.allow_list {
        Some(allowed) => admit(&program, allowed)?,
        None => None,
    };
    let timeout = timeout.min(policy.max_timeout);
    let launch = Launch {
        program: &program,
        args: &args,
        // platform-only: cmd.exe takes the shell text whole; on Unix it is already in `args`.
        #[cfg(windows)]
        shell: match command {
            SpawnCommand::Shell(text) => Some(text.as_str()),
            SpawnCommand::Argv(_) => None,
        },
        pinned: pinned.as_ref(),
        chain,
    };
    system::run_bounded(policy, launch, timeout)
}

/// What every helper gets, on every system: `chain` in [`CHAIN_VAR`], the stdin the policy
/// chose (for [`StdinMode::Auto`], credbox's when `terminal_stdin`: it is the terminal the helper
/// may use), stdout and stderr piped to credbox.
fn connect(
    command: &mut std::process::Command,
    policy: &CapabilityPolicy,
    chain: &str,
    terminal_stdin: bool,
) {
    use std::process::Stdio;
    let inherit = match policy.stdin {
        StdinMode::Auto => terminal_stdin,
        StdinMode::Inherit => true,
        StdinMode::Null => false,
    };
    command
        .env(CHAIN_VAR, chain)
        .stdin(if inherit { Stdio::inherit() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
}

/// One admitted helper, ready to start.
struct Launch<'a> {
    program: &'a Path,
    args: &'a [&'a str],
    /// The text of a shell command, which Windows hands to cmd.exe as it is (on Unix it is
    /// already `sh -c`'s argument).
    // platform-only: read by Windows' run_bounded alone.
    #[cfg(windows)]
    shell: Option<&'a str>,
    /// The pinned program, open: what runs is what was hashed.
    pinned: Option<&'a std::fs::File>,
    /// The value of [`CHAIN_VAR`] for the helper.
    chain: String,
}

/// The program to execute (a bare name found on PATH) and its arguments.
pub(super) fn program_and_args(command: &SpawnCommand) -> Result<(PathBuf, Vec<&str>), SpawnError> {
    match command {
        SpawnCommand::Argv(argv) if !argv.is_empty() => Ok((
            resolve_program(&argv[0])?,
            argv[1..].iter().map(String::as_str).collect(),
        )),
        SpawnCommand::Argv(_) => Err(SpawnError::Failed("empty command".into())),
        SpawnCommand::Shell(text) => Ok(system::shell_command(text)),
    }
}
