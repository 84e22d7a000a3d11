//! Helper output validation: never a panic, and an error never quotes a long piece of the output
//! (which may be a secret).
#![no_main]

use credbox_guest::output::FIELDS;
use credbox_guest::validate_output;
use libfuzzer_sys::fuzz_target;

/// The names the `Debug` form of the guest's `Error` prints on its own (variants and fields).
const ERROR_VARIANTS: &str = "Config CommandSyntax SpawnDenied SpawnFailed TimedOut NonzeroExit \
    OutputTooLarge MalformedOutput UnsupportedVersion MissingField InvalidField Expired Plugin \
    stderr_tail";

fuzz_target!(|data: &[u8]| {
    let Err(error) = validate_output(data, Some("123456789012"), 1_700_000_000) else {
        return;
    };
    // `Error` has no `Display`; its `Debug` form holds every string the host renders from it.
    let message = format!("{error:?}");
    // Any secret-looking run of 12 or more input characters (`A-Z a-z 0-9 + /`, not digits alone)
    // appearing in the error would be a leak. This is the rule `credbox_guest::output::showable`
    // applies before the validator shows a bad `Version` number or `Expiration`, so the two agree:
    // `2026-01-02T03:04` and `1700000000000` may be shown; `20260102T030405Z` and `2.3928655523e+16`
    // may not (seeds/output_validator/: compact-expiration.json, long-fraction-expiration.json,
    // long-version.json). Field names are named on purpose.
    if let Ok(input) = std::str::from_utf8(data) {
        let chars: Vec<char> = input.chars().collect();
        for window in chars.windows(12) {
            let piece: String = window.iter().collect();
            let secret_like = piece
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '/' || c == '+')
                && !piece.chars().all(|c| c.is_ascii_digit())
                && !FIELDS
                    .iter()
                    .any(|f| f.to_ascii_lowercase().contains(&piece.to_ascii_lowercase()))
                // The Debug form names the error variant; an input that happens to spell part of
                // one (seeds/output_validator/variant-name-in-input.json) is not a leak.
                && !ERROR_VARIANTS.contains(piece.as_str());
            if secret_like {
                assert!(
                    !message.contains(&piece),
                    "error quotes the output: {piece:?} in {message}"
                );
            }
        }
    }
});
