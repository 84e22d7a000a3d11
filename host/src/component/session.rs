//! One guest instance and the typed calls into it: each refills the limits first and turns a
//! failed call into an error that names the limit hit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Result;
use wasmtime::Store;
use wasmtime::component::ResourceAny;

use crate::Credentials;
use crate::bindings::wit::{Error as GuestError, ProcessSettings, RoleSettings};
use crate::bindings::wit_profiles::{File, Files, ProfilesReport, Property};
use crate::bindings::wit_provider::Options;
use crate::bindings::{Credbox, wit, wit_profiles};
use crate::capabilities::sts::StsPolicy;
use crate::command::SpawnCommand;
use crate::files::Platform;
use crate::wasm::sandbox::{CallBudget, Limits};

use super::call_error::CallError;
use super::state::{HostState, guest_failure};

/// How a profile supplies credentials.
pub enum Source {
    /// Static keys in the profile (the helper is not run).
    StaticKeys(Credentials),
    /// A helper to run.
    Process(ProcessSettings),
    /// A role on top of another source (`role_arn`).
    Role(wit_profiles::RoleChain),
}

/// One guest instance. Calls into it are serialized by `&mut self`.
pub struct Session {
    pub(super) store: Store<HostState>,
    pub(super) instance: Credbox,
    pub(super) instructions: Arc<AtomicU64>,
    /// The instruction budget of the last call.
    pub(super) budget: u64,
    /// For each provider made in this session (by [`ProviderHandle`] index), the profile it
    /// fetches for.
    pub(super) resolving: Vec<String>,
}

/// A `credential-provider` resource living in a [`Session`], and which of the session's profiles
/// it fetches for.
#[derive(Clone, Copy)]
pub struct ProviderHandle(ResourceAny, usize);

/// How much profile-file text `files` holds.
fn text_len(files: &Files) -> usize {
    files.config.text.len() + files.credentials.text.len()
}

impl Session {
    /// Refill the limits before a call given `input` bytes of profile-file text (they grow with
    /// it: [`Limits::for_input`]), and turn a failed call into an error that says which limit was
    /// hit.
    fn call<T>(
        &mut self,
        input: usize,
        f: impl FnOnce(&Credbox, &mut Store<HostState>) -> wasmtime::Result<T>,
    ) -> Result<T> {
        let limits = Limits::GUEST.for_input(input);
        self.budget = limits.fuel;
        self.store.set_fuel(limits.fuel).map_err(anyhow::Error::from)?;
        let state = self.store.data_mut();
        state.calls = CallBudget::full();
        state.memory.rearm(limits.memory_bytes);
        let result = f(&self.instance, &mut self.store);
        self.instructions.fetch_add(self.fuel_used(), Ordering::Relaxed);
        result.map_err(|e| guest_failure(&self.store, self.budget, e))
    }

    /// [`Session::call`] for an export that answers with the policy's `result`.
    fn ask<T>(
        &mut self,
        input: usize,
        f: impl FnOnce(&Credbox, &mut Store<HostState>) -> wasmtime::Result<Result<T, GuestError>>,
    ) -> Result<T, CallError> {
        Ok(self.call(input, f)??)
    }

    /// The instructions (wasmtime fuel) the last call into the guest used, out of its budget.
    pub fn fuel_used(&self) -> u64 {
        self.budget - self.store.get_fuel().unwrap_or(0)
    }

    /// `profiles.resolve`: how `profile` supplies credentials, with the environment variables
    /// that choose a role's STS endpoint read from this process's environment.
    pub fn resolve(&mut self, files: &Files, profile: &str) -> Result<Source, CallError> {
        let environment = crate::capabilities::sts::endpoint_environment();
        let source = self.ask(text_len(files), |i, s| {
            i.credbox_provider_profiles()
                .call_resolve(s, files, profile, &environment)
        })?;
        Ok(match source {
            wit_profiles::Source::StaticKeys(c) => Source::StaticKeys(c.into()),
            wit_profiles::Source::Process(settings) => Source::Process(settings),
            wit_profiles::Source::Role(chain) => Source::Role(chain),
        })
    }

    /// Bound this session's STS calls by `policy` (by default: AWS endpoints and the ones set in
    /// the environment).
    pub fn set_sts_policy(&mut self, policy: StsPolicy) {
        self.store.data_mut().sts = policy;
    }

    /// Let the guest's STS calls be signed with `source` (and nothing else): the credentials the
    /// host is about to hand it for a role.
    pub fn allow_sts_source(&mut self, source: &Credentials) {
        self.store.data_mut().sts.set_source(source);
    }

    /// `profiles.report`: how every profile (or only `profile`) supplies credentials, and where
    /// secrets are written, from one parse.
    pub fn report(&mut self, files: &Files, profile: Option<&str>) -> Result<ProfilesReport, CallError> {
        self.ask(text_len(files), |i, s| {
            i.credbox_provider_profiles().call_report(s, files, profile)
        })
    }

    /// `profiles.properties`: a profile's merged properties, with where each is defined; none
    /// when neither file defines the profile.
    pub fn properties(&mut self, files: &Files, profile: &str) -> Result<Option<Vec<Property>>, CallError> {
        self.ask(text_len(files), |i, s| {
            i.credbox_provider_profiles().call_properties(s, files, profile)
        })
    }

