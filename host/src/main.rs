//! The `credbox` command line.

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use credbox::format::{Format, render};
use credbox::spawn::Allowed;
use credbox::{Cache, Credentials, Error, ErrorKind, FetchOptions, Runtime, SpawnPolicy, StdinMode, files};

#[derive(Parser)]
#[command(
    name = "credbox",
    version,
    about = "Run AWS credential_process helpers in a sandbox: bounded, validated and cached"
)]
struct Cli {
    /// Log decisions (cache hits and misses, refresh windows, the command with its arguments
    /// redacted) to stderr. Secrets are never logged.
    #[arg(long, short, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Print the credentials of a profile (its static keys, or what its credential_process prints).
    Export {
        /// The profile (default: $AWS_PROFILE, then $AWS_DEFAULT_PROFILE, then `default`).
        #[arg(long)]
        profile: Option<String>,
        /// Get the credentials from this credential plugin component (a `.wasm` file built for
        /// the credential-plugin world) instead of a profile.
        #[arg(long, value_name = "PATH.wasm", conflicts_with = "profile")]
        plugin: Option<std::path::PathBuf>,
        /// Output format, as `aws configure export-credentials` names them.
        #[arg(long, value_enum, default_value = "process")]
        format: Format,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Run a helper directly (no profile) with the same validation and caching, and print its
    /// credentials as credential_process JSON: `credential_process = credbox run -- /opt/helper`.
    Run {
        #[command(flatten)]
        run: RunArgs,
        /// The helper and its arguments.
        #[arg(last = true, required = true, value_name = "PROGRAM [ARGS]...")]
        argv: Vec<String>,
    },
    /// Run a command with the profile's credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    /// AWS_SESSION_TOKEN and AWS_CREDENTIAL_EXPIRATION (stale ones removed). Its exit code is ours.
    /// With --server, it gets a private credentials endpoint instead, refreshed for as long as it
    /// runs.
    Exec {
        /// The profile (default: $AWS_PROFILE, then $AWS_DEFAULT_PROFILE, then `default`).
        #[arg(long)]
        profile: Option<String>,
        /// Serve the credentials on a loopback endpoint for the command's lifetime and pass
        /// AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN instead of
        /// keys, so that a long-running command never holds expired credentials.
        #[arg(long)]
        server: bool,
        #[command(flatten)]
        run: RunArgs,
        /// The command and its arguments.
        #[arg(last = true, required = true, value_name = "COMMAND [ARGS]...")]
        command: Vec<OsString>,
    },
    /// Serve a profile's credentials on loopback in the container credentials format, refreshed
    /// before they expire; prints the two variables that point an SDK at it. Runs until killed.
    Serve {
        /// The profile (default: $AWS_PROFILE, then $AWS_DEFAULT_PROFILE, then `default`).
        #[arg(long)]
        profile: Option<String>,
        /// The address to listen on (port 0: any free port). Loopback only, unless
        /// --insecure-listen.
        #[arg(long, value_name = "ADDRESS:PORT", default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// Allow a --listen address that is not loopback.
        #[arg(long)]
        insecure_listen: bool,
        /// Read the token clients must send from this file (first line) instead of generating a
        /// random 256-bit one.
        #[arg(long, value_name = "FILE")]
        token_file: Option<std::path::PathBuf>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Show where a profile's credentials come from, like `aws configure list` (keys masked).
    List {
        /// The profile (default: $AWS_PROFILE, then $AWS_DEFAULT_PROFILE, then `default`).
        #[arg(long)]
        profile: Option<String>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Read or change profile settings, like `aws configure get` / `set`.
    Configure {
        #[command(subcommand)]
        action: ConfigureAction,
    },
    /// Audit profiles: shadowed helpers, syntax problems, missing or unsafe programs, writable
    /// files, shell use, recursion. Exits 1 if any finding is an error.
    Check {
        /// Audit only this profile (default: every profile).
        #[arg(long)]
        profile: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: CheckFormat,
    },
    /// Manage the cross-process credential cache.
    Cache {
        #[command(subcommand)]
        action: CacheAction,
    },
}

#[derive(Subcommand)]
enum CacheAction {
    /// Delete cached credentials: all of them, or one profile's.
    Clear {
        #[arg(long)]
        profile: Option<String>,
    },
}

#[derive(Subcommand)]
enum ConfigureAction {
    /// Print KEY's value in the profile (exit 1 if it is not set).
    Get {
        key: String,
        #[arg(long)]
        profile: Option<String>,
    },
    /// Set KEY to VALUE in the profile. Credential keys go to the credentials file, others to the
    /// config file; every other line is kept as it was, and the file is replaced atomically.
    Set {
        key: String,
        value: String,
        #[arg(long)]
        profile: Option<String>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum CheckFormat {
    Text,
    Json,
}

/// How helpers run.
#[derive(clap::Args)]
struct RunArgs {
    /// Kill the helper (and everything it started) after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    timeout: f64,
    /// Refresh credentials when less than this many seconds of validity remain.
    #[arg(long, value_name = "SECONDS", default_value_t = 900)]
    min_ttl: u64,
    /// Always run the helper; neither read nor write the cross-process cache.
    #[arg(long)]
    no_cache: bool,
    /// The helper's stdin: the terminal (`inherit`, so MFA prompts work) or `null`.
    #[arg(long, value_enum, default_value = "inherit")]
    stdin: StdinArg,
    /// Only run these programs (absolute paths), optionally pinned: PATH=SHA256. Repeatable.
    #[arg(long, value_name = "PATH[=SHA256]")]
    allow: Vec<Allowed>,
    /// Let credential_process values that use shell syntax run through /bin/sh -c.
    #[arg(long)]
    allow_shell: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum StdinArg {
    Inherit,
    Null,
}

impl RunArgs {
    fn options(&self) -> Result<FetchOptions, Error> {
        if !(self.timeout.is_finite() && self.timeout > 0.0 && self.timeout < 1e9) {
            return Err(Error::new(
                ErrorKind::Usage,
                "--timeout must be a positive number of seconds",
            ));
        }
        let timeout = Duration::from_secs_f64(self.timeout);
        let cache = if self.no_cache { None } else { open_cache() };
        // Compiled plugins are not credentials: they are kept even with --no-cache (in the
        // cache directory's `plugins`, reached only through the verified cache directory).
        let plugin_artifacts = credbox::cache::default_dir();
        Ok(FetchOptions {
            min_ttl: Duration::from_secs(self.min_ttl),
            timeout,
            policy: SpawnPolicy {
                max_timeout: timeout,
                stdin: match self.stdin {
                    StdinArg::Inherit => StdinMode::Inherit,
                    StdinArg::Null => StdinMode::Null,
                },
                allow_shell: self.allow_shell,
                allow_list: (!self.allow.is_empty()).then(|| self.allow.clone()),
                forward_stderr: true,
                plugin_artifacts,
            },
            cache,
            clock: None,
        })
    }
}

/// The cache, or none (with a warning) when it cannot be used: caching is never fatal.
fn open_cache() -> Option<Cache> {
    let Some(dir) = credbox::cache::default_dir() else {
        eprintln!("credbox: warning: no cache directory (set CREDBOX_CACHE_DIR or HOME); not caching");
        return None;
    };
    Cache::open(&dir)
        .map_err(|why| eprintln!("credbox: warning: {why}; not caching"))
        .ok()
}

fn main() -> ExitCode {
    harden_process();
    let cli = Cli::parse();
    // The subreaper of the helpers' descendants, so that a timeout can kill the ones that called
    // setsid() (spawn::become_subreaper). Not for `exec`: the command it runs is its child, and
    // that command's own daemons must not become credbox's.
    if !matches!(cli.command, Commands::Exec { .. })
        && let Err(e) = credbox::spawn::become_subreaper()
    {
        eprintln!("credbox: warning: could not become the helpers' subreaper: {e}");
    }
    if cli.verbose {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_target(false)
            .without_time()
            .with_max_level(tracing::Level::DEBUG)
            .init();
    }
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("credbox: {error}");
            ExitCode::from(error.kind().exit_code())
        }
    }
}

/// Before anything holds a secret: no core dump and no ptrace attach by other processes of the
/// user (PR_SET_DUMPABLE 0, which execve resets, so commands credbox runs are unaffected).
fn harden_process() {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } == -1 {
        eprintln!(
            "credbox: warning: could not disable core dumps: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn profile_credentials(profile: Option<String>, run: &RunArgs) -> Result<Credentials, Error> {
    let options = run.options()?;
    let locations = files::locate_from_env();
    let profile = profile.unwrap_or_else(|| locations.profile.clone());
    let runtime = Runtime::new().map_err(Error::internal)?;
    Ok(credbox::credentials_for_profile(&runtime, &locations, &profile, &options)?.0)
}

/// The profile to use and how it was chosen (for `list`).
fn choose_profile(profile: Option<String>, locations: &files::Locations) -> (String, &'static str) {
    match profile {
        Some(profile) => (profile, "manual"),
        None if std::env::var_os("AWS_PROFILE").is_some()
            || std::env::var_os("AWS_DEFAULT_PROFILE").is_some() =>
        {
            (locations.profile.clone(), "env")
        }
        None => (locations.profile.clone(), "None"),
    }
}

fn list(profile: Option<String>, run: &RunArgs) -> Result<(), Error> {
    let locations = files::locate_from_env();
    let (profile, how) = choose_profile(profile, &locations);
    let runtime = Runtime::new().map_err(Error::internal)?;
    let row = |name: &str, value: &str, kind: &str, location: &str| {
        println!("{name:>10} {value:>24} {kind:>16}    {location}")
    };
    row("Name", "Value", "Type", "Location");
    row("----", "-----", "----", "--------");
    let shown_profile = if how == "None" {
        "<not set>"
    } else {
        profile.as_str()
    };
    let profile_location = match how {
        "manual" => "--profile",
        "env" => "AWS_PROFILE",
        _ => "None",
    };
    row("profile", shown_profile, how, profile_location);
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let properties = credbox::configure::properties(&runtime, &locations, &profile)?;
    let property = |key: &str| properties.iter().find(|p| p.name == key);
    let place = |p: &credbox::component::Property| match p.location.line {
        Some(line) => format!("{}:{line}", p.location.file),
        None => p.location.file.clone(),
    };
    let masked_secret = |secret: &str| {
        let tail: String = secret
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("{}{tail}", "*".repeat(16))
    };
    if let (Some(key), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        row("access_key", &credbox::mask(&key), "env", "");
        row("secret_key", &masked_secret(&secret), "env", "");
    } else if properties.is_empty() {
        row("access_key", "<not set>", "None", "None");
        row("secret_key", "<not set>", "None", "None");
    } else {
        let (credentials, origin) =
            credbox::credentials_for_profile(&runtime, &locations, &profile, &run.options()?)?;
        let (kind, location) = match origin {
            credbox::Origin::StaticKeys => {
                let key = property("aws_access_key_id");
                let kind = match key.map(|p| p.kind) {
                    Some(credbox::component::FileKind::Credentials) => "shared-credentials-file",
                    _ => "config-file",
                };
                (kind, key.map(place).unwrap_or_default())
            }
            credbox::Origin::Process | credbox::Origin::Cache | credbox::Origin::Plugin => {
                match property("credential_plugin") {
                    Some(plugin) => ("custom-plugin", place(plugin)),
                    None => (
                        "custom-process",
                        property("credential_process").map(place).unwrap_or_default(),
                    ),
                }
            }
        };
        row(
            "access_key",
            &credbox::mask(&credentials.access_key_id),
            kind,
            &location,
        );
        row(
            "secret_key",
            &masked_secret(credentials.secret_access_key()),
            kind,
            &location,
        );
    }
    match (
        env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")),
        property("region"),
    ) {
        (Some(region), _) => row("region", &region, "env", "AWS_REGION"),
        (None, Some(region)) => row("region", &region.value, "config-file", &place(region)),
        (None, None) => row("region", "<not set>", "None", "None"),
    }
    Ok(())
}

fn configure(action: ConfigureAction) -> Result<(), Error> {
    let locations = files::locate_from_env();
    let runtime = Runtime::new().map_err(Error::internal)?;
    match action {
        ConfigureAction::Get { key, profile } => {
            let profile = profile.unwrap_or_else(|| locations.profile.clone());
            match credbox::configure::get(&runtime, &locations, &profile, &key)? {
                Some(value) => {
                    println!("{value}");
                    Ok(())
                }
                // Like `aws configure get`: nothing printed, exit 1.
                None => std::process::exit(1),
            }
        }
        ConfigureAction::Set { key, value, profile } => {
            let profile = profile.unwrap_or_else(|| locations.profile.clone());
            let path = credbox::configure::set(&runtime, &locations, &profile, &key, &value)?;
            tracing::info!(file = %path.display(), "updated");
            Ok(())
        }
    }
}

fn check(profile: Option<String>, format: CheckFormat) -> Result<(), Error> {
    use credbox::audit::Severity;
    let locations = files::locate_from_env();
    let runtime = Runtime::new().map_err(Error::internal)?;
    let findings = credbox::audit::check(&runtime, &locations, profile.as_deref())?;
    match format {
        CheckFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&findings).expect("findings serialize")
        ),
        CheckFormat::Text => {
            for f in &findings {
                let severity = format!("{:?}", f.severity).to_lowercase();
                let profile = f
                    .profile
                    .as_deref()
                    .map(|p| format!("profile {p}: "))
                    .unwrap_or_default();
                let location = f
                    .location
                    .as_deref()
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default();
                println!("{severity}: {profile}{}{location}", f.message);
            }
            let count = |s| findings.iter().filter(|f| f.severity == s).count();
            println!(
                "{} error(s), {} warning(s)",
                count(Severity::Error),
                count(Severity::Warning)
            );
        }
    }
    if findings.iter().any(|f| f.severity == Severity::Error) {
        std::process::exit(1);
    }
    Ok(())
}

fn run(command: Commands) -> Result<(), Error> {
    match command {
        Commands::Export {
            profile,
            plugin: Some(plugin),
            format,
            run,
        } => {
            debug_assert!(profile.is_none(), "clap: --plugin conflicts with --profile");
            let options = run.options()?;
            let runtime = Runtime::new().map_err(Error::internal)?;
            let (credentials, _) = credbox::credentials_for_plugin(&runtime, &plugin, &options)?;
            print!("{}", render(&credentials, format)?);
            Ok(())
        }
        Commands::Export {
            profile,
            plugin: None,
            format,
            run,
        } => {
            print!("{}", render(&profile_credentials(profile, &run)?, format)?);
            Ok(())
        }
        Commands::Run { run, argv } => {
            let options = run.options()?;
            let runtime = Runtime::new().map_err(Error::internal)?;
            let (credentials, _) = credbox::credentials_for_command(&runtime, &argv, &options)?;
            print!("{}", render(&credentials, Format::Process)?);
            Ok(())
        }
        Commands::Exec {
            profile,
            server: false,
            run,
            command,
        } => {
            let credentials = profile_credentials(profile, &run)?;
            Err(exec_with(&credentials, &command))
        }
        Commands::Exec {
            profile,
            server: true,
            run,
            command,
        } => {
            let endpoint = start_endpoint(profile, "127.0.0.1:0".parse().expect("valid"), None, false, &run)?;
            exec_with_server(endpoint, &command)
        }
        Commands::Serve {
            profile,
            listen,
            insecure_listen,
            token_file,
            run,
        } => {
            // Endpoint::start refuses a non-loopback address before running any helper.
            let endpoint = start_endpoint(profile, listen, token_file.as_deref(), insecure_listen, &run)?;
            let mut stdout = std::io::stdout().lock();
            for (name, value) in endpoint.environment() {
                let _ = writeln!(stdout, "export {name}={value}");
            }
            let _ = stdout.flush();
            drop(stdout);
            eprintln!(
                "credbox: serving credentials on http://{}/creds until stopped (Ctrl-C)",
                endpoint.address()
            );
            endpoint.wait();
            Ok(())
        }
        Commands::List { profile, run } => list(profile, &run),
        Commands::Configure { action } => configure(action),
        Commands::Check { profile, format } => check(profile, format),
        Commands::Cache {
            action: CacheAction::Clear { profile },
        } => {
            let dir = credbox::cache::default_dir().ok_or_else(|| {
                Error::new(
                    ErrorKind::Usage,
                    "no cache directory: set CREDBOX_CACHE_DIR or HOME",
                )
            })?;
            if !dir.exists() {
                return Ok(());
            }
            let cache = Cache::open(&dir).map_err(|why| Error::new(ErrorKind::Usage, why))?;
            let removed = cache
                .clear(profile.as_deref())
                .map_err(|e| Error::internal(anyhow::anyhow!("clearing {}: {e}", dir.display())))?;
            eprintln!(
                "credbox: removed {removed} cached credential(s) from {}",
                dir.display()
            );
            Ok(())
        }
    }
}

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

/// A credentials endpoint for `profile`, after a first successful fetch.
fn start_endpoint(
    profile: Option<String>,
    listen: std::net::SocketAddr,
    token_file: Option<&std::path::Path>,
    insecure_listen: bool,
    run: &RunArgs,
) -> Result<credbox::serve::Endpoint, Error> {
    let options = run.options()?;
    let locations = files::locate_from_env();
    let name = profile.unwrap_or_else(|| locations.profile.clone());
    let token = match token_file {
        Some(path) => credbox::serve::Token::from_file(path)?,
        None => credbox::serve::Token::random()?,
    };
    let runtime = Runtime::new().map_err(Error::internal)?;
    let target = credbox::Target::Profile { locations, name };
    let provider = credbox::Provider::new(runtime, target, options);
    if insecure_listen {
        credbox::serve::Endpoint::start_on_any_address(provider, listen, token)
    } else {
        credbox::serve::Endpoint::start(provider, listen, token)
    }
}

/// Run `command` with the endpoint's two variables (and no static keys) until it exits; its exit
/// status becomes ours (128 + N for a signal, as shells report it).
fn exec_with_server(endpoint: credbox::serve::Endpoint, command: &[OsString]) -> Result<(), Error> {
    let mut child = without_credentials(command);
    for (name, value) in endpoint.environment() {
        child.env(name, value);
    }
    signals::install();
    let child = child.spawn().map_err(|e| could_not_run(command, &e))?;
    let code = signals::wait_forwarding_term(child);
    endpoint.shutdown();
    std::process::exit(code)
}

/// `exec --server` must outlive its command, which needs the endpoint until its last request.
mod signals {
    use std::sync::atomic::{AtomicBool, Ordering};

    static TERM_RECEIVED: AtomicBool = AtomicBool::new(false);

    extern "C" fn ignore(_: libc::c_int) {}

    extern "C" fn note_term(_: libc::c_int) {
        TERM_RECEIVED.store(true, Ordering::SeqCst);
    }

    /// Ctrl-C and Ctrl-\ reach the whole foreground process group, the command included: credbox
    /// lets the command decide and keeps serving. SIGTERM is passed on to the command. These are
    /// handlers, not SIG_IGN, because exec resets handlers: the command gets the defaults.
    pub fn install() {
        for (signal, handler, flags) in [
            (
                libc::SIGINT,
                ignore as extern "C" fn(libc::c_int),
                libc::SA_RESTART,
            ),
            (libc::SIGQUIT, ignore, libc::SA_RESTART),
            // No SA_RESTART: waitpid must return EINTR so that the signal is forwarded at once.
            (libc::SIGTERM, note_term, 0),
        ] {
            // SAFETY: sigaction with a zeroed struct, an empty mask and a handler that only does
            // async-signal-safe work (nothing, or an atomic store).
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = handler as libc::sighandler_t;
                action.sa_flags = flags;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal, &action, std::ptr::null_mut());
            }
        }
    }

    /// Wait for `child`, passing SIGTERM on to it; its exit code, or 128 + the signal that ended it.
    pub fn wait_forwarding_term(child: std::process::Child) -> i32 {
        let pid = child.id() as libc::pid_t;
        let mut status = 0;
        loop {
            // SAFETY: waitpid on our own child, which nothing else reaps.
            let reaped = unsafe { libc::waitpid(pid, &mut status, 0) };
            if reaped == pid {
                break;
            }
            if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return 1;
            }
            if TERM_RECEIVED.swap(false, Ordering::SeqCst) {
                // SAFETY: kill(2) on our own, not yet reaped, child.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
        }
        if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else if libc::WIFSIGNALED(status) {
            128 + libc::WTERMSIG(status)
        } else {
            1
        }
    }
}

/// Replace this process with `command`, credentials in its environment. Returns only on failure.
fn exec_with(credentials: &Credentials, command: &[OsString]) -> Error {
    use std::os::unix::process::CommandExt;
    let mut child = without_credentials(command);
    child
        .env("AWS_ACCESS_KEY_ID", &credentials.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key());
    if let Some(token) = credentials.session_token() {
        child.env("AWS_SESSION_TOKEN", token);
    }
    if let Some(expiration) = credentials.expiration {
        child.env(
            "AWS_CREDENTIAL_EXPIRATION",
            credbox::error::format_time(expiration),
        );
    }
    if let Some(account) = &credentials.account_id {
        child.env("AWS_ACCOUNT_ID", account);
    }
    could_not_run(command, &child.exec())
}

/// `command` with every credential variable of ours removed from its environment.
fn without_credentials(command: &[OsString]) -> std::process::Command {
    let mut child = std::process::Command::new(&command[0]);
    child.args(&command[1..]);
    for var in CREDENTIAL_VARS {
        child.env_remove(var);
    }
    child
}

fn could_not_run(command: &[OsString], error: &std::io::Error) -> Error {
    Error::new(
        ErrorKind::SpawnFailed,
        format!("could not run {}: {error}", command[0].to_string_lossy()),
    )
}
