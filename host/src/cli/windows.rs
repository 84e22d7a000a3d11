//! What the command line does differently on Windows: console control events, no exec, no modes
//! (the binary's side of the platform seam; `unix.rs` has the same functions).

use std::process::ExitCode;
use std::sync::OnceLock;

use windows_sys::Win32::System::Console::{CTRL_BREAK_EVENT, CTRL_C_EVENT, SetConsoleCtrlHandler};
use windows_sys::core::BOOL;

/// The variable naming the user's shell, and the shell when it is unset.
pub const USER_SHELL: (&str, &str) = ("COMSPEC", "cmd.exe");

/// A failed write to a closed pipe is an error to report on Windows, not a signal.
pub fn end_quietly_when_the_reader_goes() {}

/// Files are readable as their folder's ACL lets them be.
pub fn readable_by_all(_path: &std::path::Path) -> std::io::Result<()> {
    Ok(())
}

unsafe extern "system" fn keep_serving(event: u32) -> BOOL {
    BOOL::from(event == CTRL_C_EVENT || event == CTRL_BREAK_EVENT)
}

/// `exec --server` must outlive its command: Ctrl-C and Ctrl-Break reach every process of the
/// console, the command included, and credbox lets the command decide (the console control
/// handler says they were handled). Closing the console or logging off still ends credbox.
pub fn keep_serving_through_interrupts() {
    // SAFETY: registers a handler that only compares its argument.
    unsafe { SetConsoleCtrlHandler(Some(keep_serving), 1) };
}

/// Wait for `child`; its exit code.
pub fn wait_forwarding_term(mut child: std::process::Child) -> i32 {
    child.wait().ok().and_then(|status| status.code()).unwrap_or(1)
}

/// Windows exit codes are 32 bits (0xC000013A after Ctrl-C): pass them on whole, which
/// `ExitCode` cannot, by exiting here once credbox's last words are out.
pub fn exit_with(code: i32) -> ExitCode {
    credbox::spawn::flush_own_stderr(std::time::Instant::now() + super::LAST_WORDS);
    std::process::exit(code)
}

/// Windows has no exec: run the command, wait, and exit with its code. Returns only when the
/// command could not be started. The command answers Ctrl-C itself, as it would had credbox been
/// replaced by it.
pub fn replace_process_with(mut command: std::process::Command) -> std::io::Error {
    keep_serving_through_interrupts();
    match command.spawn() {
        Ok(child) => {
            let code = wait_forwarding_term(child);
            credbox::spawn::flush_own_stderr(std::time::Instant::now() + super::LAST_WORDS);
            std::process::exit(code)
        }
        Err(e) => e,
    }
}

/// The line to write when stopped: made before any handler can run, read by the handler.
static STOP_LINE: OnceLock<Vec<u8>> = OnceLock::new();

unsafe extern "system" fn say(_: u32) -> BOOL {
    if let Some(line) = STOP_LINE.get() {
        use std::io::Write;
        let _ = std::io::stderr().write_all(line);
    }
    // Not handled: the default handler ends the process.
    0
}

/// From now on, a console's Ctrl-C or close first writes `line` to stderr, then ends credbox.
pub fn say_when_stopped(line: String) {
    if STOP_LINE.set(line.into_bytes()).is_ok() {
        // SAFETY: registers a handler that only writes a prepared line.
        unsafe { SetConsoleCtrlHandler(Some(say), 1) };
    }
}
