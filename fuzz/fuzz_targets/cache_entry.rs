//! Cache-entry decoding: a corrupt entry is ignored, never a panic; an accepted entry round-trips.
#![no_main]

use credbox_guest::provider::{Options, Provider};
use credbox_guest::resolve::ProcessSettings;
use libfuzzer_sys::fuzz_target;

fn provider() -> Provider {
    let settings = ProcessSettings::command("p", "/h");
    Provider::new(settings, Options::default())
}

fuzz_target!(|data: &[u8]| {
    let now = 1_700_000_000;
    let first = provider();
    if first.restore(data, now) {
        let entry = first.cache_entry().expect("a restored entry can be stored again");
        let second = provider();
        assert!(second.restore(&entry, now));
        assert_eq!(second.cache_entry(), Some(entry));
    }
});
