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

use sha2::{Digest, Sha256};

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

/// A program the user allowed, optionally pinned to its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowed {
    /// The program's absolute path (symlinks resolved when compared).
    pub path: PathBuf,
    /// Its SHA-256, when pinned: it only runs while its content matches.
    pub sha256: Option<[u8; 32]>,
}

impl std::str::FromStr for Allowed {
    type Err = String;

    /// `PATH` or `PATH=SHA256HEX`.
    fn from_str(text: &str) -> Result<Self, String> {
        let (path, pin) = match text.rsplit_once('=') {
            Some((path, hex)) if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) => {
                (path, Some(hex))
            }
            _ => (text, None),
        };
        if !path.starts_with('/') {
            return Err(format!(
                "--allow takes an absolute path (optionally =SHA256), not `{path}`"
            ));
        }
        let sha256 = pin.map(|hex| {
            let mut digest = [0u8; 32];
            for (i, byte) in digest.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("checked hex");
            }
            digest
        });
        Ok(Allowed {
            path: PathBuf::from(path),
            sha256,
        })
    }
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

/// Make this process the "child subreaper" (Linux): a helper's descendants whose parents exit are
/// reparented to us instead of to init, so that a timeout can find and kill the ones that left
/// the helper's process group with setsid(). The `credbox` binary calls this at start-up; a
/// library user that wants the same guarantee calls it too.
///
/// Every process reparented to us then becomes our child, so only a process that has no other
/// children of its own should call this (not `exec --server`, whose command's daemons would be
/// reparented to it); orphans that exit are reaped before each helper run.
pub fn become_subreaper() -> std::io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    SUBREAPER.store(true, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// Whether [`become_subreaper`] succeeded in this process.
static SUBREAPER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The helpers being run now (their pids): their own threads wait for them, so they are never
/// reaped or killed as orphans.
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// A helper's place in [`RUNNING`], for as long as [`run`] handles it.
struct Running(u32);

impl Running {
    fn register(pid: u32) -> Running {
        RUNNING.lock().unwrap().push(pid);
        Running(pid)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.lock().unwrap().retain(|&pid| pid != self.0);
    }
}

/// As a subreaper, reap the orphans that have exited (a daemon an earlier helper left, which
/// ended since), so that a long-running `serve` does not collect zombies. Peeks first
/// (`WNOWAIT`), so a running helper's exit stays for its own thread to collect.
fn reap_orphans() {
    if !SUBREAPER.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    loop {
        // SAFETY: waitid fills a zeroed siginfo_t; WNOWAIT leaves the child waitable.
        let pid = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            if libc::waitid(
                libc::P_ALL,
                0,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            ) != 0
            {
                return;
            }
            info.si_pid()
        };
        if pid <= 0 || RUNNING.lock().unwrap().contains(&(pid as u32)) {
            return;
        }
        // SAFETY: reaps exactly the orphan just seen.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
    }
}

/// The start time of process `pid` in clock ticks since boot (`/proc/PID/stat` field 22), and
/// its parent (field 4).
fn process_stat(pid: u32) -> Option<(u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some((fields.get(1)?.parse().ok()?, fields.get(19)?.parse().ok()?))
}

fn process_start(pid: u32) -> Option<u64> {
    process_stat(pid).map(|(_, start)| start)
}

