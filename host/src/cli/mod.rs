//! The `credbox` command line: one function per mode. Each returns the exit code it decides, or an
//! error whose kind decides it (`main` prints it); nothing here exits the process.

mod args;
mod cache;
mod check;
mod exec;
mod list;
#[cfg(unix)]
#[path = "unix.rs"]
mod system;
#[cfg(windows)]
#[path = "windows.rs"]
mod system;

use std::io::Write;
use std::process::ExitCode;

use args::{CacheAction, ConfigureAction, RunArgs};
pub use args::{Cli, Commands};
use credbox::format::{Format, render};
use credbox::{Credentials, Error, ErrorKind, Runtime, files};
pub use system::end_quietly_when_the_reader_goes;

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
        system::readable_by_all(file.path()).map_err(failed)?;
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
            system::say_when_stopped(format!(
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
        } => cache::clear(profile),
        Commands::Cache {
            action: CacheAction::List { profile, min_ttl },
        } => cache::list(profile, min_ttl),
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
