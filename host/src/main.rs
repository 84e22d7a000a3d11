//! The `credbox` command line.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use credbox::format::{Format, render};
use credbox::spawn::Allowed;
use credbox::{Error, ExportOptions, Runtime, SpawnPolicy, StdinMode, files};

#[derive(Parser)]
#[command(
    name = "credbox",
    version,
    about = "Run AWS credential_process helpers in a sandbox, bounded and cached"
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Print the credentials of a profile (static keys, or what its credential_process prints).
    Export {
        /// The profile (default: $AWS_PROFILE, then $AWS_DEFAULT_PROFILE, then `default`).
        #[arg(long)]
        profile: Option<String>,
        /// Output format, as `aws configure export-credentials` names them.
        #[arg(long, value_enum, default_value = "process")]
        format: Format,
        #[command(flatten)]
        run: RunArgs,
    },
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
    fn options(&self) -> Result<ExportOptions, Error> {
        if !(self.timeout.is_finite() && self.timeout > 0.0) {
            return Err(Error::new(
                credbox::ErrorKind::Config,
                "--timeout must be a positive number of seconds",
            ));
        }
        let timeout = Duration::from_secs_f64(self.timeout);
        Ok(ExportOptions {
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
            },
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("credbox: {error}");
            ExitCode::from(error.kind().exit_code() as u8)
        }
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Commands::Export { profile, format, run } => {
            let options = run.options()?;
            let locations = files::locate_from_env();
            let profile = profile.unwrap_or_else(|| locations.profile.clone());
            let runtime = Runtime::new().map_err(Error::internal)?;
            let credentials = credbox::credentials_for_profile(&runtime, &locations, &profile, &options)?;
            print!("{}", render(&credentials, format));
            Ok(())
        }
    }
}
