//! The profile file parser, and `configure set` on whatever it accepts: never a panic, parsing
//! for one profile agrees with the full parse, and an edited file always parses and reads back
//! the value set.
#![no_main]

use credbox_guest::edit::{file_for_key, set_property};
use credbox_guest::profile::{FileKind, ProfileSet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first NUL splits the input into a config file and a credentials file.
    let (config, credentials) = text.split_once('\0').unwrap_or((text, ""));
    let full = ProfileSet::parse(config, credentials);
    // Parsing for one profile keeps exactly what the full parse has for it, and fails alike.
    let names: Vec<&str> = match &full {
        Ok(set) => set
            .profiles
            .keys()
            .map(String::as_str)
            .chain(["default", "absent"])
            .collect(),
        Err(_) => vec!["default"],
    };
    for name in names {
        let only = ProfileSet::parse_only(config, credentials, Some(name));
        match (&full, &only) {
            (Ok(full), Ok(only)) => assert_eq!(full.profiles.get(name), only.profiles.get(name)),
            (Err(full), Err(only)) => assert_eq!(full, only),
            _ => panic!("parse and parse_only disagree on success for {name:?}"),
        }
    }
    if full.is_err() {
        return;
    }
    let key = "region";
    assert_eq!(file_for_key(key), FileKind::Config);
    if let Ok(edited) = set_property(config, FileKind::Config, "fuzzed", key, "eu-west-1") {
        let set = ProfileSet::parse(&edited, "").expect("an edited file parses");
        assert_eq!(set.profiles["fuzzed"][key].value, "eu-west-1");
    }
});
