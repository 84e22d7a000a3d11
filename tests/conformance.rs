//! The AWS SDKs' own fixtures (tests/fixtures/conformance), each case reported by name:
//!
//! * smithy-rs `file-location-tests.json`: where the profile files are;
//! * aws-sdk-go `processcreds/testdata/*.json` as real helper outputs, and `shconfig.ini` /
//!   `shcred.ini` resolved by the real binary;
//! * smithy-rs `profile-provider/*` and `default-credential-provider-chain/profile_*` scenarios,
//!   run by the real binary with their `fs/` and `env.json`.
//!
//! Where a fixture follows one SDK's choice and docs/BEHAVIOUR.md decides differently, the case
//! asserts credbox's behaviour and says why. `assume-role-tests.json` runs in the guest's own
//! suite (`guest/tests/role_fixtures.rs`); role chains against a real STS are in `tests/roles.rs`.
//! Out of scope: scenarios that need web identity, SSO or instance metadata.

mod common;
mod expect;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::{stderr_of, stdout_of};
use credbox::files::{Platform, locate};
use expect::conformance;
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

fn check(condition: bool, message: impl FnOnce() -> String) -> Result<(), Failed> {
    if condition { Ok(()) } else { Err(message().into()) }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap()
}

// ---- file locations -------------------------------------------------------------------------

fn file_location_trials() -> Vec<Trial> {
    let suite = read_json(&conformance().join("smithy-rs/aws-runtime/test-data/file-location-tests.json"));
    suite["tests"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let case = case.clone();
            let name = format!("file-location #{}: {}", i + 1, case["name"].as_str().unwrap());
            Trial::test(name, move || {
                let env: BTreeMap<String, String> =
                    serde_json::from_value(case["environment"].clone()).unwrap();
                let platform = if case["platform"] == "windows" {
                    Platform::Windows
                } else {
                    Platform::Unix
                };
                let found = locate(|name| env.get(name).cloned(), platform);
                check(found.config == case["configLocation"], || {
                    format!("config: {}", found.config)
                })?;
                check(found.credentials == case["credentialsLocation"], || {
                    format!("credentials: {}", found.credentials)
                })?;
                if let Some(profile) = case["profile"].as_str() {
                    check(found.profile == profile, || format!("profile: {}", found.profile))?;
                }
                Ok(())
            })
        })
        .collect()
}

// ---- aws-sdk-go processcreds ------------------------------------------------------------------

fn processcreds_dir() -> PathBuf {
    conformance().join("aws-sdk-go/aws/credentials/processcreds")
}

/// `credbox export` in an empty HOME with these profile files, from `cwd`.
fn export(
    config: Option<&Path>,
    credentials: Option<&Path>,
    cwd: &Path,
    args: &[&str],
) -> std::process::Output {
    let sandbox = common::Sandbox::new();
    let mut command = sandbox.std_credbox();
    command.env(
        "AWS_CONFIG_FILE",
        config.map_or(sandbox.config_path(), Path::to_path_buf),
    );
    command.env(
        "AWS_SHARED_CREDENTIALS_FILE",
        credentials.map_or(sandbox.credentials_path(), Path::to_path_buf),
    );
    command
        .current_dir(cwd)
        .arg("export")
        .arg("--no-cache")
        .args(args);
    command.output().unwrap()
}

fn go_output_trials() -> Vec<Trial> {
    let testdata = processcreds_dir().join("testdata");
    let mut files: Vec<String> = std::fs::read_dir(&testdata)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let path = testdata.join(&file);
            Trial::test(format!("aws-sdk-go output {file}"), move || {
                let sandbox = common::Sandbox::new();
                sandbox.config(&format!(
                    "[default]\ncredential_process = cat {}\n",
                    common::quoted(&path)
                ));
                let output = sandbox.credbox().args(["export", "--no-cache"]).output().unwrap();
                match expect::go_output(&file) {
                    Ok(key) => {
                        check(output.status.success(), || stderr_of(&output))?;
                        let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
                        check(printed["AccessKeyId"] == key, || stdout_of(&output))
                    }
                    Err((code, fragment)) => {
                        check(output.status.code() == Some(code), || {
                            format!("exit {:?}", output.status)
                        })?;
                        check(stderr_of(&output).contains(fragment), || stderr_of(&output))
                    }
                }
            })
        })
        .collect()
}

