//! The command line's arguments: what each mode takes, with its help text.

use std::ffi::OsString;
use std::time::Duration;

use clap::builder::TypedValueParser as _;
use clap::{Parser, Subcommand};
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};
use credbox::format::Format;
use credbox::prompt::PromptMode;
use credbox::spawn::Allowed;
use credbox::{Cache, CapabilityPolicy, Error, ErrorKind, FetchOptions, StdinMode};

#[derive(Parser)]
#[command(
    name = "credbox",
    version = VERSION.as_str(),
    about = "Run AWS credential_process helpers in a sandbox: bounded, validated and cached"
)]
pub struct Cli {
    /// Log decisions (cache hits and misses, refresh windows, the command with its arguments
    /// redacted) to stderr. Secrets are never logged.
    #[arg(long, short, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Commands,
}

#[derive(Subcommand)]
pub enum Commands {
    /// Print the credentials of a profile (its static keys, or what its credential_process prints).
    Export {
        /// The profile (default: $AWS_PROFILE, then $AWS_DEFAULT_PROFILE, then `default`).
        #[arg(long, short, add = ArgValueCandidates::new(profile_names))]
        profile: Option<String>,
        /// Get the credentials from this credential plugin component (a `.wasm` file built for
        /// the credential-plugin world) instead of a profile.
        #[arg(long, value_name = "PATH.wasm", conflicts_with = "profile")]
        plugin: Option<std::path::PathBuf>,
        /// Output format, as `aws configure export-credentials` names them.
        #[arg(long, default_value = "process", value_parser = format_parser())]
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
        #[arg(long, short, add = ArgValueCandidates::new(profile_names))]
        profile: Option<String>,
        /// Serve the credentials on a loopback endpoint for the command's lifetime and pass
        /// AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN instead of
        /// keys, so that a long-running command never holds expired credentials.
        #[arg(long)]
        server: bool,
        #[command(flatten)]
        run: RunArgs,
        /// The command and its arguments (none: start your $SHELL).
        #[arg(last = true, value_name = "COMMAND [ARGS]...")]
        command: Vec<OsString>,
    },
    /// Serve a profile's credentials on loopback in the container credentials format, refreshed
    /// before they expire; prints the two variables that point an SDK at it. Runs until killed.
    Serve {
        /// The profile (default: $AWS_PROFILE, then $AWS_DEFAULT_PROFILE, then `default`).
        #[arg(long, short, add = ArgValueCandidates::new(profile_names))]
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
    /// Show where a profile's credentials come from, like `aws configure list` (keys masked); with
    /// --all, every profile at a glance.
    List {
        /// The profile (default: $AWS_PROFILE, then $AWS_DEFAULT_PROFILE, then `default`).
        #[arg(long, short, add = ArgValueCandidates::new(profile_names))]
        profile: Option<String>,
        /// Every profile, one line each: where its credentials come from and what `check` finds.
        /// Runs no helper.
        #[arg(long, conflicts_with = "profile")]
        all: bool,
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
        #[arg(long, short, add = ArgValueCandidates::new(profile_names))]
        profile: Option<String>,
        /// `text` for people, `json` for tools.
        #[arg(long, value_enum, default_value = "text")]
        format: TextOrJson,
    },
    /// Print what this binary grants its policy, for an auditor to check against wit/credbox.wit:
    /// the WIT package and digest, the embedded guest's digest and the imports it really has
    /// (with what each is granted), and the host's ceilings.
    Contract {
        /// `text` for people, `json` for tools.
        #[arg(long, value_enum, default_value = "text")]
        format: TextOrJson,
        /// Print only the embedded WIT text (to diff against wit/credbox.wit).
        #[arg(long, conflicts_with = "format")]
        wit: bool,
    },
    /// Print a completion script for SHELL: `credbox completions bash > ~/.local/share/bash-completion/completions/credbox`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the manual pages (credbox.1 and one per subcommand, credbox-SUBCOMMAND.1) into DIR.
    Man {
        /// Where to write them (created if missing).
        #[arg(long, value_name = "DIR")]
        out: std::path::PathBuf,
    },
    /// Manage the cross-process credential cache.
    Cache {
        #[command(subcommand)]
        action: CacheAction,
    },
}

#[derive(Subcommand)]
pub enum CacheAction {
    /// Delete cached credentials: all of them, or one profile's.
    Clear {
        /// Only this profile's (its own entry and record, not those of the profiles its role
        /// chain goes through).
        #[arg(long, short, add = ArgValueCandidates::new(profile_names))]
        profile: Option<String>,
    },
    /// Show what is cached, without secrets: each entry's profile, what it came from, its key
    /// (masked), when it expires and when it is refreshed.
    List {
        /// Only this profile's entries.
        #[arg(long, short, add = ArgValueCandidates::new(profile_names))]
        profile: Option<String>,
        /// Refresh when less than this much validity remains, as for `export` (to say when an
        /// entry is due).
        #[arg(long, value_name = "DURATION", default_value = "900", value_parser = duration)]
        min_ttl: Duration,
    },
}

#[derive(Subcommand)]
pub enum ConfigureAction {
    /// Print KEY's value in the profile (exit 1 if it is not set).
    Get {
        /// The setting: `region`, or `profile.NAME.region` / `default.region` as the AWS CLI
        /// writes it.
        key: String,
        /// The profile (default: $AWS_PROFILE, then $AWS_DEFAULT_PROFILE, then `default`).
        #[arg(long, short, add = ArgValueCandidates::new(profile_names))]
        profile: Option<String>,
    },
    /// Set KEY to VALUE in the profile. Credential keys go to the credentials file, others to the
    /// config file; every other line is kept as it was, and the file is replaced atomically.
    Set {
        /// The setting: `region`, or `profile.NAME.region` / `default.region` as the AWS CLI
        /// writes it.
        key: String,
        /// Its new value.
        value: String,
        /// The profile (default: $AWS_PROFILE, then $AWS_DEFAULT_PROFILE, then `default`).
        #[arg(long, short, add = ArgValueCandidates::new(profile_names))]
        profile: Option<String>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TextOrJson {
    Text,
    Json,
}

/// `--version`: credbox's version and the digest of the policy component it embeds.
static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{} (guest sha256 {})",
        env!("CARGO_PKG_VERSION"),
        credbox::component::GUEST_SHA256
    )
});

