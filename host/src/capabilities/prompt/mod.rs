//! The `prompt` capability: ask the person for an MFA code on the controlling terminal.
//!
//! The terminal (`/dev/tty`; the console on Windows) reaches the person even when an SDK runs credbox with its stdin and stderr captured
//! (botocore does). The code is read without echo, as the AWS CLI reads it, and goes nowhere but
//! the guest, and only when it is six digits. The answer is bounded: without a terminal, or in the
//! background of one (where touching it would stop the process while it holds a cache lock), the
//! answer is immediate; at a terminal, the person has until the deadline; on Unix, Ctrl-C restores
//! the echo before it ends credbox (Windows: `prompt/windows.rs` says what stands for each).

use std::time::{Duration, Instant};

#[cfg(unix)]
#[path = "unix.rs"]
mod system;
#[cfg(windows)]
#[path = "windows.rs"]
mod system;

#[cfg(unix)]
pub(crate) use system::RestoreOnSignal;
pub(crate) mod import;

pub use system::{foreground_terminal, open_terminal};

/// Where prompts go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PromptMode {
    /// The controlling terminal, when credbox is in its foreground (the command line's default).
    Terminal,
    /// Nowhere: a role that needs an MFA code without `mfa_process` fails at once (the library's
    /// default: an embedding program decides whether its users can be asked).
    #[default]
    Never,
}

/// Why there is no code (the WIT `prompt-error`, host side).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PromptError {
    /// No terminal, not in its foreground, or prompts turned off; says which.
    Unavailable(String),
    /// End of input, an empty answer, or the deadline.
    Cancelled,
    /// What was typed is not six digits (it is neither shown nor handed on).
    NotACode,
}

/// Ask for the MFA code of `serial`, for `profile`, waiting at most `timeout` for the answer.
pub fn mfa_code(
    mode: PromptMode,
    profile: &str,
    serial: &str,
    timeout: Duration,
) -> Result<String, PromptError> {
    if mode == PromptMode::Never {
        return Err(PromptError::Unavailable(
            "prompts are turned off (--prompt never; a program using credbox as a library sets CapabilityPolicy::prompt)".into(),
        ));
    }
    let tty = foreground_terminal().map_err(PromptError::Unavailable)?;
    // The names come from the policy and the files: shown, never obeyed.
    let shown = |text: &str| crate::text::printable(text).into_owned();
    let deadline = Instant::now() + timeout.min(Duration::from_secs(24 * 3600));
    let question = format!(
        "credbox: profile {}: enter MFA code for {}: ",
        shown(profile),
        shown(serial)
    );
    let answer = system::ask_quietly(&tty, &question, deadline);
    let code = answer?.trim().to_string();
    match code.as_str() {
        "" => Err(PromptError::Cancelled),
        // Never handed on, never shown: it may be a password typed into the wrong prompt.
        code if !crate::capabilities::sts::is_mfa_code(code) => Err(PromptError::NotACode),
        _ => Ok(code),
    }
}
