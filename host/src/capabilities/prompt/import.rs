//! The `prompt` import: the guest's question, asked only about a device the profile files name.

use std::time::Duration;

use wasmtime::component::HasData;

use crate::bindings::wit_prompt;
use crate::capabilities::sts::StsPolicy;
use crate::wasm::sandbox::CallBudget;

use super::PromptMode;

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
            super::mfa_code(self.mode, &profile, &mfa_serial, self.timeout).map_err(|e| match e {
                super::PromptError::Unavailable(why) => wit_prompt::PromptError::Unavailable(why),
                super::PromptError::Cancelled => wit_prompt::PromptError::Cancelled,
                super::PromptError::NotACode => wit_prompt::PromptError::NotACode,
            }),
        )
    }
}
