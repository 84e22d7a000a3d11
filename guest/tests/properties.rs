//! Properties of the policy, checked over generated inputs (proptest):
//! - the output validator never panics, and its errors never quote a secret-looking value, with
//!   documents valid but for one field reaching every field's checks (counted);
//! - `configure set` edits read back exactly as given (or are refused), leaving other profiles be;
//! - a cache entry restores the very credentials it was made from;
//! - parsing for one profile keeps exactly what the full parse has for it, and fails alike.

use std::cell::Cell;
use std::collections::BTreeMap;

use credbox_guest::edit::{EditError, file_for_key, set_property};
use credbox_guest::output::FIELDS;
use credbox_guest::profile::{FileKind, ProfileSet};
use credbox_guest::provider::{Host, Options, Provider};
use credbox_guest::wit::ProcessSettings;
use credbox_guest::wit::plugins::CallError as PluginCallError;
use credbox_guest::wit::prompt::PromptError;
use credbox_guest::wit::spawn::{Output as SpawnOutput, Request as SpawnRequest, SpawnError};
use credbox_guest::wit::sts::{AssumeRoleRequest, AssumedRole};
use credbox_guest::{Credentials, Error, ExitStatus, InvalidField, StsError, validate_output};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

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

/// The pieces of `input` an error must never show, by the rule `credbox_guest::output::showable`
/// applies and the fuzz invariant checks: every 12-character run of key characters
/// (`A-Z a-z 0-9 + /`) that is not digits alone, except pieces of the field names.
fn secret_pieces(input: &str) -> Vec<String> {
    let chars: Vec<char> = input.chars().collect();
    chars
        .windows(12)
        .map(|w| w.iter().collect::<String>())
        .filter(|piece| {
            piece
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '/' || c == '+')
                && !piece.chars().all(|c| c.is_ascii_digit())
                && !FIELDS
                    .iter()
                    .any(|f| f.to_ascii_lowercase().contains(&piece.to_ascii_lowercase()))
        })
        .collect()
}

/// A document valid in every field; each case damages one of them.
fn valid_document() -> serde_json::Map<String, Value> {
    let Value::Object(map) = json!({
        "Version": 1,
        "AccessKeyId": "AKIAIOSFODNN7EXAMPLE",
        "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "SessionToken": "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ==",
        "Expiration": "2030-01-02T03:04:05Z",
        "AccountId": "123456789012",
    }) else {
        unreachable!()
    };
    map
}

/// Characters no credential contains.
const BAD_CHARS: [char; 12] = [' ', '$', '"', '\n', 'é', ';', '\0', '`', '\'', '%', ',', '\\'];

/// Ways of holding `secret` in a bad `Expiration` (or any field): each reaches a different one of
/// `parse_expiration`'s checks (shape, offset, a real date).
const BAD_TIMESTAMPS: [&str; 10] = [
    "{s}T03:04:05Z",
    "2026-01-02 {s}",
    "{s}+00:00",
    "2026-01-02T03:04:05{s}",
    "2026-01-02T03:04:05Z {s}",
    "2026-01-02T03:04:05+{s}",
    "2026-01-02T03:04:05.{s}Z",
    "2026-01-02T03:04:05.{s}+01:00",
    "2026-01-02T03:04:05{s}Z",
    "2026-01-02t03:04:05,{s}z",
];

/// Bad timestamps that are no secret: the error should show them, to help.
const SHOWABLE_TIMESTAMPS: [&str; 6] = [
    "2026-01-02T03:04:05",
    "2026-13-02T03:04:05Z",
    "2026-01-02",
    "1700000000",
    "2026-01-02T03:04:05+0000",
    "2001-02-03T04:05:06Z",
];

/// How the damaged field's value is made (`KINDS` of them), from generated parts.
#[derive(Clone, Debug)]
struct Damage {
    kind: usize,
    secret: String,
    timestamp_like: String,
    at: usize,
    pick: usize,
    number: String,
}

const KINDS: usize = 8;

fn damage() -> impl Strategy<Value = Damage> {
    (
        0..KINDS,
        secret(),
        // Secret-like runs made of timestamp characters: the echo a compact timestamp invites.
        prop_oneof![
            "[0-9]{8}[Tt][0-9]{6}[Zz]",
            "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{11,14}[Zz]",
            "[0-9TtZz+]{12,30}".prop_filter("not digits alone", |s| !s.chars().all(|c| c.is_ascii_digit())),
        ],
        any::<usize>(),
        any::<usize>(),
        prop_oneof![
            "[1-9]\\.[0-9]{11,16}e[1-9][0-9]",
            "[2-9][0-9]{15,30}",
            "1\\.[0-9]{1,4}"
        ],
    )
        .prop_map(|(kind, secret, timestamp_like, at, pick, number)| Damage {
            kind,
            secret,
            timestamp_like,
            at,
            pick,
            number,
        })
}

