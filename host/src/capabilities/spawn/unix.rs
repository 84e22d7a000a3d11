//! Running a helper on Unix: its own process group, killed whole on a timeout; one thread
//! watching its pipes and its exit with `poll`.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::handover::Handover;
pub use super::reaper::become_subreaper;
use super::reaper::{Running, SUBREAPER, kill_escaped, process_start};
use super::{
    Exit, KILL_GRACE, Launch, STDERR_DRAIN, STDERR_TAIL, STDOUT_CAP, SpawnError, SpawnOutput, SpawnPolicy,
    connect, forward, spawn_failure,
};

/// Run the admitted helper to its end, its deadline, or its stdout cap.
pub(super) fn run_bounded(
    policy: &SpawnPolicy,
    launch: Launch<'_>,
    timeout: Duration,
) -> Result<SpawnOutput, SpawnError> {
    let Launch {
        program,
        args,
        pinned,
        chain,
        ..
    } = launch;
    let mut command = match pinned {
        Some(file) => exec_descriptor(file, program),
        None => Command::new(program),
    };
    if policy.forward_stderr {
        // Decided before the helper may be handed the terminal (credbox is then in the background).
        forward::prefer_terminal(policy.prompt == crate::capabilities::prompt::PromptMode::Terminal);
    }
    let handover = super::terminal_for_helpers(policy)
        .then(Handover::offer)
        .flatten();
    let stdin_is_terminal = handover.is_some() && rustix::termios::isatty(std::io::stdin());
    connect(command.args(args), policy, &chain, stdin_is_terminal);
    // Its own process group, so that a timeout kills everything it started.
    command.process_group(0);
    if let Some(handover) = &handover {
        handover.install(&mut command);
    }
    let (mut child, running) = Running::spawn(|| command.spawn()).map_err(|e| spawn_failure(program, &e))?;
    let mut deadline = Instant::now() + timeout;
    let group = rustix::process::Pid::from_child(&child);
    // From here every return gives the terminal back (when the helper was given it).
    let mut handed = handover.map(|handover| handover.started(group));
    // When the helper started (in the kernel's clock ticks): processes that leave its group with
    // setsid() and are reparented to us are recognised by starting no earlier. Only a subreaper
    // can find them, so only a subreaper reads it.
    let started = SUBREAPER
        .load(std::sync::atomic::Ordering::Relaxed)
        .then(|| process_start(child.id()))
        .flatten();

    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let mut watch = Watch::new(child, running, stdout, stderr, policy.forward_stderr)
        .map_err(|e| SpawnError::Failed(format!("watching the helper: {e}")))?;
    while !(watch.stdout_closed() && watch.exited) {
        // While it holds the terminal, look for a stop (Ctrl-Z) as a shell would.
        let wake = match handed {
            Some(_) => deadline.min(Instant::now() + STOP_POLL),
            None => deadline,
        };
        let step = watch.step(wake);
        if let Some(handed) = &mut handed
            && !watch.exited
            && watch.has_stopped()
        {
            deadline += handed.suspend();
            continue;
        }
        match step {
            Ok(true) => {}
            Ok(false) if Instant::now() < deadline => {}
            Ok(false) => {
                watch.kill_group(group);
                kill_escaped(started);
                return Err(SpawnError::TimedOut(timeout.as_millis() as u64));
            }
            Err(Overflow) => {
                watch.kill_group(group);
                kill_escaped(started);
                return Err(SpawnError::OutputTooLarge(STDOUT_CAP as u64));
            }
        }
    }
    // The helper is done; let the reader catch up with what it wrote to stderr last (unless a
    // background process holds stderr open: then wait a little, not until the timeout).
    let drain_until = (Instant::now() + STDERR_DRAIN).min(deadline);
    while watch.stderr.is_some() && matches!(watch.step(drain_until), Ok(true)) {}
    if watch.forward_stderr {
        forward::flush(Instant::now() + STDERR_DRAIN);
    }
    // It has exited, so this returns at once; reaping only now keeps its process group ID from
    // being reused while anything above could still signal the group.
    let status = watch
        .child
        .wait()
        .map_err(|e| SpawnError::Failed(format!("waiting for the helper: {e}")))?;
    if let Some(handed) = handed {
        handed.finished(&status);
    }
    Ok(SpawnOutput {
        status: match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            (None, None) => Exit::Code(-1),
        },
        stdout: std::mem::take(&mut watch.stdout_bytes),
        stderr_tail: String::from_utf8_lossy(&watch.stderr_tail).into_owned(),
    })
}

