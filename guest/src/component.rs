//! The WebAssembly component: converts between the WIT types and the plain Rust policy.
//! No policy lives here, only conversions.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::profile::{FileKind, Profile};
use crate::provider::{self, Host as _};
use crate::{
    Command, Credentials, Error, ExitStatus, PluginError, StsError, SyntaxRule, edit, report, resolve, role,
};
use resolve::{Helper, OtherKind};

wit_bindgen::generate!({
    path: "../wit",
    world: "credbox",
});

use credbox::provider::types as wit;
use credbox::provider::{plugins, prompt, spawn, sts};
use exports::credbox::provider::profiles as wit_profiles;
use exports::credbox::provider::provider as wit_provider;
use wit::ProcessSettings;

struct Component;
export!(Component);

/// The host as the policy sees it: the spawn and plugins imports and the (WASI) wall clock.
struct ComponentHost;

impl provider::Host for ComponentHost {
    fn spawn(&self, request: provider::SpawnRequest) -> Result<provider::SpawnOutput, provider::SpawnError> {
        let request = spawn::Request {
            command: command_to_wit(request.command),
            timeout_ms: request.timeout_ms,
            label: request.label,
        };
        match spawn::run(&request) {
            Ok(output) => Ok(provider::SpawnOutput {
                status: exit_from_wit(output.status),
                stdout: output.stdout,
                stderr_tail: output.stderr_tail,
            }),
            Err(spawn::SpawnError::Denied(why)) => Err(provider::SpawnError::Denied(why)),
            Err(spawn::SpawnError::Failed(why)) => Err(provider::SpawnError::Failed(why)),
            Err(spawn::SpawnError::TimedOut(ms)) => Err(provider::SpawnError::TimedOut(ms)),
            Err(spawn::SpawnError::OutputTooLarge(n)) => Err(provider::SpawnError::OutputTooLarge(n)),
        }
    }

    fn plugin_retrieve(&self, path: &str) -> Result<Credentials, provider::PluginCallError> {
        plugins::retrieve(path)
            .map(credentials_from_wit)
            .map_err(call_error_from_wit)
    }

    fn plugin_is_expired(
        &self,
        path: &str,
        credentials: &Credentials,
    ) -> Result<bool, provider::PluginCallError> {
        plugins::is_expired(path, &credentials_to_wit(credentials.clone())).map_err(call_error_from_wit)
    }

    fn assume_role(&self, request: provider::AssumeRoleRequest) -> Result<(Credentials, String), StsError> {
        let request = sts::AssumeRoleRequest {
            source: credentials_to_wit(request.source),
            role_arn: request.role_arn,
            session_name: request.session_name,
            external_id: request.external_id,
            duration_seconds: request.duration_seconds,
            mfa: request.mfa,
            source_identity: request.source_identity,
            endpoint: endpoint_to_wit(request.endpoint),
        };
        sts::assume_role(&request)
            .map(|assumed| {
                (
                    credentials_from_wit(assumed.credentials),
                    assumed.assumed_role_arn,
                )
            })
            .map_err(sts_error_from_wit)
    }

    fn mfa_code(&self, profile: &str, serial: &str) -> Result<String, provider::PromptError> {
        prompt::mfa_code(profile, serial).map_err(|e| match e {
            prompt::PromptError::Unavailable(why) => provider::PromptError::Unavailable(why),
            prompt::PromptError::Cancelled => provider::PromptError::Cancelled,
            prompt::PromptError::NotACode => provider::PromptError::NotACode,
        })
    }

    fn now(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        }
    }
}

fn endpoint_to_wit(e: role::Endpoint) -> wit::StsEndpoint {
    wit::StsEndpoint {
        url: e.url,
        region: e.region,
        ca_bundle: e.ca_bundle,
    }
}

fn endpoint_from_wit(e: wit::StsEndpoint) -> role::Endpoint {
    role::Endpoint {
        url: e.url,
        region: e.region,
        ca_bundle: e.ca_bundle,
    }
}

