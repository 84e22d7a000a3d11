//! The prompt on a Windows console: `CONOUT$` and `CONIN$` reach the person even when an SDK
//! captured credbox's standard streams; echo is off while the code is typed.
//!
//! A console read cannot be given a deadline, so a thread reads the line and the prompt waits for
//! it until the deadline, then cancels the read (so that a long-running credbox does not swallow
//! the next line typed at the console). Ctrl-C ends credbox with the echo still off; cmd.exe and
//! PowerShell reset the console's input mode when they read their next command.

use std::fs::File;
use std::io::{BufRead, Write};
use std::os::windows::io::AsRawHandle;
use std::sync::mpsc;
use std::time::Instant;

use windows_sys::Win32::System::Console::{
    CONSOLE_MODE, ENABLE_ECHO_INPUT, ENABLE_LINE_INPUT, GetConsoleMode, SetConsoleMode,
};

use super::PromptError;

/// The console's screen, if credbox has a console someone can see (a service, a detached process
/// or one started with CREATE_NO_WINDOW has none: then the answer is immediate).
pub fn foreground_terminal() -> Result<File, String> {
    // SAFETY: no arguments; a null window means no visible console.
    if unsafe { windows_sys::Win32::System::Console::GetConsoleWindow() }.is_null() {
        return Err("there is no console window to ask on".into());
    }
    File::options()
        .read(true)
        .write(true)
        .open("CONOUT$")
        .map_err(|e| format!("there is no console to ask on (CONOUT$: {e})"))
}

/// The console's screen (a console has no foreground group).
pub fn open_terminal() -> std::io::Result<File> {
    foreground_terminal().map_err(std::io::Error::other)
}

/// Write `question` and read one line with the echo off, until `deadline`.
pub(super) fn ask_quietly(console: &File, question: &str, deadline: Instant) -> Result<String, PromptError> {
    let input = File::options()
        .read(true)
        .write(true)
        .open("CONIN$")
        .map_err(|_| PromptError::Cancelled)?;
    let handle = input.as_raw_handle() as _;
    let mut saved: CONSOLE_MODE = 0;
    // SAFETY: console mode calls on a console handle we hold.
    let quiet = unsafe { GetConsoleMode(handle, &mut saved) } != 0
        && unsafe { SetConsoleMode(handle, (saved & !ENABLE_ECHO_INPUT) | ENABLE_LINE_INPUT) } != 0;
    let mut out = console;
    let _ = write!(out, "{question}");
    let _ = out.flush();
    let (sender, receiver) = mpsc::channel();
    let console_in = input.try_clone().map_err(|_| PromptError::Cancelled)?;
    let reader = std::thread::spawn(move || {
        let mut line = String::new();
        let read = std::io::BufReader::new(std::io::Read::take(console_in, 256)).read_line(&mut line);
        let _ = sender.send(read.ok().filter(|&n| n > 0).map(|_| line));
    });
    let answer = receiver
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .ok()
        .flatten();
    if answer.is_none() && !reader.is_finished() {
        use std::os::windows::io::AsRawHandle;
        // SAFETY: the handle of a thread that is still running (it is not joined or detached yet).
        unsafe { windows_sys::Win32::System::IO::CancelSynchronousIo(reader.as_raw_handle() as _) };
    }
    let _ = writeln!(out);
    if quiet {
        // SAFETY: as above.
        unsafe { SetConsoleMode(handle, saved) };
    }
    answer.ok_or(PromptError::Cancelled)
}