/// The helper wrote more than [`STDOUT_CAP`] bytes.
struct Overflow;

/// A running helper watched from this thread: one `poll` over its stdout, its stderr and a pidfd
/// (a descriptor that becomes readable when it exits), instead of a thread for each. Three
/// threads per spawn cost their creation, a malloc arena each, and the teardown of both.
///
/// Each wake-up reads at most one chunk per pipe before polling again, so a helper that floods
/// stderr cannot keep the loop from its deadline; and nothing here writes to credbox's own
/// stderr, which may block (a full pipe, a terminal stopped with Ctrl-S): [`forward`] does.
///
/// The exit is noticed without reaping the helper: until it is reaped (at the very end), its
/// zombie keeps its process group ID from being reused, so killing the group after a timeout
/// cannot reach an unrelated process group.
struct Watch {
    child: std::process::Child,
    /// Its place among the running helpers, for as long as it is unreaped.
    running: Running,
    /// Open until end-of-file.
    stdout: Option<std::process::ChildStdout>,
    stderr: Option<std::process::ChildStderr>,
    /// Readable once the helper has exited; `None` where pidfds are not available (Linux before
    /// 5.3, other systems), where the loop looks for the exit every few milliseconds instead.
    pidfd: Option<std::os::fd::OwnedFd>,
    forward_stderr: bool,
    stdout_bytes: Vec<u8>,
    stderr_tail: Vec<u8>,
    /// The helper has exited (it is not reaped yet).
    exited: bool,
}

/// How often to look for the helper's exit where there is no pidfd.
const EXIT_POLL: Duration = Duration::from_millis(5);
/// How often to look for a stop of a helper that holds the terminal (a pidfd only tells an exit).
const STOP_POLL: Duration = Duration::from_millis(100);

impl Watch {
    fn new(
        child: std::process::Child,
        running: Running,
        stdout: std::process::ChildStdout,
        stderr: std::process::ChildStderr,
        forward_stderr: bool,
    ) -> std::io::Result<Self> {
        set_nonblocking(&stdout)?;
        set_nonblocking(&stderr)?;
        // Linux only; elsewhere the loop polls for the exit.
        #[cfg(target_os = "linux")]
        let pidfd = rustix::process::pidfd_open(
            rustix::process::Pid::from_child(&child),
            rustix::process::PidfdFlags::empty(),
        )
        .ok();
        #[cfg(not(target_os = "linux"))]
        let pidfd = None;
        Ok(Watch {
            child,
            running,
            stdout: Some(stdout),
            stderr: Some(stderr),
            pidfd,
            forward_stderr,
            stdout_bytes: Vec::with_capacity(4096),
            stderr_tail: Vec::new(),
            exited: false,
        })
    }

    fn stdout_closed(&self) -> bool {
        self.stdout.is_none()
    }