fn sts_error_from_wit(e: wit::StsError) -> StsError {
    match e {
        wit::StsError::Denied(s) => StsError::Denied(s),
        wit::StsError::Unreachable(s) => StsError::Unreachable(s),
        wit::StsError::Rejected(r) => StsError::Rejected {
            status: r.status,
            code: r.code,
            message: r.message,
            request_id: r.request_id,
        },
        wit::StsError::Malformed(s) => StsError::Malformed(s),
    }
}

fn sts_error_to_wit(e: StsError) -> wit::StsError {
    match e {
        StsError::Denied(s) => wit::StsError::Denied(s),
        StsError::Unreachable(s) => wit::StsError::Unreachable(s),
        StsError::Rejected {
            status,
            code,
            message,
            request_id,
        } => wit::StsError::Rejected(wit::StsRejection {
            status,
            code,
            message,
            request_id,
        }),
        StsError::Malformed(s) => wit::StsError::Malformed(s),
    }
}

fn role_to_wit(r: role::RoleSettings) -> wit::RoleSettings {
    wit::RoleSettings {
        profile: r.profile,
        role_arn: r.role_arn,
        session_name: r.session_name,
        external_id: r.external_id,
        duration_seconds: r.duration_seconds,
        mfa_serial: r.mfa_serial,
        mfa_process: r.mfa_process,
        source_identity: r.source_identity,
        endpoint: endpoint_to_wit(r.endpoint),
        origin: place_to_wit(r.origin),
    }
}

fn role_from_wit(r: wit::RoleSettings) -> role::RoleSettings {
    role::RoleSettings {
        profile: r.profile,
        role_arn: r.role_arn,
        session_name: r.session_name,
        external_id: r.external_id,
        duration_seconds: r.duration_seconds,
        mfa_serial: r.mfa_serial,
        mfa_process: r.mfa_process,
        source_identity: r.source_identity,
        endpoint: endpoint_from_wit(r.endpoint),
        origin: (r.origin.file, r.origin.line.unwrap_or(0)),
    }
}

fn chain_to_wit(chain: role::Chain) -> wit_profiles::RoleChain {
    wit_profiles::RoleChain {
        base_profile: chain.base_profile,
        base: match chain.base {
            role::Base::StaticKeys(c) => wit_profiles::BaseSource::StaticKeys(credentials_to_wit(c)),
            role::Base::Process(s) => wit_profiles::BaseSource::Process(settings_to_wit(s)),
            role::Base::Environment => wit_profiles::BaseSource::Environment,
        },
        roles: chain.roles.into_iter().map(role_to_wit).collect(),
    }
}

fn options_from_wit(options: wit_provider::Options) -> provider::Options {
    provider::Options {
        min_ttl_seconds: options.min_ttl_seconds,
        timeout_ms: options.timeout_ms,
        allow_shell: options.allow_shell,
        platform: platform_from_wit(options.platform),
    }
}

fn platform_from_wit(platform: wit::Platform) -> crate::Platform {
    match platform {
        wit::Platform::Unix => crate::Platform::Unix,
        wit::Platform::Windows => crate::Platform::Windows,
    }
}

fn command_to_wit(command: Command) -> spawn::Command {
    match command {
        Command::Argv(argv) => spawn::Command::Argv(argv),
        Command::Shell(text) => spawn::Command::Shell(text),
    }
}

fn call_error_from_wit(e: plugins::CallError) -> provider::PluginCallError {
    match e {
        plugins::CallError::Denied(why) => provider::PluginCallError::Denied(why),
        plugins::CallError::Failed(why) => provider::PluginCallError::Failed(why),
        plugins::CallError::TooLarge(n) => provider::PluginCallError::TooLarge(n),
        plugins::CallError::Plugin(e) => provider::PluginCallError::Plugin(plugin_error_from_wit(e)),
    }
}

fn plugin_error_from_wit(e: wit::PluginError) -> PluginError {
    match e {
        wit::PluginError::NotLoadable(s) => PluginError::NotLoadable(s),
        wit::PluginError::MissingExport(s) => PluginError::MissingExport(s),
        wit::PluginError::WrongType(s) => PluginError::WrongType(s),
        wit::PluginError::RetrieveFailed(s) => PluginError::RetrieveFailed(s),
        wit::PluginError::Trapped(s) => PluginError::Trapped(s),
        wit::PluginError::OutOfFuel(n) => PluginError::OutOfFuel(n),
        wit::PluginError::OutOfMemory(n) => PluginError::OutOfMemory(n),
    }
}