    /// `profiles.set-property`: the one file to write back with `key` set to `value`.
    pub fn set_property(
        &mut self,
        files: &Files,
        profile: &str,
        key: &str,
        value: &str,
    ) -> Result<File, CallError> {
        self.ask(text_len(files), |i, s| {
            i.credbox_provider_profiles()
                .call_set_property(s, files, profile, key, value)
        })
    }

    /// `provider.parse-command`: the command a `credential_process` value runs.
    pub fn parse_command(
        &mut self,
        command_line: &str,
        allow_shell: bool,
    ) -> Result<SpawnCommand, CallError> {
        let command = self.ask(0, |i, s| {
            i.credbox_provider_provider().call_parse_command(
                s,
                command_line,
                allow_shell,
                Platform::current().into(),
            )
        })?;
        Ok(command.into())
    }

    /// `provider.validate-output`: check one helper output.
    pub fn validate_output(
        &mut self,
        stdout: &[u8],
        account_id: Option<&str>,
    ) -> Result<Credentials, CallError> {
        let credentials = self.ask(0, |i, s| {
            i.credbox_provider_provider()
                .call_validate_output(s, stdout, account_id)
        })?;
        Ok(credentials.into())
    }

    /// A new `credential-provider` resource for `settings`.
    pub fn new_provider(
        &mut self,
        settings: &ProcessSettings,
        options: Options,
    ) -> Result<ProviderHandle, CallError> {
        let resource = self.call(0, |i, s| {
            i.credbox_provider_provider()
                .credential_provider()
                .call_constructor(s, settings, options)
        })?;
        Ok(self.handle(resource, &settings.profile))
    }

    /// A handle for `resource`, which fetches `profile`'s credentials.
    fn handle(&mut self, resource: ResourceAny, profile: &str) -> ProviderHandle {
        self.resolving.push(profile.to_string());
        ProviderHandle(resource, self.resolving.len() - 1)
    }

    /// Before a call that may run commands for `provider`: the profile the recursion guard passes
    /// down to them is the one the host asked about, whatever label the guest gives.
    fn resolving_for(&mut self, provider: Option<ProviderHandle>) {
        let profile = provider.and_then(|p| self.resolving.get(p.1).cloned());
        self.store.data_mut().resolving = profile;
    }

    /// A new `credential-provider` resource for a role, assumed with `source` (the credentials of
    /// `source_profile`).
    pub fn new_role_provider(
        &mut self,
        settings: &RoleSettings,
        source: &Credentials,
        source_profile: &str,
        options: Options,
    ) -> Result<ProviderHandle, CallError> {
        let source = wit::Credentials::from(source);
        let resource = self.call(0, |i, s| {
            i.credbox_provider_provider().credential_provider().call_for_role(
                s,
                settings,
                &source,
                source_profile,
                options,
            )
        })?;
        Ok(self.handle(resource, &settings.profile))
    }

    /// `credential-provider.cache-key`: what decides the provider's credentials.
    pub fn cache_key(&mut self, provider: ProviderHandle) -> Result<Vec<u8>, CallError> {
        Ok(self.call(0, |i, s| {
            i.credbox_provider_provider()
                .credential_provider()
                .call_cache_key(s, provider.0)
        })?)
    }

    /// `credential-provider.retrieve`: cached credentials, or fresh ones (running the helper).
    pub fn retrieve(&mut self, provider: ProviderHandle) -> Result<Credentials, CallError> {
        self.resolving_for(Some(provider));
        let credentials = self.ask(0, |i, s| {
            i.credbox_provider_provider()
                .credential_provider()
                .call_retrieve(s, provider.0)
        });
        self.resolving_for(None);
        Ok(credentials?.into())
    }

    /// `credential-provider.serve-until`.
    pub fn serve_until(&mut self, provider: ProviderHandle) -> Result<Option<i64>, CallError> {
        Ok(self.call(0, |i, s| {
            i.credbox_provider_provider()
                .credential_provider()
                .call_serve_until(s, provider.0)
        })?)
    }

    /// `credential-provider.invalidate`.
    pub fn invalidate(&mut self, provider: ProviderHandle) -> Result<(), CallError> {
        Ok(self.call(0, |i, s| {
            i.credbox_provider_provider()
                .credential_provider()
                .call_invalidate(s, provider.0)
        })?)
    }

    /// `credential-provider.restore`: offer a stored cache entry; whether it was adopted.
    pub fn restore(&mut self, provider: ProviderHandle, entry: &[u8]) -> Result<bool, CallError> {
        self.resolving_for(Some(provider));
        let adopted = self.ask(0, |i, s| {
            i.credbox_provider_provider()
                .credential_provider()
                .call_restore(s, provider.0, entry)
        });
        self.resolving_for(None);
        adopted
    }

    /// `credential-provider.cache-entry`: what to store for the current credentials.
    pub fn cache_entry(&mut self, provider: ProviderHandle) -> Result<Option<Vec<u8>>, CallError> {
        Ok(self.call(0, |i, s| {
            i.credbox_provider_provider()
                .credential_provider()
                .call_cache_entry(s, provider.0)
        })?)
    }
}
