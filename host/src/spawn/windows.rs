//! Running a helper on Windows: inside a Job Object, so that a timeout ends its whole process
//! tree (Windows has no process groups to signal), with a thread reading each pipe (anonymous
//! pipes cannot be polled).
//!
//! The helper is created suspended and only resumed once it is in the job: a process it starts is
//! in the job from its creation, so nothing escapes between the spawn and the assignment. The job
//! does not allow breakaway, so no descendant can leave it either.

use std::io::Read;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::os::windows::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, TH32CS_SNAPTHREAD, THREADENTRY32, Thread32First, Thread32Next,
};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, TerminateJobObject,
};
use windows_sys::Win32::System::Threading::{
    CREATE_SUSPENDED, OpenThread, ResumeThread, THREAD_SUSPEND_RESUME,
};

use super::{
    CHAIN_VAR, Exit, Launch, STDERR_DRAIN, STDERR_TAIL, STDOUT_CAP, SpawnError, SpawnOutput, SpawnPolicy,
    StdinMode, forward, spawn_failure,
};

/// The exit code a helper killed by its timeout or output cap ends with.
const KILLED: u32 = 1;
/// How often to look for the helper's exit while no output arrives.
const EXIT_POLL: Duration = Duration::from_millis(5);

/// Windows has no subreaper, and needs none: the Job Object holds every descendant.
pub fn become_subreaper() -> std::io::Result<()> {
    Ok(())
}

/// cmd.exe, for shell mode: `%ComSpec%`, else the one in the system directory.
pub(super) fn shell() -> PathBuf {
    std::env::var_os("ComSpec")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let root = std::env::var_os("SystemRoot").unwrap_or_else(|| r"C:\Windows".into());
            Path::new(&root).join(r"System32\cmd.exe")
        })
}

