//! The spawn capability: run one helper, bounded (BEHAVIOUR.md §3).
//!
//! The guest only says what to run and how long it would like to wait. Everything else is decided
//! here, whatever the guest asks: no shell unless the user allowed one, an allow-list of programs
//! with optional SHA-256 pins, a timeout ceiling that kills the helper's whole process group, a
//! stdout cap, a bounded stderr tail, and a recursion guard.

use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod admission;
mod reaper;
mod recursion;

pub use admission::{Allowed, check_admitted};
use admission::{admit, refuse_shell, spawn_failure};
pub(crate) use admission::{check_pin, plugin_pin, resolve_program};
pub use reaper::become_subreaper;
use reaper::{Running, SUBREAPER, kill_escaped, process_start, reap_orphans};
use recursion::check_chain;
pub use recursion::check_recursion;

/// The largest stdout a helper may write (the AWS SDK for Java's limit).
pub const STDOUT_CAP: usize = 64 * 1024;
/// How much of a helper's stderr is kept for error messages.
pub const STDERR_TAIL: usize = 2 * 1024;
/// How long a helper gets to exit after SIGTERM before SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(1);
/// How long to wait for the rest of stderr once the helper has exited and closed stdout.
const STDERR_DRAIN: Duration = Duration::from_millis(100);
/// The environment variable that carries the chain of credbox invocations (BEHAVIOUR.md §3).
pub const CHAIN_VAR: &str = "CREDBOX_CHAIN";
/// The longest chain of nested credbox invocations allowed (the AWS CLI's limit).
pub const MAX_CHAIN: usize = 4;

/// What the helper's stdin is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StdinMode {
    /// The user's stdin, so interactive MFA prompts work.
    #[default]
    Inherit,
    /// Empty: the helper reads end-of-file at once.
    Null,
}

/// The host's ceilings on running helpers.
#[derive(Clone, Debug)]
pub struct SpawnPolicy {
    /// The longest any helper may run; the guest's request is clamped to it.
    pub max_timeout: Duration,
    /// What the helper reads on stdin.
    pub stdin: StdinMode,
    /// Whether `sh -c` commands may run at all.
    pub allow_shell: bool,
    /// When set, only these programs may run.
    pub allow_list: Option<Vec<Allowed>>,
    /// Copy the helper's stderr to ours as it arrives (prompts reach the user).
    pub forward_stderr: bool,
    /// The cache directory whose `plugins` subdirectory keeps compiled credential plugins between
    /// runs (`None`: compile every time). It is only used when the cache directory passes
    /// [`crate::Cache::open`]'s checks.
    pub plugin_artifacts: Option<PathBuf>,
}

impl Default for SpawnPolicy {
    fn default() -> Self {
        SpawnPolicy {
            max_timeout: Duration::from_secs(60),
            stdin: StdinMode::Inherit,
            allow_shell: false,
            allow_list: None,
            forward_stderr: true,
            plugin_artifacts: None,
        }
    }
}

/// What to run (the WIT `spawn.command`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SpawnCommand {
    /// A program and its arguments, run without a shell.
    Argv(Vec<String>),
    /// Text for `/bin/sh -c` (only with shell mode).
    Shell(String),
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
    /// It ran past this many milliseconds and its process group was killed.
    TimedOut(u64),
    /// It wrote more than this many bytes to stdout and was killed.
    OutputTooLarge(u64),
}

