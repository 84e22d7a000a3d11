//! The secret-safety gate: every command and failure mode runs with a recognisable secret key and
//! session token; they may appear only on the stdout of commands whose job is to print them, never
//! on stderr (errors, --verbose logs), and every file credbox leaves is private.

mod common;

use common::*;

/// Fail if `text` carries the secret or the token (or a recognisable piece of either).
fn assert_clean(what: &str, text: &str) {
    for needle in [SECRET, TOKEN, "SECRETKEY", "SESSIONTOKEN"] {
        assert!(!text.contains(needle), "{what} leaks {needle}:\n{text}");
    }
}

/// A failing helper: it leaves `<name>.sh.ran` behind when it runs, so that a test can tell a
/// failure of the helper from a command that failed before ever running it.
fn helper_printing(sandbox: &Sandbox, name: &str, body: &str) -> String {
    sandbox
        .helper(name, &format!("touch \"$0.ran\"\n{body}"))
        .display()
        .to_string()
}

#[test]
fn no_secret_leaves_through_a_side_door() {
    let sandbox = Sandbox::new();
    let good = sandbox
        .json_helper("good.sh", &session_json(1))
        .display()
        .to_string();
    let secret_doc = format!(
        r#"{{"Version": 1, "AccessKeyId": "AKIA1", "SecretAccessKey": "{SECRET}", "SessionToken": "{TOKEN}""#
    );
    // Failure modes whose stdout or stderr carries the secret and token, each with the exit code
    // and the part of credbox's message that shows the helper ran and failed in that way.
    let failing = [
        (
            "malformed",
            format!("echo '{secret_doc}'"),
            5,
            "not a credential_process document: the JSON document is incomplete",
        ),
        (
            "trailing",
            format!("echo '{secret_doc}}} {SECRET}'"),
            5,
            "not a credential_process document: unexpected data after the JSON object",
        ),
        (
            "version",
            format!(r#"echo '{{"Version": "{SECRET}", "SecretAccessKey": "{TOKEN}"}}'"#),
            5,
            "the helper's output has Version a string",
        ),
        (
            "expired",
            format!(
                r#"echo '{{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "{SECRET}", "Expiration": "2000-01-01T00:00:00Z"}}'"#
            ),
            5,
            "the helper returned expired credentials",
        ),
        (
            "badtime",
            format!(
                r#"echo '{{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "{SECRET}", "Expiration": "{TOKEN}"}}'"#
            ),
            5,
            "field Expiration must be an RFC 3339 timestamp",
        ),
        (
            "nonzero",
            format!("echo '{secret_doc}}}'\nexit 2"),
            4,
            "the helper exited with code 2",
        ),
        (
            "timeout",
            format!("echo '{secret_doc}}}'\nexec sleep 30"),
            4,
            "the helper did not finish within 1.0 s",
        ),
        (
            "huge",
            format!("while :; do echo '{secret_doc}'; done"),
            4,
            "the helper wrote more than 64 KiB to stdout",
        ),
    ];
    let mut config = format!("[profile good]\ncredential_process = {good} --token {TOKEN}\n");
    for (name, body, _, _) in &failing {
        let path = helper_printing(&sandbox, &format!("{name}.sh"), body);
        config.push_str(&format!("[profile {name}]\ncredential_process = {path}\n"));
    }
    sandbox
        .config(&config)
        .credentials(&format!("[static]\naws_access_key_id = AKIASTATIC\naws_secret_access_key = {SECRET}\naws_session_token = {TOKEN}\n"));

    // Readable by others whatever the umask, for `check` to report below.
    std::fs::set_permissions(
        sandbox.credentials_path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();

    let run = |args: &[&str]| sandbox.credbox().args(args).output().unwrap();
    // Commands whose job is to print the secret: they succeed and print it, and only their stdout
    // may carry it.
    for args in [
        vec!["-v", "export", "--profile", "good"],
        vec!["-v", "export", "--profile", "good", "--format", "env"],
        vec!["-v", "export", "--profile", "good", "--no-cache"],
        vec!["-v", "export", "--profile", "static"],
        vec!["-v", "run", "--", &good],
        vec!["configure", "get", "aws_secret_access_key", "--profile", "static"],
    ] {
        let output = run(&args);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr_of(&output));
        assert!(
            stdout_of(&output).contains(SECRET),
            "{args:?} did not print the secret, so it did not reach it: {}",
            stdout_of(&output)
        );
        assert_clean(&format!("stderr of {args:?}"), &stderr_of(&output));
    }
    // Commands that never print it: each ends as expected, with output that shows it had the
    // credentials (or, for `check` and `cache clear`, that it did its job) and without them.
    // `check` reports one error, and exits 1: the credentials file, which holds the static
    // secret, is readable by others.
    let seen = sandbox.path("seen-by-exec");
    let exec_script = format!("printenv AWS_SECRET_ACCESS_KEY > {}", seen.display());
    let credentials_file = sandbox.credentials_path().display().to_string();
    let check_finding = format!(
        "{credentials_file} holds secrets (a secret key or session token) and can be read by group or others"
    );
    for (args, code, shows) in [
        (vec!["-v", "list", "--profile", "good"], 0, "****************0001"),
        (
            vec!["-v", "list", "--profile", "static"],
            0,
            "****************ATIC",
        ),
        (vec!["check"], 1, check_finding.as_str()),
        (vec!["check", "--format", "json"], 1, check_finding.as_str()),
        (
            vec!["-v", "exec", "--profile", "good", "--", "sh", "-c", &exec_script],
            0,
            "",
        ),
        (
            vec!["cache", "clear", "--profile", "nothing"],
            3,
            "profile nothing is in neither",
        ),
        (vec!["cache", "list"], 0, "Profile"),
    ] {
        let output = run(&args);
        assert_eq!(
            output.status.code(),
            Some(code),
            "{args:?}: {}",
            stderr_of(&output)
        );
        let all = format!("{}{}", stdout_of(&output), stderr_of(&output));
        assert!(all.contains(shows), "{args:?} should show {shows:?}: {all}");
        assert_clean(&format!("stdout of {args:?}"), &stdout_of(&output));
        assert_clean(&format!("stderr of {args:?}"), &stderr_of(&output));
    }
    let json_check = run(&["check", "--format", "json"]);
    serde_json::from_slice::<serde_json::Value>(&json_check.stdout).expect("check --format json prints JSON");
    assert_eq!(
        std::fs::read_to_string(&seen).unwrap().trim_end(),
        SECRET,
        "exec gave its command the credentials"
    );
    // Every failure mode: the helper ran and failed in its own way (the exit code and message say
    // which), nothing is on stdout, and stderr (credbox's message and, forwarded, the helper's
    // stderr, which these helpers leave empty) is clean.
    for (name, _, code, fragment) in &failing {
        let ran = sandbox.path(&format!("{name}.sh.ran"));
        assert!(!ran.exists(), "{name} ran before its test");
        let output = run(&["-v", "export", "--profile", name, "--timeout", "1"]);
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(*code), "{name}: {stderr}");
        assert!(ran.exists(), "{name}: the helper never ran: {stderr}");
        let last = stderr.lines().last().unwrap_or("");
        assert!(
            last.starts_with(&format!("credbox: profile {name}: ")) && last.contains(fragment),
            "{name}: expected {fragment:?}, got: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{name}");
        assert_clean(&format!("stderr of the {name} failure"), &stderr);
    }
    // Files: the directory is private, every file in it too, and no temporary file is left.
    assert_cache_is_private(&sandbox.path("cache"));
}
