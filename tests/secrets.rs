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

fn helper_printing(sandbox: &Sandbox, name: &str, body: &str) -> String {
    sandbox.helper(name, body).display().to_string()
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
    // Failure modes whose stdout or stderr carries the secret and token.
    let failing = [
        ("malformed", format!("echo '{secret_doc}'")),
        ("trailing", format!("echo '{secret_doc}}} {SECRET}'")),
        (
            "version",
            format!(r#"echo '{{"Version": "{SECRET}", "SecretAccessKey": "{TOKEN}"}}'"#),
        ),
        (
            "expired",
            format!(
                r#"echo '{{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "{SECRET}", "Expiration": "2000-01-01T00:00:00Z"}}'"#
            ),
        ),
        (
            "badtime",
            format!(
                r#"echo '{{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "{SECRET}", "Expiration": "{TOKEN}"}}'"#
            ),
        ),
        ("nonzero", format!("echo '{secret_doc}}}'\nexit 2")),
        ("timeout", format!("echo '{secret_doc}}}'\nexec sleep 30")),
        ("huge", format!("while :; do echo '{secret_doc}'; done")),
    ];
    let mut config = format!("[profile good]\ncredential_process = {good} --token {TOKEN}\n");
    for (name, body) in &failing {
        let path = helper_printing(&sandbox, &format!("{name}.sh"), body);
        config.push_str(&format!("[profile {name}]\ncredential_process = {path}\n"));
    }
    sandbox
        .config(&config)
        .credentials(&format!("[static]\naws_access_key_id = AKIASTATIC\naws_secret_access_key = {SECRET}\naws_session_token = {TOKEN}\n"));

    let run = |args: &[&str]| sandbox.credbox().args(args).output().unwrap();
    // Commands whose job is to print the secret: only their stdout may.
    for args in [
        vec!["-v", "export", "--profile", "good"],
        vec!["-v", "export", "--profile", "good", "--format", "env"],
        vec!["-v", "export", "--profile", "good", "--no-cache"],
        vec!["-v", "export", "--profile", "static"],
        vec!["-v", "run", "--", &good],
        vec!["configure", "get", "aws_secret_access_key", "--profile", "static"],
    ] {
        let output = run(&args);
        assert!(output.status.success(), "{args:?}: {}", stderr_of(&output));
        assert_clean(&format!("stderr of {args:?}"), &stderr_of(&output));
    }
    // Commands that never print it.
    for args in [
        vec!["-v", "list", "--profile", "good"],
        vec!["-v", "list", "--profile", "static"],
        vec!["check"],
        vec!["check", "--format", "json"],
        vec!["-v", "exec", "--profile", "good", "--", "true"],
        vec!["cache", "clear", "--profile", "nothing"],
    ] {
        let output = run(&args);
        assert_clean(&format!("stdout of {args:?}"), &stdout_of(&output));
        assert_clean(&format!("stderr of {args:?}"), &stderr_of(&output));
    }
    // Every failure mode: nothing on stdout, and stderr (its own message and, forwarded, the
    // helper's stderr, which these helpers leave empty) is clean.
    for (name, _) in &failing {
        let output = run(&["-v", "export", "--profile", name, "--timeout", "1"]);
        assert!(!output.status.success(), "{name} should fail");
        assert!(output.stdout.is_empty(), "{name}");
        assert_clean(&format!("stderr of the {name} failure"), &stderr_of(&output));
    }
    // Files: the directory is private, every file in it too, and no temporary file is left.
    assert_cache_is_private(&sandbox.path("cache"));
}
