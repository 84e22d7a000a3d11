//! The entry points without a profile: a command line (`credbox run -- ...`, `credential_process
//! = credbox run -- ...`) and a plugin, each run as a profile-less helper.

use crate::Credentials;
use crate::component::{Context, Helper, ProcessSettings, Runtime};
use crate::error::{Error, ErrorKind};
use crate::files;

use super::served::ServedRecord;
use super::steps::{Fetched, fetch_process};
use super::{FetchOptions, Origin};

/// Run `argv` as a credential_process helper (no profile), with the same validation and caching.
pub fn credentials_for_command(
    runtime: &Runtime,
    argv: &[String],
    options: &FetchOptions,
) -> Result<(Credentials, Origin), Error> {
    fetch_for_command(runtime, argv, options).map(|f| (f.credentials, f.origin))
}

pub(crate) fn fetch_for_command(
    runtime: &Runtime,
    argv: &[String],
    options: &FetchOptions,
) -> Result<Fetched, Error> {
    let program = argv.first().map(String::as_str).unwrap_or("");
    let command_line = shell_join(argv);
    // The label binds cache entries and the recursion guard to this program.
    let settings = profileless(
        format!("run:{program}"),
        Helper::CommandLine(command_line.clone()),
    );
    let served = ServedRecord::new(options, &[&command_line], &settings.profile);
    if let Some(fetched) = served.lookup(&options.policy, &settings.profile) {
        return Ok(fetched);
    }
    let mut session = options.session(runtime)?;
    let fetched = fetch_process(&mut session, &settings, options, &Context::Command(program))?;
    served.store(&fetched, Vec::new);
    Ok(fetched)
}

/// Get credentials from the credential plugin component at `path` (no profile), with the same
/// validation and caching as a helper's.
pub fn credentials_for_plugin(
    runtime: &Runtime,
    path: &std::path::Path,
    options: &FetchOptions,
) -> Result<(Credentials, Origin), Error> {
    let shown = path.display().to_string();
    let path = std::path::absolute(path).map_err(|e| {
        Error::new(
            ErrorKind::Usage,
            format!("plugin {shown}: cannot make the path absolute: {e}"),
        )
    })?;
    let path = path.to_string_lossy().into_owned();
    let settings = profileless(format!("plugin:{path}"), Helper::Plugin(path));
    let mut session = options.session(runtime)?;
    fetch_process(&mut session, &settings, options, &Context::Plugin(&shown))
        .map(|f| (f.credentials, f.origin))
}

/// Settings for a helper given without a profile.
fn profileless(label: String, helper: Helper) -> ProcessSettings {
    ProcessSettings {
        profile: label,
        helper,
        account_id: None,
        origin: None,
    }
}

/// Quote words so that the guest's splitting, by this system's rules, gives them back unchanged.
fn shell_join(argv: &[String]) -> String {
    let quote = match files::Platform::current() {
        files::Platform::Unix => |word: &str| format!("'{}'", word.replace('\'', r"'\''")),
        files::Platform::Windows => windows_quote,
    };
    argv.iter().map(|word| quote(word)).collect::<Vec<_>>().join(" ")
}

/// One word in double quotes by the Windows C runtime's rules (which the guest splits by, as
/// botocore does): a backslash run is doubled where it ends at a quote, and a quote is escaped.
/// (std quotes so inside `Command`, but does not expose it.)
fn windows_quote(word: &str) -> String {
    let mut quoted = String::from("\"");
    let mut backslashes = 0;
    for c in word.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                quoted.extend(std::iter::repeat_n('\\', 2 * backslashes + 1));
                quoted.push('"');
                backslashes = 0;
            }
            c => {
                quoted.extend(std::iter::repeat_n('\\', backslashes));
                quoted.push(c);
                backslashes = 0;
            }
        }
    }
    quoted.extend(std::iter::repeat_n('\\', 2 * backslashes));
    quoted.push('"');
    quoted
}
