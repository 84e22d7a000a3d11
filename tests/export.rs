//! `credbox export` end to end: the real binary, real helper processes, real profile files.

mod common;

use common::*;

#[test]
fn exports_credentials_from_a_helper_at_a_quoted_path_with_a_space() {
    let sandbox = Sandbox::new();
    let helper = sandbox.helper(
        "my helpers/sign in.sh",
        &format!(
            "test \"$1\" = --user && test \"$2\" = 'me too' || {{ echo bad args >&2; exit 9; }}\ncat <<'EOF'\n{}\nEOF",
            session_json(1)
        ),
    );
    sandbox.config(&format!(
        "[profile dev]\ncredential_process = {} --user 'me too'\n",
        quoted(&helper)
    ));

    let output = sandbox
        .credbox()
        .args(["export", "--profile", "dev"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed["Version"], 1);
    assert_eq!(printed["AccessKeyId"], "ASIATESTKEY00001");
    assert_eq!(printed["SecretAccessKey"], SECRET);
    assert_eq!(printed["SessionToken"], TOKEN);
    assert!(printed["Expiration"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn profile_comes_from_aws_profile_and_static_keys_win() {
    let sandbox = Sandbox::new();
    let never = sandbox.helper("never.sh", "touch \"$0.ran\"; exit 1");
    sandbox
        .config(&format!(
            "[profile both]\ncredential_process = {}\n",
            never.display()
        ))
        .credentials(&format!(
            "[both]\naws_access_key_id = AKIASTATIC000001\naws_secret_access_key = {SECRET}\n"
        ));

    let output = sandbox
        .credbox()
        .env("AWS_PROFILE", "both")
        .arg("export")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(stdout_of(&output).contains("AKIASTATIC000001"));
    assert!(
        !never.with_extension("sh.ran").exists(),
        "the helper must not run when static keys exist"
    );
}

#[test]
fn a_missing_profile_names_the_profile_and_both_files() {
    let sandbox = Sandbox::new();
    sandbox.config("[profile other]\nregion = eu-west-1\n");
    let output = sandbox
        .credbox()
        .args(["export", "--profile", "nope"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = stderr_of(&output);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("credbox: profile nope: profile not found in "),
        "{stderr}"
    );
    assert!(
        stderr.contains(&sandbox.config_path().display().to_string()),
        "{stderr}"
    );
    assert!(
        stderr.contains(&sandbox.credentials_path().display().to_string()),
        "{stderr}"
    );
    assert!(stderr.contains("profiles defined: other"), "{stderr}");
}

#[test]
fn a_home_variable_in_the_command_is_refused_with_the_fix() {
    let sandbox = Sandbox::new();
    sandbox.config("[profile dev]\nregion = x\ncredential_process = $HOME/bin/helper --flag\n");
    let output = sandbox
        .credbox()
        .args(["export", "--profile", "dev"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = stderr_of(&output);
    let config = sandbox.config_path().display().to_string();
    assert_eq!(
        stderr.trim_end(),
        format!(
            "credbox: profile dev: credential_process ({config}:3) uses the environment variable in `$HOME/bin/helper`, \
             but credential_process runs without a shell, so nothing expands it; write the value out in full"
        )
    );
}

#[test]
fn version_2_output_is_refused_and_names_the_version() {
    let sandbox = Sandbox::new();
    let helper = sandbox.json_helper(
        "v2.sh",
        &format!(r#"{{"Version": 2, "AccessKeyId": "AKIAV2", "SecretAccessKey": "{SECRET}"}}"#),
    );
    sandbox.config(&format!("[default]\ncredential_process = {}\n", helper.display()));
    let output = sandbox.credbox().arg("export").output().unwrap();
    assert_eq!(output.status.code(), Some(5));
    assert_eq!(
        stderr_of(&output).trim_end(),
        "credbox: profile default: the helper's output has Version 2; credbox understands only \"Version\": 1 (a number)"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn a_failing_helper_reports_its_exit_code_and_stderr_but_never_its_stdout() {
    let sandbox = Sandbox::new();
    let helper = sandbox.helper(
        "fail.sh",
        &format!("echo '{{\"SecretAccessKey\": \"{SECRET}\"}}'\necho 'first line' >&2\necho 'token expired, run sso login' >&2\nexit 3"),
    );
    sandbox.config(&format!("[default]\ncredential_process = {}\n", helper.display()));
    let output = sandbox.credbox().arg("export").output().unwrap();
    assert_eq!(output.status.code(), Some(4));
    let stderr = stderr_of(&output);
    // The helper's stderr is forwarded live, then credbox's one-line error closes it.
    assert_eq!(
        stderr.lines().last().unwrap(),
        "credbox: profile default: the helper exited with code 3; its stderr ends: token expired, run sso login"
    );
    assert!(!stderr.contains(SECRET) && output.stdout.is_empty());
}

#[test]
fn malformed_output_never_echoes_the_secret() {
    let sandbox = Sandbox::new();
    for (name, body) in [
        (
            "truncated",
            format!(r#"{{"Version": 1, "AccessKeyId": "AKIA1", "SecretAccessKey": "{SECRET}""#),
        ),
        ("string", format!(r#""{SECRET}""#)),
        (
            "trailing",
            format!(r#"{{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "{SECRET}"}} {SECRET}"#),
        ),
        (
            "badtime",
            format!(
                r#"{{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "x", "Expiration": "{SECRET}"}}"#
            ),
        ),
        ("secretversion", format!(r#"{{"Version": "{SECRET}"}}"#)),
    ] {
        let helper = sandbox.json_helper(&format!("{name}.sh"), &body);
        sandbox.config(&format!("[default]\ncredential_process = {}\n", helper.display()));
        let output = sandbox.credbox().arg("export").output().unwrap();
        assert_eq!(output.status.code(), Some(5), "{name}");
        let all = format!("{}{}", stdout_of(&output), stderr_of(&output));
        assert!(
            !all.contains(SECRET) && !all.contains("SECRETKEY"),
            "{name} leaked: {all}"
        );
        assert_eq!(all.lines().count(), 1, "{name}: {all}");
    }
}

#[test]
fn a_bare_program_name_is_found_on_path() {
    let sandbox = Sandbox::new();
    sandbox.json_helper("bin/my-cred-helper", &session_json(1));
    sandbox.config("[default]\ncredential_process = my-cred-helper --flag\n");
    let path = format!(
        "{}:{}",
        sandbox.path("bin").display(),
        std::env::var("PATH").unwrap()
    );
    let output = sandbox
        .credbox()
        .env("PATH", path)
        .args(["export", "--no-cache"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));

    let output = sandbox.credbox().args(["export", "--no-cache"]).output().unwrap();
    assert_eq!(output.status.code(), Some(4));
    assert!(stderr_of(&output).contains("program `my-cred-helper` was not found on PATH"));
}