/// Run the admitted helper to its end, its deadline, or its stdout cap.
pub(super) fn run_bounded(
    policy: &SpawnPolicy,
    launch: Launch<'_>,
    timeout: Duration,
) -> Result<SpawnOutput, SpawnError> {
    // A pinned program stays open, shared for reading only, until it has been started: nobody
    // can write, rename or delete it in between, so what runs is what was hashed.
    let Launch {
        program,
        args,
        shell,
        pinned: _held_open,
        chain,
    } = launch;
    let mut command = Command::new(program);
    match shell {
        // cmd.exe parses its own command line: the text goes as it is, after `/d /s /c` (no
        // AutoRun commands; strip only the outer quotes), exactly as the user wrote it.
        Some(text) => command.raw_arg(format!("/d /s /c \"{text}\"")),
        None => command.args(args),
    };
    command
        .env(CHAIN_VAR, chain)
        .stdin(match policy.stdin {
            StdinMode::Inherit => Stdio::inherit(),
            StdinMode::Null => Stdio::null(),
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .creation_flags(CREATE_SUSPENDED);
    let mut child = command.spawn().map_err(|e| spawn_failure(program, &e))?;
    let job = match contain(&child) {
        Ok(job) => job,
        Err(e) => {
            // Never let it run outside the job.
            let _ = child.kill();
            let _ = child.wait();
            return Err(SpawnError::Failed(format!(
                "could not place `{}` in a job object: {e}",
                program.display()
            )));
        }
    };
    let deadline = Instant::now() + timeout;
    if policy.forward_stderr {
        forward::prefer_terminal(policy.prompt == crate::prompt::PromptMode::Terminal);
    }
    let (events, receiver) = mpsc::channel();
    read_in_thread(child.stdout.take().expect("piped"), Pipe::Stdout, events.clone());
    read_in_thread(child.stderr.take().expect("piped"), Pipe::Stderr, events);

    let mut output = Collected::default();
    let mut exited = None;
    while !(output.stdout_closed && exited.is_some()) {
        let now = Instant::now();
        if now >= deadline {
            end_job(&job, &mut child);
            return Err(SpawnError::TimedOut(timeout.as_millis() as u64));
        }
        let wait = if exited.is_none() {
            EXIT_POLL.min(deadline - now)
        } else {
            deadline - now
        };
        if let Ok(event) = receiver.recv_timeout(wait)
            && output.take(event, policy.forward_stderr).is_err()
        {
            end_job(&job, &mut child);
            return Err(SpawnError::OutputTooLarge(STDOUT_CAP as u64));
        }
        if exited.is_none() {
            exited = child
                .try_wait()
                .map_err(|e| SpawnError::Failed(format!("waiting for the helper: {e}")))?;
        }
    }
    // The helper is done; let the reader catch up with what it wrote to stderr last (unless a
    // background process holds stderr open: then wait a little, not until the timeout).
    let drain_until = (Instant::now() + STDERR_DRAIN).min(deadline);
    while !output.stderr_closed {
        let left = drain_until.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(left) {
            Ok(event) => {
                let _ = output.take(event, policy.forward_stderr);
            }
            Err(_) => break,
        }
    }
    if policy.forward_stderr {
        forward::flush(Instant::now() + STDERR_DRAIN);
    }
    let status = exited.expect("the loop ends once it has exited");
    Ok(SpawnOutput {
        status: Exit::Code(status.code().unwrap_or(-1)),
        stdout: output.stdout,
        stderr_tail: String::from_utf8_lossy(&output.stderr_tail).into_owned(),
    })
}

/// End everything in the job (the helper and all it started) and reap the helper.
fn end_job(job: &OwnedHandle, child: &mut Child) {
    // SAFETY: a job handle we own.
    unsafe { TerminateJobObject(job.as_raw_handle() as HANDLE, KILLED) };
    let _ = child.kill();
    let _ = child.wait();
}

/// Put the suspended `child` in a new job, then let it run.
fn contain(child: &Child) -> std::io::Result<OwnedHandle> {
    // SAFETY: no security attributes, no name: a new anonymous job we own.
    let raw = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
    if raw.is_null() {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh handle nobody else owns.
    let job = unsafe { OwnedHandle::from_raw_handle(raw as _) };
    // SAFETY: both handles are valid for the call.
    if unsafe { AssignProcessToJobObject(raw, child.as_raw_handle() as HANDLE) } == 0 {
        return Err(std::io::Error::last_os_error());
    }
    resume(child.id())?;
    Ok(job)
}

/// Resume the (only) thread of the suspended process `pid`. std keeps the thread handle that
/// CreateProcess returned to itself, so the thread is found by its owner.
fn resume(pid: u32) -> std::io::Result<()> {
    // SAFETY: a snapshot handle we close below; THREADENTRY32 is plain data with its size set.
    unsafe {
        let snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
        if snapshot == INVALID_HANDLE_VALUE {
            return Err(std::io::Error::last_os_error());
        }
        let mut entry: THREADENTRY32 = std::mem::zeroed();
        entry.dwSize = std::mem::size_of::<THREADENTRY32>() as u32;
        let mut resumed = 0;
        let mut more = Thread32First(snapshot, &mut entry) != 0;
        while more {
            if entry.th32OwnerProcessID == pid {
                let thread = OpenThread(THREAD_SUSPEND_RESUME, 0, entry.th32ThreadID);
                if !thread.is_null() {
                    if ResumeThread(thread) != u32::MAX {
                        resumed += 1;
                    }
                    CloseHandle(thread);
                }
            }
            more = Thread32Next(snapshot, &mut entry) != 0;
        }
        CloseHandle(snapshot);
        if resumed == 0 {
            return Err(std::io::Error::other("its thread was not found to resume"));
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Pipe {
    Stdout,
    Stderr,
}

/// A chunk read from a pipe, or its end (`None`).
type Event = (Pipe, Option<Vec<u8>>);

fn read_in_thread(mut pipe: impl Read + Send + 'static, which: Pipe, events: mpsc::Sender<Event>) {
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
    });
}

/// What the helper wrote so far.
#[derive(Default)]
struct Collected {
    stdout: Vec<u8>,
    stderr_tail: Vec<u8>,
    stdout_closed: bool,
    stderr_closed: bool,
}

/// The helper wrote more than [`STDOUT_CAP`] bytes.
struct Overflow;

impl Collected {
    fn take(&mut self, (pipe, bytes): Event, forward_stderr: bool) -> Result<(), Overflow> {
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