fn go_profile_trials() -> Vec<Trial> {
    let mut trials = Vec::new();
    for (as_config, file) in [(true, "shconfig.ini"), (false, "shcred.ini")] {
        for (profile, expected) in [
            // BEHAVIOUR.md §4: expired output is an error (Go returns it and reports it expired).
            ("default", Err((5, "returned expired credentials"))),
            ("non_expire", Ok("accessKey")),
            // BEHAVIOUR.md §1: static keys win and the helper (verybad.json) is not run.
            ("not_alone", Ok("notFromCredProcAccess")),
        ] {
            let path = processcreds_dir().join("testdata").join(file);
            trials.push(Trial::test(
                format!("aws-sdk-go {file} profile {profile}"),
                move || {
                    let (config, credentials) = if as_config {
                        (Some(path.as_path()), None)
                    } else {
                        (None, Some(path.as_path()))
                    };
                    // The commands are `cat ./testdata/...`: relative to the Go package directory.
                    let output = export(config, credentials, &processcreds_dir(), &["--profile", profile]);
                    match expected {
                        Ok(key) => {
                            check(output.status.success(), || stderr_of(&output))?;
                            let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
                            check(printed["AccessKeyId"] == key, || stdout_of(&output))
                        }
                        Err((code, fragment)) => {
                            check(output.status.code() == Some(code), || stderr_of(&output))?;
                            check(stderr_of(&output).contains(fragment), || stderr_of(&output))
                        }
                    }
                },
            ));
        }
    }
    // shconfig_win.ini / shcred_win.ini run `type .\testdata\...`, a cmd.exe builtin: Windows only.
    trials
}

// ---- smithy-rs scenarios ----------------------------------------------------------------------

