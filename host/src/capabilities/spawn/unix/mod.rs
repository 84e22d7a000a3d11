//! Running a helper on Unix: its own process group, killed whole on a timeout; one thread
//! watching its pipes and its exit with `poll`.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod watch;

use watch::{Overflow, STOP_POLL, Watch};

mod handover;
mod reaper;

use super::{
    CapabilityPolicy, Exit, Launch, STDERR_DRAIN, STDOUT_CAP, SpawnError, SpawnOutput, connect, forward,
    spawn_failure,
};
use handover::Handover;
pub use reaper::become_subreaper;
use reaper::{Running, SUBREAPER, kill_escaped, process_start};

/// How long a helper gets to exit after SIGTERM before SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(1);

/// Shell mode: `/bin/sh -c TEXT`.
pub(super) fn shell_command(text: &str) -> (PathBuf, Vec<&str>) {
    (PathBuf::from("/bin/sh"), vec!["-c", text])
}

/// Run the admitted helper to its end, its deadline, or its stdout cap.
pub(super) fn run_bounded(
    policy: &CapabilityPolicy,
    launch: Launch<'_>,
    timeout: Duration,
) -> Result<SpawnOutput, SpawnError> {
    reaper::reap_orphans();
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
        let policy = CapabilityPolicy {
            forward_stderr: false,
            ..CapabilityPolicy::default()
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