/// After a timeout: SIGKILL every process that was reparented to us (we are a subreaper) and
/// started no earlier than the helper, with everything below it, then reap them. These are the
/// helper's descendants that escaped its process group with setsid(); processes started before
/// the helper (the command `exec --server` runs, a daemon an earlier helper left) are spared.
fn kill_escaped(helper_started: Option<u64>) {
    // Without the helper's start time there is no telling its orphans from others: kill none.
    let Some(helper_started) = helper_started else {
        return;
    };
    if !SUBREAPER.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let us = std::process::id();
    let until = Instant::now() + KILL_GRACE;
    while Instant::now() < until {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return;
        };
        let table: Vec<(u32, u32, u64)> = entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|pid| process_stat(pid).map(|(ppid, start)| (pid, ppid, start)))
            .collect();
        let running = RUNNING.lock().unwrap().clone();
        let mut doomed: Vec<u32> = table
            .iter()
            .filter(|(pid, ppid, start)| *ppid == us && *start >= helper_started && !running.contains(pid))
            .map(|(pid, _, _)| *pid)
            .collect();
        if doomed.is_empty() {
            return;
        }
        // Their descendants too, which may not have been orphaned yet.
        let mut i = 0;
        while i < doomed.len() {
            let parent = doomed[i];
            doomed.extend(
                table
                    .iter()
                    .filter(|(_, ppid, _)| *ppid == parent)
                    .map(|(pid, _, _)| *pid),
            );
            i += 1;
        }
        for &pid in &doomed {
            // SAFETY: kill(2) and a non-blocking waitpid(2) on processes found above.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
        for &pid in &doomed {
            // Our own children among them are reaped here; the rest go to their own parents.
            for _ in 0..100 {
                // SAFETY: waitpid on one specific pid, non-blocking.
                let reaped =
                    unsafe { libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), libc::WNOHANG) };
                if reaped != 0 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// A bare name is looked up on PATH; an absolute path is used as is.
pub(crate) fn resolve_program(program: &str) -> Result<PathBuf, SpawnError> {
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| {
            SpawnError::Failed(format!(
                "program `{program}` was not found on PATH; give its absolute path in credential_process"
            ))
        })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn spawn_failure(program: &Path, error: &std::io::Error) -> SpawnError {
    let program = program.display();
    SpawnError::Failed(match error.kind() {
        std::io::ErrorKind::NotFound => format!("program `{program}` does not exist"),
        std::io::ErrorKind::PermissionDenied => {
            format!("program `{program}` is not executable (chmod +x it)")
        }
        _ => format!("could not start `{program}`: {error}"),
    })
}

/// The allow-list entry that admits `program` (compared with symlinks resolved), or the denial.
fn allow_entry<'a>(program: &Path, allowed: &'a [Allowed]) -> Result<&'a Allowed, SpawnError> {
    let canonical = std::fs::canonicalize(program).unwrap_or_else(|_| program.to_path_buf());
    allowed
        .iter()
        .find(|a| a.path == program || std::fs::canonicalize(&a.path).is_ok_and(|p| p == canonical))
        .ok_or_else(|| {
            SpawnError::Denied(format!(
                "`{}` is not on the allow-list; add --allow {}",
                program.display(),
                program.display()
            ))
        })
}

/// Refuse `contents` (the bytes of `program`) unless they hash to `pin`.
fn check_pin(program: &Path, pin: &[u8; 32], contents: &[u8]) -> Result<(), SpawnError> {
    let actual: [u8; 32] = Sha256::digest(contents).into();
    if actual != *pin {
        return Err(SpawnError::Denied(format!(
            "`{}` does not match its pinned SHA-256 (it is now {}); check the program, then update the pin",
            program.display(),
            hex(&actual)
        )));
    }
    Ok(())
}

/// Admit `program` under the allow-list. For a pinned entry, the file is opened once, hashed
/// through that descriptor, and the descriptor is returned: what runs is what was hashed. A
/// descriptor does not stop a write into the same file, and a `#!` script is read again by its
/// interpreter after the exec, so a pin only holds for a file that no one but the user (or root)
/// can write; any other is refused.
fn admit(program: &Path, allowed: &[Allowed]) -> Result<Option<std::fs::File>, SpawnError> {
    use std::os::unix::fs::MetadataExt;
    let entry = allow_entry(program, allowed)?;
    let Some(pin) = &entry.sha256 else {
        return Ok(None);
    };
    let unreadable = |e: std::io::Error| {
        SpawnError::Failed(format!("reading `{}` to check its pin: {e}", program.display()))
    };
    let mut file = std::fs::File::open(program).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    let me = rustix::process::geteuid().as_raw();
    if (meta.uid() != me && meta.uid() != 0) || meta.mode() & 0o022 != 0 {
        return Err(SpawnError::Denied(format!(
            "`{}` can be changed by other users (owner uid {}, mode {:o}), so a pin cannot hold it; \
             make it yours or root's and run chmod go-w on it",
            program.display(),
            meta.uid(),
            meta.mode() & 0o7777
        )));
    }
    let mut contents = Vec::new();
    file.read_to_end(&mut contents).map_err(unreadable)?;
    check_pin(program, pin, &contents)?;
    Ok(Some(file))
}

