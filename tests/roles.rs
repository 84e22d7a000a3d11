//! Role profiles against a real STS: moto's server on loopback (from PyPI, installed by `make
//! clients`), reached through `AWS_ENDPOINT_URL_STS`. moto records every request it serves, so
//! the tests count AssumeRole calls and read their parameters and signatures; botocore, run on the
//! same files against the same server, is the oracle for what the call should carry.

mod common;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::moto::{Moto, clients, python};
use common::pty::{open_pty, spawn_in_session};
use common::*;
use serde_json::Value;

const ROLE: &str = "arn:aws:iam::210987654321:role/Deploy";
const BASE_KEY: &str = "AKIAEXAMPLEBASE00001";

/// `credbox ARGS` in `sandbox`, with STS at `moto`.
fn credbox_at(sandbox: &Sandbox, moto: &Moto, args: &[&str]) -> Command {
    let mut command = sandbox.std_credbox();
    command.env("AWS_ENDPOINT_URL_STS", &moto.url).args(args);
    command
}

fn export(sandbox: &Sandbox, moto: &Moto, profile: &str) -> Output {
    credbox_at(sandbox, moto, &["export", "--profile", profile])
        .output()
        .unwrap()
}

fn json_of(output: &Output) -> Value {
    assert!(output.status.success(), "{}", stderr_of(output));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn base_with_role(extra: &str) -> String {
    format!(
        "[profile base]\naws_access_key_id = {BASE_KEY}\naws_secret_access_key = {SECRET}\n\
         [profile prod]\nrole_arn = {ROLE}\nsource_profile = base\n{extra}"
    )
}

#[test]
fn a_role_is_assumed_once_with_its_settings_and_cached_across_processes() {
    let Some(moto) = Moto::start(None) else { return };
    let sandbox = Sandbox::new();
    sandbox.config(&base_with_role("duration_seconds = 1800\nexternal_id = ext-1\n"));
    let first = json_of(&export(&sandbox, &moto, "prod"));
    let second = json_of(&export(&sandbox, &moto, "prod"));
    assert_eq!(
        first["AccessKeyId"], second["AccessKeyId"],
        "the second process used the cache"
    );
    let calls = moto.assume_role_calls();
    assert_eq!(calls.len(), 1, "one STS call for two processes: {calls:?}");
    let (form, scope) = &calls[0];
    assert_eq!(form["RoleArn"], ROLE);
    assert_eq!(form["DurationSeconds"], "1800");
    assert_eq!(form["ExternalId"], "ext-1");
    assert!(
        form["RoleSessionName"].starts_with("credbox-session-"),
        "{form:?}"
    );
    // Signed with the base profile's key, for STS in the global endpoint's region.
    assert!(
        scope.starts_with(BASE_KEY) && scope.ends_with("/us-east-1/sts/aws4_request"),
        "{scope}"
    );
    // duration_seconds is honoured: the credentials live 30 minutes.
    let expiration: jiff::Timestamp = first["Expiration"].as_str().unwrap().parse().unwrap();
    let lifetime = expiration.as_second() - jiff::Timestamp::now().as_second();
    assert!((1700..=1800).contains(&lifetime), "{lifetime}");
    assert_eq!(first["AccountId"], "210987654321");
    assert!(first["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
}

#[test]
fn chains_of_two_hops_over_a_helper_and_one_over_a_plugin() {
    let Some(moto) = Moto::start(None) else { return };
    let sandbox = Sandbox::new();
    let helper = sandbox.helper(
        "bin/idp-helper",
        &format!(
            "echo run >> \"{}\"\ncat <<'EOF'\n{}\nEOF",
            sandbox.path("runs").display(),
            session_json(2)
        ),
    );
    let plugin = component("credbox_example_plugin");
    sandbox.config(&format!(
        "[profile idp]\ncredential_process = {}\n\
         [profile mid]\nrole_arn = arn:aws:iam::111111111111:role/Mid\nsource_profile = idp\nrole_session_name = mid\n\
         [profile top]\nrole_arn = arn:aws:iam::222222222222:role/Top\nsource_profile = mid\nrole_session_name = top\n\
         [profile plugged]\ncredential_plugin = {}\n\
         [profile onplugin]\nrole_arn = {ROLE}\nsource_profile = plugged\n",
        helper.display(),
        plugin.display()
    ));
    let top = json_of(&export(&sandbox, &moto, "top"));
    assert_eq!(top["AccountId"], "222222222222");
    let calls = moto.assume_role_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    let (mid, top_call) = (&calls[0], &calls[1]);
    assert_eq!(
        (
            mid.0["RoleSessionName"].as_str(),
            top_call.0["RoleSessionName"].as_str()
        ),
        ("mid", "top")
    );
    // Each hop is signed by the credentials the one before gave.
    assert!(
        mid.1.starts_with("ASIATESTKEY00001/"),
        "the helper's key signs the first hop: {}",
        mid.1
    );
    assert!(
        top_call.1.starts_with("ASIA") && !top_call.1.starts_with("ASIATESTKEY00001/"),
        "the first role's key signs the second hop: {}",
        top_call.1
    );
    // A second process: the helper does not run again and STS is not called.
    json_of(&export(&sandbox, &moto, "top"));
    assert_eq!(moto.assume_role_calls().len(), 2);
    assert_eq!(
        std::fs::read_to_string(sandbox.path("runs"))
            .unwrap()
            .lines()
            .count(),
        1
    );

    let on_plugin = json_of(&export(&sandbox, &moto, "onplugin"));
    assert_eq!(on_plugin["AccountId"], "210987654321");
    assert_eq!(moto.assume_role_calls().len(), 3);
}

#[test]
fn parallel_cold_callers_make_one_sts_call() {
    let Some(moto) = Moto::start(None) else { return };
    let sandbox = Sandbox::new();
    sandbox.config(&base_with_role(""));
    let children: Vec<Child> = (0..20)
        .map(|_| {
            credbox_at(&sandbox, &moto, &["export", "--profile", "prod"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let keys: std::collections::BTreeSet<String> = children
        .into_iter()
        .map(|child| {
            json_of(&child.wait_with_output().unwrap())["AccessKeyId"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        keys.len(),
        1,
        "every caller got the same role credentials: {keys:?}"
    );
    assert_eq!(
        moto.assume_role_calls().len(),
        1,
        "twenty cold callers, one STS call"
    );
}

#[test]
fn strict_sts_rejects_a_wrong_signature_and_accepts_the_right_one() {
    let Some(moto) = Moto::start(Some(3)) else { return };
    let created = Command::new(python())
        .args([
            clients()
                .join("../../tests/clients/moto_iam_user.py")
                .to_str()
                .unwrap(),
            &moto.url,
        ])
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", stderr_of(&created));
    let key: Value = serde_json::from_slice(&created.stdout).unwrap();
    let (id, secret) = (
        key["AccessKeyId"].as_str().unwrap(),
        key["SecretAccessKey"].as_str().unwrap(),
    );
    let sandbox = Sandbox::new();
    sandbox.config(&format!(
        "[profile good]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n\
         [profile bad]\naws_access_key_id = {id}\naws_secret_access_key = {SECRET}\n\
         [profile good-role]\nrole_arn = {ROLE}\nsource_profile = good\n\
         [profile bad-role]\nrole_arn = {ROLE}\nsource_profile = bad\n"
    ));
    let good = json_of(&export(&sandbox, &moto, "good-role"));
    assert!(good["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
    let bad = export(&sandbox, &moto, "bad-role");
    assert_eq!(bad.status.code(), Some(6), "{}", stderr_of(&bad));
    let message = stderr_of(&bad);
    assert!(
        message.contains(&format!(
            "profile bad-role: assuming {ROLE} with the credentials of profile bad"
        )) && message.contains("STS SignatureDoesNotMatch (HTTP 403)"),
        "{message}"
    );
    assert!(!message.contains(SECRET) && !message.contains(id), "{message}");
}

#[test]
fn credbox_sends_the_assume_role_call_botocore_sends() {
    let Some(moto) = Moto::start(None) else { return };
    let sandbox = Sandbox::new();
    sandbox.config(&base_with_role(
        "role_session_name = deploy\nexternal_id = ext-9\nduration_seconds = 2700\nregion = eu-west-1\n",
    ));
    let botocore = Command::new(python())
        .arg(clients().join("../../tests/clients/botocore_assume_role.py"))
        .arg("prod")
        .env("AWS_CONFIG_FILE", sandbox.config_path())
        .env("AWS_SHARED_CREDENTIALS_FILE", sandbox.credentials_path())
        .env("AWS_ENDPOINT_URL_STS", &moto.url)
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    assert!(botocore.status.success(), "{}", stderr_of(&botocore));
    json_of(
        &credbox_at(&sandbox, &moto, &["export", "--profile", "prod", "--no-cache"])
            .output()
            .unwrap(),
    );
    let calls = moto.assume_role_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    let (oracle, ours) = (&calls[0], &calls[1]);
    assert_eq!(ours.0, oracle.0, "the same AssumeRole parameters as botocore");
    // The same signing identity and scope (the date aside): the base key, eu-west-1, sts.
    let scope = |s: &str| {
        let parts: Vec<&str> = s.split('/').collect();
        (parts[0].to_string(), parts[2..].join("/"))
    };
    assert_eq!(scope(&ours.1), scope(&oracle.1));
    assert_eq!(scope(&ours.1).1, "eu-west-1/sts/aws4_request");
}

const MFA: &str = "arn:aws:iam::123456789012:mfa/me";

#[test]
fn an_mfa_code_is_asked_on_the_terminal_even_when_output_is_captured() {
    let Some(moto) = Moto::start(None) else { return };
    let sandbox = Sandbox::new();
    sandbox.config(&base_with_role(&format!("mfa_serial = {MFA}\n")));
    let mut prompt = at_the_mfa_prompt(credbox_at(&sandbox, &moto, &["export", "--profile", "prod"]));
    let mut shown = std::mem::take(&mut prompt.shown);
    assert!(
        shown.contains(&format!("profile prod: enter MFA code for {MFA}")),
        "{shown}"
    );
    prompt.controller.write_all(b"902817\n").unwrap();
    let output = prompt.child.wait_with_output().unwrap();
    json_of(&output);
    while let Ok(more) = prompt.more.recv_timeout(Duration::from_millis(200)) {
        shown.push_str(&more);
    }
    assert!(!shown.contains("902817"), "the code was echoed: {shown:?}");
    assert!(!stderr_of(&output).contains("902817"));
    let calls = moto.assume_role_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (
            calls[0].0["SerialNumber"].as_str(),
            calls[0].0["TokenCode"].as_str()
        ),
        (MFA, "902817")
    );
    // Cached: the next process neither calls STS nor asks.
    let (again, _) = spawn_in_session(
        credbox_at(&sandbox, &moto, &["export", "--profile", "prod"]),
        None,
    );
    json_of(&again.wait_with_output().unwrap());
    assert_eq!(moto.assume_role_calls().len(), 1);
}

#[test]
fn an_mfa_code_comes_from_mfa_process_and_never_hangs_without_a_terminal() {
    let Some(moto) = Moto::start(None) else { return };
    let sandbox = Sandbox::new();
    let code = sandbox.helper("bin/totp", "echo 654321");
    sandbox.config(&format!(
        "{}[profile prod-process]\nrole_arn = {ROLE}\nsource_profile = base\nmfa_serial = {MFA}\nmfa_process = {}\n",
        base_with_role(&format!("mfa_serial = {MFA}\n")),
        code.display()
    ));
    let output = spawn_in_session(
        credbox_at(&sandbox, &moto, &["export", "--profile", "prod-process"]),
        None,
    )
    .0
    .wait_with_output()
    .unwrap();
    json_of(&output);
    let calls = moto.assume_role_calls();
    assert_eq!(calls[0].0["TokenCode"], "654321");

    // No terminal, no mfa_process: an immediate, clear error; and the same with --prompt never.
    for args in [
        &["export", "--profile", "prod"][..],
        &["export", "--profile", "prod", "--prompt", "never"],
    ] {
        let started = Instant::now();
        let output = spawn_in_session(credbox_at(&sandbox, &moto, args), None)
            .0
            .wait_with_output()
            .unwrap();
        assert_eq!(output.status.code(), Some(6), "{}", stderr_of(&output));
        let message = stderr_of(&output);
        assert!(
            message.contains(&format!("profile prod: needs an MFA code for {MFA}, but"))
                && message.contains("set mfa_process"),
            "{message}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }
    assert_eq!(moto.assume_role_calls().len(), 1);
}

#[test]
fn an_unreachable_endpoint_is_named_and_bounded() {
    let sandbox = Sandbox::new();
    sandbox.config(&base_with_role(""));
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let output = sandbox
        .std_credbox()
        .env("AWS_ENDPOINT_URL_STS", &url)
        .args(["export", "--profile", "prod", "--timeout", "5"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(6), "{}", stderr_of(&output));
    let message = stderr_of(&output);
    assert!(
        message.contains(&format!("{url} could not be reached")),
        "{message}"
    );
    assert!(!message.contains(SECRET));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn exec_runs_a_command_with_the_role_credentials() {
    let Some(moto) = Moto::start(None) else { return };
    let sandbox = Sandbox::new();
    sandbox.config(&base_with_role(""));
    let output = credbox_at(
        &sandbox,
        &moto,
        &[
            "exec",
            "--profile",
            "prod",
            "--",
            "sh",
            "-c",
            "echo $AWS_ACCESS_KEY_ID",
        ],
    )
    .output()
    .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let key = stdout_of(&output).trim().to_string();
    assert!(key.starts_with("ASIA") && key != BASE_KEY, "{key}");
}

#[test]
fn check_and_list_show_role_chains_and_their_problems() {
    let sandbox = Sandbox::new();
    sandbox.config(&format!(
        "{}[profile loop1]\nrole_arn = {ROLE}\nsource_profile = loop2\n\
         [profile loop2]\nrole_arn = {ROLE}\nsource_profile = loop1\n\
         [profile both]\nrole_arn = {ROLE}\nsource_profile = base\ncredential_process = /bin/true\n\
         [profile orphan]\nrole_arn = {ROLE}\nsource_profile = nowhere\n",
        base_with_role("")
    ));
    std::fs::set_permissions(
        sandbox.config_path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let listed = sandbox.std_credbox().args(["list", "--all"]).output().unwrap();
    let listed = stdout_of(&listed);
    let line = |name: &str| {
        listed
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap()
            .to_string()
    };
    assert!(
        line("prod").contains("role") && line("prod").contains("config:5 via base (static keys)"),
        "{listed}"
    );
    assert!(
        line("loop1").contains("broken chain") && line("loop1").contains("1 error(s)"),
        "{listed}"
    );
    let checked = sandbox.std_credbox().arg("check").output().unwrap();
    assert_eq!(checked.status.code(), Some(1));
    let report = stdout_of(&checked) + &stderr_of(&checked);
    for expected in [
        "error: profile loop1: source_profile forms a cycle (loop1 -> loop2 -> loop1)",
        "error: profile orphan: source profile nowhere (named by profile orphan) is not defined",
        "warning: profile both: role_arn wins over credential_process",
    ] {
        assert!(report.contains(expected), "{expected} not in {report}");
    }
    // `export` refuses a broken chain before anything runs, with the file and line.
    let export = sandbox
        .std_credbox()
        .args(["export", "--profile", "orphan"])
        .output()
        .unwrap();
    assert_eq!(export.status.code(), Some(3));
    assert!(stderr_of(&export).contains("config:"), "{}", stderr_of(&export));
}

#[test]
fn the_library_provider_assumes_a_role_from_the_profile_s_own_endpoint_url() {
    let Some(moto) = Moto::start(None) else { return };
    let sandbox = Sandbox::new();
    // The endpoint comes from the profile (no environment): the host accepts it because the
    // config file names it.
    sandbox.config(&base_with_role(&format!("endpoint_url = {}\n", moto.url)));
    let target = credbox::Target::Profile {
        locations: credbox::files::Locations {
            config: sandbox.config_path().display().to_string(),
            credentials: sandbox.credentials_path().display().to_string(),
            profile: "prod".into(),
        },
        name: "prod".into(),
    };
    let provider = std::sync::Arc::new(credbox::Provider::new(
        credbox::Runtime::new().unwrap(),
        target,
        credbox::FetchOptions::default(),
    ));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let provider = provider.clone();
            std::thread::spawn(move || provider.retrieve().unwrap().access_key_id.clone())
        })
        .collect();
    let keys: std::collections::BTreeSet<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(keys.len(), 1);
    assert!(keys.iter().next().unwrap().starts_with("ASIA"));
    assert_eq!(moto.assume_role_calls().len(), 1, "eight threads, one STS call");
}

#[test]
fn a_helper_s_prompt_reaches_the_terminal_when_an_sdk_captures_stderr() {
    // `credential_process = credbox run -- helper` under botocore: credbox's stdin and stderr are
    // pipes, but the person is at a terminal. The helper's prompt must reach them.
    let sandbox = Sandbox::new();
    let helper = sandbox.helper(
        "bin/interactive",
        &format!(
            "echo 'Touch your security key' >&2\ncat <<'EOF'\n{}\nEOF",
            session_json(1)
        ),
    );
    for (prompt, on_terminal) in [("terminal", true), ("never", false)] {
        let (mut controller, terminal) = open_pty();
        let mut command = sandbox.std_credbox();
        command.args([
            "run",
            "--no-cache",
            "--prompt",
            prompt,
            "--",
            helper.to_str().unwrap(),
        ]);
        let (child, held) = spawn_in_session(command, Some(&terminal));
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", stderr_of(&output));
        drop(held);
        // What reached the terminal: read what is there without waiting for more.
        let mut shown = Vec::new();
        unsafe { libc::fcntl(controller.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        let _ = controller.read_to_end(&mut shown);
        let shown = String::from_utf8_lossy(&shown);
        assert_eq!(
            shown.contains("Touch your security key"),
            on_terminal,
            "--prompt {prompt}: {shown:?}"
        );
        assert_eq!(
            stderr_of(&output).contains("Touch your security key"),
            !on_terminal,
            "--prompt {prompt}: {}",
            stderr_of(&output)
        );
    }
}

#[test]
fn exec_server_serves_role_credentials_to_botocore() {
    let Some(moto) = Moto::start(None) else { return };
    let sandbox = Sandbox::new();
    sandbox.config(&base_with_role(""));
    let output = credbox_at(&sandbox, &moto, &["exec", "--server", "--profile", "prod", "--"])
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .arg(python())
        .arg(clients().join("../../tests/clients/botocore_client.py"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let printed = stdout_of(&output);
    assert!(printed.starts_with("container-role ASIA"), "{printed}");
    assert_eq!(moto.assume_role_calls().len(), 1);
}

/// `command` (a credbox asking for the MFA code of [`MFA`]) run at the MFA prompt on a
/// pseudo-terminal: the child, the controller side, the terminal side (kept open), what credbox
/// wrote on the terminal up to the prompt, and a channel of what it writes after.
struct AtThePrompt {
    child: Child,
    controller: std::fs::File,
    terminal: Option<std::fs::File>,
    shown: String,
    more: std::sync::mpsc::Receiver<String>,
}

fn at_the_mfa_prompt(command: Command) -> AtThePrompt {
    let (controller, terminal) = open_pty();
    let (child, terminal) = spawn_in_session(command, Some(&terminal));
    let mut reader = controller.try_clone().unwrap();
    let (seen_tx, more) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 1024];
        while let Ok(n) = reader.read(&mut buffer) {
            let chunk = String::from_utf8_lossy(&buffer[..n]).into_owned();
            if n == 0 || seen_tx.send(chunk).is_err() {
                break;
            }
        }
    });
    let mut shown = String::new();
    while !shown.contains(&format!("enter MFA code for {MFA}: ")) {
        shown.push_str(
            &more
                .recv_timeout(Duration::from_secs(30))
                .expect("no MFA prompt on the terminal"),
        );
    }
    AtThePrompt {
        child,
        controller,
        terminal,
        shown,
        more,
    }
}

/// A credbox exporting `prod` (whose role needs an MFA code) with nothing behind its STS
/// endpoint: for tests that end before any STS call.
fn export_without_sts(sandbox: &Sandbox) -> Command {
    sandbox.config(&base_with_role(&format!("mfa_serial = {MFA}\n")));
    let mut command = sandbox.std_credbox();
    command
        .env("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")
        .args(["export", "--profile", "prod"]);
    command
}

#[test]
fn what_is_not_a_code_is_neither_sent_nor_shown() {
    let sandbox = Sandbox::new();
    let mut prompt = at_the_mfa_prompt(export_without_sts(&sandbox));
    prompt.controller.write_all(b"hunter2-my-password\n").unwrap();
    let output = prompt.child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(6), "{}", stderr_of(&output));
    let message = stderr_of(&output);
    assert!(message.contains("is not a 6-digit MFA code"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn ctrl_c_at_the_mfa_prompt_restores_the_echo() {
    let sandbox = Sandbox::new();
    let mut prompt = at_the_mfa_prompt(export_without_sts(&sandbox));
    let terminal = prompt.terminal.take().unwrap();
    let echo_on = |t: &std::fs::File| unsafe {
        let mut settings: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(t.as_raw_fd(), &mut settings), 0);
        settings.c_lflag & libc::ECHO != 0
    };
    assert!(!echo_on(&terminal), "echo is off while the code is typed");
    // The terminal's Ctrl-C: the line discipline sends SIGINT to credbox.
    prompt.controller.write_all(b"\x03").unwrap();
    let output = prompt.child.wait_with_output().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(output.status.signal(), Some(libc::SIGINT), "{output:?}");
    assert!(echo_on(&terminal), "Ctrl-C left the terminal without echo");
}

#[test]
fn a_profile_s_ca_bundle_is_the_trust_store_and_a_bad_one_is_named() {
    let sandbox = Sandbox::new();
    let empty = sandbox.path("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    for (bundle, expected) in [
        (
            "/nonexistent/bundle.pem".to_string(),
            "ca_bundle /nonexistent/bundle.pem: No such file",
        ),
        (empty.display().to_string(), "holds no PEM certificate"),
    ] {
        sandbox.config(&base_with_role(&format!("ca_bundle = {bundle}\n")));
        // The global AWS endpoint: the bundle is read before anything is sent.
        let output = sandbox
            .std_credbox()
            .args(["export", "--profile", "prod"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(6), "{}", stderr_of(&output));
        assert!(stderr_of(&output).contains(expected), "{}", stderr_of(&output));
    }
}

#[test]
fn parallel_cold_callers_share_one_mfa_code() {
    let Some(moto) = Moto::start(None) else { return };
    let sandbox = Sandbox::new();
    let code = sandbox.helper(
        "bin/totp",
        &format!(
            "echo run >> \"{}\"\nsleep 0.2\necho 135790",
            sandbox.path("codes").display()
        ),
    );
    sandbox.config(&base_with_role(&format!(
        "mfa_serial = {MFA}\nmfa_process = {}\n",
        code.display()
    )));
    let children: Vec<Child> = (0..8)
        .map(|_| {
            credbox_at(&sandbox, &moto, &["export", "--profile", "prod"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        json_of(&child.wait_with_output().unwrap());
    }
    let asked = std::fs::read_to_string(sandbox.path("codes"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(asked, 1, "eight cold callers, one MFA code");
    assert_eq!(moto.assume_role_calls().len(), 1);
}

#[test]
fn an_expiring_source_refreshes_the_role() {
    let Some(moto) = Moto::start(None) else { return };
    let sandbox = Sandbox::new();
    // The helper's first session ends 40 minutes from now, its second 3 hours from now; each run
    // has a new access key id, as a refreshed session does.
    let at = |minutes: i64| {
        (jiff::Timestamp::now() + jiff::SignedDuration::from_mins(minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    };
    let runs = sandbox.path("runs");
    let helper = sandbox.helper(
        "bin/idp",
        &format!(
            "echo run >> \"{runs}\"\nn=$(wc -l < \"{runs}\")\n\
             if [ \"$n\" = 1 ]; then exp={first}; else exp={second}; fi\n\
             printf '{{\"Version\": 1, \"AccessKeyId\": \"ASIAHELPERRUN%04d\", \"SecretAccessKey\": \"s\", \"SessionToken\": \"t\", \"Expiration\": \"%s\"}}' $n $exp",
            runs = runs.display(),
            first = at(40),
            second = at(180),
        ),
    );
    // The library, with a clock the test moves (no environment: the endpoint is the profile's).
    sandbox.config(&format!(
        "[profile idp]\ncredential_process = {}\n\
         [profile prod]\nrole_arn = {ROLE}\nsource_profile = idp\nendpoint_url = {}\n",
        helper.display(),
        moto.url
    ));
    let clock = MovableClock::new();
    let options = credbox::FetchOptions {
        clock: Some(clock.clone()),
        cache: Some(credbox::Cache::open(&sandbox.path("cache")).unwrap()),
        ..credbox::FetchOptions::default()
    };
    let locations = credbox::files::Locations {
        config: sandbox.config_path().display().to_string(),
        credentials: sandbox.credentials_path().display().to_string(),
        profile: "prod".into(),
    };
    let runtime = credbox::Runtime::new().unwrap();
    let fetch = || {
        credbox::credentials_for_profile(&runtime, &locations, "prod", &options)
            .unwrap()
            .0
    };
    let first = fetch();
    clock.set_minutes(20);
    assert_eq!(
        fetch().access_key_id,
        first.access_key_id,
        "role and source are good at 20 minutes"
    );
    assert_eq!(moto.assume_role_calls().len(), 1);
    // At 30 minutes the source is inside its refresh window (40-minute session: the last 15
    // minutes): the helper runs again, and the role is assumed with the source's new key.
    clock.set_minutes(30);
    let refreshed = fetch();
    assert_ne!(refreshed.access_key_id, first.access_key_id);
    let calls = moto.assume_role_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[1].1.starts_with("ASIAHELPERRUN0002/"), "{}", calls[1].1);
    assert_eq!(std::fs::read_to_string(&runs).unwrap().lines().count(), 2);
}

/// `export --profile prod` failing before any STS call (nothing listens at the endpoint): its
/// exit code must be the MFA error's, 6; returns the message.
fn mfa_error_of_prod(sandbox: &Sandbox) -> String {
    let output = sandbox
        .std_credbox()
        .env("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")
        .args(["export", "--profile", "prod"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(6), "{}", stderr_of(&output));
    stderr_of(&output)
}

#[test]
fn a_failing_mfa_process_is_an_mfa_error_that_shows_nothing_it_printed() {
    let sandbox = Sandbox::new();
    let failing = sandbox.helper("bin/totp", "echo 123456\necho 'token=SECRETISH' >&2\nexit 1");
    sandbox.config(&base_with_role(&format!(
        "mfa_serial = {MFA}\nmfa_process = {}\n",
        failing.display()
    )));
    let message = mfa_error_of_prod(&sandbox);
    assert!(
        message.contains("profile prod: mfa_process exited with code 1"),
        "{message}"
    );
    assert!(!message.contains("123456"), "{message}");
    // Its stderr passes through as it is written, like any helper's; credbox's own line quotes none of it.
    let ours = message.lines().find(|l| l.starts_with("credbox:")).unwrap();
    assert!(!ours.contains("SECRETISH"), "{message}");
}

#[test]
fn an_mfa_process_with_shell_syntax_is_refused_without_quoting_its_command_line() {
    // `oathtool -b SEED` is how people write a TOTP helper: the seed must not reach the error.
    let sandbox = Sandbox::new();
    sandbox.config(&base_with_role(&format!(
        "mfa_serial = {MFA}\nmfa_process = oathtool --totp -b JBSWY3DPEHPK3PXP | tr -d x\n"
    )));
    let message = mfa_error_of_prod(&sandbox);
    assert!(
        message.contains("profile prod: mfa_process uses shell syntax"),
        "{message}"
    );
    assert!(!message.contains("JBSWY3DPEHPK3PXP"), "{message}");
}

/// A user of strict moto, created through IAM: its access key id and secret.
fn strict_user(moto: &Moto) -> (String, String) {
    let created = Command::new(python())
        .arg(clients().join("../../tests/clients/moto_iam_user.py"))
        .arg(&moto.url)
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", stderr_of(&created));
    let key: Value = serde_json::from_slice(&created.stdout).unwrap();
    (
        key["AccessKeyId"].as_str().unwrap().to_string(),
        key["SecretAccessKey"].as_str().unwrap().to_string(),
    )
}

#[test]
fn a_role_entry_is_bound_to_the_whole_source_not_its_key_id() {
    // Another profile file (or environment) naming the same access key id with a wrong secret,
    // and no way to answer the role's MFA, must not be served the MFA-gated role credentials
    // cached for the right secret: it is another source. (Bound by key id only, it was served.)
    let Some(moto) = Moto::start(Some(3)) else { return };
    let (id, secret) = strict_user(&moto);
    let sandbox = Sandbox::new();
    let code = sandbox.helper("bin/totp", "echo 654321");
    sandbox.config(&format!(
        "[profile base]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n\
         [profile prod]\nrole_arn = {ROLE}\nsource_profile = base\nmfa_serial = {MFA}\nmfa_process = {}\n",
        code.display()
    ));
    let good = json_of(&export(&sandbox, &moto, "prod"));
    assert_eq!(moto.assume_role_calls().len(), 1);
    let other = sandbox.path("other-config");
    std::fs::write(
        &other,
        format!(
            "[profile base]\naws_access_key_id = {id}\naws_secret_access_key = wrong{SECRET}\n\
             [profile prod]\nrole_arn = {ROLE}\nsource_profile = base\nmfa_serial = {MFA}\n"
        ),
    )
    .unwrap();
    let wrong = credbox_at(&sandbox, &moto, &["export", "--profile", "prod"])
        .env("AWS_CONFIG_FILE", &other)
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(6), "{}", stderr_of(&wrong));
    assert!(
        stderr_of(&wrong).contains("needs an MFA code"),
        "{}",
        stderr_of(&wrong)
    );
    assert!(!stdout_of(&wrong).contains(good["AccessKeyId"].as_str().unwrap()));

    // credential_source = Environment: the same key id with another secret is refused by STS,
    // never served from the cache (or the served record) of the right one.
    let envrole = sandbox.path("env-config");
    std::fs::write(
        &envrole,
        format!("[profile envrole]\nrole_arn = {ROLE}\ncredential_source = Environment\n"),
    )
    .unwrap();
    let with_secret = |secret: &str| {
        credbox_at(&sandbox, &moto, &["export", "--profile", "envrole"])
            .env("AWS_CONFIG_FILE", &envrole)
            .env("AWS_ACCESS_KEY_ID", &id)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .output()
            .unwrap()
    };
    json_of(&with_secret(&secret));
    json_of(&with_secret(&secret));
    let calls = moto.assume_role_calls().len();
    let wrong = with_secret(&format!("wrong{secret}"));
    assert_eq!(wrong.status.code(), Some(6), "{}", stderr_of(&wrong));
    assert!(
        stderr_of(&wrong).contains("SignatureDoesNotMatch"),
        "{}",
        stderr_of(&wrong)
    );
    assert!(
        moto.assume_role_calls().len() > calls,
        "the wrong secret reached STS"
    );
    // Nothing of either secret is kept in the cache directory.
    for entry in std::fs::read_dir(sandbox.path("cache")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        assert!(!text.contains(&secret) && !text.contains(SECRET), "{text}");
    }
}

#[test]
fn an_mfa_process_that_calls_credbox_for_its_own_profile_fails_fast() {
    // It would wait for the role's lock its parent holds, until the timeout: it must be refused
    // by the recursion guard before any lock, as a credential_process doing the same is.
    let Some(moto) = Moto::start(None) else { return };
    let sandbox = Sandbox::new();
    let nested = sandbox.helper(
        "bin/nested-mfa",
        &format!(
            "exec \"{}\" export --profile prod --format env >/dev/null",
            credbox_binary().display()
        ),
    );
    sandbox.config(&base_with_role(&format!(
        "mfa_serial = {MFA}\nmfa_process = {}\n",
        nested.display()
    )));
    let started = Instant::now();
    let output = credbox_at(
        &sandbox,
        &moto,
        &["export", "--profile", "prod", "--timeout", "30"],
    )
    .output()
    .unwrap();
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(6), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).contains("mfa_process exited with code 4"),
        "{}",
        stderr_of(&output)
    );
    assert!(
        took < Duration::from_secs(10),
        "took {took:?}: the nested credbox waited for the lock"
    );
    assert_eq!(moto.assume_role_calls().len(), 0);
}

#[test]
fn listing_a_role_calls_no_sts_and_asks_nothing() {
    // `credbox list --profile ROLE` shows where the credentials come from, as `aws configure
    // list` does, without assuming the role or asking for an MFA code.
    let Some(moto) = Moto::start(None) else { return };
    let sandbox = Sandbox::new();
    sandbox.config(&base_with_role(&format!(
        "mfa_serial = {MFA}\nregion = eu-west-1\n"
    )));
    let (controller, terminal) = open_pty();
    let mut screen = common::pty::Screen::watch(&controller);
    let (child, _held) = spawn_in_session(
        credbox_at(&sandbox, &moto, &["list", "--profile", "prod"]),
        Some(&terminal),
    );
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let listed = stdout_of(&output);
    assert!(listed.contains("assume-role"), "{listed}");
    assert!(listed.contains("eu-west-1"), "{listed}");
    screen.settle(Duration::from_millis(300));
    assert!(
        !screen.shown.contains("MFA"),
        "list asked for a code: {:?}",
        screen.shown
    );
    assert_eq!(moto.assume_role_calls().len(), 0, "list called STS");
}

#[test]
fn every_input_of_a_role_s_call_binds_its_cache_entry() {
    // Each of the values the docs list as deciding a role's credentials, changed alone, is
    // another STS call; the unchanged settings are still served from their own entry afterwards.
    let Some(moto) = Moto::start(None) else { return };
    let sandbox = Sandbox::new();
    let settings = [
        ("role_arn", ROLE, "arn:aws:iam::210987654321:role/Other"),
        ("external_id", "ext-1", "ext-2"),
        ("duration_seconds", "1800", "2700"),
        ("role_session_name", "session-1", "session-2"),
        ("source_identity", "me", "someone-else"),
        ("region", "eu-west-1", "us-west-2"),
        (
            "aws_secret_access_key",
            SECRET,
            "AnotherSecretOfTheSameKeyId000000000000",
        ),
    ];
    let config = |changed: Option<&str>| {
        let value = |key: &str| {
            let (_, original, other) = settings.iter().find(|(k, _, _)| *k == key).unwrap();
            if changed == Some(key) { *other } else { *original }
        };
        format!(
            "[profile base]\naws_access_key_id = {BASE_KEY}\naws_secret_access_key = {}\n\
             [profile prod]\nsource_profile = base\nrole_arn = {}\nexternal_id = {}\nduration_seconds = {}\n\
             role_session_name = {}\nsource_identity = {}\nregion = {}\n",
            value("aws_secret_access_key"),
            value("role_arn"),
            value("external_id"),
            value("duration_seconds"),
            value("role_session_name"),
            value("source_identity"),
            value("region"),
        )
    };
    let export_with = |endpoint: &str| {
        let output = sandbox
            .std_credbox()
            .env("AWS_ENDPOINT_URL_STS", endpoint)
            .args(["export", "--profile", "prod"])
            .output()
            .unwrap();
        json_of(&output)["AccessKeyId"].as_str().unwrap().to_string()
    };
    sandbox.config(&config(None));
    let original = export_with(&moto.url);
    assert_eq!(moto.assume_role_calls().len(), 1);
    let mut calls = 1;
    for (key, _, _) in settings {
        sandbox.config(&config(Some(key)));
        let key_id = export_with(&moto.url);
        calls += 1;
        assert_eq!(
            moto.assume_role_calls().len(),
            calls,
            "changing {key} was served another role's credentials"
        );
        assert_ne!(key_id, original, "{key}");
        export_with(&moto.url);
        assert_eq!(
            moto.assume_role_calls().len(),
            calls,
            "{key}: the second export called STS again"
        );
    }
    // Another endpoint (the same server by another name) is another call too.
    sandbox.config(&config(None));
    let other_endpoint = moto.url.replace("127.0.0.1", "localhost");
    export_with(&other_endpoint);
    assert_eq!(
        moto.assume_role_calls().len(),
        calls + 1,
        "another endpoint was served the first one's credentials"
    );
    // And the original settings still have their own entry.
    assert_eq!(export_with(&moto.url), original);
    assert_eq!(moto.assume_role_calls().len(), calls + 1);
}

#[test]
fn an_mfa_process_that_prints_a_seed_is_described_by_its_length_only() {
    let sandbox = Sandbox::new();
    let seed = sandbox.helper("bin/totp", "echo JBSWY3DPEHPK3PXP");
    sandbox.config(&base_with_role(&format!(
        "mfa_serial = {MFA}\nmfa_process = {}\n",
        seed.display()
    )));
    let message = mfa_error_of_prod(&sandbox);
    assert!(
        message.contains("mfa_process printed 16 characters, not a 6-digit MFA code"),
        "{message}"
    );
    assert!(!message.contains("JBSWY3DP"), "{message}");
}

#[test]
fn the_role_path_s_verbose_log_shows_no_secret_token_or_code() {
    let Some(moto) = Moto::start(None) else { return };
    let sandbox = Sandbox::new();
    let code = sandbox.helper("bin/totp", "echo 902817");
    sandbox.config(&base_with_role(&format!(
        "mfa_serial = {MFA}\nmfa_process = {}\n",
        code.display()
    )));
    let output = credbox_at(&sandbox, &moto, &["export", "--profile", "prod", "-v"])
        .output()
        .unwrap();
    let role = json_of(&output);
    let log = stderr_of(&output);
    assert!(log.contains("assuming a role"), "{log}");
    let (secret, token) = (
        role["SecretAccessKey"].as_str().unwrap(),
        role["SessionToken"].as_str().unwrap(),
    );
    for (what, value) in [
        ("the base secret", SECRET),
        ("the role's secret", secret),
        ("the role's token", token),
        ("the MFA code", "902817"),
    ] {
        assert!(!log.contains(value), "{what} in the log: {log}");
    }
    // The cache holds the role's credentials (private, 0600), never the base secret or the code.
    for entry in std::fs::read_dir(sandbox.path("cache")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        assert!(!text.contains(SECRET) && !text.contains("902817"), "{text}");
    }
    assert_cache_is_private(&sandbox.path("cache"));
}

#[test]
fn in_the_background_of_a_terminal_the_prompt_fails_at_once() {
    // Touching the terminal from the background would stop credbox while it holds the role's
    // lock: the answer is immediate instead.
    let sandbox = Sandbox::new();
    let _ = export_without_sts(&sandbox);
    let (mut bash, mut controller, mut screen) = common::pty::shell(&sandbox);
    common::pty::type_line(
        &mut controller,
        &format!(
            "AWS_ENDPOINT_URL_STS=http://127.0.0.1:9 {} export --profile prod 2>err.txt & wait $!; echo \"EXIT\"\"=$?\"",
            credbox_binary().display()
        ),
    );
    let started = Instant::now();
    screen.wait_for("EXIT=", Duration::from_secs(20));
    let took = started.elapsed();
    common::pty::type_line(&mut controller, "exit");
    bash.wait();
    assert!(screen.shown.contains("EXIT=6"), "{:?}", screen.shown);
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(!screen.shown.contains("enter MFA code"), "{:?}", screen.shown);
    let message = std::fs::read_to_string(sandbox.path("err.txt")).unwrap();
    assert!(
        message.contains("credbox runs in the background of its terminal"),
        "{message}"
    );
}

#[test]
fn sigterm_and_sighup_at_the_mfa_prompt_restore_the_echo() {
    for signal in [libc::SIGTERM, libc::SIGHUP] {
        let sandbox = Sandbox::new();
        let mut prompt = at_the_mfa_prompt(export_without_sts(&sandbox));
        let terminal = prompt.terminal.take().unwrap();
        let echo_on = |t: &std::fs::File| unsafe {
            let mut settings: libc::termios = std::mem::zeroed();
            assert_eq!(libc::tcgetattr(t.as_raw_fd(), &mut settings), 0);
            settings.c_lflag & libc::ECHO != 0
        };
        assert!(!echo_on(&terminal), "echo is off while the code is typed");
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(prompt.child.id() as libc::pid_t, signal) };
        let output = prompt.child.wait_with_output().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(output.status.signal(), Some(signal), "{output:?}");
        assert!(
            echo_on(&terminal),
            "signal {signal} left the terminal without echo"
        );
    }
}

#[test]
fn the_mfa_prompt_waits_no_longer_than_the_timeout() {
    let sandbox = Sandbox::new();
    let mut command = export_without_sts(&sandbox);
    command.args(["--timeout", "2"]);
    let started = Instant::now();
    let prompt = at_the_mfa_prompt(command);
    let output = prompt.child.wait_with_output().unwrap();
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(6), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).contains(&format!("no MFA code was entered for {MFA}")),
        "{}",
        stderr_of(&output)
    );
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(8),
        "took {took:?}"
    );
}
