//! What the command line does differently on Unix: signals, replacing the process, modes (the
//! binary's side of the platform seam; `windows.rs` has the same functions).

use std::process::ExitCode;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// The variable naming the user's shell, and the shell when it is unset.
pub const USER_SHELL: (&str, &str) = ("SHELL", "/bin/sh");

/// A printing command whose reader goes away (`credbox completions bash | head`) ends quietly, as
/// Unix tools do, instead of panicking on the failed write. Call before any thread starts.
pub fn end_quietly_when_the_reader_goes() {
    // SAFETY: signal(2) with the default disposition, before any thread is started.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

/// Man pages are readable by everyone (a temporary file starts 0600).
pub fn readable_by_all(path: &std::path::Path) -> std::io::Result<()> {
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o644))
}

static TERM_RECEIVED: AtomicBool = AtomicBool::new(false);

extern "C" fn ignore(_: libc::c_int) {}

extern "C" fn note_term(_: libc::c_int) {
    TERM_RECEIVED.store(true, Ordering::SeqCst);
}

/// `exec --server` must outlive its command, which needs the endpoint until its last request.
/// Ctrl-C and Ctrl-\ reach the whole foreground process group, the command included: credbox
/// lets the command decide and keeps serving. SIGTERM is passed on to the command. These are
/// handlers, not SIG_IGN, because exec resets handlers: the command gets the defaults.
pub fn keep_serving_through_interrupts() {
    for (signal, handler, flags) in [
        (
            libc::SIGINT,
            ignore as extern "C" fn(libc::c_int),
            libc::SA_RESTART,
        ),
        (libc::SIGQUIT, ignore, libc::SA_RESTART),
        // No SA_RESTART: a sleep or waitpid on this thread returns at once.
        (libc::SIGTERM, note_term, 0),
    ] {
        // SAFETY: sigaction with a zeroed struct, an empty mask and a handler that only does
        // async-signal-safe work (nothing, or an atomic store).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler as libc::sighandler_t;
            action.sa_flags = flags;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Wait for `child`, passing SIGTERM on to it; its exit code, or 128 + the signal that ended it.
pub fn wait_forwarding_term(child: std::process::Child) -> i32 {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SIGTERM may be handled on any thread (the endpoint's included), so a blocking waitpid on
    // this one would not be interrupted by it: poll, checking the flag between polls.
    loop {
        if TERM_RECEIVED.swap(false, Ordering::SeqCst) {
            // SAFETY: kill(2) on our own, not yet reaped, child.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        // SAFETY: waitpid on our own child, which nothing else reaps.
        let reaped = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if reaped == pid {
            break;
        }
        if reaped == -1 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return 1;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        1
    }
}

/// credbox's exit status for a command's `code` (already 128 + N for a signal).
pub fn exit_with(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Replace this process with `command` (execvp). Returns only on failure.
pub fn replace_process_with(mut command: std::process::Command) -> std::io::Error {
    std::os::unix::process::CommandExt::exec(&mut command)
}

/// The line to write when stopped: made before any handler can run, read by the handler.
static STOP_LINE: OnceLock<Vec<u8>> = OnceLock::new();

extern "C" fn say_and_reraise(signal: libc::c_int) {
    // SAFETY: write, signal and raise are async-signal-safe; STOP_LINE was set before the handler
    // was installed and is never changed.
    unsafe {
        if let Some(line) = STOP_LINE.get() {
            libc::write(2, line.as_ptr().cast(), line.len());
        }
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

/// From now on, Ctrl-C, SIGTERM or SIGHUP first write `line` to stderr, then end credbox as the
/// signal would.
pub fn say_when_stopped(line: String) {
    if STOP_LINE.set(line.into_bytes()).is_err() {
        return;
    }
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: sigaction with a handler that only does async-signal-safe work.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = say_and_reraise as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}