/// Admit a credential plugin whose file held `contents` when it was read: the bytes that are
/// hashed are the bytes that are compiled.
pub(crate) fn admit_plugin(
    allow_list: Option<&[Allowed]>,
    path: &Path,
    contents: &[u8],
) -> Result<(), SpawnError> {
    let Some(allowed) = allow_list else {
        return Ok(());
    };
    match &allow_entry(path, allowed)?.sha256 {
        Some(pin) => check_pin(path, pin, contents),
        None => Ok(()),
    }
}

/// Whether the policy would let `command` run now (shell rule, allow-list, pins), without running
/// it. A cached answer is only served when this holds: caching must never widen what runs.
/// Plugins are checked as they are loaded ([`admit_plugin`]), since any use of one runs its code.
pub fn check_admitted(policy: &SpawnPolicy, command: &SpawnCommand) -> Result<(), SpawnError> {
    refuse_shell(policy, command)?;
    let Some(allowed) = &policy.allow_list else {
        return Ok(());
    };
    let (program, _) = program_and_args(command)?;
    admit(&program, allowed).map(drop)
}

/// A shell command, unless the user allowed shells (`--allow-shell`), is refused.
fn refuse_shell(policy: &SpawnPolicy, command: &SpawnCommand) -> Result<(), SpawnError> {
    if matches!(command, SpawnCommand::Shell(_)) && !policy.allow_shell {
        return Err(SpawnError::Denied(
            "the command needs a shell, and shell commands only run with --allow-shell".into(),
        ));
    }
    Ok(())
}

/// The program to execute (a bare name found on PATH) and its arguments.
fn program_and_args(command: &SpawnCommand) -> Result<(PathBuf, Vec<&str>), SpawnError> {
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

/// Refuse `label` if it is already being resolved higher up the chain, or the chain is too deep.
/// Checked before any cache lock is taken, as well as before spawning.
pub fn check_recursion(label: &str) -> Result<(), SpawnError> {
    check_chain(label).map(drop)
}

/// Check the recursion guard and return the chain to pass on, with `label` appended.
fn check_chain(label: &str) -> Result<String, SpawnError> {
    let current = std::env::var(CHAIN_VAR).unwrap_or_default();
    let links: Vec<String> = current
        .split(',')
        .filter(|l| !l.is_empty())
        .map(unescape_link)
        .collect();
    if links.iter().any(|l| l == label) {
        return Err(SpawnError::Denied(format!(
            "recursion: `{label}` is already being resolved higher up the chain ({}); its credential_process must not call credbox for itself",
            links.join(" -> ")
        )));
    }
    if links.len() >= MAX_CHAIN {
        return Err(SpawnError::Denied(format!(
            "recursion: credbox is nested {} deep ({}); at most {MAX_CHAIN} are allowed",
            links.len(),
            links.join(" -> ")
        )));
    }
    let mut next = current.trim_end_matches(',').to_string();
    if !next.is_empty() {
        next.push(',');
    }
    next.push_str(&escape_link(label));
    Ok(next)
}

/// Links are comma-separated; `%` and `,` inside a label are percent-encoded.
fn escape_link(label: &str) -> String {
    label.replace('%', "%25").replace(',', "%2C")
}

fn unescape_link(link: &str) -> String {
    link.replace("%2C", ",").replace("%25", "%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_entries_parse() {
        let pinned: Allowed = format!("/bin/h={}", "ab".repeat(32)).parse().unwrap();
        assert_eq!(pinned.sha256, Some([0xab; 32]));
        let plain: Allowed = "/opt/a=b".parse().unwrap();
        assert_eq!((plain.path, plain.sha256), (PathBuf::from("/opt/a=b"), None));
        assert!("relative".parse::<Allowed>().is_err());
    }

    #[test]
    fn chain_links_round_trip() {
        for label in ["dev", "a,b", "100%", "x%2Cy"] {
            assert_eq!(unescape_link(&escape_link(label)), label);
        }
    }
}
