//! A hostile policy component: it exports the whole credbox world, but its provider ignores the
//! rules. The command's first word says which attack `retrieve` makes (tests/hostile_guest.rs):
//!
//! * `loop`: never returns (the instruction budget must stop it);
//! * `grow`: allocates without end (the memory cap must stop it);
//! * `spawn-outside`: runs /usr/bin/id, whatever the user configured (the allow-list must deny it);
//! * `shell`: runs a shell command the user never allowed (shell mode must deny it);
//! * `long-timeout PROGRAM`: runs PROGRAM asking for a timeout of u64::MAX ms (the host's ceiling
//!   must clamp it);
//! * `spawn-loop PROGRAM`: runs PROGRAM again and again within one call (the host's per-call
//!   ceiling on commands must stop it);
//! * `plugin-outside PATH`: calls the plugin at PATH, whatever the user configured (the allow-list
//!   must deny it);
//! * `plugin-relative`: calls a plugin by a relative path (the host must refuse it);
//! * `plugin-loop PATH`: calls the plugin at PATH again and again within one call (the per-call
//!   ceiling, shared with commands, must stop it);
//! * `sts-elsewhere URL`: sends the source credentials in an STS call to URL, an endpoint nobody
//!   configured (the host must refuse before connecting);
//! * `sts-loop URL`: calls STS again and again within one call (the per-call ceiling must stop it);
//! * `prompt-loop`: asks the person for MFA codes again and again (the same ceiling must stop it);
//!
//! and two attacks made through a role, whose profile's name says which (`resolve` answers every
//! `prompt-*` profile with a role over static keys, whose `mfa_serial` is `arn:aws:iam::123456789012:mfa/me`):
//!
//! * `prompt-relay`: asks for that device's code and reports whatever the host handed it (the
//!   host must hand on six digits and nothing else: a password typed by mistake stays with it);
//! * `prompt-unwritten`: asks the person about a device no profile file names (the host must
//!   refuse without asking);
//! * `spawn-in-parse PROGRAM`: runs PROGRAM from `parse-command`, outside any fetch (the host must
//!   refuse: its recursion guard has no profile to pass down there);
//! * `wasi-probe`: reads everything the granted WASI interfaces can tell it (environment,
//!   arguments, working directory, stdin, terminals) and reports it in its error, which the host
//!   must have made empty.
//!
//! Every other export answers as little as it can.
wit_bindgen::generate!({ path: "../../wit", world: "credbox" });

use credbox::provider::types::{
    Credentials, Error, Helper, Location, Platform, ProcessSettings, RoleSettings, StsEndpoint, StsError,
};
use credbox::provider::{plugins, prompt, spawn, sts};
use exports::credbox::provider::profiles::{
    self, BaseSource, File, Files, ProfilesReport, Property, RoleChain, Source,
};
use exports::credbox::provider::provider::{self, GuestCredentialProvider, Options};

struct Hostile;

fn refuse() -> Error {
    Error::SpawnFailed("the hostile guest does not do this".into())
}

/// Split the host's quoted command line back into words (it quotes every word in '...').
fn words(command_line: &str) -> Vec<String> {
    command_line
        .split_whitespace()
        .map(|w| w.trim_matches('\'').to_string())
        .collect()
}

impl profiles::Guest for Hostile {
    fn report(_: Files, _: Option<String>) -> Result<ProfilesReport, Error> {
        Err(refuse())
    }
    fn properties(_: Files, _: String) -> Result<Option<Vec<Property>>, Error> {
        Err(refuse())
    }
    fn set_property(_: Files, _: String, _: String, _: String) -> Result<File, Error> {
        Err(refuse())
    }
    fn resolve(files: Files, profile: String, _: Vec<(String, String)>) -> Result<Source, Error> {
        if !profile.starts_with("prompt-") {
            return Err(refuse());
        }
        // A role over static keys, as a profile file could have it.
        Ok(Source::Role(RoleChain {
            base_profile: "base".into(),
            base: BaseSource::StaticKeys(Credentials {
                access_key_id: "AKIAEXAMPLEBASE00001".into(),
                secret_access_key: "base-secret".into(),
                session_token: None,
                expiration: None,
                account_id: None,
            }),
            roles: vec![RoleSettings {
                profile,
                role_arn: "arn:aws:iam::210987654321:role/Deploy".into(),
                session_name: None,
                external_id: None,
                duration_seconds: None,
                mfa_serial: Some(WRITTEN_DEVICE.into()),
                mfa_process: None,
                source_identity: None,
                endpoint: StsEndpoint {
                    url: "https://sts.amazonaws.com".into(),
                    region: "us-east-1".into(),
                    ca_bundle: None,
                },
                origin: Location {
                    file: files.config.path,
                    line: Some(1),
                },
            }],
        }))
    }
}

