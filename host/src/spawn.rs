//! The spawn capability: run one helper, bounded (SPEC §3).
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
/// The environment variable that carries the chain of credbox invocations (SPEC §3).
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
    /// Where compiled credential plugins are kept between runs (`None`: compile every time).
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpawnCommand {
    /// A program and its arguments, run without a shell.
    Argv(Vec<String>),
    /// Text for `/bin/sh -c` (only with shell mode).
    Shell(String),
    /// A credential plugin's absolute path: loaded by the runtime, never spawned.
    Plugin(String),
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
    let (program, args): (PathBuf, Vec<&str>) = match command {
        SpawnCommand::Argv(argv) if !argv.is_empty() => (
            resolve_program(&argv[0])?,
            argv[1..].iter().map(String::as_str).collect(),
        ),
        SpawnCommand::Argv(_) => return Err(SpawnError::Failed("empty command".into())),
        SpawnCommand::Plugin(_) => {
            return Err(SpawnError::Failed("a plugin is loaded, not spawned".into()));
        }
        SpawnCommand::Shell(text) => {
            if !policy.allow_shell {
                return Err(SpawnError::Denied(
                    "the command needs a shell, and shell commands only run with --allow-shell".into(),
                ));
            }
            (PathBuf::from("/bin/sh"), vec!["-c", text.as_str()])
        }
    };
    if let Some(allowed) = &policy.allow_list {
        check_allowed(&program, allowed)?;
    }
    let timeout = timeout.min(policy.max_timeout);

    let mut child = Command::new(&program)
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
                return Err(SpawnError::OutputTooLarge(STDOUT_CAP as u64));
            }
            Ok(Event::StderrClosed) => stderr_closed = true,
            Err(_) => {
                kill_group(group, &received, status.is_some());
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

/// Refuse programs outside the allow-list, or whose contents do not match their pin.
pub(crate) fn check_allowed(program: &Path, allowed: &[Allowed]) -> Result<(), SpawnError> {
    let canonical = std::fs::canonicalize(program).unwrap_or_else(|_| program.to_path_buf());
    let Some(entry) = allowed
        .iter()
        .find(|a| a.path == program || std::fs::canonicalize(&a.path).is_ok_and(|p| p == canonical))
    else {
        return Err(SpawnError::Denied(format!(
            "`{}` is not on the allow-list; add --allow {}",
            program.display(),
            program.display()
        )));
    };
    if let Some(pin) = entry.sha256 {
        let contents = std::fs::read(&canonical).map_err(|e| {
            SpawnError::Failed(format!("reading `{}` to check its pin: {e}", program.display()))
        })?;
        let actual: [u8; 32] = Sha256::digest(&contents).into();
        if actual != pin {
            return Err(SpawnError::Denied(format!(
                "`{}` does not match its pinned SHA-256 (it is now {}); check the program, then update the pin",
                program.display(),
                hex(&actual)
            )));
        }
    }
    Ok(())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
