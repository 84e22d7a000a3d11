//! The `credbox` command line: one function per mode. Each returns the exit code it decides, or an
//! error whose kind decides it (`main` prints it); nothing here exits the process.

mod args;
mod check;
mod exec;
mod list;
mod stopping;

use std::io::Write;
use std::process::ExitCode;

use args::{CacheAction, ConfigureAction, RunArgs};
pub use args::{Cli, Commands};
use credbox::format::{Format, render};
use credbox::{Cache, Credentials, Error, ErrorKind, Runtime, files};

/// Before anything holds a secret: no core dump and no ptrace attach by other processes of the
/// user (PR_SET_DUMPABLE 0, which execve resets, so commands credbox runs are unaffected).
#[cfg(target_os = "linux")]
pub fn harden_process() {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } == -1 {
        warn_unhardened(std::io::Error::last_os_error());
    }
}

/// Before anything holds a secret: no core dump (macOS already refuses other processes' debugger
/// attach without an entitlement). The limit is inherited by the commands credbox runs, as a
/// shell's `ulimit -c 0` would be.
#[cfg(all(unix, not(target_os = "linux")))]
pub fn harden_process() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let none = Rlimit {
        current: Some(0),
        maximum: getrlimit(Resource::Core).maximum,
    };
    if let Err(e) = setrlimit(Resource::Core, none) {
        warn_unhardened(e.into());
    }
}

/// Windows writes no core dump unless the user configured Windows Error Reporting to, and has no
/// per-process protection against a debugger of the same user (docs/SECURITY.md, "Platforms").
#[cfg(windows)]
pub fn harden_process() {}

#[cfg(unix)]
fn warn_unhardened(e: std::io::Error) {
    eprintln!("credbox: warning: could not disable core dumps: {e}");
}

/// The credentials of `profile` (or the one the environment selects).
pub(crate) fn profile_credentials(profile: Option<String>, run: &RunArgs) -> Result<Credentials, Error> {
    let options = run.options()?;
    let locations = files::locate_from_env();
    let profile = profile.unwrap_or_else(|| locations.profile.clone());
    let runtime = Runtime::new().map_err(Error::internal)?;
    Ok(credbox::credentials_for_profile(&runtime, &locations, &profile, &options)?.0)
}

