//! `credential_process` splitting and rules, by Unix and by Windows rules: never a panic; an
//! accepted argv has a program that is absolute or a bare name; shell mode only ever returns the
//! value itself.
#![no_main]

use credbox_guest::{Command, Platform, parse_command};
use libfuzzer_sys::fuzz_target;

/// Absolute or bare, by `platform`'s rules (written apart from the guest's, as an oracle).
fn absolute_or_bare(program: &str, platform: Platform) -> bool {
    match platform {
        Platform::Unix => program.starts_with('/') || !program.contains('/'),
        Platform::Windows => {
            let b = program.as_bytes();
            let sep = |c: u8| c == b'\\' || c == b'/';
            let drive = b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && sep(b[2]);
            let unc = b.len() >= 2 && sep(b[0]) && sep(b[1]);
            drive || unc || !program.contains(['\\', '/', ':'])
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    for platform in [Platform::Unix, Platform::Windows] {
        match parse_command(value, false, platform) {
            Ok(Command::Argv(argv)) => {
                let program = &argv[0];
                assert!(!program.is_empty());
                assert!(absolute_or_bare(program, platform), "{platform:?} {program:?}");
            }
            Ok(Command::Shell(_)) => panic!("shell mode without --allow-shell"),
            Err(_) => {}
        }
        if let Ok(Command::Shell(text)) = parse_command(value, true, platform) {
            assert_eq!(text, value.trim());
        }
    }
});
