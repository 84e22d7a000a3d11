//! `credbox exec`: run a command with a profile's credentials, as variables or (with `--server`)
//! through a private credentials endpoint that outlives every request the command makes.

use std::ffi::OsString;
use std::process::ExitCode;

use credbox::{Credentials, Error, ErrorKind, Runtime, files};

/// The variable that marks a command (or shell) `exec` started, naming its profile: a nested
/// `exec` is refused (as aws-vault refuses under `AWS_VAULT`), and prompts can show it.
pub const MARKER: &str = "CREDBOX_PROFILE";

/// A profile's settings that say a profile supplies credentials of its own (which an SDK would
/// use before credbox's endpoint).
const CREDENTIAL_KEYS: [&str; 9] = [
    "aws_access_key_id",
    "credential_process",
    "credential_plugin",
    "role_arn",
    "sso_session",
    "sso_start_url",
    "web_identity_token_file",
    "credential_source",
    "login_session",
];

/// The variables an SDK's credential chain reads that `exec` removes from the command's
/// environment (docs/ENDPOINT.md lists why each): the keys it replaces, and every other source
/// that a chain would prefer to the endpoint or combine with it. botocore and the JS SDK prefer
/// `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` to the full URI and read a token file before the
/// token variable, so leaving either would send credbox's token elsewhere or bring another token
/// to credbox; web identity variables come before the container provider in every chain.
const CREDENTIAL_VARS: [&str; 13] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_ACCOUNT_ID",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
];

/// `exec` inside a command or shell `exec` started is almost always a mistake (the inner profile's
/// keys would replace the outer's in a shell that says it is the outer's).
pub fn refuse_nesting() -> Result<(), Error> {
    match std::env::var(MARKER) {
        Ok(outer) if !outer.is_empty() => Err(Error::new(
            ErrorKind::Usage,
            format!(
                "this shell already runs with profile {outer}'s credentials ({MARKER} is set): exit it first, or unset {MARKER} to nest on purpose"
            ),
        )),
        _ => Ok(()),
    }
}

/// The command `exec` runs, and the environment it gets besides the credentials.
pub struct Child {
    command: Vec<OsString>,
    profile: String,
    /// The profile's `region`, for AWS_REGION and AWS_DEFAULT_REGION.
    region: Option<String>,
    server: bool,
}

impl Child {
    /// `command` (none: the user's `$SHELL`, as aws-vault starts it) for `profile`, with the
    /// region the profile names. With `server`, warn when the command's SDK would find
    /// credentials in the profile files before the endpoint.
    pub fn new(
        runtime: &Runtime,
        locations: &files::Locations,
        profile: &str,
        command: Vec<OsString>,
        server: bool,
    ) -> Result<Child, Error> {
        let properties = credbox::configure::properties(runtime, locations, profile)?;
        let region = properties
            .iter()
            .find(|p| p.name == "region")
            .map(|p| p.value.trim().to_string())
            .filter(|r| !r.is_empty());
        if server {
            warn_if_shadowed(runtime, locations)?;
        }
        let command = if command.is_empty() {
            let shell = user_shell();
            eprintln!(
                "credbox: starting {} with profile {profile}'s credentials; exit it to leave",
                shell.to_string_lossy()
            );
            vec![shell]
        } else {
            command
        };
        Ok(Child {
            command,
            profile: profile.to_string(),
            region,
            server,
        })
    }