fn plugin_error_to_wit(e: PluginError) -> wit::PluginError {
    match e {
        PluginError::NotLoadable(s) => wit::PluginError::NotLoadable(s),
        PluginError::MissingExport(s) => wit::PluginError::MissingExport(s),
        PluginError::WrongType(s) => wit::PluginError::WrongType(s),
        PluginError::RetrieveFailed(s) => wit::PluginError::RetrieveFailed(s),
        PluginError::Trapped(s) => wit::PluginError::Trapped(s),
        PluginError::OutOfFuel(n) => wit::PluginError::OutOfFuel(n),
        PluginError::OutOfMemory(n) => wit::PluginError::OutOfMemory(n),
    }
}

fn exit_from_wit(status: wit::ExitStatus) -> ExitStatus {
    match status {
        wit::ExitStatus::Code(c) => ExitStatus::Code(c),
        wit::ExitStatus::Signal(s) => ExitStatus::Signal(s),
    }
}

fn credentials_from_wit(c: wit::Credentials) -> Credentials {
    Credentials {
        access_key_id: c.access_key_id,
        secret_access_key: c.secret_access_key,
        session_token: c.session_token,
        expiration: c.expiration,
        account_id: c.account_id,
    }
}

fn credentials_to_wit(c: Credentials) -> wit::Credentials {
    wit::Credentials {
        access_key_id: c.access_key_id,
        secret_access_key: c.secret_access_key,
        session_token: c.session_token,
        expiration: c.expiration,
        account_id: c.account_id,
    }
}

fn error_to_wit(error: Error) -> wit::Error {
    match error {
        Error::Config {
            profile,
            file,
            line,
            message,
        } => wit::Error::Config(wit::ConfigError {
            profile,
            location: file.map(|file| wit::Location { file, line }),
            message,
        }),
        Error::CommandSyntax { rule, word } => wit::Error::CommandSyntax(wit::SyntaxError {
            rule: match rule {
                SyntaxRule::Empty => wit::SyntaxRule::Empty,
                SyntaxRule::UnbalancedQuote => wit::SyntaxRule::UnbalancedQuote,
                SyntaxRule::EnvironmentVariable => wit::SyntaxRule::EnvironmentVariable,
                SyntaxRule::Tilde => wit::SyntaxRule::Tilde,
                SyntaxRule::ShellOperator => wit::SyntaxRule::ShellOperator,
                SyntaxRule::RelativeProgram => wit::SyntaxRule::RelativeProgram,
            },
            word,
        }),
        Error::SpawnDenied(why) => wit::Error::SpawnDenied(why),
        Error::SpawnFailed(why) => wit::Error::SpawnFailed(why),
        Error::TimedOut(ms) => wit::Error::TimedOut(ms),
        Error::NonzeroExit { status, stderr_tail } => wit::Error::NonzeroExit(wit::HelperFailure {
            status: match status {
                ExitStatus::Code(c) => wit::ExitStatus::Code(c),
                ExitStatus::Signal(s) => wit::ExitStatus::Signal(s),
            },
            stderr_tail,
        }),
        Error::OutputTooLarge(n) => wit::Error::OutputTooLarge(n),
        Error::MalformedOutput { reason, line, column } => {
            wit::Error::MalformedOutput(wit::MalformedOutput { reason, line, column })
        }
        Error::UnsupportedVersion(v) => wit::Error::UnsupportedVersion(v),
        Error::MissingField(f) => wit::Error::MissingField(f),
        Error::InvalidField { field, reason } => {
            wit::Error::InvalidField(wit::InvalidField { field, reason })
        }
        Error::Expired(at) => wit::Error::Expired(at),
        Error::Plugin(e) => wit::Error::Plugin(plugin_error_to_wit(e)),
        Error::Sts(f) => wit::Error::Sts(wit::StsFailure {
            role_arn: f.role_arn,
            source_key: f.source_key,
            source_profile: f.source_profile,
            error: sts_error_to_wit(f.error),
        }),
        Error::Mfa(why) => wit::Error::Mfa(why),
    }
}

