//! The WebAssembly component: exports the policy through the WIT interfaces and hands it the
//! host's imports. Glue only: the policy speaks the WIT types itself (`crate::wit`).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::profile::{FileKind, Profile};
use crate::provider::{self, Host as _};
use crate::settings::FileText;
use crate::wit::plugins::{self, CallError};
use crate::wit::profiles::{self, File, Files, ProfilesReport, Property, Source};
use crate::wit::prompt::{self, PromptError};
use crate::wit::spawn::{self, Command, Output, Request, SpawnError};
use crate::wit::sts::{self, AssumeRoleRequest, AssumedRole};
use crate::wit::{self, Location, Platform, ProcessSettings, RoleSettings, provider::Options};
use crate::{Credentials, Error, StsError, edit, report, resolve, role};

struct Component;
crate::wit::export!(Component with_types_in crate::wit);

/// The host as the policy sees it: the WIT imports, and the (WASI) wall clock.
struct ComponentHost;

impl provider::Host for ComponentHost {
    fn spawn(&self, request: Request) -> Result<Output, SpawnError> {
        spawn::run(&request)
    }

    fn plugin_retrieve(&self, path: &str) -> Result<Credentials, CallError> {
        plugins::retrieve(path)
    }

    fn plugin_is_expired(&self, path: &str, credentials: &Credentials) -> Result<bool, CallError> {
        plugins::is_expired(path, credentials)
    }

    fn assume_role(&self, request: AssumeRoleRequest) -> Result<AssumedRole, StsError> {
        sts::assume_role(&request)
    }

    fn mfa_code(&self, profile: &str, serial: &str) -> Result<String, PromptError> {
        prompt::mfa_code(profile, serial)
    }

    fn now(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        }
    }
}

fn file_text(file: &File) -> FileText<'_> {
    FileText {
        path: &file.path,
        text: &file.text,
    }
}

/// A profile's properties, their locations naming the files as the host did.
fn properties_of(files: &Files, profile: Profile) -> Vec<Property> {
    profile
        .into_iter()
        .map(|(name, v)| Property {
            name,
            value: v.value,
            location: Location {
                file: match v.file {
                    FileKind::Config => files.config.path.clone(),
                    FileKind::Credentials => files.credentials.path.clone(),
                },
                line: Some(v.line),
            },
            kind: v.file,
        })
        .collect()
}

impl profiles::Guest for Component {
    fn report(files: Files, profile: Option<String>) -> Result<ProfilesReport, Error> {
        report::report(
            file_text(&files.config),
            file_text(&files.credentials),
            profile.as_deref(),
            files.platform,
        )
    }

    fn properties(files: Files, profile: String) -> Result<Option<Vec<Property>>, Error> {
        let (config, credentials) = (file_text(&files.config), file_text(&files.credentials));
        let mut set = resolve::parse(&config, &credentials, Some(&profile))?;
        Ok(set
            .profiles
            .remove(&profile)
            .map(|properties| properties_of(&files, properties)))
    }

    fn set_property(files: Files, profile: String, key: String, value: String) -> Result<File, Error> {
        let kind = edit::file_for_key(&key);
        let file = match kind {
            FileKind::Config => files.config,
            FileKind::Credentials => files.credentials,
        };
        match edit::set_property(&file.text, kind, &profile, &key, &value) {
            Ok(text) => Ok(File {
                path: file.path,
                text,
            }),
            Err(e) => Err(e.into_error(profile, file.path)),
        }
    }

    fn resolve(files: Files, profile: String, environment: Vec<(String, String)>) -> Result<Source, Error> {
        let (config, credentials) = (file_text(&files.config), file_text(&files.credentials));
        resolve::resolve(
            config,
            credentials,
            &profile,
            &role::Environment::new(&environment),
        )
    }
}

impl wit::provider::Guest for Component {
    type CredentialProvider = CredentialProvider;

    fn parse_command(command_line: String, allow_shell: bool, platform: Platform) -> Result<Command, Error> {
        crate::parse_command(&command_line, allow_shell, platform)
    }

    fn validate_output(stdout: Vec<u8>, account_id: Option<String>) -> Result<Credentials, Error> {
        crate::validate_output(&stdout, account_id.as_deref(), ComponentHost.now())
    }
}

/// The exported resource: the policy's `Provider` behind the WIT interface.
pub struct CredentialProvider(provider::Provider);

impl wit::provider::GuestCredentialProvider for CredentialProvider {
    fn new(settings: ProcessSettings, options: Options) -> Self {
        CredentialProvider(provider::Provider::new(settings, options))
    }

    fn for_role(
        settings: RoleSettings,
        source: Credentials,
        source_profile: String,
        options: Options,
    ) -> wit::provider::CredentialProvider {
        wit::provider::CredentialProvider::new(CredentialProvider(provider::Provider::for_role(
            settings,
            source,
            source_profile,
            options,
        )))
    }

    fn cache_key(&self) -> Vec<u8> {
        self.0.cache_key()
    }

    fn retrieve(&self) -> Result<Credentials, Error> {
        self.0.retrieve(&ComponentHost)
    }

    fn serve_until(&self) -> Option<i64> {
        self.0.serve_until()
    }

    fn invalidate(&self) {
        self.0.invalidate()
    }

    fn restore(&self, entry: Vec<u8>) -> Result<bool, Error> {
        self.0.restore(&entry, &ComponentHost)
    }

    fn cache_entry(&self) -> Option<Vec<u8>> {
        self.0.cache_entry()
    }
}