/// Run `command` under `policy`. `label` names it in the recursion guard (the profile, or the
/// program for profile-less runs).
pub fn run(
    policy: &SpawnPolicy,
    command: &SpawnCommand,
    timeout: Duration,
    label: &str,
) -> Result<SpawnOutput, SpawnError> {
    let chain = check_chain(label)?;
    reap_orphans();
    refuse_shell(policy, command)?;
    let (program, args) = program_and_args(command)?;
    // A pinned program is hashed from an open descriptor and run from that same descriptor, so
    // swapping the file between the check and the exec runs nothing unpinned.
    let pinned = match &policy.allow_list {
        Some(allowed) => admit(&program, allowed)?,
        None => None,
    };
    let timeout = timeout.min(policy.max_timeout);

    let mut command = match &pinned {
        Some(file) => exec_descriptor(file, &program),
        None => Command::new(&program),
    };
    let mut child = command
        .args(&args)
        .env(CHAIN_VAR, chain)
        .stdin(match policy.stdin {
            StdinMode::Inherit => Stdio::inherit(),
            StdinMode::Null => Stdio::null(),
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that a timeout kills everything it started.
        .process_group(0)
        .spawn()
        .map_err(|e| spawn_failure(&program, &e))?;
    let deadline = Instant::now() + timeout;
    let group = rustix::process::Pid::from_child(&child);
    // When the helper started (in the kernel's clock ticks): processes that leave its group with
    // setsid() and are reparented to us are recognised by starting no earlier. Only a subreaper
    // can find them, so only a subreaper reads it.
    let started = SUBREAPER
        .load(std::sync::atomic::Ordering::Relaxed)
        .then(|| process_start(child.id()))
        .flatten();
    let _running = Running::register(child.id());

    let (events, received) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped");
    let stdout_events = events.clone();
    std::thread::spawn(move || read_stdout(stdout, &stdout_events));
    let stderr_tail = Arc::new(Mutex::new(Vec::new()));
    let stderr = child.stderr.take().expect("piped");
    let (tail, stderr_events, forward) = (stderr_tail.clone(), events.clone(), policy.forward_stderr);
    std::thread::spawn(move || read_stderr(stderr, &tail, forward, &stderr_events));
    std::thread::spawn(move || {
        let _ = events.send(Event::Exited(child.wait()));
    });

    let mut stdout_bytes = None;
    let mut status = None;
    let mut stderr_closed = false;
    while stdout_bytes.is_none() || status.is_none() {
        match received.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Event::Stdout(bytes)) => stdout_bytes = Some(bytes),
            Ok(Event::Exited(result)) => {
                status = Some(result.map_err(|e| SpawnError::Failed(format!("waiting for the helper: {e}")))?)
            }
            Ok(Event::StdoutOverflow) => {
                kill_group(group, &received, status.is_some());
                kill_escaped(started);
                return Err(SpawnError::OutputTooLarge(STDOUT_CAP as u64));
            }
            Ok(Event::StderrClosed) => stderr_closed = true,
            Err(_) => {
                kill_group(group, &received, status.is_some());
                kill_escaped(started);
                return Err(SpawnError::TimedOut(timeout.as_millis() as u64));
            }
        }
    }
    // The helper is done; let the reader catch up with what it wrote to stderr last (unless a
    // background process holds stderr open: then wait a little, not until the timeout).
    let drain_until = (Instant::now() + STDERR_DRAIN).min(deadline);
    while !stderr_closed {
        match received.recv_timeout(drain_until.saturating_duration_since(Instant::now())) {
            Ok(Event::StderrClosed) | Err(_) => stderr_closed = true,
            Ok(_) => {}
        }
    }
    let status = status.expect("loop exits with a status");
    let tail = String::from_utf8_lossy(&stderr_tail.lock().unwrap()).into_owned();
    Ok(SpawnOutput {
        status: match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            (None, None) => Exit::Code(-1),
        },
        stdout: stdout_bytes.expect("loop exits with stdout"),
        stderr_tail: tail,
    })
}

enum Event {
    Stdout(Vec<u8>),
    StdoutOverflow,
    StderrClosed,
    Exited(std::io::Result<std::process::ExitStatus>),
}

fn read_stdout(mut stdout: impl Read, events: &mpsc::Sender<Event>) {
    let mut bytes = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        match stdout.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) if bytes.len() + n > STDOUT_CAP => {
                let _ = events.send(Event::StdoutOverflow);
                return;
            }
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = events.send(Event::Stdout(bytes));
}

fn read_stderr(mut stderr: impl Read, tail: &Mutex<Vec<u8>>, forward: bool, events: &mpsc::Sender<Event>) {
    let mut chunk = [0u8; 4096];
    let mut ours = std::io::stderr();
    loop {
        match stderr.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                if forward {
                    let _ = ours.write_all(&chunk[..n]);
                }
                let mut tail = tail.lock().unwrap();
                tail.extend_from_slice(&chunk[..n]);
                let excess = tail.len().saturating_sub(STDERR_TAIL);
                tail.drain(..excess);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = events.send(Event::StderrClosed);
}

/// End the helper's process group: SIGTERM, then SIGKILL if the helper has not exited within the
/// grace period. Stray group members get SIGKILL too, so no reader is left waiting on them.
fn kill_group(group: rustix::process::Pid, events: &mpsc::Receiver<Event>, exited: bool) {
    let _ = rustix::process::kill_process_group(group, rustix::process::Signal::TERM);
    if !exited {
        let grace_end = Instant::now() + KILL_GRACE;
        while let Ok(event) = events.recv_timeout(grace_end.saturating_duration_since(Instant::now())) {
            if matches!(event, Event::Exited(_)) {
                break;
            }
        }
    }
    let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
}

/// The program to execute (a bare name found on PATH) and its arguments.
pub(super) fn program_and_args(command: &SpawnCommand) -> Result<(PathBuf, Vec<&str>), SpawnError> {
    match command {
        SpawnCommand::Argv(argv) if !argv.is_empty() => Ok((
            resolve_program(&argv[0])?,
            argv[1..].iter().map(String::as_str).collect(),
        )),
        SpawnCommand::Argv(_) => Err(SpawnError::Failed("empty command".into())),
        SpawnCommand::Shell(text) => Ok((PathBuf::from("/bin/sh"), vec!["-c", text.as_str()])),
    }
}

/// A command that executes the already-open `file` (Linux's fexecve, through its `/proc/self/fd`
/// name), shown to the helper as `program`. The descriptor is made inheritable in the child only,
/// because a `#!` script's interpreter opens the script by that name after the exec.
fn exec_descriptor(file: &std::fs::File, program: &Path) -> Command {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    let mut command = Command::new(format!("/proc/self/fd/{fd}"));
    command.arg0(program);
    // SAFETY: fcntl on a descriptor we own is async-signal-safe; nothing else runs in the child.
    unsafe {
        command.pre_exec(move || {
            if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
