//! Every case of the cross-SDK profile parser suite (smithy-rs `profile-parser-tests.json`), read
//! from tests/fixtures/conformance at test time and reported by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use credbox_guest::profile::{Profile, ProfileSet};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

fn conformance() -> PathBuf {
    match std::env::var_os("CREDBOX_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/conformance"),
    }
}

fn values(profiles: &BTreeMap<String, Profile>) -> Value {
    profiles
        .iter()
        .map(|(name, profile)| {
            let properties = profile
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.value.clone())));
            (name.clone(), Value::Object(properties.collect()))
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Cases whose `errorContaining` credbox's message does not contain, each with the reason. Empty:
/// every error message starts with the suite's wording (credbox only appends the fix, e.g.
/// "Expected a profile definition before this line; add a [profile NAME] header above it").
/// A case listed here whose message does contain the fragment fails, so the table stays true.
const MESSAGE_DIFFERS: &[(&str, &str)] = &[];

fn run_case(name: &str, case: &Value) -> Result<(), Failed> {
    let input = &case["input"];
    let text = |key: &str| input.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    let parsed = ProfileSet::parse(&text("configFile"), &text("credentialsFile"));
    let output = &case["output"];
    match (output.get("errorContaining"), parsed) {
        (Some(_), Ok(set)) => Err(format!("expected an error, parsed {:?}", values(&set.profiles)).into()),
        (Some(expected), Err((file, e))) => {
            let expected = expected.as_str().ok_or("errorContaining is not a string")?;
            let contains = e.message.contains(expected);
            match MESSAGE_DIFFERS.iter().find(|(case, _)| *case == name) {
                None if contains => Ok(()),
                None => Err(format!(
                    "the error in {file:?} line {} is {:?}, which does not contain {expected:?} \
                     (if that is on purpose, add the case and the reason to MESSAGE_DIFFERS)",
                    e.line, e.message
                )
                .into()),
                Some(_) if contains => Err(format!(
                    "{:?} now contains {expected:?}: remove the case from MESSAGE_DIFFERS",
                    e.message
                )
                .into()),
                Some(_) => Ok(()),
            }
        }
        (None, Err((file, e))) => {
            Err(format!("unexpected error in {file:?} line {}: {}", e.line, e.message).into())
        }
        (None, Ok(set)) => {
            let expected = &output["config"];
            if values(&set.profiles) != expected["profiles"] {
                return Err(format!(
                    "profiles: expected {}, got {}",
                    expected["profiles"],
                    values(&set.profiles)
                )
                .into());
            }
            if let Some(sessions) = expected.get("sso_sessions")
                && values(&set.sso_sessions) != *sessions
            {
                return Err(format!(
                    "sso_sessions: expected {sessions}, got {}",
                    values(&set.sso_sessions)
                )
                .into());
            }
            Ok(())
        }
    }
}

fn main() {
    let path = conformance().join("smithy-rs/aws-runtime/test-data/profile-parser-tests.json");
    let suite: Value = serde_json::from_slice(
        &std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (set CREDBOX_CONFORMANCE_DIR)", path.display())),
    )
    .unwrap();
    let cases = suite["tests"].as_array().unwrap().clone();
    let mut seen = BTreeMap::<String, usize>::new();
    let trials = cases
        .into_iter()
        .map(|case| {
            // Two cases share a name in the suite; number repeats so each is reported.
            let name = case["name"].as_str().unwrap().to_string();
            let count = seen.entry(name.clone()).or_default();
            *count += 1;
            let name = if *count > 1 {
                format!("{name} (#{count})")
            } else {
                name
            };
            let suite_name = case["name"].as_str().unwrap().to_string();
            Trial::test(name, move || run_case(&suite_name, &case))
        })
        .collect();
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}