impl provider::Guest for Hostile {
    type CredentialProvider = Attack;

    fn parse_command(command_line: String, _allow_shell: bool, _: Platform) -> Result<spawn::Command, Error> {
        let argv = words(&command_line);
        if argv.first().map(String::as_str) == Some("spawn-in-parse") {
            run(spawn::Command::Argv(argv[1..].to_vec()), 1000)?;
        }
        Ok(spawn::Command::Argv(argv))
    }
    fn validate_output(_: Vec<u8>, _: Option<String>) -> Result<Credentials, Error> {
        Err(refuse())
    }
}

struct Attack(Vec<String>);

/// The MFA device the `prompt-*` roles name (the test's profile file names it too).
const WRITTEN_DEVICE: &str = "arn:aws:iam::123456789012:mfa/me";

fn run(command: spawn::Command, timeout_ms: u64) -> Result<Credentials, Error> {
    let request = spawn::Request {
        command,
        timeout_ms,
        label: "hostile".into(),
    };
    match spawn::run(&request) {
        Ok(_) => Err(Error::SpawnFailed("the host ran it".into())),
        Err(spawn::SpawnError::Denied(why)) => Err(Error::SpawnDenied(why)),
        Err(spawn::SpawnError::Failed(why)) => Err(Error::SpawnFailed(why)),
        Err(spawn::SpawnError::TimedOut(ms)) => Err(Error::TimedOut(ms)),
        Err(spawn::SpawnError::OutputTooLarge(n)) => Err(Error::OutputTooLarge(n)),
    }
}

fn call_plugin(path: &str) -> Result<Credentials, Error> {
    match plugins::retrieve(path) {
        Ok(_) => Err(Error::SpawnFailed("the host called the plugin".into())),
        Err(plugins::CallError::Denied(why)) => Err(Error::SpawnDenied(why)),
        Err(_) => Err(refuse()),
    }
}

/// What the granted WASI interfaces reveal, on one line.
fn probe_wasi() -> String {
    use wasi::cli::{environment, stdin, stdout, terminal_stderr, terminal_stdin, terminal_stdout};
    use wasi::io::streams::StreamError;
    let stdin = match stdin::get_stdin().blocking_read(1) {
        Ok(bytes) => format!("{} byte(s)", bytes.len()),
        Err(StreamError::Closed) => "closed".to_string(),
        Err(StreamError::LastOperationFailed(e)) => format!("failed: {}", e.to_debug_string()),
    };
    let stdout = match stdout::get_stdout().check_write() {
        Ok(n) => format!("writable({n})"),
        Err(_) => "closed".to_string(),
    };
    let terminals = [
        terminal_stdin::get_terminal_stdin().is_some(),
        terminal_stdout::get_terminal_stdout().is_some(),
        terminal_stderr::get_terminal_stderr().is_some(),
    ];
    let clock_runs = wasi::clocks::wall_clock::now().seconds > 0 && wasi::clocks::monotonic_clock::now() > 0;
    format!(
        "env={} args={} cwd={:?} stdin={stdin} stdout={stdout} terminals={terminals:?} clocks={clock_runs}",
        environment::get_environment().len(),
        environment::get_arguments().len(),
        environment::initial_cwd(),
    )
}

/// An AssumeRole call to `url`, signed with made-up source credentials.
fn assume_role_at(url: &str) -> Result<sts::AssumedRole, StsError> {
    sts::assume_role(&sts::AssumeRoleRequest {
        source: Credentials {
            access_key_id: "AKIASTOLEN".into(),
            secret_access_key: "stolen-secret".into(),
            session_token: None,
            expiration: None,
            account_id: None,
        },
        role_arn: "arn:aws:iam::1:role/R".into(),
        session_name: None,
        external_id: None,
        duration_seconds: None,
        mfa: None,
        source_identity: None,
        endpoint: StsEndpoint {
            url: url.into(),
            region: "us-east-1".into(),
            ca_bundle: None,
        },
    })
}

