//! `credbox export --format`: the six shapes of `aws configure export-credentials` (AWS CLI v2,
//! `awscli/customizations/configure/exportcreds.py`), byte for byte. BEHAVIOUR.md §6 departs in two
//! places: `Expiration` is always UTC with `Z`, and `process` adds `AccountId` when known.
//! (PyPI's awscli is v1, which has no export-credentials, so the CLI itself cannot run here; the
//! JSON is checked against Python's `json.dumps`, which the CLI uses.)

mod common;

use common::*;

/// A profile whose helper returns every field, in the characters AWS credentials use.
fn sandbox_with_helper() -> Sandbox {
    let sandbox = Sandbox::new();
    let helper = sandbox.json_helper(
        "h.sh",
        r#"{"Version": 1, "AccessKeyId": "ASIAFORMATS", "SecretAccessKey": "wJal/K7+MD=_x.y-z", "SessionToken": "tok+en/=",
            "Expiration": "2033-05-18T05:33:20+02:00", "AccountId": "123456789012"}"#,
    );
    sandbox.config(&format!("[default]\ncredential_process = {}\n", helper.display()));
    sandbox
}

fn export(sandbox: &Sandbox, format: &str) -> String {
    let output = sandbox
        .credbox()
        .args(["export", "--format", format])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    stdout_of(&output)
}

#[test]
fn shell_formats_are_byte_identical() {
    let sandbox = sandbox_with_helper();
    let vars = [
        ("AWS_ACCESS_KEY_ID", "ASIAFORMATS"),
        ("AWS_SECRET_ACCESS_KEY", "wJal/K7+MD=_x.y-z"),
        ("AWS_SESSION_TOKEN", "tok+en/="),
        ("AWS_CREDENTIAL_EXPIRATION", "2033-05-18T03:33:20Z"),
    ];
    let expect =
        |template: fn(&str, &str) -> String| vars.iter().map(|(n, v)| template(n, v)).collect::<String>();
    assert_eq!(
        export(&sandbox, "env"),
        expect(|n, v| format!("export {n}={v}\n"))
    );
    assert_eq!(
        export(&sandbox, "env-no-export"),
        expect(|n, v| format!("{n}={v}\n"))
    );
    assert_eq!(
        export(&sandbox, "powershell"),
        expect(|n, v| format!("$Env:{n}=\"{v}\"\n"))
    );
    assert_eq!(
        export(&sandbox, "windows-cmd"),
        expect(|n, v| format!("set {n}={v}\n"))
    );
    assert_eq!(
        export(&sandbox, "fish"),
        expect(|n, v| format!("set -gx {n} \"{v}\"\n"))
    );
}

#[test]
fn process_json_is_byte_identical_to_python_json_dumps() {
    // Helpers' values are held to the credential alphabet; static keys are the user's own text,
    // so they carry the characters JSON must escape.
    let sandbox = Sandbox::new();
    sandbox.credentials("[default]\naws_access_key_id = ASIAFORMATS\naws_secret_access_key = s\"e\\c/é😀\naws_session_token = tok+en/=\n");
    let ours = export(&sandbox, "process");
    let python = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys\n\
             d = {'Version': 1, 'AccessKeyId': 'ASIAFORMATS', 'SecretAccessKey': 's\"e\\\\c/\\u00e9\\U0001F600',\n\
                  'SessionToken': 'tok+en/='}\n\
             sys.stdout.write(json.dumps(d, indent=2, separators=(',', ': ')) + '\\n')",
        ])
        .output()
        .expect("python3");
    assert!(python.status.success(), "{}", stderr_of(&python));
    assert_eq!(ours, stdout_of(&python));
    assert!(
        ours.contains(r#""SecretAccessKey": "s\"e\\c/\u00e9\ud83d\ude00","#),
        "{ours}"
    );
}

#[test]
fn long_term_keys_print_only_what_they_have() {
    let sandbox = Sandbox::new();
    sandbox.credentials("[default]\naws_access_key_id = AKIASTATIC\naws_secret_access_key = S3CR3T\n");
    assert_eq!(
        export(&sandbox, "process"),
        "{\n  \"Version\": 1,\n  \"AccessKeyId\": \"AKIASTATIC\",\n  \"SecretAccessKey\": \"S3CR3T\"\n}\n"
    );
    assert_eq!(
        export(&sandbox, "env"),
        "export AWS_ACCESS_KEY_ID=AKIASTATIC\nexport AWS_SECRET_ACCESS_KEY=S3CR3T\n"
    );
}
