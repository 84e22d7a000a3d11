//! Running a helper on Windows: inside a Job Object, so that a timeout ends its whole process
//! tree (Windows has no process groups to signal), with a thread reading each pipe (anonymous
//! pipes cannot be polled).
//!
//! The helper is created suspended and only resumed once it is in the job: a process it starts is
//! in the job from its creation, so nothing escapes between the spawn and the assignment, and the
//! job allows no breakaway. (A helper can still have a process started for it elsewhere, by the
//! Task Scheduler or WMI, or with a parent outside the job: Windows gives a process of the user
//! those powers, and docs/PLATFORMS.md says so.) The job ends with credbox: if credbox dies while
//! a helper runs, the helper goes too, as a timeout would end it; a helper that finished may leave
//! what it started running (an agent), as on Unix.
//!
//! Under an allow-list, the program is looked up and checked by path and then started by path,
//! and std's Windows lookup tries `NAME.exe` before `NAME`: so before the helper runs, the file
//! its process was made from is compared with the one that was admitted (for a pin, the very
//! file that was hashed, held open since), and a different one is killed unstarted.

use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::os::windows::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, TH32CS_SNAPTHREAD, THREADENTRY32, Thread32First, Thread32Next,
};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation, SetInformationJobObject,
    TerminateJobObject,
};
use windows_sys::Win32::System::Threading::{
    CREATE_SUSPENDED, OpenThread, ResumeThread, THREAD_SUSPEND_RESUME,
};

mod pipes;

use super::{
    CapabilityPolicy, Exit, Launch, STDERR_DRAIN, STDOUT_CAP, SpawnError, SpawnOutput, connect, forward,
    spawn_failure,
};
use pipes::{Collected, Pipe, Readers, read_in_thread};

/// The exit code a helper killed by its timeout or output cap ends with.
const KILLED: u32 = 1;
/// How often to look for the helper's exit while no output arrives.
const EXIT_POLL: Duration = Duration::from_millis(5);

/// Windows has no subreaper, and needs none: the Job Object holds every descendant.
pub fn become_subreaper() -> std::io::Result<()> {
    Ok(())
}

/// Shell mode: cmd.exe, the text handed to it as it is ([`run_bounded`]), not quoted as one
/// argument.
pub(super) fn shell_command(_text: &str) -> (PathBuf, Vec<&str>) {
    (shell(), Vec::new())
}