fn sts_refused(error: StsError) -> Error {
    match error {
        StsError::Denied(why) => Error::SpawnDenied(why),
        StsError::Unreachable(why) => Error::SpawnFailed(format!("unreachable: {why}")),
        _ => Error::SpawnFailed("STS answered".into()),
    }
}

impl GuestCredentialProvider for Attack {
    fn new(settings: ProcessSettings, _: Options) -> Self {
        match settings.helper {
            Helper::CommandLine(line) => Attack(words(&line)),
            Helper::Plugin(_) => Attack(Vec::new()),
        }
    }

    fn for_role(
        settings: RoleSettings,
        _: Credentials,
        _: String,
        _: Options,
    ) -> provider::CredentialProvider {
        provider::CredentialProvider::new(Attack(vec![settings.profile]))
    }

    fn cache_key(&self) -> Vec<u8> {
        Vec::new()
    }

    fn retrieve(&self) -> Result<Credentials, Error> {
        match self.0.first().map(String::as_str) {
            Some("loop") => {
                let mut n = 0u64;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            Some("grow") => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            Some("spawn-outside") => run(spawn::Command::Argv(vec!["/usr/bin/id".into()]), 1000),
            Some("shell") => run(spawn::Command::Shell("cat ~/.aws/credentials".into()), 1000),
            Some("long-timeout") => run(spawn::Command::Argv(self.0[1..].to_vec()), u64::MAX),
            Some("plugin-outside") => call_plugin(&self.0[1]),
            Some("plugin-relative") => call_plugin("plugin.wasm"),
            Some("plugin-loop") => loop {
                if let Err(plugins::CallError::Denied(why)) = plugins::retrieve(&self.0[1]) {
                    return Err(Error::SpawnDenied(why));
                }
            },
            Some("wasi-probe") => Err(Error::SpawnFailed(probe_wasi())),
            Some("sts-elsewhere") => match assume_role_at(&self.0[1]) {
                Ok(_) => Err(Error::SpawnFailed("the host sent it".into())),
                Err(e) => Err(sts_refused(e)),
            },
            Some("sts-loop") => loop {
                if let Err(StsError::Denied(why)) = assume_role_at(&self.0[1])
                    && why.contains("in one call")
                {
                    return Err(Error::SpawnDenied(why));
                }
            },
            Some(profile @ "prompt-relay") => match prompt::mfa_code(profile, WRITTEN_DEVICE) {
                Ok(code) => Err(Error::SpawnFailed(format!("the host handed the guest `{code}`"))),
                Err(prompt::PromptError::NotACode) => Err(Error::Mfa("host answer: not-a-code".into())),
                Err(other) => Err(Error::Mfa(format!("host answer: {other:?}"))),
            },
            Some(profile @ "prompt-unwritten") => {
                match prompt::mfa_code(profile, "arn:aws:iam::666666666666:mfa/attacker") {
                    Ok(_) => Err(Error::SpawnFailed("the person was asked and answered".into())),
                    Err(prompt::PromptError::Unavailable(why)) => {
                        Err(Error::Mfa(format!("host answer: unavailable: {why}")))
                    }
                    Err(other) => Err(Error::Mfa(format!(
                        "host answer: {other:?}: the person was asked"
                    ))),
                }
            }
            Some("prompt-loop") => loop {
                if let Err(prompt::PromptError::Unavailable(why)) = prompt::mfa_code("p", "arn:mfa")
                    && why.contains("in one call")
                {
                    return Err(Error::SpawnDenied(why));
                }
            },
            Some("spawn-loop") => loop {
                let request = spawn::Request {
                    command: spawn::Command::Argv(self.0[1..].to_vec()),
                    timeout_ms: 1000,
                    label: "hostile".into(),
                };
                if let Err(spawn::SpawnError::Denied(why)) = spawn::run(&request) {
                    return Err(Error::SpawnDenied(why));
                }
            },
            _ => Err(refuse()),
        }
    }

    fn serve_until(&self) -> Option<i64> {
        None
    }
    fn invalidate(&self) {}
    fn restore(&self, _: Vec<u8>) -> Result<bool, Error> {
        Ok(false)
    }
    fn cache_entry(&self) -> Option<Vec<u8>> {
        None
    }
}

export!(Hostile);
