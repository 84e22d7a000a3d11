//! The recursion guard: a helper that calls credbox for the profile being resolved (or a chain
//! deeper than [`super::MAX_CHAIN`]) is refused, through a variable passed down the chain.

use super::{CHAIN_VAR, MAX_CHAIN, SpawnError};

/// Refuse `label` if it is already being resolved higher up the chain, or the chain is too deep.
/// Checked before any cache lock is taken (a helper's or a role's), as well as before every
/// command credbox runs (`credential_process`, `mfa_process`), always with the profile the host is
/// fetching for.
pub fn check_recursion(label: &str) -> Result<(), SpawnError> {
    check_chain(label).map(drop)
}

/// Check the recursion guard and return the chain to pass on, with `label` appended.
pub(super) fn check_chain(label: &str) -> Result<String, SpawnError> {
    // An empty link would match nothing and count for nothing.
    if label.is_empty() {
        return Err(SpawnError::Denied(
            "recursion: a command must be run for a named profile".into(),
        ));
    }
    let current = std::env::var(CHAIN_VAR).unwrap_or_default();
    let links: Vec<String> = current
        .split(',')
        .filter(|l| !l.is_empty())
        .map(unescape_link)
        .collect();
    if links.iter().any(|l| l == label) {
        return Err(SpawnError::Denied(format!(
            "recursion: `{label}` is already being resolved higher up the chain ({}); a command credbox runs for it (its credential_process or mfa_process) must not call credbox for it",
            links.join(" -> ")
        )));
    }
    if links.len() >= MAX_CHAIN {
        return Err(SpawnError::Denied(format!(
            "recursion: credbox is nested {} deep ({}); at most {MAX_CHAIN} are allowed",
            links.len(),
            links.join(" -> ")
        )));
    }
    let mut next = current.trim_end_matches(',').to_string();
    if !next.is_empty() {
        next.push(',');
    }
    next.push_str(&escape_link(label));
    Ok(next)
}

/// Links are comma-separated; `%` and `,` inside a label are percent-encoded.
fn escape_link(label: &str) -> String {
    label.replace('%', "%25").replace(',', "%2C")
}

fn unescape_link(link: &str) -> String {
    link.replace("%2C", ",").replace("%25", "%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_links_round_trip() {
        for label in ["dev", "a,b", "100%", "x%2Cy"] {
            assert_eq!(unescape_link(&escape_link(label)), label);
        }
    }
}
