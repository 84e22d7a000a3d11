//! The guest component without the credbox host: the very bytes the host embeds, transpiled to
//! JavaScript by jco and run by Node.js with a JavaScript spawn capability
//! (examples/node/credbox-node.mjs). If it gets credentials from a real helper, the WIT contract is
//! the whole interface. Skipped, saying so, only where `node` is not installed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// Transpile the embedded guest with jco into `out`; returns the Node host script to run.
fn transpile(sandbox: &Sandbox) -> (PathBuf, PathBuf) {
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/clients/js");
    let jco = js.join("node_modules/.bin/jco");
    assert!(
        jco.exists(),
        "{} is missing: run tests/clients/setup.sh (`make test` does)",
        jco.display()
    );
    let wasm = sandbox.path("credbox.wasm");
    std::fs::write(&wasm, credbox::component::GUEST_WASM).unwrap();
    let out = sandbox.path("out");
    let transpiled = Command::new(&jco)
        .arg("transpile")
        .arg(&wasm)
        .arg("-o")
        .arg(&out)
        .args(["--instantiation", "async", "--name", "credbox", "--quiet"])
        .output()
        .unwrap();
    assert!(
        transpiled.status.success(),
        "jco transpile: {}",
        stderr_of(&transpiled)
    );
    // The host script goes beside node_modules, where Node resolves its imports from.
    let host = js.join("credbox-node.mjs");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/node/credbox-node.mjs"),
        &host,
    )
    .unwrap();
    (out, host)
}

#[test]
fn node_runs_the_guest_component_through_jco_and_gets_credentials() {
    let Some(node) = which("node") else {
        skip("node is not installed, so the component cannot be run through jco here");
        return;
    };
    let sandbox = Sandbox::new();
    let helper = sandbox.helper(
        "bin/my helper",
        &format!(
            "echo run >> {}\ncat <<'EOF'\n{}\nEOF",
            sandbox.path("runs").display(),
            session_json_for_account(1, "123456789012")
        ),
    );
    let failing = sandbox.helper("bin/failing", "echo 'token expired, run login' >&2; exit 3");
    sandbox.config(&format!(
        "[profile dev]\ncredential_process = {} --flag\n[profile failing]\ncredential_process = {}\n[profile shell]\ncredential_process = helper | jq .\n",
        quoted(&helper),
        quoted(&failing)
    ));
    let (out, host) = transpile(&sandbox);
    let run = |profile: &str| {
        Command::new(&node)
            .arg(&host)
            .arg(&out)
            .arg(sandbox.config_path())
            .arg(profile)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap())
            .output()
            .unwrap()
    };

    let output = run("dev");
    assert!(
        output.status.success(),
        "{}{}",
        stdout_of(&output),
        stderr_of(&output)
    );
    let answer: serde_json::Value = serde_json::from_str(stdout_of(&output).trim()).unwrap();
    assert_eq!(answer["accessKeyId"], "ASIATESTKEY00001");
    assert_eq!(answer["accountId"], "123456789012");
    assert!(answer["expiration"].as_str().unwrap().parse::<i64>().unwrap() > 1_700_000_000);
    assert_eq!(
        std::fs::read_to_string(sandbox.path("runs"))
            .unwrap()
            .lines()
            .count(),
        1
    );
    assert!(!stdout_of(&output).contains(SECRET));

    // The guest's typed errors cross the boundary as they do in the credbox host.
    let output = run("failing");
    assert_eq!(output.status.code(), Some(1));
    let answer: serde_json::Value = serde_json::from_str(stdout_of(&output).trim()).unwrap();
    assert_eq!(answer["error"], "nonzero-exit");
    assert!(
        answer["detail"]["stderrTail"]
            .as_str()
            .unwrap()
            .contains("token expired")
    );

    let output = run("shell");
    let answer: serde_json::Value = serde_json::from_str(stdout_of(&output).trim()).unwrap();
    assert_eq!(answer["error"], "command-syntax", "{answer}");
    assert_eq!(answer["detail"]["rule"], "shell-operator", "{answer}");
}
