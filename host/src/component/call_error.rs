//! The one error of a call into the guest.

use crate::bindings::wit::Error as GuestError;

/// Why a call into the guest gave no answer: the policy's typed error, or the call itself failed
/// (a trap, a limit, a bug in the guest). One type, so that callers need one `?`. Its `Debug` and
/// `Display` name the error's case only: a helper's stderr tail or a plugin's message, which may
/// hold anything, is shown by `credbox::Error` (last line, sanitised), never here.
pub enum CallError {
    /// The guest's answer: the profile, the helper or its output is at fault. Boxed: the
    /// largest case (an STS failure) would make every `Result` of a guest call large.
    Policy(Box<GuestError>),
    /// The call failed: the guest trapped or ran past its limits (the message says which).
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for CallError {
    fn from(error: anyhow::Error) -> Self {
        CallError::Failed(error)
    }
}

impl From<GuestError> for CallError {
    fn from(error: GuestError) -> Self {
        CallError::Policy(Box::new(error))
    }
}

/// The WIT name of an error's case.
fn case(error: &GuestError) -> &'static str {
    match error {
        GuestError::Config(_) => "config",
        GuestError::CommandSyntax(_) => "command-syntax",
        GuestError::SpawnDenied(_) => "spawn-denied",
        GuestError::SpawnFailed(_) => "spawn-failed",
        GuestError::TimedOut(_) => "timed-out",
        GuestError::NonzeroExit(_) => "nonzero-exit",
        GuestError::OutputTooLarge(_) => "output-too-large",
        GuestError::MalformedOutput(_) => "malformed-output",
        GuestError::UnsupportedVersion(_) => "unsupported-version",
        GuestError::MissingField(_) => "missing-field",
        GuestError::InvalidField(_) => "invalid-field",
        GuestError::Expired(_) => "expired",
        GuestError::Plugin(_) => "plugin",
        GuestError::Sts(_) => "sts",
        GuestError::Mfa(_) => "mfa",
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Policy(e) => write!(f, "the policy answered with a `{}` error", case(e)),
            CallError::Failed(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::fmt::Debug for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for CallError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::wit;

    #[test]
    fn a_call_error_never_shows_what_a_helper_or_plugin_wrote() {
        let errors = [
            GuestError::NonzeroExit(wit::HelperFailure {
                status: wit::ExitStatus::Code(1),
                stderr_tail: "token=SECRETVALUE".into(),
            }),
            GuestError::Plugin(wit::PluginError::RetrieveFailed("SECRETVALUE".into())),
        ];
        for error in errors {
            let error = CallError::from(error);
            for shown in [format!("{error}"), format!("{error:?}")] {
                assert!(!shown.contains("SECRETVALUE"), "{shown}");
            }
        }
    }
}
