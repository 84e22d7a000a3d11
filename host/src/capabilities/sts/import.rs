//! The `sts` import: the guest's request, bounded by this capability's policy and sent by it.

use wasmtime::component::HasData;

use crate::bindings::{wit, wit_sts};
use crate::wasm::sandbox::CallBudget;

use super::StsPolicy;

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
        Ok(super::assume_role(self.policy, &request))
    }
}
