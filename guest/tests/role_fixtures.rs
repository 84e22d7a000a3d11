//! Every case of the cross-SDK assume-role chain suite (smithy-rs `assume-role-tests.json`), read
//! from tests/fixtures/conformance at test time and reported by name. Sources credbox does not run
//! (instance metadata, web identity, SSO) must fail with an error that says so.

use std::path::{Path, PathBuf};

use credbox_guest::resolve::resolve;
use credbox_guest::role::Environment;
use credbox_guest::settings::FileText;
use credbox_guest::wit::ProcessSettings;
use credbox_guest::wit::profiles::{BaseSource as Base, Source};
use credbox_guest::{ConfigError, Error};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

fn conformance() -> PathBuf {
    match std::env::var_os("CREDBOX_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/conformance"),
    }
}

/// The fixture's profiles (and sso-sessions) as a config file.
fn config_text(input: &Value) -> String {
    let mut text = String::new();
    for (section, key) in [("profile", "profiles"), ("sso-session", "sso_sessions")] {
        for (name, properties) in input[key].as_object().into_iter().flatten() {
            text.push_str(&format!("[{section} {name}]\n"));
            for (k, v) in properties.as_object().into_iter().flatten() {
                text.push_str(&format!("{k} = {}\n", v.as_str().unwrap_or_default()));
            }
        }
    }
    text
}

/// Whether an expected chain starts at a source credbox does not run.
fn out_of_scope(chain: &[Value]) -> bool {
    chain.iter().any(|link| {
        link.get("WebIdentityToken").is_some()
            || link.get("Sso").is_some()
            || link.get("NamedSource").is_some_and(|s| s != "Environment")
    })
}

fn run_case(case: &Value) -> Result<(), Failed> {
    let input = &case["input"];
    let config = config_text(input);
    let selected = input["selected_profile"].as_str().ok_or("no selected_profile")?;
    let result = resolve(
        FileText {
            path: "/config",
            text: &config,
        },
        FileText {
            path: "/credentials",
            text: "",
        },
        selected,
        &Environment::default(),
    );
    let output = &case["output"];
    let Some(chain) = output.get("ProfileChain").and_then(Value::as_array) else {
        return match result {
            Err(Error::Config(ConfigError { .. })) => Ok(()),
            other => Err(format!("expected an error ({}), got {other:?}", output["Error"]).into()),
        };
    };
    if out_of_scope(chain) {
        return match result {
            Err(Error::Config(ConfigError { message, .. }))
                if message.contains("does not run") || message.contains("not supported") =>
            {
                Ok(())
            }
            other => Err(
                format!("expected an error saying credbox does not run this source, got {other:?}").into(),
            ),
        };
    }
    let got = match result {
        Ok(Source::Role(chain)) => chain,
        other => return Err(format!("expected a role chain, got {other:?}").into()),
    };
    let (first, roles) = chain.split_first().ok_or("empty chain")?;
    match (first, &got.base) {
        (link, Base::StaticKeys(c)) if link.get("AccessKey").is_some() => {
            let keys = &link["AccessKey"];
            let same = keys["access_key_id"] == c.access_key_id.as_str()
                && keys["secret_access_key"] == c.secret_access_key.as_str()
                && keys.get("account_id").and_then(Value::as_str) == c.account_id.as_deref();
            if !same {
                return Err(format!("base keys: expected {keys}, got {:?}", got.base).into());
            }
        }
        (link, Base::Environment) if link["NamedSource"] == "Environment" => {}
        (link, Base::Process(ProcessSettings { .. })) => {
            return Err(format!("expected base {link}, got a process").into());
        }
        (link, base) => return Err(format!("expected base {link}, got {base:?}").into()),
    }
    if roles.len() != got.roles.len() {
        return Err(format!("expected {} roles, got {:?}", roles.len(), got.roles).into());
    }
    for (expected, role) in roles.iter().zip(&got.roles) {
        let expected = &expected["AssumeRole"];
        let same = expected["role_arn"] == role.role_arn.as_str()
            && expected.get("role_session_name").and_then(Value::as_str) == role.session_name.as_deref()
            && expected.get("external_id").and_then(Value::as_str) == role.external_id.as_deref();
        if !same {
            return Err(format!("expected role {expected}, got {role:?}").into());
        }
    }
    Ok(())
}

fn main() {
    let path = conformance().join("smithy-rs/aws-config/test-data/assume-role-tests.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let cases: Vec<Value> = serde_json::from_str(&text).expect("the suite is JSON");
    let trials = cases
        .into_iter()
        .enumerate()
        .map(|(i, case)| {
            let name = format!("{i:02} {}", case["docs"].as_str().unwrap_or("?"));
            Trial::test(name, move || run_case(&case))
        })
        .collect();
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}
