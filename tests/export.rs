//! `credbox export` end to end: the real binary, real helper processes, real profile files. Cases
//! that are only data (a profile, what its helper prints, what credbox says) are folders under
//! tests/cases/ (export, malformed-output, formats); what needs code to set up stays here.

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