    /// The command with every credential variable of ours removed from its environment, the
    /// profile's region (unless the caller chose one), and the marker.
    fn command(&self) -> std::process::Command {
        let mut child = std::process::Command::new(&self.command[0]);
        child.args(&self.command[1..]);
        for var in CREDENTIAL_VARS {
            child.env_remove(var);
        }
        // With the endpoint, the command's SDK must not pick a profile of its own: the profile
        // files come before the container endpoint in every SDK's chain (docs/ENDPOINT.md).
        if self.server {
            child.env_remove("AWS_PROFILE").env_remove("AWS_DEFAULT_PROFILE");
        }
        // The region the caller chose (AWS_REGION first, as most SDKs read it), else the
        // profile's, in both variables: botocore reads only AWS_DEFAULT_REGION, the other SDKs
        // AWS_REGION first, and each must see the same region.
        let chosen = ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()));
        if let Some(region) = chosen.or_else(|| self.region.clone()) {
            child
                .env("AWS_REGION", &region)
                .env("AWS_DEFAULT_REGION", &region);
        }
        child.env(MARKER, &self.profile);
        child
    }
}

/// The shell to start when `exec` is given no command.
fn user_shell() -> OsString {
    let (variable, fallback) = super::system::USER_SHELL;
    std::env::var_os(variable)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| fallback.into())
}

/// Warn when the command's SDK would use credentials from the profile files instead of the
/// endpoint: with `AWS_PROFILE` removed it resolves `default` (from the same files), and every
/// SDK reads the profile files before the container endpoint.
fn warn_if_shadowed(runtime: &Runtime, locations: &files::Locations) -> Result<(), Error> {
    let properties = credbox::configure::properties(runtime, locations, "default")?;
    if let Some(found) = properties
        .iter()
        .find(|p| CREDENTIAL_KEYS.contains(&p.name.as_str()))
    {
        eprintln!(
            "credbox: warning: the command's AWS SDK will find credentials in profile default ({} at {}) before credbox's endpoint, since SDKs read the profile files first; move them out of [default], or use exec without --server",
            found.name,
            credbox::text::printable(&found.location.to_string())
        );
    }
    Ok(())
}

/// Run `command` with the endpoint's two variables (and no static keys) until it exits; its exit
/// status becomes ours (128 + N for a signal, as shells report it).
pub fn exec_with_server(endpoint: credbox::serve::Endpoint, child: Child) -> Result<ExitCode, Error> {
    let command = &child.command;
    let mut child = child.command();
    for (name, value) in endpoint.environment() {
        child.env(name, value);
    }
    super::system::keep_serving_through_interrupts();
    // The command owns the terminal from now on: a helper refreshing credentials in the
    // background must not take it away (nor read what is typed to the command).
    credbox::spawn::keep_the_terminal();
    let child = child.spawn().map_err(|e| could_not_run(command, &e))?;
    let code = super::system::wait_forwarding_term(child);
    endpoint.shutdown();
    Ok(super::system::exit_with(code))
}

/// Replace this process with `command`, credentials in its environment. Returns only on failure.
/// (Windows has no exec: credbox runs the command, waits, and exits with its code.)
pub fn exec_with(credentials: &Credentials, child: Child) -> Error {
    let command = &child.command;
    let mut child = child.command();
    child
        .env("AWS_ACCESS_KEY_ID", &credentials.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key());
    if let Some(token) = credentials.session_token() {
        child.env("AWS_SESSION_TOKEN", token);
    }
    if let Some(expiration) = credentials.expiration {
        child.env(
            "AWS_CREDENTIAL_EXPIRATION",
            credbox::text::format_time(expiration),
        );
    }
    if let Some(account) = &credentials.account_id {
        child.env("AWS_ACCOUNT_ID", account);
    }
    // What credbox logged must be out before the command replaces it.
    credbox::spawn::flush_own_stderr(std::time::Instant::now() + super::LAST_WORDS);
    could_not_run(command, &super::system::replace_process_with(child))
}

/// The command could not be started: exit 127 when it was not found and 126 when it cannot be
/// run, as a shell reports them.
fn could_not_run(command: &[OsString], error: &std::io::Error) -> Error {
    let kind = match error.kind() {
        std::io::ErrorKind::NotFound => ErrorKind::CommandNotFound,
        _ => ErrorKind::CommandNotRunnable,
    };
    Error::new(
        kind,
        format!("could not run {}: {error}", command[0].to_string_lossy()),
    )
}
