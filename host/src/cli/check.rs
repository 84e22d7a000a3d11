//! `credbox check`: the audit's findings, as text or JSON; exit 1 when any is an error.

use std::process::ExitCode;

use credbox::audit::Severity;
use credbox::{Error, Runtime, files};

use super::args::TextOrJson;

/// Audit, print the findings, and exit 1 when any is an error.
pub fn check(profile: Option<String>, format: TextOrJson) -> Result<ExitCode, Error> {
    let locations = files::locate_from_env();
    let runtime = Runtime::new().map_err(Error::internal)?;
    let findings = credbox::audit::check(&runtime, &locations, profile.as_deref())?;
    match format {
        TextOrJson::Json => println!(
            "{}",
            serde_json::to_string_pretty(&findings).expect("findings serialize")
        ),
        TextOrJson::Text => {
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
                let line = format!("{severity}: {profile}{}{location}", f.message);
                println!("{}", credbox::text::printable(&line));
            }
            let count = |s| findings.iter().filter(|f| f.severity == s).count();
            println!(
                "{} error(s), {} warning(s)",
                count(Severity::Error),
                count(Severity::Warning)
            );
        }
    }
    let failed = findings.iter().any(|f| f.severity == Severity::Error);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