    /// Wait until something happens or `until` passes (then `Ok(false)`), and take it in: a chunk
    /// of output, a closed pipe, or the exit.
    fn step(&mut self, until: Instant) -> Result<bool, Overflow> {
        use std::os::fd::AsRawFd;
        let remaining = until.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Ok(false);
        }
        let waiting_for_exit = !self.exited;
        let mut timeout = remaining;
        let fd = |raw: Option<i32>| libc::pollfd {
            fd: raw.unwrap_or(-1), // poll ignores negative descriptors
            events: libc::POLLIN,
            revents: 0,
        };
        let mut fds = [
            fd(self.stdout.as_ref().map(|p| p.as_raw_fd())),
            fd(self.stderr.as_ref().map(|p| p.as_raw_fd())),
            fd(self
                .pidfd
                .as_ref()
                .filter(|_| waiting_for_exit)
                .map(|p| p.as_raw_fd())),
        ];
        if waiting_for_exit && self.pidfd.is_none() {
            timeout = timeout.min(EXIT_POLL);
        }
        let millis = timeout.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: `fds` is a valid array of pollfd for the duration of the call.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, millis) };
        if ready < 0 {
            // EINTR: look again (the deadline is checked at the top).
            return Ok(true);
        }
        if fds[0].revents != 0 {
            self.read_stdout()?;
        }
        if fds[1].revents != 0 {
            self.read_stderr();
        }
        if waiting_for_exit && (fds[2].revents != 0 || self.pidfd.is_none()) {
            self.exited = self.has_exited();
        }
        Ok(true)
    }

    /// Whether the helper has been stopped (Ctrl-Z, or a read or write of the terminal from the
    /// background), taking in the stop.
    fn has_stopped(&self) -> bool {
        use rustix::process::{WaitId, WaitIdOptions, waitid};
        let pid = rustix::process::Pid::from_child(&self.child);
        let options = WaitIdOptions::STOPPED | WaitIdOptions::NOHANG;
        matches!(waitid(WaitId::Pid(pid), options), Ok(Some(status)) if status.stopped())
    }

    /// Whether the helper has exited, leaving it unreaped (waitid with WNOWAIT).
    fn has_exited(&self) -> bool {
        use rustix::process::{WaitId, WaitIdOptions, waitid};
        let pid = rustix::process::Pid::from_child(&self.child);
        let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
        // An error (ECHILD: someone else reaped it) also means there is nothing left to wait for.
        !matches!(waitid(WaitId::Pid(pid), options), Ok(None))
    }

    fn read_stdout(&mut self) -> Result<(), Overflow> {
        let mut chunk = [0u8; 8192];
        if let Some(n) = read_chunk(&mut self.stdout, &mut chunk) {
            if self.stdout_bytes.len() + n > STDOUT_CAP {
                return Err(Overflow);
            }
            self.stdout_bytes.extend_from_slice(&chunk[..n]);
        }
        Ok(())
    }

    fn read_stderr(&mut self) {
        let mut chunk = [0u8; 4096];
        if let Some(n) = read_chunk(&mut self.stderr, &mut chunk) {
            if self.forward_stderr {
                forward::send(&chunk[..n]);
            }
            self.stderr_tail.extend_from_slice(&chunk[..n]);
            let excess = self.stderr_tail.len().saturating_sub(STDERR_TAIL);
            self.stderr_tail.drain(..excess);
        }
    }

    /// End the helper's process group: SIGTERM, then SIGKILL if the helper has not exited within
    /// the grace period. Stray group members get SIGKILL too, so nothing is left holding a pipe.
    /// The helper is unreaped throughout, so the group ID is still its own.
    fn kill_group(mut self, group: rustix::process::Pid) {
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::TERM);
        let grace_end = Instant::now() + KILL_GRACE;
        // Output no longer matters; only the exit does.
        self.stdout = None;
        self.stderr = None;
        if self.forward_stderr {
            forward::flush(Instant::now() + STDERR_DRAIN);
        }
        while !self.exited && matches!(self.step(grace_end), Ok(true)) {}
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        // Reap it, so that a long-running `credbox serve` keeps no zombies. SIGKILL ends it at
        // once unless the kernel holds it (a hung NFS read): then a thread waits for it.
        let reap_end = Instant::now() + STDERR_DRAIN;
        while !self.exited && matches!(self.step(reap_end), Ok(true)) {}
        if self.exited {
            let _ = self.child.wait();
        } else {
            // It stays registered as running until that thread has reaped it. Where no thread
            // can be started, the orphan reaping of a later run collects it.
            let (mut child, running) = (self.child, self.running);
            let _ = std::thread::Builder::new().spawn(move || {
                let _ = child.wait();
                drop(running);
            });
        }
    }
}