impl Damage {
    /// The damaged field's value.
    fn value(&self) -> Value {
        let secret = self.secret.as_str();
        match self.kind {
            0 => secret.into(),
            1 => [json!({ "value": secret }), json!([secret, 1])][self.pick % 2].clone(),
            2 => {
                let mut chars: Vec<char> = secret.chars().collect();
                chars.insert(
                    1 + self.at % (chars.len() - 1),
                    BAD_CHARS[self.pick % BAD_CHARS.len()],
                );
                chars.into_iter().collect::<String>().into()
            }
            3 => BAD_TIMESTAMPS[self.pick % BAD_TIMESTAMPS.len()]
                .replace("{s}", secret)
                .into(),
            4 => self.timestamp_like.clone().into(),
            5 => SHOWABLE_TIMESTAMPS[self.pick % SHOWABLE_TIMESTAMPS.len()].into(),
            6 => serde_json::from_str(&self.number).expect("a JSON number"),
            // 7: the field again, in other letter case, holding the secret (see `document`).
            _ => secret.into(),
        }
    }

    /// A document valid but for `field`, as text.
    fn document(&self, field: &str) -> String {
        let mut doc = valid_document();
        if self.kind == 7 {
            doc.insert(field.to_lowercase(), self.value());
        } else {
            doc.insert(field.into(), self.value());
        }
        Value::Object(doc).to_string()
    }
}

/// Validate the document damaged in `field`; check that the error never shows a secret-like piece
/// of the document, that it is about `field`, and that a bad timestamp which is no secret is shown.
/// Returns the check that decided, for counting.
fn validate_damaged(field: &str, damage: &Damage) -> Result<String, String> {
    let document = damage.document(field);
    let result = validate_output(document.as_bytes(), None, NOW);
    let Err(error) = result else {
        return Ok("accepted".into());
    };
    // `Error` has no `Display`; its `Debug` form is all that callers (the host) see of it.
    let shown = format!("{error:?}");
    if shown.contains(&damage.secret) {
        return Err(format!("{field}: the secret is in {shown}"));
    }
    if let Some(piece) = secret_pieces(&document)
        .into_iter()
        .find(|p| shown.contains(p.as_str()))
    {
        return Err(format!("{field}: {piece:?} of {document} is in {shown}"));
    }
    let check = match &error {
        Error::UnsupportedVersion(_) => "Version: unsupported".to_string(),
        Error::Expired(_) => "Expiration: expired".into(),
        Error::MissingField(named) => format!("{named}: missing"),
        Error::InvalidField(InvalidField { field: named, reason }) => {
            let what = if reason.starts_with("appears more than once") {
                "duplicate"
            } else if reason.starts_with("must be a string") || reason.contains(", found ") {
                "type"
            } else if reason.contains("character no AWS credential") {
                "alphabet"
            } else if reason.contains("digits only") {
                "digits"
            } else if reason.starts_with("must be an RFC 3339 timestamp (") {
                "timestamp shape"
            } else if reason.starts_with("must end with `Z`") {
                "timestamp offset"
            } else if reason.starts_with("must be a real date") {
                "timestamp date"
            } else {
                return Err(format!("{field}: an unknown check: {shown}"));
            };
            format!("{named}: {what}")
        }
        other => return Err(format!("{field}: {other:?} from a JSON object")),
    };
    if !check.starts_with(&format!("{field}: ")) {
        return Err(format!(
            "{field} damaged, but the error is about another field: {shown}"
        ));
    }
    if field == "Expiration" && damage.kind == 5 && check.contains("timestamp") {
        let text = SHOWABLE_TIMESTAMPS[damage.pick % SHOWABLE_TIMESTAMPS.len()];
        if !shown.contains(text) {
            return Err(format!(
                "{text:?} is no secret, so the error should show it: {shown}"
            ));
        }
        return Ok(format!("{check} (shown)"));
    }
    Ok(check)
}

