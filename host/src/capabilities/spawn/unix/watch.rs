//! One `poll` over a running helper's pipes and its pidfd.

use std::io::Read;
use std::time::{Duration, Instant};

use super::KILL_GRACE;
use super::reaper::Running;
use crate::capabilities::spawn::{STDERR_DRAIN, STDERR_TAIL, STDOUT_CAP, forward};

/// The helper wrote more than [`STDOUT_CAP`] bytes.
pub(super) struct Overflow;

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
pub(super) struct Watch {
    pub(super) child: std::process::Child,
    /// Its place among the running helpers, for as long as it is unreaped.
    pub(super) running: Running,
    /// Open until end-of-file.
    pub(super) stdout: Option<std::process::ChildStdout>,
    pub(super) stderr: Option<std::process::ChildStderr>,
    /// Readable once the helper has exited; `None` where pidfds are not available (Linux before
    /// 5.3, other systems), where the loop looks for the exit every few milliseconds instead.
    pub(super) pidfd: Option<std::os::fd::OwnedFd>,
    pub(super) forward_stderr: bool,
    pub(super) stdout_bytes: Vec<u8>,
    pub(super) stderr_tail: Vec<u8>,
    /// The helper has exited (it is not reaped yet).
    pub(super) exited: bool,
}

/// How often to look for the helper's exit where there is no pidfd.
pub(super) const EXIT_POLL: Duration = Duration::from_millis(5);
/// How often to look for a stop of a helper that holds the terminal (a pidfd only tells an exit).
pub(super) const STOP_POLL: Duration = Duration::from_millis(100);

impl Watch {
    pub(super) fn new(
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

    pub(super) fn stdout_closed(&self) -> bool {
        self.stdout.is_none()
    }

    /// Wait until something happens or `until` passes (then `Ok(false)`), and take it in: a chunk
    /// of output, a closed pipe, or the exit.
    pub(super) fn step(&mut self, until: Instant) -> Result<bool, Overflow> {
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
    pub(super) fn has_stopped(&self) -> bool {
        use rustix::process::{WaitId, WaitIdOptions, waitid};
        let pid = rustix::process::Pid::from_child(&self.child);
        let options = WaitIdOptions::STOPPED | WaitIdOptions::NOHANG;
        matches!(waitid(WaitId::Pid(pid), options), Ok(Some(status)) if status.stopped())
    }

    /// Whether the helper has exited, leaving it unreaped (waitid with WNOWAIT).
    pub(super) fn has_exited(&self) -> bool {
        use rustix::process::{WaitId, WaitIdOptions, waitid};
        let pid = rustix::process::Pid::from_child(&self.child);
        let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
        // An error (ECHILD: someone else reaped it) also means there is nothing left to wait for.
        !matches!(waitid(WaitId::Pid(pid), options), Ok(None))
    }

    pub(super) fn read_stdout(&mut self) -> Result<(), Overflow> {
        let mut chunk = [0u8; 8192];
        if let Some(n) = read_chunk(&mut self.stdout, &mut chunk) {
            if self.stdout_bytes.len() + n > STDOUT_CAP {
                return Err(Overflow);
            }
            self.stdout_bytes.extend_from_slice(&chunk[..n]);
        }
        Ok(())
    }

    pub(super) fn read_stderr(&mut self) {
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
    pub(super) fn kill_group(mut self, group: rustix::process::Pid) {
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
