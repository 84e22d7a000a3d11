//! The `credbox` binary: parse the arguments, harden the process, dispatch on the mode
//! ([`cli::run`]), and turn the outcome into the exit code (README "Exit codes").

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // A shell asking for completions (COMPLETE=SHELL credbox -- WORDS): answer and exit.
    clap_complete::CompleteEnv::with_factory(<cli::Cli as clap::CommandFactory>::command).complete();
    credbox::platform::harden_process();
    let args = cli::Cli::parse();
    // A printing command whose reader goes away (`credbox completions bash | head`) ends quietly,
    // as Unix tools do, instead of panicking on the failed write. Not for the endpoint, which
    // keeps serving whatever happens to one of its outputs.
    if !matches!(
        args.command,
        cli::Commands::Serve { .. } | cli::Commands::Exec { server: true, .. }
    ) {
        cli::end_quietly_when_the_reader_goes();
    }
    // The subreaper of the helpers' descendants, so that a timeout can kill the ones that called
    // setsid() (spawn::become_subreaper). Not for `exec`: the command it runs is its child, and
    // that command's own daemons must not become credbox's.
    if !matches!(args.command, cli::Commands::Exec { .. })
        && let Err(e) = credbox::spawn::become_subreaper()
    {
        eprintln!("credbox: warning: could not become the helpers' subreaper: {e}");
    }
    if args.verbose {
        tracing_subscriber::fmt()
            .with_writer(|| cli::PrintableStderr)
            .with_target(false)
            .without_time()
            .with_max_level(tracing::Level::DEBUG)
            .init();
    }
    let code = match cli::run(args.command) {
        Ok(code) => code,
        Err(error) => {
            credbox::spawn::write_own_stderr(format!("credbox: {error}\n").as_bytes());
            ExitCode::from(error.kind().exit_code())
        }
    };
    // What credbox has to say is written by a thread of its own: a stderr nobody reads may hold
    // it up, never credbox's exit.
    credbox::spawn::flush_own_stderr(std::time::Instant::now() + cli::LAST_WORDS);
    code
}
