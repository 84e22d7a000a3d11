//! The `prompt` capability: ask the person for an MFA code on the controlling terminal.
//!
//! `/dev/tty` reaches the person even when an SDK runs credbox with its stdin and stderr captured
//! (botocore does). The code is read without echo, as the AWS CLI reads it, and goes nowhere but
//! the guest. Without a terminal the answer is immediate: no prompt can hang a headless run.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};

use rustix::termios::{self, LocalModes, OptionalActions};

/// Where prompts go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PromptMode {
    /// The controlling terminal, when there is one.
    #[default]
    Terminal,
    /// Nowhere: a role that needs an MFA code without `mfa_process` fails at once.
    Never,
}

/// Why there is no code (the WIT `prompt-error`, host side).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PromptError {
    /// No terminal, or prompts turned off; says which.
    Unavailable(String),
    /// End of input, or an empty answer.
    Cancelled,
}

/// Ask for the MFA code of `serial`, for `profile`.
pub fn mfa_code(mode: PromptMode, profile: &str, serial: &str) -> Result<String, PromptError> {
    if mode == PromptMode::Never {
        return Err(PromptError::Unavailable(
            "prompts are turned off (--prompt never)".into(),
        ));
    }
    let tty = File::options()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|e| PromptError::Unavailable(format!("there is no terminal to ask on (/dev/tty: {e})")))?;
    let mut out = &tty;
    let _ = write!(out, "credbox: profile {profile}: enter MFA code for {serial}: ");
    let _ = out.flush();
    let echo = NoEcho::new(&tty);
    let mut line = String::new();
    let read = BufReader::new(&tty).read_line(&mut line);
    drop(echo);
    let _ = writeln!(out);
    match read {
        Ok(_) if !line.trim().is_empty() => Ok(line.trim().to_string()),
        Ok(_) => Err(PromptError::Cancelled),
        Err(e) => Err(PromptError::Unavailable(format!(
            "reading the terminal failed: {e}"
        ))),
    }
}

/// Echo off on a terminal for as long as this lives.
struct NoEcho<'a> {
    tty: &'a File,
    saved: Option<termios::Termios>,
}

impl<'a> NoEcho<'a> {
    fn new(tty: &'a File) -> Self {
        let saved = termios::tcgetattr(tty).ok();
        if let Some(saved) = &saved {
            let mut quiet = saved.clone();
            quiet.local_modes.remove(LocalModes::ECHO);
            let _ = termios::tcsetattr(tty, OptionalActions::Now, &quiet);
        }
        NoEcho { tty, saved }
    }
}

impl Drop for NoEcho<'_> {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = termios::tcsetattr(self.tty, OptionalActions::Now, saved);
        }
    }
}
