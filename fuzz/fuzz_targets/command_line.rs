//! `credential_process` splitting and rules: never a panic; an accepted argv has a program that
//! is absolute or a bare name; shell mode only ever returns the value itself.
#![no_main]

use credbox_guest::{Command, parse_command};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    match parse_command(value, false) {
        Ok(Command::Argv(argv)) => {
            let program = &argv[0];
            assert!(!program.is_empty());
            assert!(program.starts_with('/') || !program.contains('/'), "{program:?}");
        }
        Ok(Command::Shell(_)) => panic!("shell mode without --allow-shell"),
        Err(_) => {}
    }
    if let Ok(Command::Shell(text)) = parse_command(value, true) {
        assert_eq!(text, value.trim());
    }
});