/// What credbox does for a scenario, where it differs from aws-config the reason is given.
enum Expect {
    /// Exit 0 and these fields of the process JSON.
    Ok(&'static [(&'static str, &'static str)]),
    /// This exit code and a fragment of the one-line error.
    Err(i32, &'static str),
}

fn smithy_expectation(name: &str) -> (Expect, &'static [&'static str]) {
    match name {
        // aws-config returns these 2022 credentials; BEHAVIOUR.md §4 makes already-expired output an error.
        // `scenario_values_with_the_clock_at_fixture_time` checks the values with the clock set
        // back. The command pipes into base64, so it needs the shell opt-in.
        "credential_process" | "credential_process_account_id_fallback" => (
            Expect::Err(
                5,
                "returned expired credentials (Expiration 2022-05-02T18:36:00Z)",
            ),
            &["--allow-shell"],
        ),
        // `exit` is a shell builtin, not a program: without a shell it cannot run at all (aws-config
        // runs every command through sh and reports exit status 1). Either way, an error.
        "credential_process_failure" => (Expect::Err(4, "program `exit` was not found on PATH"), &[]),
        "credential_process_invalid" => (
            Expect::Err(5, "not a credential_process document: not valid JSON"),
            &[],
        ),
        "empty_config" => (Expect::Err(3, "profile default: profile not found"), &[]),
        "invalid_config" => (Expect::Err(3, "config:2: Property did not have a name"), &[]),
        "profile_name" => (
            Expect::Ok(&[
                ("AccessKeyId", "correct_key"),
                ("SecretAccessKey", "correct_secret"),
            ]),
            &[],
        ),
        "profile_static_keys" | "profile_static_keys_case_insensitive" => (
            Expect::Ok(&[
                ("AccessKeyId", "correct_key"),
                ("SecretAccessKey", "correct_secret"),
            ]),
            &[],
        ),
        // aws-config's default chain reads AWS_ACCESS_KEY_ID first. `credbox export` answers for a
        // profile and ignores environment credentials (which `exec` replaces); this profile assumes
        // a role with `base`'s keys. The scenarios' STS endpoint is a closed loopback port (no test
        // reaches the internet), so the call fails, naming the role and the source.
        "prefer_environment" => (
            Expect::Err(
                6,
                "assuming arn:aws:iam::123456789:role/integration-test with the credentials of profile base (access key ****************FAKE) failed: http://127.0.0.1:9 could not be reached",
            ),
            &[],
        ),
        "environment_variables_blank" => (
            Expect::Ok(&[
                ("AccessKeyId", "correct_key"),
                ("SecretAccessKey", "correct_secret"),
            ]),
            &[],
        ),
        other => panic!("no expectation for scenario {other}: add one"),
    }
}

/// The default-chain scenarios credbox runs (the rest need STS, SSO, IMDS or other providers).
const DEFAULT_CHAIN_SCENARIOS: [&str; 5] = [
    "profile_name",
    "profile_static_keys",
    "profile_static_keys_case_insensitive",
    "prefer_environment",
    "environment_variables_blank",
];

/// Every scenario directory: all of `profile-provider/` and the chosen default-chain ones,
/// whether or not they hold a `test-case.json` (one without it is reported, never dropped).
fn scenario_dirs() -> Vec<PathBuf> {
    let data = conformance().join("smithy-rs/aws-config/test-data");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(data.join("profile-provider"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    for name in DEFAULT_CHAIN_SCENARIOS {
        dirs.push(data.join("default-credential-provider-chain").join(name));
    }
    dirs.sort();
    dirs
}

/// One trial that fails, naming them, if any scenario would not run: a directory without its
/// `test-case.json` (or missing altogether) would otherwise vanish from the report in silence.
fn scenario_count_trial(dirs: &[PathBuf]) -> Trial {
    let dirs = dirs.to_vec();
    Trial::test(
        format!("smithy-rs scenarios: all {} found run", dirs.len()),
        move || {
            let dropped: Vec<String> = dirs
                .iter()
                .filter(|dir| !dir.join("test-case.json").is_file())
                .map(|dir| dir.display().to_string())
                .collect();
            check(dropped.is_empty(), || {
                format!(
                    "{} of {} scenarios have no test-case.json and would not run: {}",
                    dropped.len(),
                    dirs.len(),
                    dropped.join(", ")
                )
            })
        },
    )
}

/// The scenario's environment, with paths inside its `fs/` folder.
fn scenario_env(dir: &Path) -> BTreeMap<String, String> {
    let env: BTreeMap<String, String> = serde_json::from_value(read_json(&dir.join("env.json"))).unwrap();
    env.into_iter()
        .map(|(k, v)| {
            let v = match v.strip_prefix('/') {
                Some(inside) => dir.join("fs").join(inside).display().to_string(),
                None => v,
            };
            (k, v)
        })
        .collect()
}

fn smithy_trials() -> Vec<Trial> {
    let dirs = scenario_dirs();
    let mut trials = vec![scenario_count_trial(&dirs)];
    trials.extend(
        dirs.into_iter()
            .filter(|dir| dir.join("test-case.json").is_file())
            .map(|dir| {
                let name = dir.file_name().unwrap().to_string_lossy().into_owned();
                let group = dir
                    .parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                Trial::test(format!("smithy-rs {group}/{name}"), move || {
                    let (expect, args) = smithy_expectation(&name);
                    let sandbox = common::Sandbox::new();
                    let mut command = sandbox.std_credbox();
                    command
                        .env("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")
                        .envs(scenario_env(&dir))
                        .arg("export")
                        .arg("--no-cache")
                        .args(args);
                    let output = command.output().unwrap();
                    match expect {
                        Expect::Ok(fields) => {
                            check(output.status.success(), || stderr_of(&output))?;
                            let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
                            for (field, value) in fields {
                                check(printed[field] == *value, || {
                                    format!("{field}: {}", stdout_of(&output))
                                })?;
                            }
                            Ok(())
                        }
                        Expect::Err(code, fragment) => {
                            check(output.status.code() == Some(code), || {
                                format!("{:?}: {}", output.status, stderr_of(&output))
                            })?;
                            check(stderr_of(&output).contains(fragment), || stderr_of(&output))
                        }
                    }
                })
            }),
    );
    trials
}

/// A clock fixed at one instant.
struct FixedClock(Duration);
impl credbox::Clock for FixedClock {
    fn now(&self) -> Duration {
        self.0
    }
}

/// With the guest's clock at the fixtures' time, the credential_process scenarios give exactly
/// aws-config's expected credentials (through the library, where the clock can be replaced).
fn fixture_time_trials() -> Vec<Trial> {
    ["credential_process", "credential_process_account_id_fallback"]
        .into_iter()
        .map(|name| {
            Trial::test(
                format!("smithy-rs profile-provider/{name} with the clock at fixture time"),
                move || {
                    let dir = conformance()
                        .join("smithy-rs/aws-config/test-data/profile-provider")
                        .join(name);
                    let expected = read_json(&dir.join("test-case.json"))["result"]["Ok"].clone();
                    let env = scenario_env(&dir);
                    let locations = locate(|n| env.get(n).cloned(), Platform::Unix);
                    let runtime = credbox::Runtime::new().unwrap();
                    let mut options = credbox::FetchOptions::default();
                    options.policy.allow_shell = true;
                    options.policy.forward_stderr = false;
                    // 2022-05-02T00:00:00Z, before the fixture's 18:36 expiry.
                    options.clock = Some(Arc::new(FixedClock(Duration::from_secs(1_651_449_600))));
                    let (c, _) = credbox::credentials_for_profile(&runtime, &locations, "default", &options)
                        .map_err(|e| Failed::from(e.to_string()))?;
                    check(c.access_key_id == expected["access_key_id"], || {
                        c.access_key_id.clone()
                    })?;
                    check(c.secret_access_key() == expected["secret_access_key"], || {
                        "secret differs".into()
                    })?;
                    check(c.session_token() == expected["session_token"].as_str(), || {
                        "token differs".into()
                    })?;
                    check(c.account_id.as_deref() == expected["account_id"].as_str(), || {
                        format!("{:?}", c.account_id)
                    })?;
                    check(c.expiration == expected["expiry"].as_i64(), || {
                        format!("{:?}", c.expiration)
                    })
                },
            )
        })
        .collect()
}

fn main() {
    let mut trials = file_location_trials();
    trials.extend(go_output_trials());
    trials.extend(go_profile_trials());
    trials.extend(smithy_trials());
    trials.extend(fixture_time_trials());
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}
