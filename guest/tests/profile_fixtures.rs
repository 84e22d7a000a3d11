//! Every case of the cross-SDK profile parser suite (smithy-rs `profile-parser-tests.json`), read
//! from ../shared/conformance at test time and reported by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use credbox_guest::profile::{Profile, ProfileSet};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

fn conformance() -> PathBuf {
    match std::env::var_os("CREDBOX_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance"),
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

fn run_case(case: &Value) -> Result<(), Failed> {
    let input = &case["input"];
    let text = |key: &str| input.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    let parsed = ProfileSet::parse(&text("configFile"), &text("credentialsFile"));
    let output = &case["output"];
    match (output.get("errorContaining"), parsed) {
        (Some(_), Ok(set)) => Err(format!("expected an error, parsed {:?}", values(&set.profiles)).into()),
        (Some(_), Err(_)) => Ok(()),
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
            Trial::test(name, move || run_case(&case))
        })
        .collect();
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}
