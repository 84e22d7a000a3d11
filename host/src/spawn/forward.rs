//! Copying helpers' stderr to credbox's own, so that their prompts and messages reach the person.
//!
//! One thread per process does the writing, started the first time a helper writes to stderr,
//! because credbox's stderr can block (a full pipe, a terminal stopped with Ctrl-S) and the loop
//! watching a helper must never wait on it. Between the two sits a buffer of at most
//! [`FORWARD_BUFFER`] bytes; when it is full the *oldest* bytes give way, so the last thing a
//! helper wrote (its prompt) is what survives, and a marker says how much was dropped. (The tail
//! credbox keeps for error messages is separate and always whole.)
//!
//! Where it goes: credbox's stderr, unless that is a pipe or a socket (an SDK captured it, as
//! botocore and Node do)
//! while credbox runs in the foreground of a controlling terminal and prompts may use it
//! (`--prompt terminal`, the command line's default): then the terminal, so that a helper's own
//! prompt ("touch your key", "password:") reaches the person instead of a pipe nobody reads.
//! stderr redirected to a file or /dev/null stays where the person sent it.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// The most stderr that may wait to be written.
pub const FORWARD_BUFFER: usize = 64 * 1024;

struct Pending {
    bytes: VecDeque<u8>,
    /// Bytes dropped to make room since the last write.
    dropped: usize,
    /// The writer thread is running (or starting).
    started: bool,
    /// The writer is in the middle of a write.
    writing: bool,
}

static PENDING: Mutex<Pending> = Mutex::new(Pending {
    bytes: VecDeque::new(),
    dropped: 0,
    started: false,
    writing: false,
});
/// Signalled when bytes arrive (for the writer) and when a write ends (for [`flush`]).
static CHANGED: Condvar = Condvar::new();

fn pending() -> std::sync::MutexGuard<'static, Pending> {
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether helpers' stderr may go to the controlling terminal when credbox's stderr is not one.
static PREFER_TERMINAL: AtomicBool = AtomicBool::new(false);

/// Say whether the terminal may be used (`yes`, and credbox is in its foreground now, before a
/// helper is handed it); the writer decides once, when it starts.
pub fn prefer_terminal(yes: bool) {
    let usable = yes && crate::prompt::foreground_terminal().is_ok();
    PREFER_TERMINAL.store(usable, Ordering::Relaxed);
}

/// Where forwarded stderr goes: see the module's documentation.
fn destination() -> Box<dyn Write + Send> {
    let stderr = std::io::stderr();
    if PREFER_TERMINAL.load(Ordering::Relaxed)
        && captured(&stderr)
        && let Ok(tty) = crate::prompt::open_terminal()
    {
        return Box::new(tty);
    }
    Box::new(stderr)
}

/// A pipe (botocore) or a socket (Node's libuv): captured by a program, not sent to a file.
#[cfg(unix)]
fn captured(stderr: &std::io::Stderr) -> bool {
    rustix::fs::fstat(stderr).is_ok_and(|stat| {
        matches!(
            rustix::fs::FileType::from_raw_mode(stat.st_mode),
            rustix::fs::FileType::Fifo | rustix::fs::FileType::Socket
        )
    })
}

/// A pipe: captured by a program (Windows' sockets are not handed out as stderr).
#[cfg(windows)]
fn captured(stderr: &std::io::Stderr) -> bool {
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::Storage::FileSystem::{FILE_TYPE_PIPE, GetFileType};
    // SAFETY: GetFileType only reads the handle's type.
    unsafe { GetFileType(stderr.as_raw_handle() as _) == FILE_TYPE_PIPE }
}

/// Queue `chunk` for credbox's stderr; never blocks on the writing.
pub fn send(chunk: &[u8]) {
    let mut pending = pending();
    pending.bytes.extend(chunk);
    let excess = pending.bytes.len().saturating_sub(FORWARD_BUFFER);
    if excess > 0 {
        pending.bytes.drain(..excess);
        pending.dropped += excess;
    }
    if !pending.started {
        // Where no thread can be started, nothing is forwarded (the error tail still is kept).
        pending.started = std::thread::Builder::new()
            .name("stderr-forward".into())
            .spawn(write_forever)
            .is_ok();
        if !pending.started {
            pending.bytes.clear();
            return;
        }
    }
    CHANGED.notify_all();
}

/// Wait until everything queued has been written, or `until` passes: a helper's last words come
/// before whatever credbox writes next.
pub fn flush(until: Instant) {
    let mut pending = pending();
    while pending.started && (!pending.bytes.is_empty() || pending.writing) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        pending = CHANGED
            .wait_timeout(pending, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

fn write_forever() {
    // While a helper holds the terminal, credbox is in the background: with the terminal's
    // `tostop` set, a write would stop it, unless this thread blocks SIGTTOU.
    #[cfg(unix)]
    // SAFETY: changes this thread's signal mask only.
    unsafe {
        let mut ttou: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut ttou);
        libc::sigaddset(&mut ttou, libc::SIGTTOU);
        libc::pthread_sigmask(libc::SIG_BLOCK, &ttou, std::ptr::null_mut());
    }
    let mut ours = destination();
    loop {
        let (bytes, dropped) = {
            let mut pending = pending();
            while pending.bytes.is_empty() {
                pending = CHANGED.wait(pending).unwrap_or_else(|e| e.into_inner());
            }
            pending.writing = true;
            let dropped = std::mem::take(&mut pending.dropped);
            (pending.bytes.drain(..).collect::<Vec<u8>>(), dropped)
        };
        if dropped > 0 {
            let _ = writeln!(
                ours,
                "[credbox: {dropped} bytes of a helper's stderr not shown: stderr was not keeping up]"
            );
        }
        let _ = ours.write_all(&bytes);
        pending().writing = false;
        CHANGED.notify_all();
    }
}
