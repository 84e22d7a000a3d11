//! The `prompt` capability: ask the person for an MFA code on the controlling terminal.
//!
//! `/dev/tty` reaches the person even when an SDK runs credbox with its stdin and stderr captured
//! (botocore does). The code is read without echo, as the AWS CLI reads it, and goes nowhere but
//! the guest. The answer is bounded: without a terminal, or in the background of one (where
//! touching it would stop the process while it holds a cache lock), the answer is immediate; at
//! a terminal, the person has until the deadline; Ctrl-C ends the wait and restores the echo.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use rustix::termios::{self, LocalModes, OptionalActions};

/// Where prompts go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PromptMode {
    /// The controlling terminal, when credbox is in its foreground (the command line's default).
    Terminal,
    /// Nowhere: a role that needs an MFA code without `mfa_process` fails at once (the library's
    /// default: an embedding program decides whether its users can be asked).
    #[default]
    Never,
}

/// Why there is no code (the WIT `prompt-error`, host side).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PromptError {
    /// No terminal, not in its foreground, or prompts turned off; says which.
    Unavailable(String),
    /// End of input, an empty answer, the deadline, or Ctrl-C.
    Cancelled,
}

/// The controlling terminal, if credbox may write to it and read from it now: it exists and
/// credbox's process group is its foreground group (in the background, the kernel would stop
/// credbox at the first read or mode change).
pub fn foreground_terminal() -> Result<File, String> {
    let tty = File::options()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|e| format!("there is no terminal to ask on (/dev/tty: {e})"))?;
    let foreground = termios::tcgetpgrp(&tty).ok();
    if foreground != Some(rustix::process::getpgrp()) {
        return Err("credbox runs in the background of its terminal".into());
    }
    Ok(tty)
}

/// Ask for the MFA code of `serial`, for `profile`, waiting at most `timeout` for the answer.
pub fn mfa_code(
    mode: PromptMode,
    profile: &str,
    serial: &str,
    timeout: Duration,
) -> Result<String, PromptError> {
    if mode == PromptMode::Never {
        return Err(PromptError::Unavailable(
            "prompts are turned off (--prompt never)".into(),
        ));
    }
    let tty = foreground_terminal().map_err(PromptError::Unavailable)?;
    // The names come from the policy: no control character reaches the terminal.
    let shown = |text: &str| -> String { text.chars().filter(|c| !c.is_control()).collect() };
    let quiet = NoEcho::new(&tty);
    let mut out = &tty;
    let _ = write!(
        out,
        "credbox: profile {}: enter MFA code for {}: ",
        shown(profile),
        shown(serial)
    );
    let _ = out.flush();
    let answer = read_line(&tty, Instant::now() + timeout);
    drop(quiet);
    let _ = writeln!(out);
    answer.map(|line| line.trim().to_string()).and_then(|code| {
        if code.is_empty() {
            Err(PromptError::Cancelled)
        } else {
            Ok(code)
        }
    })
}

/// The signals that end credbox at a terminal. While the echo is off they are held back, and
/// their arrival ends the wait: the echo is restored before they take effect.
fn ending_signals() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset only write the set they are given.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
            libc::sigaddset(&mut set, signal);
        }
        set
    }
}

/// One line from the terminal (canonical mode gives it whole), or `Cancelled` at the deadline,
/// at end of input, or when an ending signal arrives.
fn read_line(tty: &File, deadline: Instant) -> Result<String, PromptError> {
    let ending = ending_signals();
    let mut previous: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: blocks signals for this thread only; restored below on every path.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &ending, &mut previous) };
    let result = (|| {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || signal_pending(&ending) {
                return Err(PromptError::Cancelled);
            }
            let slice = left.min(Duration::from_millis(100));
            let mut fds = [rustix::event::PollFd::new(tty, rustix::event::PollFlags::IN)];
            let timeout = rustix::time::Timespec {
                tv_sec: 0,
                tv_nsec: slice.subsec_nanos().into(),
            };
            if !matches!(rustix::event::poll(&mut fds, Some(&timeout)), Ok(n) if n > 0) {
                continue;
            }
            let mut buffer = [0u8; 256];
            return match rustix::io::read(tty.as_fd(), &mut buffer) {
                Ok(0) | Err(_) => Err(PromptError::Cancelled),
                Ok(n) => Ok(String::from_utf8_lossy(&buffer[..n]).into_owned()),
            };
        }
    })();
    // SAFETY: puts back the mask saved above; a held-back signal is delivered now.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &previous, std::ptr::null_mut()) };
    result
}

fn signal_pending(set: &libc::sigset_t) -> bool {
    // SAFETY: sigpending writes the set it is given; sigismember reads two sets.
    unsafe {
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut pending);
        [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT]
            .iter()
            .any(|&s| libc::sigismember(&pending, s) == 1 && libc::sigismember(set, s) == 1)
    }
}

/// Echo off on a terminal for as long as this lives. Set before the prompt is written, with
/// anything typed ahead discarded (as getpass does), so that only what is typed after the prompt
/// is read.
struct NoEcho<'a> {
    tty: &'a File,
    saved: Option<termios::Termios>,
}

impl<'a> NoEcho<'a> {
    fn new(tty: &'a File) -> Self {
        let saved = termios::tcgetattr(tty).ok();
        if let Some(saved) = &saved {
            let mut quiet = saved.clone();
            quiet.local_modes.remove(LocalModes::ECHO);
            let _ = termios::tcsetattr(tty, OptionalActions::Flush, &quiet);
        }
        NoEcho { tty, saved }
    }
}

impl Drop for NoEcho<'_> {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = termios::tcsetattr(self.tty, OptionalActions::Now, saved);
        }
    }
}
