//! The `spawn` import: the guest's request, checked by the host's policy and run by this
//! capability, which owns the process, its ceilings and the allow-list.

use std::time::Duration;

use wasmtime::component::HasData;

use super::{self as spawn, CapabilityPolicy, SpawnCommand};
use crate::bindings::{wit, wit_spawn};
use crate::wasm::sandbox::CallBudget;

/// What the `spawn` import sees of the store: the policy, and the call budget it shares with
/// `plugins`.
pub(crate) struct SpawnView<'a> {
    pub(crate) policy: &'a CapabilityPolicy,
    /// The profile the current call fetches for: the recursion guard's label, the host's own
    /// (the guest's `label` is only a name for logs). `None` outside a fetch: nothing may run.
    pub(crate) resolving: Option<&'a str>,
    pub(crate) calls: &'a mut CallBudget,
}

/// Links the `spawn` import to a [`SpawnView`] of the store.
pub(crate) struct Spawn;
impl HasData for Spawn {
    type Data<'a> = SpawnView<'a>;
}

impl wit_spawn::Host for SpawnView<'_> {
    fn run(
        &mut self,
        request: wit_spawn::Request,
    ) -> wasmtime::Result<Result<wit_spawn::Output, wit_spawn::SpawnError>> {
        if let Err(why) = self.calls.take() {
            return Ok(Err(wit_spawn::SpawnError::Denied(why)));
        }
        let Some(resolving) = self.resolving else {
            return Ok(Err(wit_spawn::SpawnError::Denied(
                "a command may only run while the policy gets a profile's credentials".into(),
            )));
        };
        let command = SpawnCommand::from(request.command);
        let timeout = Duration::from_millis(request.timeout_ms);
        Ok(match spawn::run(self.policy, &command, timeout, resolving) {
            Ok(output) => Ok(wit_spawn::Output {
                status: match output.status {
                    spawn::Exit::Code(c) => wit::ExitStatus::Code(c),
                    spawn::Exit::Signal(s) => wit::ExitStatus::Signal(s),
                },
                stdout: output.stdout,
                stderr_tail: output.stderr_tail,
            }),
            Err(e) => Err(e.into()),
        })
    }
}

impl From<spawn::SpawnError> for wit_spawn::SpawnError {
    fn from(error: spawn::SpawnError) -> Self {
        match error {
            spawn::SpawnError::Denied(why) => Self::Denied(why),
            spawn::SpawnError::Failed(why) => Self::Failed(why),
            spawn::SpawnError::TimedOut(ms) => Self::TimedOut(ms),
            spawn::SpawnError::OutputTooLarge(n) => Self::OutputTooLarge(n),
        }
    }
}

/// A refusal of the host's policy, as the guest would have reported it.
impl From<spawn::SpawnError> for wit::Error {
    fn from(error: spawn::SpawnError) -> Self {
        match error {
            spawn::SpawnError::Denied(why) => Self::SpawnDenied(why),
            spawn::SpawnError::Failed(why) => Self::SpawnFailed(why),
            spawn::SpawnError::TimedOut(ms) => Self::TimedOut(ms),
            spawn::SpawnError::OutputTooLarge(n) => Self::OutputTooLarge(n),
        }
    }
}