/// cmd.exe: `%ComSpec%`, else the one in the system directory.
fn shell() -> PathBuf {
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
    policy: &CapabilityPolicy,
    launch: Launch<'_>,
    timeout: Duration,
) -> Result<SpawnOutput, SpawnError> {
    // A pinned program stays open, shared for reading only, until the helper has exited (the
    // caller holds it): nobody can write, rename or delete it meanwhile, and the image of the
    // started process is compared with it before it runs (`contain`).
    let Launch {
        program,
        args,
        shell,
        pinned,
        chain,
    } = launch;
    let mut command = Command::new(program);
    match shell {
        // cmd.exe parses its own command line: the text goes as it is, after `/d /s /c` (no
        // AutoRun commands; strip only the outer quotes), exactly as the user wrote it.
        Some(text) => command.raw_arg(format!("/d /s /c \"{text}\"")),
        None => command.args(args),
    };
    // A console has no foreground group to hand over: the helper shares it as cmd.exe's children
    // do, so credbox's stdin goes on when it is the console and prompts may use it.
    connect(
        &mut command,
        policy,
        &chain,
        super::terminal_for_helpers(policy) && stdin_is_console(),
    );
    command.creation_flags(CREATE_SUSPENDED);
    let mut child = command.spawn().map_err(|e| spawn_failure(program, &e))?;
    let admitted = match (pinned, &policy.allow_list) {
        (Some(file), _) => Some(Admitted::Held(file)),
        (None, Some(_)) if shell.is_none() => Some(Admitted::Path(program)),
        _ => None,
    };
    let job = match contain(&child, program, admitted) {
        Ok(job) => job,
        Err(refusal) => {
            // It never ran: it is still suspended.
            let _ = child.kill();
            let _ = child.wait();
            return Err(refusal.into_error(program));
        }
    };
    let deadline = Instant::now() + timeout;
    if policy.forward_stderr {
        forward::prefer_terminal(policy.prompt == crate::capabilities::prompt::PromptMode::Terminal);
    }
    let (events, receiver) = mpsc::channel();
    // Stopped when this returns, whatever holds the pipes open (something the helper left).
    let _readers = Readers([
        read_in_thread(child.stdout.take().expect("piped"), Pipe::Stdout, events.clone()),
        read_in_thread(child.stderr.take().expect("piped"), Pipe::Stderr, events),
    ]);

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
        match receiver.recv_timeout(wait) {
            Ok(event) => {
                if output.take(event, policy.forward_stderr).is_err() {
                    end_job(&job, &mut child);
                    return Err(SpawnError::OutputTooLarge(STDOUT_CAP as u64));
                }
            }
            // Both pipes closed and the helper still running: look for its exit every few ms
            // instead of spinning.
            Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(wait),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
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
    // The helper finished: what it started may outlive credbox (an agent), as on Unix.
    let _ = set_kill_on_close(&job, false);
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

/// What the allow-list admitted, to compare the started process's image with.
enum Admitted<'a> {
    /// The pinned file, held open since it was hashed.
    Held(&'a std::fs::File),
    /// The program at this path.
    Path(&'a Path),
}

/// Why a suspended helper was not let run.
enum Refusal {
    Job(std::io::Error),
    /// Its image is not the admitted file (this path instead, when known).
    OtherImage(Option<PathBuf>),
}

impl Refusal {
    fn into_error(self, program: &Path) -> SpawnError {
        match self {
            Refusal::Job(e) => SpawnError::Failed(format!(
                "could not place `{}` in a job object: {e}",
                program.display()
            )),
            Refusal::OtherImage(image) => SpawnError::Denied(format!(
                "starting `{}` ran {} instead, which is not what the allow-list admitted; \
                 remove that file, or name the program with its extension",
                program.display(),
                image.map_or_else(|| "another file".to_string(), |i| format!("`{}`", i.display()))
            )),
        }
    }
}

/// Put the suspended `child` in a new job that ends with credbox, check that it is the admitted
/// program, then let it run.
fn contain(child: &Child, program: &Path, admitted: Option<Admitted<'_>>) -> Result<OwnedHandle, Refusal> {
    // SAFETY: no security attributes, no name: a new anonymous job we own.
    let raw = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
    if raw.is_null() {
        return Err(Refusal::Job(std::io::Error::last_os_error()));
    }
    // SAFETY: a fresh handle nobody else owns.
    let job = unsafe { OwnedHandle::from_raw_handle(raw as _) };
    set_kill_on_close(&job, true).map_err(Refusal::Job)?;
    // SAFETY: both handles are valid for the call.
    if unsafe { AssignProcessToJobObject(raw, child.as_raw_handle() as HANDLE) } == 0 {
        return Err(Refusal::Job(std::io::Error::last_os_error()));
    }
    if let Some(admitted) = admitted {
        let expected = match admitted {
            // Windows runs a batch file through cmd.exe (std: the system's), which then reads it.
            _ if is_batch(program) => std::fs::File::open(system_cmd()?).and_then(|f| file_id(&f)),
            Admitted::Held(file) => file_id(file),
            Admitted::Path(path) => std::fs::File::open(path).and_then(|f| file_id(&f)),
        };
        let image = image_path(child).ok();
        let actual = image
            .as_ref()
            .map(|path| std::fs::File::open(path).and_then(|f| file_id(&f)));
        match (expected, actual) {
            (Ok(expected), Some(Ok(actual))) if expected == actual => {}
            _ => return Err(Refusal::OtherImage(image)),
        }
    }
    resume(child.id()).map_err(Refusal::Job)?;
    Ok(job)
}

fn is_batch(program: &Path) -> bool {
    program
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("bat") || e.eq_ignore_ascii_case("cmd"))
}

/// The system's cmd.exe, which std runs batch files with.
fn system_cmd() -> Result<PathBuf, Refusal> {
    use std::os::windows::ffi::OsStringExt;
    use windows_sys::Win32::System::SystemInformation::GetSystemDirectoryW;
    let mut buffer = vec![0u16; 1024];
    // SAFETY: the buffer holds the length given.
    let len = unsafe { GetSystemDirectoryW(buffer.as_mut_ptr(), buffer.len() as u32) } as usize;
    if len == 0 || len > buffer.len() {
        return Err(Refusal::Job(std::io::Error::last_os_error()));
    }
    Ok(PathBuf::from(std::ffi::OsString::from_wide(&buffer[..len])).join("cmd.exe"))
}

/// Whether closing the job (credbox ending) ends what is in it.
fn set_kill_on_close(job: &OwnedHandle, kill: bool) -> std::io::Result<()> {
    // SAFETY: plain data, zeroed; only the limit flags are set.
    let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
    if kill {
        limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    }
    // SAFETY: a job handle we own and a struct of the size given.
    let ok = unsafe {
        SetInformationJobObject(
            job.as_raw_handle() as HANDLE,
            JobObjectExtendedLimitInformation,
            (&limits as *const JOBOBJECT_EXTENDED_LIMIT_INFORMATION).cast(),
            std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
        )
    };
    if ok == 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The file the process was made from.
fn image_path(child: &Child) -> std::io::Result<PathBuf> {
    use std::os::windows::ffi::OsStringExt;
    use windows_sys::Win32::System::Threading::{PROCESS_NAME_WIN32, QueryFullProcessImageNameW};
    let mut buffer = vec![0u16; 32_768];
    let mut len = buffer.len() as u32;
    // SAFETY: the buffer holds `len` characters; the process handle is std's own.
    let ok = unsafe {
        QueryFullProcessImageNameW(
            child.as_raw_handle() as HANDLE,
            PROCESS_NAME_WIN32,
            buffer.as_mut_ptr(),
            &mut len,
        )
    };
    if ok == 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(PathBuf::from(std::ffi::OsString::from_wide(
        &buffer[..len as usize],
    )))
}

/// Which file this is: its volume and its index there.
fn file_id(file: &std::fs::File) -> std::io::Result<(u32, u32, u32)> {
    use windows_sys::Win32::Storage::FileSystem::{BY_HANDLE_FILE_INFORMATION, GetFileInformationByHandle};
    // SAFETY: plain data, filled by the call on a handle we hold.
    unsafe {
        let mut info: BY_HANDLE_FILE_INFORMATION = std::mem::zeroed();
        if GetFileInformationByHandle(file.as_raw_handle() as HANDLE, &mut info) == 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok((info.dwVolumeSerialNumber, info.nFileIndexHigh, info.nFileIndexLow))
    }
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

/// Whether credbox's stdin is a console (not a pipe or a file an SDK gave it).
fn stdin_is_console() -> bool {
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::System::Console::GetConsoleMode;
    let mut mode = 0;
    // SAFETY: GetConsoleMode only reads the handle's mode into `mode`.
    unsafe { GetConsoleMode(std::io::stdin().as_raw_handle() as _, &mut mode) != 0 }
}
