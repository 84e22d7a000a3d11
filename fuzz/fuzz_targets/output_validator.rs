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
    let message = format!("{error:?}");
    // Any secret-looking run of 12 or more input characters appearing in the error would be a
    // leak. Field names are named on purpose, and numbers (a `Version` of 2) are shown.
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
