//! The `sts` and `prompt` imports: the guest's requests, bounded by [`crate::sts`] and
//! [`crate::prompt`], which own the network call and the terminal.

use std::time::Duration;

use wasmtime::component::HasData;

use super::bindings::{wit, wit_prompt, wit_sts};
use super::sandbox::CallBudget;
use crate::prompt::{self, PromptMode};
use crate::sts::{self, StsPolicy};

/// What the `sts` import sees of the store: its policy, and the call budget it shares with
/// `spawn` and `plugins`.
pub(crate) struct StsView<'a> {
    pub(crate) policy: &'a StsPolicy,
    pub(crate) calls: &'a mut CallBudget,
}

/// Links the `sts` import to an [`StsView`] of the store.
pub(crate) struct Sts;
impl HasData for Sts {
    type Data<'a> = StsView<'a>;
}

impl wit_sts::Host for StsView<'_> {
    fn assume_role(
        &mut self,
        request: wit_sts::AssumeRoleRequest,
    ) -> wasmtime::Result<Result<wit_sts::AssumedRole, wit::StsError>> {
        if let Err(why) = self.calls.take() {
            return Ok(Err(wit::StsError::Denied(why)));
        }
        Ok(sts::assume_role(self.policy, &request))
    }
}

/// What the `prompt` import sees of the store: where prompts go, and the shared call budget (a
/// guest cannot ask the person in a loop).
pub(crate) struct PromptView<'a> {
    pub(crate) mode: PromptMode,
    /// What the profile files say (only a written `mfa_serial` is asked about).
    pub(crate) sts: &'a StsPolicy,
    /// How long the person has to answer (the helper timeout ceiling).
    pub(crate) timeout: Duration,
    pub(crate) calls: &'a mut CallBudget,
}

/// Links the `prompt` import to a [`PromptView`] of the store.
pub(crate) struct Prompt;
impl HasData for Prompt {
    type Data<'a> = PromptView<'a>;
}

impl wit_prompt::Host for PromptView<'_> {
    fn mfa_code(
        &mut self,
        profile: String,
        mfa_serial: String,
    ) -> wasmtime::Result<Result<String, wit_prompt::PromptError>> {
        if let Err(why) = self.calls.take() {
            return Ok(Err(wit_prompt::PromptError::Unavailable(why)));
        }
        // The person is only asked about a device they wrote down, never one the guest made up.
        if !self.sts.is_written("mfa_serial", &mfa_serial) {
            return Ok(Err(wit_prompt::PromptError::Unavailable(
                "the MFA device asked about is not an mfa_serial of the profile files".into(),
            )));
        }
        Ok(
            prompt::mfa_code(self.mode, &profile, &mfa_serial, self.timeout).map_err(|e| match e {
                prompt::PromptError::Unavailable(why) => wit_prompt::PromptError::Unavailable(why),
                prompt::PromptError::Cancelled => wit_prompt::PromptError::Cancelled,
                prompt::PromptError::NotACode => wit_prompt::PromptError::NotACode,
            }),
        )
    }
}
