//! The terminal, handed to a helper for as long as it runs (Unix), as a shell hands it to a
//! foreground job.
//!
//! A helper runs in a process group of its own, so that a timeout can kill everything it started.
//! Without the terminal that group is in the background: a helper that reads a password from the
//! terminal is stopped by SIGTTIN, while what the person types goes to their shell. So, when
//! credbox itself is in the terminal's foreground (and prompts may use it), the helper's group is
//! made the foreground one from before its first instruction, and credbox takes the terminal back
//! when the helper ends, with the job control a shell would do in between:
//!
//! * Ctrl-C and Ctrl-\ reach the helper alone; if one ends it, credbox passes the signal on to its
//!   own process group once it has the terminal back (the SDK that ran credbox gets it as it
//!   would have without credbox).
//! * Ctrl-Z stops the helper: credbox takes the terminal back and stops its own job, so the shell
//!   sees a stopped job; `fg` continues credbox, which gives the terminal to the helper again and
//!   continues it. The time stopped does not count against `--timeout`.
//! * A signal that ends credbox (SIGTERM, SIGHUP, ...) gives the terminal back first; if credbox
//!   dies without a chance to (SIGKILL), the kernel kills the helper (Linux: the parent-death
//!   signal), so no orphan keeps reading the person's keystrokes.
//! * The terminal is taken back only from the helper's group: if someone else holds it by then
//!   (the shell, after credbox's job was stopped another way), it is left alone.
//! * One helper at a time per terminal: the handover holds a lock on the terminal device, and a
//!   second credbox at the same terminal does not hand it over (its helper reads end-of-file).
//!
//! The terminal's modes are put back when a signal or the timeout ended the helper; a helper that
//! exits by itself leaves them as it chose.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use rustix::process::Pid;
use rustix::termios;

/// The terminal, offered to the next helper: credbox is in its foreground and holds its lock.
pub(super) struct Handover {
    tty: File,
    /// The terminal device itself, locked (flock) while one of our helpers may hold it.
    _exclusive: Option<File>,
    /// credbox's own process group: the terminal's foreground group before and after.
    ours: Pid,
    /// credbox's process, the helper's parent.
    parent: Pid,
    /// The terminal's modes before the helper ran (libc's struct: the signal handler restores it).
    modes: Option<libc::termios>,
}

impl Handover {
    /// The terminal, if credbox is in its foreground and no other credbox's helper holds it.
    pub(super) fn offer() -> Option<Handover> {
        let tty = crate::capabilities::prompt::foreground_terminal().ok()?;
        // The lock is on the terminal's own device (/dev/tty is one node for every terminal).
        let exclusive = match terminal_device() {
            Some(device) => {
                let device = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
                    .open(device)
                    .ok()?;
                rustix::fs::flock(&device, rustix::fs::FlockOperation::NonBlockingLockExclusive).ok()?;
                Some(device)
            }
            // Not found: the foreground check above is all there is.
            None => None,
        };
        Some(Handover {
            modes: modes_of(&tty),
            tty,
            _exclusive: exclusive,
            ours: rustix::process::getpgrp(),
            parent: rustix::process::getpid(),
        })
    }

    /// In the helper, before it executes: lead its own process group and make that group the
    /// terminal's foreground one (SIGTTOU blocked around the change, as a shell's child does: a
    /// background group may only take the terminal that way), so that it owns the terminal from
    /// its first instruction; and die with credbox (Linux).
    pub(super) fn install(&self, command: &mut Command) {
        let fd = self.tty.as_raw_fd();
        let parent = self.parent.as_raw_nonzero().get();
        // SAFETY: setpgid, sigprocmask, tcsetpgrp, getpid, getppid and prctl are
        // async-signal-safe, and the closure touches nothing but its own copies and the stack.
        unsafe {
            command.pre_exec(move || {
                if libc::setpgid(0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let mut ttou: libc::sigset_t = std::mem::zeroed();
                let mut before: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut ttou);
                libc::sigaddset(&mut ttou, libc::SIGTTOU);
                libc::sigprocmask(libc::SIG_BLOCK, &ttou, &mut before);
                // A terminal that cannot be handed over is no reason not to run the helper.
                libc::tcsetpgrp(fd, libc::getpid());
                libc::sigprocmask(libc::SIG_SETMASK, &before, std::ptr::null_mut());
                #[cfg(target_os = "linux")]
                {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    if libc::getppid() != parent {
                        return Err(std::io::Error::other("credbox ended before the helper started"));
                    }
                }
                #[cfg(not(target_os = "linux"))]
                let _ = parent;
                Ok(())
            });
        }
    }

    /// The helper started as `helper` (its process group): from now on a signal that ends
    /// credbox gives the terminal back first.
    pub(super) fn started(self, helper: Pid) -> HandedOver {
        let restore = self.modes.map(|modes| {
            crate::capabilities::prompt::RestoreOnSignal::install(
                self.tty.as_raw_fd(),
                modes,
                Some(self.ours.as_raw_nonzero().get()),
            )
        });
        HandedOver {
            handover: Some(self),
            helper,
            restore_modes: true,
            _restore: restore,
        }
    }

    /// Whether the terminal's foreground group is `group`.
    fn held_by(&self, group: Pid) -> bool {
        termios::tcgetpgrp(&self.tty).is_ok_and(|g| g == group)
    }

    /// Make `group` the terminal's foreground group, from the background if need be.
    fn give_to(&self, group: Pid) {
        with_sigttou_blocked(|| {
            let _ = termios::tcsetpgrp(&self.tty, group);
        });
    }

