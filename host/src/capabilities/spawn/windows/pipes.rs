//! The helper's pipes on Windows: a thread reading each (anonymous pipes cannot be polled), and
//! what was collected from them.

use std::io::Read;
use std::os::windows::io::AsRawHandle;
use std::sync::mpsc;

use windows_sys::Win32::Foundation::HANDLE;

use crate::capabilities::spawn::{STDERR_TAIL, STDOUT_CAP, forward};

#[derive(Clone, Copy)]
pub(super) enum Pipe {
    Stdout,
    Stderr,
}

/// A chunk read from a pipe, or its end (`None`).
pub(super) type Event = (Pipe, Option<Vec<u8>>);

pub(super) fn read_in_thread(
    mut pipe: impl Read + Send + 'static,
    which: Pipe,
    events: mpsc::Sender<Event>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut chunk = vec![0u8; 8192];
        loop {
            match pipe.read(&mut chunk) {
                Ok(0) | Err(_) => {
                    let _ = events.send((which, None));
                    return;
                }
                Ok(n) => {
                    if events.send((which, Some(chunk[..n].to_vec()))).is_err() {
                        return; // run_bounded has given up on this helper
                    }
                }
            }
        }
    })
}

/// The two reader threads. A read still blocked when the run is over (a process the helper left
/// holds the pipe) is cancelled, so that a long-running credbox (`serve`) keeps no thread and no
/// pipe per such run.
pub(super) struct Readers(pub(super) [std::thread::JoinHandle<()>; 2]);

impl Drop for Readers {
    fn drop(&mut self) {
        for reader in &self.0 {
            if !reader.is_finished() {
                // SAFETY: the handle of a thread that is neither joined nor detached yet.
                unsafe {
                    windows_sys::Win32::System::IO::CancelSynchronousIo(reader.as_raw_handle() as HANDLE)
                };
            }
        }
    }
}

/// What the helper wrote so far.
#[derive(Default)]
pub(super) struct Collected {
    pub(super) stdout: Vec<u8>,
    pub(super) stderr_tail: Vec<u8>,
    pub(super) stdout_closed: bool,
    pub(super) stderr_closed: bool,
}

/// The helper wrote more than [`STDOUT_CAP`] bytes.
pub(super) struct Overflow;

impl Collected {
    pub(super) fn take(&mut self, (pipe, bytes): Event, forward_stderr: bool) -> Result<(), Overflow> {
        match (pipe, bytes) {
            (Pipe::Stdout, None) => self.stdout_closed = true,
            (Pipe::Stderr, None) => self.stderr_closed = true,
            (Pipe::Stdout, Some(bytes)) => {
                if self.stdout.len() + bytes.len() > STDOUT_CAP {
                    return Err(Overflow);
                }
                self.stdout.extend_from_slice(&bytes);
            }
            (Pipe::Stderr, Some(bytes)) => {
                if forward_stderr {
                    forward::send(&bytes);
                }
                self.stderr_tail.extend_from_slice(&bytes);
                let excess = self.stderr_tail.len().saturating_sub(STDERR_TAIL);
                self.stderr_tail.drain(..excess);
            }
        }
        Ok(())
    }
}
