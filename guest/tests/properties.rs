//! Properties of the policy, checked over generated inputs (proptest):
//! - the output validator never panics, and its errors never quote a secret-looking value;
//! - `configure set` edits read back exactly as given (or are refused), leaving other profiles be;
//! - a cache entry restores the very credentials it was made from.

use std::cell::Cell;

use credbox_guest::edit::{EditError, file_for_key, set_property};
use credbox_guest::output::FIELDS;
use credbox_guest::profile::{FileKind, ProfileSet};
use credbox_guest::provider::{Host, Options, Provider, SpawnError, SpawnOutput, SpawnRequest};
use credbox_guest::resolve::ProcessSettings;
use credbox_guest::{ExitStatus, validate_output};
use proptest::prelude::*;

const NOW: i64 = 1_800_000_000;

/// What a secret looks like: a long run of key characters, with letters and digits.
fn secret() -> impl Strategy<Value = String> {
    "[A-Za-z0-9/+]{20,60}".prop_filter("letters and digits", |s| {
        s.chars().any(|c| c.is_ascii_alphabetic()) && s.chars().any(|c| c.is_ascii_digit())
    })
}

/// A JSON value, in one of the shapes a broken helper prints, holding `secret` where it can.
fn value_with(secret: &str, shape: u8) -> String {
    match shape % 9 {
        0 => format!("\"{secret}\""),
        1 => format!("{{\"nested\": \"{secret}\"}}"),
        2 => format!("[\"{secret}\", 1]"),
        3 => "1".into(),
        4 => "\"1\"".into(),
        5 => "null".into(),
        6 => "true".into(),
        7 => "\"2030-01-02T03:04:05Z\"".into(),
        _ => format!("\"{secret} 2030-01-02\""),
    }
}

/// A document of `fields` (protocol names in any case, or others) with generated values,
/// optionally cut short or with a stray byte, as broken helpers print.
fn document(secret: &str, fields: &[(usize, bool, u8)], damage: (u8, usize, u8)) -> Vec<u8> {
    let members: Vec<String> = fields
        .iter()
        .map(|&(index, lower, shape)| {
            let name = FIELDS.get(index).copied().unwrap_or("Extra");
            let name = if lower {
                name.to_lowercase()
            } else {
                name.to_string()
            };
            format!("\"{name}\": {}", value_with(secret, shape))
        })
        .collect();
    let mut bytes = format!("{{{}}}", members.join(", ")).into_bytes();
    let (kind, at, byte) = damage;
    let at = at % (bytes.len() + 1);
    match kind % 3 {
        0 => {}
        1 => bytes.truncate(at),
        _ => bytes.insert(at, byte),
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_validator_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = validate_output(&bytes, None, NOW);
    }

    #[test]
    fn validator_errors_never_quote_a_secret(
        secret in secret(),
        fields in proptest::collection::vec((0usize..7, any::<bool>(), any::<u8>()), 0..8),
        damage in (any::<u8>(), any::<usize>(), any::<u8>()),
    ) {
        let bytes = document(&secret, &fields, damage);
        if let Err(error) = validate_output(&bytes, Some("123456789012"), NOW) {
            let shown = format!("{error:?}");
            prop_assert!(!shown.contains(&secret), "{shown}");
            // Nor a recognisable piece of it.
            prop_assert!(!shown.contains(&secret[..16]), "{shown}");
        }
    }

    #[test]
    fn configure_set_reads_back_or_is_refused(
        profile in "[a-z0-9_-]{1,12}",
        other in "[a-z0-9_-]{1,12}",
        key in "[a-zA-Z0-9_]{1,20}",
        value in "[ -~]{0,40}",
    ) {
        prop_assume!(profile != other);
        let kind = file_for_key(&key);
        let section = |name: &str| match kind {
            FileKind::Config if name == "default" => "[default]".to_string(),
            FileKind::Config => format!("[profile {name}]"),
            FileKind::Credentials => format!("[{name}]"),
        };
        let text = format!(
            "# kept\n{}\nregion = eu-west-1\n\n{}\nregion = us-east-1\n",
            section(&other),
            section(&profile)
        );
        let parse = |text: &str| match kind {
            FileKind::Config => ProfileSet::parse(text, ""),
            FileKind::Credentials => ProfileSet::parse("", text),
        };
        match set_property(&text, kind, &profile, &key, &value) {
            Err(EditError::Invalid(_)) => {}
            Err(EditError::Parse(line, message)) => prop_assert!(false, "line {line}: {message}"),
            Ok(edited) => {
                let set = parse(&edited).map_err(|(_, e)| TestCaseError::fail(e.message))?;
                let read = set.profiles[&profile].get(&key.to_lowercase()).map(|v| v.value.clone());
                prop_assert_eq!(read.as_deref(), Some(value.as_str()), "{}", edited);
                let before = parse(&text).map_err(|(_, e)| TestCaseError::fail(e.message))?;
                prop_assert_eq!(
                    set.profiles[&other].get("region").map(|v| &v.value),
                    before.profiles[&other].get("region").map(|v| &v.value)
                );
                prop_assert!(edited.starts_with("# kept\n"));
            }
        }
    }

    #[test]
    fn a_cache_entry_restores_the_credentials_it_was_made_from(
        key in "[A-Z0-9]{16,20}",
        secret in "[A-Za-z0-9+/=_.-]{1,60}",
        token in proptest::option::of("[A-Za-z0-9+/=_.-]{1,200}"),
        account in proptest::option::of("[0-9]{12}"),
        lifetime in 120i64..86_400,
    ) {
        let document = serde_json::json!({
            "Version": 1,
            "AccessKeyId": key,
            "SecretAccessKey": secret,
            "SessionToken": token,
            "Expiration": jiff::Timestamp::from_second(NOW + lifetime).unwrap().to_string(),
            "AccountId": account,
        });
        let host = OneShot { stdout: serde_json::to_vec(&document).unwrap(), runs: Cell::new(0) };
        let settings = ProcessSettings::command("p", "/h");
        let first = Provider::new(settings.clone(), Options::default());
        let fetched = first.retrieve(&host).unwrap();
        let entry = first.cache_entry().expect("temporary credentials are stored");

        let second = Provider::new(settings, Options::default());
        prop_assert!(second.restore(&entry, NOW + 1));
        prop_assert_eq!(second.retrieve(&host).unwrap(), fetched);
        prop_assert_eq!(host.runs.get(), 1, "restored, not fetched again");
    }
}

/// A host whose helper prints `stdout`; it counts runs, at a fixed time.
struct OneShot {
    stdout: Vec<u8>,
    runs: Cell<u32>,
}

impl Host for OneShot {
    fn spawn(&self, _: SpawnRequest) -> Result<SpawnOutput, SpawnError> {
        self.runs.set(self.runs.get() + 1);
        Ok(SpawnOutput {
            status: ExitStatus::Code(0),
            stdout: self.stdout.clone(),
            stderr_tail: String::new(),
        })
    }

    fn now(&self) -> i64 {
        NOW
    }
}