/// `configure get` / `set`.
fn configure(action: ConfigureAction) -> Result<ExitCode, Error> {
    let locations = files::locate_from_env();
    let runtime = Runtime::new().map_err(Error::internal)?;
    match action {
        ConfigureAction::Get { key, profile } => {
            let (profile, key) =
                credbox::configure::qualified_key(&key, profile.as_deref(), &locations.profile)?;
            match credbox::configure::get(&runtime, &locations, &profile, &key)? {
                Some(value) => {
                    // Data for scripts, as `aws configure get` prints it; shown escaped only to a
                    // person at a terminal.
                    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                        println!("{}", credbox::text::printable(&value));
                    } else {
                        println!("{value}");
                    }
                    Ok(ExitCode::SUCCESS)
                }
                // Like `aws configure get`: nothing printed, exit 1.
                None => Ok(ExitCode::from(1)),
            }
        }
        ConfigureAction::Set { key, value, profile } => {
            let (profile, key) =
                credbox::configure::qualified_key(&key, profile.as_deref(), &locations.profile)?;
            let path = credbox::configure::set(&runtime, &locations, &profile, &key, &value)?;
            tracing::info!(file = %path.display(), "updated");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A credentials endpoint for `profile`, after a first successful fetch.
pub(crate) fn start_endpoint(
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

/// `man`: credbox.1 and credbox-SUBCOMMAND.1 (nested ones too) from the clap definitions,
/// each written atomically.
fn man_pages(out: &std::path::Path) -> Result<(), Error> {
    use clap::CommandFactory;
    let failed = |e: std::io::Error| {
        Error::new(
            ErrorKind::Usage,
            format!("writing man pages in {}: {e}", out.display()),
        )
    };
    std::fs::create_dir_all(out).map_err(failed)?;
    let mut pending = vec![(String::from("credbox"), Cli::command())];
    while let Some((name, command)) = pending.pop() {
        let command = command.name(name.clone());
        for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
            pending.push((format!("{name}-{}", sub.get_name()), sub.clone()));
        }
        let mut page = Vec::new();
        clap_mangen::Man::new(command).render(&mut page).map_err(failed)?;
        let mut file = tempfile::NamedTempFile::new_in(out).map_err(failed)?;
        file.write_all(&page).map_err(failed)?;
        // Readable by everyone, as man pages are (a temporary file starts 0600).
        #[cfg(unix)]
        std::fs::set_permissions(file.path(), std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .map_err(failed)?;
        file.persist(out.join(format!("{name}.1")))
            .map_err(|e| failed(e.error))?;
    }
    Ok(())
}

/// `contract`: what this binary grants its policy.
fn contract(format: args::TextOrJson, wit_only: bool) -> Result<ExitCode, Error> {
    if wit_only {
        print!("{}", credbox::component::WIT);
        return Ok(ExitCode::SUCCESS);
    }
    let runtime = Runtime::new().map_err(Error::internal)?;
    let contract = credbox::contract::contract(&runtime)?;
    if format == args::TextOrJson::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&contract).expect("the contract serializes")
        );
        return Ok(ExitCode::SUCCESS);
    }
    let c = &contract.ceilings;
    println!("credbox {}", contract.credbox);
    println!(
        "contract  {} (wit sha256 {})",
        contract.wit.package, contract.wit.sha256
    );
    println!(
        "guest     sha256 {} ({} bytes)",
        contract.guest.sha256, contract.guest.bytes
    );
    println!("imports   (nothing else is linked)");
    for import in &contract.guest.imports {
        println!("  {:<36} {}", import.name, import.granted);
    }
    println!("ceilings");
    let rows: [(&str, String); 11] = [
        (
            "timeout (default, --timeout)",
            format!("{} ms", c.timeout_default_ms),
        ),
        ("helper stdout", format!("{} bytes", c.stdout_bytes)),
        ("helper stderr kept", format!("{} bytes", c.stderr_tail_bytes)),
        ("commands per guest call", c.commands_per_call.to_string()),
        ("recursion depth", c.recursion_depth.to_string()),
        (
            "guest instructions per call",
            format!("{} (more for large profile files)", c.guest_fuel),
        ),
        (
            "guest memory",
            format!(
                "{} MiB (more for large profile files)",
                c.guest_memory_bytes >> 20
            ),
        ),
        ("plugin instructions per call", c.plugin_fuel.to_string()),
        ("plugin memory", format!("{} MiB", c.plugin_memory_bytes >> 20)),
        ("plugin file", format!("{} MiB", c.plugin_file_bytes >> 20)),
        ("profile file", format!("{} MiB", c.profile_file_bytes >> 20)),
    ];
    for (name, value) in rows {
        println!("  {name:<36} {value}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Run one mode to the end: the exit code it decides, or the error that decides it.
pub fn run(command: Commands) -> Result<ExitCode, Error> {
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
            Ok(ExitCode::SUCCESS)
        }
        Commands::Export {
            profile,
            plugin: None,
            format,
            run,
        } => {
            print!("{}", render(&profile_credentials(profile, &run)?, format)?);
            Ok(ExitCode::SUCCESS)
        }
        Commands::Run { run, argv } => {
            let options = run.options()?;
            let runtime = Runtime::new().map_err(Error::internal)?;
            let (credentials, _) = credbox::credentials_for_command(&runtime, &argv, &options)?;
            print!("{}", render(&credentials, Format::Process)?);
            Ok(ExitCode::SUCCESS)
        }
        Commands::Exec {
            profile,
            server,
            run,
            command,
        } => {
            exec::refuse_nesting()?;
            let locations = files::locate_from_env();
            let profile = profile.unwrap_or_else(|| locations.profile.clone());
            let runtime = Runtime::new().map_err(Error::internal)?;
            let child = exec::Child::new(&runtime, &locations, &profile, command, server)?;
            if server {
                let endpoint = start_endpoint(
                    Some(profile),
                    "127.0.0.1:0".parse().expect("valid"),
                    None,
                    false,
                    &run,
                )?;
                exec::exec_with_server(endpoint, child)
            } else {
                let credentials = profile_credentials(Some(profile), &run)?;
                Err(exec::exec_with(&credentials, child))
            }
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
            // Before anything is printed: whoever read the variables may stop it at once.
            stopping::say_when_stopped(format!(
                "credbox: stopped serving on http://{}/creds\n",
                endpoint.address()
            ));
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
            Ok(ExitCode::SUCCESS)
        }
        Commands::Contract { format, wit } => contract(format, wit),
        Commands::Completions { shell } => {
            // The shell's side of dynamic completion: it asks `credbox` (COMPLETE=SHELL) for
            // candidates as it completes, so `--profile` offers the profiles the files define.
            use clap_complete::env::{Bash, Elvish, EnvCompleter, Fish, Powershell, Zsh};
            let completer: &dyn EnvCompleter = match shell {
                clap_complete::Shell::Bash => &Bash,
                clap_complete::Shell::Elvish => &Elvish,
                clap_complete::Shell::Fish => &Fish,
                clap_complete::Shell::PowerShell => &Powershell,
                _ => &Zsh,
            };
            let mut script = Vec::new();
            completer
                .write_registration("COMPLETE", "credbox", "credbox", "credbox", &mut script)
                .map_err(|e| Error::internal(e.into()))?;
            std::io::stdout()
                .write_all(&script)
                .map_err(|e| Error::internal(e.into()))?;
            Ok(ExitCode::SUCCESS)
        }
        Commands::Man { out } => man_pages(&out).map(|()| ExitCode::SUCCESS),
        Commands::List { all: true, .. } => list::list_all().map(|()| ExitCode::SUCCESS),
        Commands::List { profile, run, .. } => list::list(profile, &run).map(|()| ExitCode::SUCCESS),
        Commands::Configure { action } => configure(action),
        Commands::Check { profile, format } => check::check(profile, format),
        Commands::Cache {
            action: CacheAction::Clear { profile },
        } => cache_clear(profile),
        Commands::Cache {
            action: CacheAction::List { profile, min_ttl },
        } => cache_list(profile, min_ttl),
    }
}

/// How long credbox's last lines may take to reach a stderr that is not being read.
pub const LAST_WORDS: std::time::Duration = std::time::Duration::from_secs(2);

/// credbox's stderr for `-v` logs: what a log line quotes (a path, a profile, an endpoint) is
/// made printable as every message is ([`credbox::text::printable`]); only the line ends stay.
/// Written by credbox's own stderr writer, so that a stderr nobody reads never blocks credbox.
pub struct PrintableStderr;

impl std::io::Write for PrintableStderr {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        // One event is one line: only its final newline stays (a value with a newline in it
        // cannot forge a line of its own).
        let text = String::from_utf8_lossy(bytes);
        let (body, end) = match text.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (text.as_ref(), ""),
        };
        let shown = format!("{}{end}", credbox::text::printable(body));
        credbox::spawn::write_own_stderr(shown.as_bytes());
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The cache directory, or none when there is none yet.
fn existing_cache() -> Result<Option<Cache>, Error> {
    let dir = credbox::cache::default_dir().ok_or_else(|| {
        Error::new(
            ErrorKind::Usage,
            "no cache directory: set CREDBOX_CACHE_DIR or HOME",
        )
    })?;
    if !dir.exists() {
        return Ok(None);
    }
    Cache::open(&dir)
        .map(Some)
        .map_err(|why| Error::new(ErrorKind::Usage, why))
}

/// `cache clear [--profile P]`: a profile the files do not define is a mistake to say, not
/// "removed 0" (labels of credentials got without a profile, `run:...` and `plugin:...`, are
/// taken as they are).
fn cache_clear(profile: Option<String>) -> Result<ExitCode, Error> {
    if let Some(name) = &profile
        && !name.starts_with("run:")
        && !name.starts_with("plugin:")
    {
        let locations = files::locate_from_env();
        let runtime = Runtime::new().map_err(Error::internal)?;
        if credbox::configure::properties(&runtime, &locations, name)?.is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "profile {name} is in neither {} nor {}; nothing removed (`credbox cache list` shows what is cached)",
                    locations.config, locations.credentials
                ),
            ));
        }
    }
    let Some(cache) = existing_cache()? else {
        return Ok(ExitCode::SUCCESS);
    };
    let removed = cache
        .clear(profile.as_deref())
        .map_err(|e| Error::internal(anyhow::anyhow!("clearing {}: {e}", cache.dir().display())))?;
    eprintln!(
        "credbox: removed {removed} cached credential(s) from {}",
        cache.dir().display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `cache list`: what is cached, without secrets, and when each entry is refreshed.
fn cache_list(profile: Option<String>, min_ttl: std::time::Duration) -> Result<ExitCode, Error> {
    let Some(cache) = existing_cache()? else {
        println!("nothing cached");
        return Ok(ExitCode::SUCCESS);
    };
    let now = credbox::text::unix_now();
    let mut rows: Vec<[String; 5]> =
        vec![["Profile", "Source", "Key", "Expires", "Refresh"].map(String::from)];
    for entry in cache.list() {
        if profile.as_deref().is_some_and(|p| p != entry.profile) {
            continue;
        }
        let source = match &entry.source {
            credbox::cache::ListedSource::Process(program) => format!("process {program}"),
            credbox::cache::ListedSource::Plugin(path) => format!("plugin {path}"),
            credbox::cache::ListedSource::Role { role_arn, source_key } => {
                format!("role {role_arn} (source {source_key})")
            }
        };
        let refresh_at = entry.refresh_at(min_ttl.as_secs());
        let refresh = if entry.expiration <= now {
            "expired".to_string()
        } else if refresh_at <= now {
            "due".to_string()
        } else {
            format!("in {}", credbox::text::format_span(refresh_at - now))
        };
        rows.push([
            credbox::text::printable(&entry.profile).into_owned(),
            credbox::text::printable(&source).into_owned(),
            entry.access_key,
            credbox::text::format_time(entry.expiration),
            refresh,
        ]);
    }
    if rows.len() == 1 {
        println!(
            "nothing cached{}",
            profile.map(|p| format!(" for profile {p}")).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let width = |column: usize| rows.iter().map(|r| r[column].chars().count()).max().unwrap_or(0);
    let widths = [width(0), width(1), width(2), width(3)];
    for [a, b, c, d, e] in &rows {
        println!(
            "{a:<w0$}  {b:<w1$}  {c:<w2$}  {d:<w3$}  {e}",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        );
    }
    Ok(ExitCode::SUCCESS)
}