/// One read from a non-blocking pipe: how many bytes arrived, if any. End of file or an error
/// closes the pipe (sets it to `None`); nothing ready yet, or a signal, is just no bytes.
fn read_chunk(pipe: &mut Option<impl Read>, chunk: &mut [u8]) -> Option<usize> {
    match pipe.as_mut()?.read(chunk) {
        Ok(0) => {
            *pipe = None;
            None
        }
        Ok(n) => Some(n),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
            ) =>
        {
            None
        }
        Err(_) => {
            *pipe = None;
            None
        }
    }
}

fn set_nonblocking(pipe: &impl std::os::fd::AsFd) -> std::io::Result<()> {
    use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
    let flags = fcntl_getfl(pipe)?;
    fcntl_setfl(pipe, flags | OFlags::NONBLOCK)?;
    Ok(())
}

/// A command that executes the already-open `file` (Linux's fexecve, through its `/proc/self/fd`
/// name), shown to the helper as `program`. The descriptor is made inheritable in the child only,
/// because a `#!` script's interpreter opens the script by that name after the exec.
#[cfg(target_os = "linux")]
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

/// Elsewhere (macOS) there is no `/proc/self/fd` to execute: the pinned program runs by its
/// path, hashed just before from the descriptor, and admitted only if no one but its owner (you
/// or root) can write it (docs/PLATFORMS.md says what this leaves open).
#[cfg(not(target_os = "linux"))]
fn exec_descriptor(_file: &std::fs::File, program: &Path) -> Command {
    Command::new(program)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::capabilities::spawn::{SpawnCommand, run};
    use std::process::Stdio;

    /// Watch `script` to the end, with or without a pidfd.
    fn watch_to_end(script: &str, pidfd: bool) -> (Vec<u8>, Option<i32>, Vec<u8>) {
        let mut command = Command::new("/bin/sh");
        command
            .args(["-c", script])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let (mut child, running) = Running::spawn(|| command.spawn()).unwrap();
        let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let mut watch = Watch::new(child, running, stdout, stderr, false).unwrap();
        assert!(watch.pidfd.is_some(), "this kernel has pidfds");
        if !pidfd {
            watch.pidfd = None;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(watch.stdout_closed() && watch.exited && watch.stderr.is_none()) {
            assert!(matches!(watch.step(deadline), Ok(true)), "timed out");
        }
        let code = watch.child.wait().unwrap().code();
        (watch.stdout_bytes, code, watch.stderr_tail)
    }

    #[test]
    fn a_helper_flooding_stderr_still_times_out() {
        // Reading stderr until it ran dry never ended while the helper kept writing.
        let policy = SpawnPolicy {
            forward_stderr: false,
            ..SpawnPolicy::default()
        };
        let flood = SpawnCommand::Argv(
            [
                "/bin/sh",
                "-c",
                "while :; do echo flood flood flood flood; done >&2",
            ]
            .map(String::from)
            .to_vec(),
        );
        let started = Instant::now();
        let result = run(&policy, &flood, Duration::from_millis(300), "flood");
        assert!(
            matches!(result, Err(SpawnError::TimedOut(300))),
            "{:?}",
            result.err()
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn one_thread_sees_output_and_exit_with_a_pidfd_and_without() {
        let script = "printf out; sleep 0.05; printf err >&2; printf more; exit 3";
        for pidfd in [true, false] {
            let (stdout, code, stderr) = watch_to_end(script, pidfd);
            assert_eq!(
                (stdout.as_slice(), code, stderr.as_slice()),
                (&b"outmore"[..], Some(3), &b"err"[..])
            );
        }
    }
}
