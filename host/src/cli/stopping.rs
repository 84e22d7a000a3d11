//! `serve` runs until it is stopped: when that is a Ctrl-C, SIGTERM or SIGHUP (on Windows, a
//! console's Ctrl-C or close), it says so on its way out, then ends as the signal would have it.

use std::sync::OnceLock;

/// The line to write when stopped: made before any handler can run, read by the handler.
static LINE: OnceLock<Vec<u8>> = OnceLock::new();

/// From now on, a signal that stops credbox first writes `line` to stderr.
pub fn say_when_stopped(line: String) {
    if LINE.set(line.into_bytes()).is_ok() {
        install();
    }
}

#[cfg(unix)]
extern "C" fn say_and_reraise(signal: libc::c_int) {
    // SAFETY: write, signal and raise are async-signal-safe; LINE was set before the handler was
    // installed and is never changed.
    unsafe {
        if let Some(line) = LINE.get() {
            libc::write(2, line.as_ptr().cast(), line.len());
        }
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

#[cfg(unix)]
fn install() {
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

#[cfg(windows)]
fn install() {
    use windows_sys::Win32::System::Console::SetConsoleCtrlHandler;
    use windows_sys::core::BOOL;
    unsafe extern "system" fn say(_: u32) -> BOOL {
        if let Some(line) = LINE.get() {
            use std::io::Write;
            let _ = std::io::stderr().write_all(line);
        }
        // Not handled: the default handler ends the process.
        0
    }
    // SAFETY: registers a handler that only writes a prepared line.
    unsafe { SetConsoleCtrlHandler(Some(say), 1) };
}