fn settings_from_wit(s: ProcessSettings) -> resolve::ProcessSettings {
    resolve::ProcessSettings {
        profile: s.profile,
        helper: match s.helper {
            wit::Helper::CommandLine(line) => Helper::CommandLine(line),
            wit::Helper::Plugin(path) => Helper::Plugin(path),
        },
        account_id: s.account_id,
        origin: s.origin.map(|o| (o.file, o.line.unwrap_or(0))),
    }
}

fn settings_to_wit(s: resolve::ProcessSettings) -> ProcessSettings {
    ProcessSettings {
        profile: s.profile,
        helper: helper_to_wit(s.helper),
        account_id: s.account_id,
        origin: s.origin.map(|(file, line)| wit::Location {
            file,
            line: Some(line),
        }),
    }
}

fn file_text(file: &wit_profiles::File) -> resolve::FileText<'_> {
    resolve::FileText {
        path: &file.path,
        text: &file.text,
    }
}

fn place_to_wit((file, line): report::Place) -> wit::Location {
    wit::Location {
        file,
        line: Some(line),
    }
}

fn helper_to_wit(helper: Helper) -> wit::Helper {
    match helper {
        Helper::CommandLine(line) => wit::Helper::CommandLine(line),
        Helper::Plugin(path) => wit::Helper::Plugin(path),
    }
}

fn profile_report_to_wit(report: report::ProfileReport) -> wit_profiles::ProfileReport {
    wit_profiles::ProfileReport {
        profile: report.profile,
        static_keys: report.static_keys.map(place_to_wit),
        helper: report.helper.map(|h| wit_profiles::HelperReport {
            location: place_to_wit(h.place),
            helper: h.helper.map(helper_to_wit).map_err(error_to_wit),
            shadowed: h.shadowed,
            command: h.command.map(|c| c.map(command_to_wit).map_err(error_to_wit)),
            needs_shell: h.needs_shell,
        }),
        role: report.role.map(|r| wit_profiles::RoleReport {
            location: place_to_wit(r.place),
            chain: r.chain.map_err(error_to_wit),
            asks_for_mfa: r.asks_for_mfa,
        }),
        other: report.other.map(|o| wit_profiles::OtherSource {
            kind: match o.kind {
                OtherKind::Sso => wit_profiles::OtherKind::Sso,
                OtherKind::WebIdentity => wit_profiles::OtherKind::WebIdentity,
                OtherKind::ConsoleLogin => wit_profiles::OtherKind::ConsoleLogin,
            },
            setting: o.setting,
            location: place_to_wit(o.place),
        }),
    }
}

fn file_kind_to_wit(kind: FileKind) -> wit_profiles::FileKind {
    match kind {
        FileKind::Config => wit_profiles::FileKind::Config,
        FileKind::Credentials => wit_profiles::FileKind::Credentials,
    }
}

/// A profile's properties in their WIT form, locations naming the files as the host did.
fn wit_properties(files: &wit_profiles::Files, properties: Profile) -> Vec<wit_profiles::Property> {
    properties
        .into_iter()
        .map(|(name, v)| wit_profiles::Property {
            name,
            value: v.value,
            location: wit::Location {
                file: match v.file {
                    FileKind::Config => files.config.path.clone(),
                    FileKind::Credentials => files.credentials.path.clone(),
                },
                line: Some(v.line),
            },
            kind: file_kind_to_wit(v.file),
        })
        .collect()
}

impl wit_profiles::Guest for Component {
    fn report(
        files: wit_profiles::Files,
        profile: Option<String>,
    ) -> Result<wit_profiles::ProfilesReport, wit::Error> {
        let report = report::report(
            file_text(&files.config),
            file_text(&files.credentials),
            profile.as_deref(),
            platform_from_wit(files.platform),
        )
        .map_err(error_to_wit)?;
        Ok(wit_profiles::ProfilesReport {
            profiles: report.profiles.into_iter().map(profile_report_to_wit).collect(),
            secrets: report.secrets.into_iter().map(place_to_wit).collect(),
        })
    }