/// Damage each field in turn, `CASES` times, every kind of damage equally often (deterministic
/// generation, so the counts are stable), and require each field's checks to be reached.
#[test]
fn every_field_check_is_reached_and_none_shows_a_secret() {
    const CASES: usize = 400;
    let mut runner = TestRunner::deterministic();
    let strategy = damage();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for field in FIELDS {
        for case in 0..CASES {
            let mut damage = strategy.new_tree(&mut runner).unwrap().current();
            damage.kind = case % KINDS;
            damage.pick = case / KINDS;
            let check = validate_damaged(field, &damage).unwrap_or_else(|failure| panic!("{failure}"));
            let key = if check == "accepted" {
                format!("{field}: accepted")
            } else {
                check
            };
            *counts.entry(key).or_default() += 1;
        }
    }
    let report: Vec<String> = counts.iter().map(|(check, n)| format!("{check}: {n}")).collect();
    println!("cases per check, {CASES} per field:\n  {}", report.join("\n  "));
    let reached = |check: &str| counts.get(check).copied().unwrap_or(0);
    let at_least = |check: &str, share: usize| {
        assert!(
            reached(check) * 100 >= CASES * share,
            "{check} reached {} of {CASES} cases, want {share}%:\n  {}",
            reached(check),
            report.join("\n  ")
        );
    };
    // Every case reaches the damaged field's own checks (or is accepted by them).
    for field in FIELDS {
        let own: usize = counts
            .iter()
            .filter(|(c, _)| c.starts_with(&format!("{field}: ")))
            .map(|(_, n)| n)
            .sum();
        assert_eq!(own, CASES, "{field}: {}", report.join("\n  "));
        at_least(&format!("{field}: duplicate"), 10);
    }
    at_least("Version: unsupported", 80);
    for field in [
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "AccountId",
        "Expiration",
    ] {
        at_least(&format!("{field}: type"), 20);
    }
    for field in ["AccessKeyId", "SecretAccessKey", "SessionToken"] {
        at_least(&format!("{field}: alphabet"), 30);
        at_least(&format!("{field}: accepted"), 10);
    }
    at_least("AccountId: digits", 50);
    // The one place that can echo a value: most cases reach it, by every path, shown and not.
    let parsed: usize = counts
        .iter()
        .filter(|(c, _)| c.starts_with("Expiration: timestamp"))
        .map(|(_, n)| n)
        .sum();
    assert!(
        parsed * 100 >= CASES * 50,
        "Expiration parsing: {parsed}:\n  {}",
        report.join("\n  ")
    );
    for path in ["shape", "offset", "date"] {
        let check = format!("Expiration: timestamp {path}");
        let shown = format!("{check} (shown)");
        assert!(
            (reached(&check) + reached(&shown)) * 100 >= CASES * 5,
            "{check}: {}",
            report.join("\n  ")
        );
        at_least(&check, 2);
        at_least(&shown, 2);
    }
    at_least("Expiration: expired", 1);
}

/// A section of a profile file, from the shapes that decide what a parse keeps: headers of every
/// kind (including `[profile default]` against `[default]`), properties with continuations,
/// sub-property blocks, comments, invalid names, and now and then a broken line.
fn profile_section() -> impl Strategy<Value = String> {
    let header = prop_oneof![
        Just("[default]"),
        Just("[profile default]"),
        Just("[profile a]"),
        Just("[a]"),
        Just("[profile b] # c"),
        Just("[b]"),
        Just("[sso-session s]"),
        Just("[s]"),
        Just("[profile in valid!]"),
        Just("[services x]"),
    ];
    let property = prop_oneof![
        3 => ("[a-zA-Z_]{1,6}", "[ -~]{0,8}", 0..3usize)
            .prop_map(|(k, v, more)| format!("{k} = {v}\n{}", "  more\n".repeat(more))),
        1 => ("[a-z]{1,4}", "[a-z0-9]{0,4}", 0..3usize)
            .prop_map(|(k, v, n)| format!("s3 =\n{}", format!("  {k} = {v}\n").repeat(n))),
        1 => Just("in valid = x\n  more\n".to_string()),
        1 => Just("# comment\n\n".to_string()),
    ];
    let broken = prop_oneof![
        Just(""),
        Just(""),
        Just(""),
        Just(""),
        Just(""),
        Just(""),
        Just(""),
        Just("broken\n"),
        Just("  orphan\n"),
        Just("[profile a\n"),
    ];
    (header, proptest::collection::vec(property, 0..4), broken)
        .prop_map(|(header, properties, broken)| format!("{header}\n{broken}{}", properties.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn a_document_damaged_in_one_field_never_shows_a_secret(field in 0..FIELDS.len(), damage in damage()) {
        if let Err(failure) = validate_damaged(FIELDS[field], &damage) {
            prop_assert!(false, "{}", failure);
        }
    }
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
    fn parsing_for_one_profile_agrees_with_the_full_parse(
        config in proptest::collection::vec(profile_section(), 0..8),
        credentials in proptest::collection::vec(profile_section(), 0..4),
        name in prop_oneof![Just("default"), Just("a"), Just("b"), Just("s"), Just("zz")],
    ) {
        let (config, credentials) = (config.concat(), credentials.concat());
        let full = ProfileSet::parse(&config, &credentials);
        let only = ProfileSet::parse_only(&config, &credentials, Some(name));
        match (full, only) {
            (Ok(full), Ok(only)) => {
                prop_assert_eq!(full.profiles.get(name), only.profiles.get(name));
                prop_assert!(only.profiles.keys().all(|k| k == name));
            }
            (Err(full), Err(only)) => prop_assert_eq!(full, only),
            (full, only) => prop_assert!(false, "full {:?}, only {:?}", full.is_ok(), only.is_ok()),
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
        prop_assert!(second.restore(&entry, &host).unwrap());
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

    fn plugin_retrieve(&self, _: &str) -> Result<Credentials, PluginCallError> {
        unreachable!("no plugin in these properties")
    }

    fn plugin_is_expired(&self, _: &str, _: &Credentials) -> Result<bool, PluginCallError> {
        unreachable!("no plugin in these properties")
    }

    fn assume_role(&self, _: AssumeRoleRequest) -> Result<AssumedRole, StsError> {
        unreachable!("no role in these properties")
    }

    fn mfa_code(&self, _: &str, _: &str) -> Result<String, PromptError> {
        unreachable!("no role in these properties")
    }

    fn now(&self) -> i64 {
        NOW
    }
}