    fn set_modes(&self, modes: &libc::termios) {
        // SAFETY: tcsetattr reads the struct given.
        with_sigttou_blocked(|| unsafe {
            libc::tcsetattr(self.tty.as_raw_fd(), libc::TCSANOW, modes);
        });
    }
}

impl Drop for Handover {
    /// Never started (the spawn failed after the child took the terminal): take it back from the
    /// group that no longer exists.
    fn drop(&mut self) {
        if let Ok(group) = termios::tcgetpgrp(&self.tty)
            && group != self.ours
            && rustix::process::test_kill_process_group(group).is_err()
        {
            self.give_to(self.ours);
        }
    }
}

/// The terminal while a helper holds it; given back when dropped.
pub(super) struct HandedOver {
    handover: Option<Handover>,
    /// The helper's process group (its process ID).
    helper: Pid,
    restore_modes: bool,
    _restore: Option<crate::capabilities::prompt::RestoreOnSignal>,
}

impl HandedOver {
    /// The helper was stopped (Ctrl-Z): do as a shell does with a stopped job. Take the terminal
    /// back with the modes credbox had, stop credbox's own job (so the person's shell sees it
    /// stopped), and when it is continued give the helper the terminal and its modes again and
    /// continue it. Returns how long credbox was stopped.
    pub(super) fn suspend(&mut self) -> Duration {
        let Some(handover) = &self.handover else {
            return Duration::ZERO;
        };
        // Stopped without the terminal (it read it after someone else took it): not a Ctrl-Z of
        // the person's; the timeout ends it.
        if !handover.held_by(self.helper) {
            return Duration::ZERO;
        }
        let started = Instant::now();
        let helper_modes = modes_of(&handover.tty);
        handover.give_to(handover.ours);
        if let Some(modes) = &handover.modes {
            handover.set_modes(modes);
        }
        // Stops this process (and the rest of its job) before it returns; returns when the
        // shell continues the job (`fg`, `bg`).
        let _ = rustix::process::kill_current_process_group(rustix::process::Signal::TSTP);
        if handover.held_by(handover.ours) {
            if let Some(modes) = &helper_modes {
                handover.set_modes(modes);
            }
            handover.give_to(self.helper);
        }
        let _ = rustix::process::kill_process_group(self.helper, rustix::process::Signal::CONT);
        started.elapsed()
    }

    /// The helper exited with `status`. A helper that exited by itself keeps the modes it set;
    /// one that Ctrl-C or Ctrl-\ ended has the signal passed on to credbox's own job once the
    /// terminal is back, as a shell's job would have had it.
    pub(super) fn finished(mut self, status: &ExitStatus) {
        use std::os::unix::process::ExitStatusExt;
        if status.code().is_some() {
            self.restore_modes = false;
        }
        let interrupted = status
            .signal()
            .filter(|&s| s == libc::SIGINT || s == libc::SIGQUIT);
        drop(self);
        if let Some(signal) = interrupted {
            // SAFETY: kill(2) on credbox's own process group.
            unsafe { libc::kill(0, signal) };
        }
    }
}

impl Drop for HandedOver {
    fn drop(&mut self) {
        let Some(handover) = self.handover.take() else {
            return;
        };
        if handover.held_by(self.helper) {
            handover.give_to(handover.ours);
            if self.restore_modes
                && let Some(modes) = &handover.modes
            {
                handover.set_modes(modes);
            }
        }
        // The lock on the terminal goes with `handover`.
    }
}

/// Run `f` with SIGTTOU blocked on this thread: a background process may change the terminal
/// (its foreground group, its modes) only so, without being stopped.
fn with_sigttou_blocked(f: impl FnOnce()) {
    // SAFETY: pthread_sigmask on this thread only, restored right after.
    unsafe {
        let mut ttou: libc::sigset_t = std::mem::zeroed();
        let mut before: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut ttou);
        libc::sigaddset(&mut ttou, libc::SIGTTOU);
        libc::pthread_sigmask(libc::SIG_BLOCK, &ttou, &mut before);
        f();
        libc::pthread_sigmask(libc::SIG_SETMASK, &before, std::ptr::null_mut());
    }
}

/// The path of credbox's controlling terminal's device (Linux: from `tty_nr` in
/// `/proc/self/stat`; a pseudo-terminal is `/dev/pts/N`, others are named in sysfs).
#[cfg(target_os = "linux")]
fn terminal_device() -> Option<std::path::PathBuf> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // After the command's name: state, ppid, pgrp, session, tty_nr.
    let tty_nr: u64 = stat.rsplit_once(')')?.1.split_whitespace().nth(4)?.parse().ok()?;
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    if (136..=143).contains(&major) {
        return Some(format!("/dev/pts/{}", (major - 136) * 256 + minor).into());
    }
    let uevent = std::fs::read_to_string(format!("/sys/dev/char/{major}:{minor}/uevent")).ok()?;
    let name = uevent.lines().find_map(|l| l.strip_prefix("DEVNAME="))?;
    Some(std::path::Path::new("/dev").join(name))
}

#[cfg(not(target_os = "linux"))]
fn terminal_device() -> Option<std::path::PathBuf> {
    None
}

/// The terminal's modes, as libc has them (the signal handler may only call libc).
fn modes_of(tty: &File) -> Option<libc::termios> {
    // SAFETY: tcgetattr writes into the struct it is given.
    unsafe {
        let mut modes: libc::termios = std::mem::zeroed();
        (libc::tcgetattr(tty.as_raw_fd(), &mut modes) == 0).then_some(modes)
    }
}