/// How helpers run.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Kill the helper (and everything it started) after this long: seconds (`90`, `0.5`) or a
    /// duration (`90s`, `2m`, `1h30m`).
    #[arg(long, value_name = "DURATION", default_value = "60", value_parser = duration)]
    timeout: Duration,
    /// Refresh credentials when less than this much validity remains: seconds (`900`) or a
    /// duration (`15m`, `1h`).
    #[arg(long, value_name = "DURATION", default_value = "900", value_parser = duration)]
    min_ttl: Duration,
    /// Always run the helper; neither read nor write the cross-process cache.
    #[arg(long)]
    no_cache: bool,
    /// The helper's stdin: `auto` gives it the terminal when credbox runs in the terminal's
    /// foreground (with --prompt terminal), else nothing to read (end of file at once); `inherit`
    /// always passes credbox's stdin on; `null` never does.
    #[arg(long, value_enum, default_value = "auto")]
    stdin: StdinArg,
    /// Only run these programs (absolute paths), optionally pinned: PATH=SHA256. Repeatable.
    #[arg(long, value_name = "PATH[=SHA256]")]
    allow: Vec<Allowed>,
    /// Let credential_process values that use shell syntax run through /bin/sh -c.
    #[arg(long)]
    allow_shell: bool,
    /// Where a role's MFA prompt goes: the controlling terminal (`terminal`, even when stdin and
    /// stderr are captured), or nowhere (`never`: fail at once unless the profile has
    /// mfa_process).
    #[arg(long, value_enum, default_value = "terminal")]
    prompt: PromptArg,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum StdinArg {
    Auto,
    Inherit,
    Null,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum PromptArg {
    Terminal,
    Never,
}

impl RunArgs {
    pub fn options(&self) -> Result<FetchOptions, Error> {
        if self.timeout.is_zero() {
            return Err(Error::new(
                ErrorKind::Usage,
                "--timeout must be longer than 0 (e.g. 60, 90s, 2m)",
            ));
        }
        let timeout = self.timeout;
        let cache = if self.no_cache { None } else { open_cache() };
        // Compiled plugins are not credentials: they are kept even with --no-cache (in the
        // cache directory's `plugins`, reached only through the verified cache directory).
        let plugin_artifacts = credbox::cache::default_dir();
        Ok(FetchOptions {
            min_ttl: self.min_ttl,
            timeout,
            policy: CapabilityPolicy {
                max_timeout: timeout,
                stdin: match self.stdin {
                    StdinArg::Auto => StdinMode::Auto,
                    StdinArg::Inherit => StdinMode::Inherit,
                    StdinArg::Null => StdinMode::Null,
                },
                allow_shell: self.allow_shell,
                allow_list: (!self.allow.is_empty()).then(|| self.allow.clone()),
                forward_stderr: true,
                plugin_artifacts,
                prompt: match self.prompt {
                    PromptArg::Terminal => PromptMode::Terminal,
                    PromptArg::Never => PromptMode::Never,
                },
            },
            cache,
            clock: None,
        })
    }
}

/// A duration as people type it: a bare number is seconds (`90`, `0.5`), anything else a
/// duration in jiff's friendly form (`90s`, `2m`, `1h30m`, `1h 30m`). Never negative, at most
/// about 31 years (a billion seconds).
fn duration(text: &str) -> Result<Duration, String> {
    let accepted = "use seconds (90, 0.5) or a duration such as 90s, 2m or 1h30m";
    let seconds = match text.trim().parse::<f64>() {
        Ok(seconds) => seconds,
        Err(_) => match text.trim().parse::<jiff::SignedDuration>() {
            Ok(duration) => duration.as_secs_f64(),
            Err(_) => return Err(format!("`{text}` is not a duration: {accepted}")),
        },
    };
    if !(seconds.is_finite() && (0.0..1e9).contains(&seconds)) {
        return Err(format!("`{text}` is out of range: {accepted}"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// `--format`: the library's format names, offered as clap's possible values.
fn format_parser() -> impl clap::builder::TypedValueParser<Value = Format> {
    let names = Format::NAMES.map(|(name, _)| name);
    clap::builder::PossibleValuesParser::new(names).map(|name| name.parse().expect("a listed name"))
}

/// The cache, or none (with a warning) when it cannot be used: caching is never fatal.
fn open_cache() -> Option<Cache> {
    let Some(dir) = credbox::cache::default_dir() else {
        eprintln!("credbox: warning: no cache directory (set CREDBOX_CACHE_DIR or HOME); not caching");
        return None;
    };
    Cache::open(&dir)
        .map_err(|why| {
            eprintln!(
                "credbox: warning: {}; not caching",
                credbox::text::printable(&why)
            )
        })
        .ok()
}

/// The profiles the files define, for shell completion of `--profile` (from the same files and
/// through the same policy as everything else; nothing on failure).
fn profile_names() -> Vec<CompletionCandidate> {
    let locations = credbox::files::locate_from_env();
    let Ok(runtime) = credbox::Runtime::new() else {
        return Vec::new();
    };
    credbox::configure::report(&runtime, &locations, None)
        .map(|report| {
            report
                .profiles
                .into_iter()
                .map(|p| CompletionCandidate::new(p.profile))
                .collect()
        })
        .unwrap_or_default()
}
