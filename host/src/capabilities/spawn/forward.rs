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
//!
//! credbox's own lines (its last error, `-v` logs) go through a second outlet of the same kind,
//! always to its stderr ([`own`], [`flush_own`]): once a pipe nobody reads is full, a plain
//! `eprintln!` would wait for ever behind the helpers' writer, and credbox would never exit.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
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

/// Bytes on their way to a destination that may block, written by a thread of its own: callers
/// queue and never wait on the destination (at most on [`Outlet::flush`]'s deadline).
struct Outlet {
    pending: Mutex<Pending>,
    /// Signalled when bytes arrive (for the writer) and when a write ends (for `flush`).
    changed: Condvar,
    /// The writer thread's name.
    name: &'static str,
    /// Where the bytes go, decided when the writer starts.
    destination: fn() -> Box<dyn Write + Send>,
    /// What a dropped run of bytes was, for the marker.
    what: &'static str,
}

/// Helpers' stderr.
static HELPERS: Outlet = Outlet::new("stderr-forward", helpers_destination, "a helper's stderr");
/// credbox's own lines.
static OWN: Outlet = Outlet::new("stderr-own", || Box::new(std::io::stderr()), "credbox's messages");

impl Outlet {
    const fn new(name: &'static str, destination: fn() -> Box<dyn Write + Send>, what: &'static str) -> Self {
        Outlet {
            pending: Mutex::new(Pending {
                bytes: VecDeque::new(),
                dropped: 0,
                started: false,
                writing: false,
            }),
            changed: Condvar::new(),
            name,
            destination,
            what,
        }
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue `chunk`; never blocks on the writing. When more than [`FORWARD_BUFFER`] bytes wait,
    /// the oldest give way.
    fn send(&'static self, chunk: &[u8]) {
        let mut pending = self.pending();
        pending.bytes.extend(chunk);
        let excess = pending.bytes.len().saturating_sub(FORWARD_BUFFER);
        if excess > 0 {
            pending.bytes.drain(..excess);
            pending.dropped += excess;
        }
        if !pending.started {
            // Where no thread can be started, nothing is written.
            pending.started = std::thread::Builder::new()
                .name(self.name.into())
                .spawn(|| self.write_forever())
                .is_ok();
            if !pending.started {
                pending.bytes.clear();
                return;
            }
        }
        self.changed.notify_all();
    }

    /// Wait until everything queued has been written, or `until` passes.
    fn flush(&self, until: Instant) {
        let mut pending = self.pending();
        while pending.started && (!pending.bytes.is_empty() || pending.writing) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            pending = self
                .changed
                .wait_timeout(pending, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn write_forever(&self) {
        // While a helper holds the terminal, credbox is in the background: with the terminal's
        // `tostop` set, a write would stop it.
        crate::platform::never_stop_this_thread_for_background_writes();
        let mut ours = (self.destination)();
        loop {
            let (bytes, dropped) = {
                let mut pending = self.pending();
                while pending.bytes.is_empty() {
                    pending = self.changed.wait(pending).unwrap_or_else(|e| e.into_inner());
                }
                pending.writing = true;
                let dropped = std::mem::take(&mut pending.dropped);
                (pending.bytes.drain(..).collect::<Vec<u8>>(), dropped)
            };
            if dropped > 0 {
                let _ = writeln!(
                    ours,
                    "[credbox: {dropped} bytes of {} not shown: stderr was not keeping up]",
                    self.what
                );
            }
            let _ = ours.write_all(&bytes);
            self.pending().writing = false;
            self.changed.notify_all();
        }
    }
}

/// Whether helpers' stderr may go to the controlling terminal when credbox's stderr is not one.
static PREFER_TERMINAL: AtomicBool = AtomicBool::new(false);

/// Say whether the terminal may be used (`yes`, and credbox is in its foreground now, before a
/// helper is handed it); the writer decides once, when it starts.
pub fn prefer_terminal(yes: bool) {
    let usable = yes && crate::capabilities::prompt::foreground_terminal().is_ok();
    PREFER_TERMINAL.store(usable, Ordering::Relaxed);
}

/// Where forwarded stderr goes: see the module's documentation.
fn helpers_destination() -> Box<dyn Write + Send> {
    let stderr = std::io::stderr();
    if PREFER_TERMINAL.load(Ordering::Relaxed)
        && crate::platform::is_captured(&stderr)
        && let Ok(tty) = crate::capabilities::prompt::open_terminal()
    {
        return Box::new(tty);
    }
    Box::new(stderr)
}

/// Queue a helper's `chunk` for credbox's stderr (or the terminal); never blocks on the writing.
pub fn send(chunk: &[u8]) {
    HELPERS.send(chunk);
}

/// Wait until everything a helper wrote has been forwarded, or `until` passes: a helper's last
/// words come before whatever credbox writes next.
pub fn flush(until: Instant) {
    HELPERS.flush(until);
}

/// Queue one of credbox's own lines for its stderr; never blocks on the writing.
pub fn own(line: &[u8]) {
    OWN.send(line);
}

/// Wait until credbox's own lines are written, or `until` passes (before exiting).
pub fn flush_own(until: Instant) {
    OWN.flush(until);
}
