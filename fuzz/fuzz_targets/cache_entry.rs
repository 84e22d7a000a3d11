//! Cache-entry decoding: a corrupt entry is ignored, never a panic; an accepted entry round-trips.
#![no_main]

use credbox_guest::provider::{Host, Options, Provider};
use credbox_guest::wit::ProcessSettings;
use credbox_guest::wit::plugins::CallError as PluginCallError;
use credbox_guest::wit::prompt::PromptError;
use credbox_guest::wit::spawn::{Output as SpawnOutput, Request as SpawnRequest, SpawnError};
use credbox_guest::wit::sts::{AssumeRoleRequest, AssumedRole};
use credbox_guest::{Credentials, StsError};
use libfuzzer_sys::fuzz_target;

/// A host at a fixed time that runs nothing: restoring never needs to.
struct Frozen(i64);

impl Host for Frozen {
    fn spawn(&self, _: SpawnRequest) -> Result<SpawnOutput, SpawnError> {
        Err(SpawnError::Denied("restoring runs nothing".into()))
    }
    fn plugin_retrieve(&self, _: &str) -> Result<Credentials, PluginCallError> {
        Err(PluginCallError::Denied("restoring runs nothing".into()))
    }
    fn plugin_is_expired(&self, _: &str, _: &Credentials) -> Result<bool, PluginCallError> {
        Err(PluginCallError::Denied("restoring runs nothing".into()))
    }
    fn assume_role(&self, _: AssumeRoleRequest) -> Result<AssumedRole, StsError> {
        Err(StsError::Denied("restoring runs nothing".into()))
    }
    fn mfa_code(&self, _: &str, _: &str) -> Result<String, PromptError> {
        Err(PromptError::Unavailable("restoring asks nobody".into()))
    }
    fn now(&self) -> i64 {
        self.0
    }
}

fn provider() -> Provider {
    let settings = ProcessSettings::command("p", "/h");
    Provider::new(settings, Options::default())
}

fuzz_target!(|data: &[u8]| {
    let host = Frozen(1_700_000_000);
    let first = provider();
    if first
        .restore(data, &host)
        .expect("a command's entry asks no plugin")
    {
        let entry = first.cache_entry().expect("a restored entry can be stored again");
        let second = provider();
        assert!(
            second
                .restore(&entry, &host)
                .expect("a command's entry asks no plugin")
        );
        assert_eq!(second.cache_entry(), Some(entry));
    }
});
