//! The prompt on a Unix terminal: `/dev/tty`, echo off, a deadline, and the terminal restored
//! whatever ends the read.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};
use std::time::{Duration, Instant};

use rustix::termios;

use super::PromptError;

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

/// The controlling terminal, whatever group is in its foreground (for writing a helper's stderr
/// while the helper holds it).
pub fn open_terminal() -> std::io::Result<File> {
    File::options().read(true).write(true).open("/dev/tty")
}

/// Write `question` and read one line with the echo off, until `deadline`.
pub(super) fn ask_quietly(tty: &File, question: &str, deadline: Instant) -> Result<String, PromptError> {
    let quiet = NoEcho::new(tty);
    let mut out = tty;
    let _ = write!(out, "{question}");
    let _ = out.flush();
    let answer = read_line(tty, deadline);
    let _ = writeln!(out);
    drop(quiet);
    answer
}

/// Up to one line from the terminal, or `Cancelled` at the deadline or end of input. Canonical
/// mode delivers what is typed when Enter is pressed; a line longer than any code ends the read
/// (the rest is discarded when the terminal is restored).
fn read_line(tty: &File, deadline: Instant) -> Result<String, PromptError> {
    let mut line = Vec::new();
    while !line.contains(&b'\n') && line.len() < 256 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(PromptError::Cancelled);
        }
        let slice = left.min(Duration::from_millis(100));
        let mut fds = [rustix::event::PollFd::new(tty, rustix::event::PollFlags::IN)];
        let timeout = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: slice.subsec_nanos().into(),
        };
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => {}
            Err(_) => return Err(PromptError::Cancelled),
        }
        let mut buffer = [0u8; 256];
        match rustix::io::read(tty.as_fd(), &mut buffer) {
            Ok(0) | Err(_) => return Err(PromptError::Cancelled),
            Ok(n) => line.extend_from_slice(&buffer[..n]),
        }
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// The terminal's state to put back when a signal ends credbox: its descriptor, its modes, and
/// (for a helper holding it) the process group to give it back to. Read by the handler.
static TTY_FD: AtomicI32 = AtomicI32::new(-1);
static SAVED: AtomicPtr<libc::termios> = AtomicPtr::new(std::ptr::null_mut());
static GIVE_BACK_TO: AtomicI32 = AtomicI32::new(-1);
const ENDING_SIGNALS: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

extern "C" fn restore_and_reraise(signal: libc::c_int) {
    let (fd, saved, group) = (
        TTY_FD.load(Ordering::SeqCst),
        SAVED.load(Ordering::SeqCst),
        GIVE_BACK_TO.load(Ordering::SeqCst),
    );
    // SAFETY: sigprocmask, tcsetpgrp, tcsetattr, signal and raise are async-signal-safe; `saved`
    // stays alive until the handlers are uninstalled (RestoreOnSignal's drop).
    unsafe {
        if fd >= 0 && group >= 0 {
            // From the background, only with SIGTTOU blocked.
            let mut ttou: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut ttou);
            libc::sigaddset(&mut ttou, libc::SIGTTOU);
            libc::sigprocmask(libc::SIG_BLOCK, &ttou, std::ptr::null_mut());
            libc::tcsetpgrp(fd, group);
        }
        if fd >= 0 && !saved.is_null() {
            libc::tcsetattr(fd, libc::TCSANOW, saved);
        }
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

/// For as long as this lives, a signal that ends credbox (SIGINT, SIGTERM, SIGHUP, SIGQUIT) first
/// puts the terminal back: `modes`, and with `give_back_to`, the foreground to that process
/// group. Used while the echo is off for a prompt, and while a helper holds the terminal. One at
/// a time: neither happens while the other does.
pub(crate) struct RestoreOnSignal {
    saved: *mut libc::termios,
    previous: Vec<(libc::c_int, libc::sigaction)>,
}

impl RestoreOnSignal {
    pub(crate) fn install(fd: i32, modes: libc::termios, give_back_to: Option<i32>) -> Self {
        let saved = Box::into_raw(Box::new(modes));
        SAVED.store(saved, Ordering::SeqCst);
        GIVE_BACK_TO.store(give_back_to.unwrap_or(-1), Ordering::SeqCst);
        TTY_FD.store(fd, Ordering::SeqCst);
        let mut previous = Vec::new();
        // SAFETY: sigaction installs a handler that only does async-signal-safe work; the saved
        // modes outlive the handlers.
        unsafe {
            for signal in ENDING_SIGNALS {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = restore_and_reraise as extern "C" fn(libc::c_int) as usize;
                libc::sigemptyset(&mut action.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(signal, &action, &mut old) == 0 {
                    previous.push((signal, old));
                }
            }
        }
        RestoreOnSignal { saved, previous }
    }

    /// The modes it would put back.
    pub(crate) fn modes(&self) -> &libc::termios {
        // SAFETY: `saved` is ours until drop.
        unsafe { &*self.saved }
    }
}

impl Drop for RestoreOnSignal {
    fn drop(&mut self) {
        // SAFETY: the handlers go first, then the modes no handler can reach any more.
        unsafe {
            for (signal, old) in &self.previous {
                libc::sigaction(*signal, old, std::ptr::null_mut());
            }
            TTY_FD.store(-1, Ordering::SeqCst);
            GIVE_BACK_TO.store(-1, Ordering::SeqCst);
            SAVED.store(std::ptr::null_mut(), Ordering::SeqCst);
            drop(Box::from_raw(self.saved));
        }
    }
}

/// Echo off (canonical input on) for as long as this lives, set before the prompt is written
/// with anything typed ahead discarded (as getpass does); the settings come back on drop or,
/// through [`RestoreOnSignal`], on a signal that ends credbox.
struct NoEcho {
    fd: i32,
    restore: Option<RestoreOnSignal>,
}

impl NoEcho {
    fn new(tty: &File) -> Self {
        let fd = tty.as_raw_fd();
        // SAFETY: tcgetattr/tcsetattr read and write the struct given.
        unsafe {
            let mut settings: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(fd, &mut settings) != 0 {
                return NoEcho { fd, restore: None };
            }
            let restore = RestoreOnSignal::install(fd, settings, None);
            let mut quiet = settings;
            quiet.c_lflag &= !libc::ECHO;
            quiet.c_lflag |= libc::ICANON;
            libc::tcsetattr(fd, libc::TCSAFLUSH, &quiet);
            NoEcho {
                fd,
                restore: Some(restore),
            }
        }
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        let Some(restore) = self.restore.take() else {
            return;
        };
        // SAFETY: restores the settings saved before the prompt. Discards what was typed past
        // the answer (a long paste must not reach the shell).
        unsafe { libc::tcsetattr(self.fd, libc::TCSAFLUSH, restore.modes()) };
        drop(restore);
    }
}