    fn properties(
        files: wit_profiles::Files,
        profile: String,
    ) -> Result<Option<Vec<wit_profiles::Property>>, wit::Error> {
        let config = file_text(&files.config);
        let credentials = file_text(&files.credentials);
        let mut set = resolve::parse(&config, &credentials, Some(&profile)).map_err(error_to_wit)?;
        Ok(set
            .profiles
            .remove(&profile)
            .map(|properties| wit_properties(&files, properties)))
    }

    fn set_property(
        files: wit_profiles::Files,
        profile: String,
        key: String,
        value: String,
    ) -> Result<wit_profiles::File, wit::Error> {
        let kind = edit::file_for_key(&key);
        let file = match kind {
            FileKind::Config => files.config,
            FileKind::Credentials => files.credentials,
        };
        match edit::set_property(&file.text, kind, &profile, &key, &value) {
            Ok(text) => Ok(wit_profiles::File {
                path: file.path,
                text,
            }),
            Err(e) => {
                let (line, message) = match e {
                    edit::EditError::Parse(line, message) => (Some(line), message),
                    edit::EditError::Invalid(message) => (None, message),
                };
                Err(wit::Error::Config(wit::ConfigError {
                    profile: Some(profile),
                    location: Some(wit::Location {
                        file: file.path,
                        line,
                    }),
                    message,
                }))
            }
        }
    }

    fn resolve(
        files: wit_profiles::Files,
        profile: String,
        environment: Vec<(String, String)>,
    ) -> Result<wit_profiles::Source, wit::Error> {
        let (config, credentials) = (file_text(&files.config), file_text(&files.credentials));
        let env = role::Environment::new(&environment);
        match resolve::resolve(config, credentials, &profile, &env).map_err(error_to_wit)? {
            resolve::Source::StaticKeys(c) => Ok(wit_profiles::Source::StaticKeys(credentials_to_wit(c))),
            resolve::Source::Process(s) => Ok(wit_profiles::Source::Process(settings_to_wit(s))),
            resolve::Source::Role(chain) => Ok(wit_profiles::Source::Role(chain_to_wit(chain))),
        }
    }
}

impl wit_provider::Guest for Component {
    type CredentialProvider = CredentialProvider;

    fn parse_command(
        command_line: String,
        allow_shell: bool,
        platform: wit::Platform,
    ) -> Result<spawn::Command, wit::Error> {
        crate::parse_command(&command_line, allow_shell, platform_from_wit(platform))
            .map(command_to_wit)
            .map_err(error_to_wit)
    }

    fn validate_output(stdout: Vec<u8>, account_id: Option<String>) -> Result<wit::Credentials, wit::Error> {
        crate::validate_output(&stdout, account_id.as_deref(), ComponentHost.now())
            .map(credentials_to_wit)
            .map_err(error_to_wit)
    }
}

/// The exported resource: the policy's `Provider` behind the WIT interface.
pub struct CredentialProvider(provider::Provider);

impl wit_provider::GuestCredentialProvider for CredentialProvider {
    fn new(settings: ProcessSettings, options: wit_provider::Options) -> Self {
        CredentialProvider(provider::Provider::new(
            settings_from_wit(settings),
            options_from_wit(options),
        ))
    }

    fn for_role(
        settings: wit::RoleSettings,
        source: wit::Credentials,
        source_profile: String,
        options: wit_provider::Options,
    ) -> wit_provider::CredentialProvider {
        wit_provider::CredentialProvider::new(CredentialProvider(provider::Provider::for_role(
            role_from_wit(settings),
            credentials_from_wit(source),
            source_profile,
            options_from_wit(options),
        )))
    }

    fn cache_key(&self) -> Vec<u8> {
        self.0.cache_key()
    }

    fn retrieve(&self) -> Result<wit::Credentials, wit::Error> {
        self.0
            .retrieve(&ComponentHost)
            .map(credentials_to_wit)
            .map_err(error_to_wit)
    }

    fn serve_until(&self) -> Option<i64> {
        self.0.serve_until()
    }

    fn invalidate(&self) {
        self.0.invalidate()
    }

    fn restore(&self, entry: Vec<u8>) -> Result<bool, wit::Error> {
        self.0.restore(&entry, &ComponentHost).map_err(error_to_wit)
    }

    fn cache_entry(&self) -> Option<Vec<u8>> {
        self.0.cache_entry()
    }
}
