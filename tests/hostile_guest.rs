//! The hostile-guest suite: a policy component that ignores every rule (tests/components/examples/
//! hostile_guest.rs) still cannot hang credbox, exhaust its memory, run a program outside the
//! allow-list, use a shell the user did not allow, outwait the host's timeout ceiling, or call
//! credential plugins the policy would not load.

mod common;

use std::time::{Duration, Instant};

use common::*;
use credbox::{CapabilityPolicy, Error, ErrorKind, FetchOptions, Runtime};
use wasmtime::component::Component;

fn hostile_runtime() -> Runtime {
    let engine = Runtime::new().unwrap().engine().unwrap().clone();
    let wasm = std::fs::read(component("hostile_guest")).unwrap();
    let component = Component::new(&engine, wasm).unwrap();
    Runtime::from_component(engine, &component).unwrap()
}

/// Options whose allow-list admits /bin/true and nothing else.
fn only_bin_true_allowed() -> FetchOptions {
    FetchOptions {
        policy: CapabilityPolicy {
            allow_list: Some(vec!["/bin/true".parse().unwrap()]),
            ..CapabilityPolicy::default()
        },
        ..FetchOptions::default()
    }
}

fn attack(argv: &[&str], options: &FetchOptions) -> (Error, Duration) {
    let started = Instant::now();
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    let error = credbox::credentials_for_command(&hostile_runtime(), &argv, options).unwrap_err();
    (error, started.elapsed())
}

#[test]
fn a_guest_that_loops_is_stopped_by_its_instruction_budget() {
    let (error, took) = attack(&["loop"], &FetchOptions::default());
    assert_eq!(error.kind(), ErrorKind::Internal, "{error}");
    assert!(error.to_string().contains("ran past its budget"), "{error}");
    assert!(took < Duration::from_secs(30), "{took:?}");
}

#[test]
fn a_guest_that_allocates_without_end_is_stopped_by_its_memory_cap() {
    let (error, _) = attack(&["grow"], &FetchOptions::default());
    assert_eq!(error.kind(), ErrorKind::Internal, "{error}");
    assert!(
        error.to_string().contains("more than 128 MiB of memory"),
        "{error}"
    );
}

#[test]
fn a_guest_cannot_run_a_program_outside_the_allow_list() {
    let options = only_bin_true_allowed();
    let (error, _) = attack(&["spawn-outside"], &options);
    assert_eq!(error.kind(), ErrorKind::SpawnDenied, "{error}");
    assert!(
        error
            .to_string()
            .contains("`/usr/bin/id` is not on the allow-list"),
        "{error}"
    );
}

#[test]
fn a_guest_cannot_use_a_shell_the_user_did_not_allow() {
    let (error, _) = attack(&["shell"], &FetchOptions::default());
    assert_eq!(error.kind(), ErrorKind::SpawnDenied, "{error}");
    assert!(error.to_string().contains("--allow-shell"), "{error}");
}

#[test]
fn a_guest_cannot_raise_the_timeout_ceiling() {
    let sandbox = Sandbox::new();
    let sleeper = sandbox.helper("bin/sleeper", "sleep 30");
    let options = FetchOptions {
        timeout: Duration::from_secs(1),
        ..FetchOptions::default()
    };
    // The guest asks for u64::MAX milliseconds; the host kills the helper after its own 1 s.
    let (error, took) = attack(&["long-timeout", sleeper.to_str().unwrap()], &options);
    assert_eq!(error.kind(), ErrorKind::TimedOut, "{error}");
    assert!(error.to_string().contains("within 1.0 s"), "{error}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn a_guest_cannot_run_commands_in_a_loop() {
    let sandbox = Sandbox::new();
    let counter = sandbox.path("runs");
    let helper = sandbox.helper("bin/count", &format!("echo run >> {}", counter.display()));
    let (error, took) = attack(
        &["spawn-loop", helper.to_str().unwrap()],
        &FetchOptions::default(),
    );
    assert_eq!(error.kind(), ErrorKind::SpawnDenied, "{error}");
    assert!(
        error.to_string().contains("more than 4 commands in one call"),
        "{error}"
    );
    let runs = std::fs::read_to_string(&counter).unwrap().lines().count();
    assert_eq!(runs, credbox::component::MAX_SPAWNS_PER_CALL as usize);
    assert!(took < Duration::from_secs(30), "{took:?}");
}

#[test]
fn a_guest_cannot_call_a_plugin_outside_the_allow_list_or_by_a_relative_path() {
    let options = only_bin_true_allowed();
    let plugin = component("plugin_expired");
    let (error, _) = attack(&["plugin-outside", plugin.to_str().unwrap()], &options);
    assert_eq!(error.kind(), ErrorKind::SpawnDenied, "{error}");
    assert!(error.to_string().contains("is not on the allow-list"), "{error}");

    let (error, _) = attack(&["plugin-relative"], &FetchOptions::default());
    assert_eq!(error.kind(), ErrorKind::SpawnDenied, "{error}");
    assert!(error.to_string().contains("is not an absolute path"), "{error}");
}

#[test]
fn a_guest_cannot_call_plugins_in_a_loop() {
    let plugin = component("plugin_expired");
    let (error, took) = attack(
        &["plugin-loop", plugin.to_str().unwrap()],
        &FetchOptions::default(),
    );
    assert_eq!(error.kind(), ErrorKind::SpawnDenied, "{error}");
    assert!(
        error.to_string().contains("more than 4 commands in one call"),
        "{error}"
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
}

#[test]
fn the_granted_wasi_interfaces_give_the_guest_nothing() {
    // The guest reads what WASI could tell it: no variables, no arguments, no directory, stdin
    // closed, no terminal. (Adding `inherit_env()` or `inherit_stdin()` to its context fails this.)
    let (error, _) = attack(&["wasi-probe"], &FetchOptions::default());
    assert_eq!(error.kind(), ErrorKind::SpawnFailed, "{error}");
    let message = error.to_string();
    assert!(
        message.contains("env=0 args=0 cwd=None stdin=closed stdout=writable")
            && message.contains("terminals=[false, false, false] clocks=true"),
        "{message}"
    );
}

#[test]
fn a_guest_cannot_send_credentials_to_an_endpoint_nobody_configured() {
    // A listener the attacker controls: the host must refuse before connecting to it, so that the
    // signed request (and the source's access key id) never leaves.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    for target in [url.as_str(), "https://sts.amazonaws.com.evil.example"] {
        let (error, _) = attack(&["sts-elsewhere", target], &FetchOptions::default());
        assert_eq!(error.kind(), ErrorKind::SpawnDenied, "{error}");
        assert!(
            error
                .to_string()
                .contains("neither an AWS STS endpoint nor one you configured"),
            "{error}"
        );
    }
    assert!(
        listener.accept().is_err(),
        "the host connected to an endpoint the user never configured"
    );
}

#[test]
fn a_guest_cannot_call_sts_or_prompt_in_a_loop() {
    let options = FetchOptions {
        policy: CapabilityPolicy {
            prompt: credbox::prompt::PromptMode::Never,
            ..CapabilityPolicy::default()
        },
        ..FetchOptions::default()
    };
    for attack_words in [&["sts-loop", "https://sts.invalid.example"][..], &["prompt-loop"]] {
        let (error, took) = attack(attack_words, &options);
        assert_eq!(error.kind(), ErrorKind::SpawnDenied, "{error}");
        assert!(error.to_string().contains("in one call"), "{error}");
        assert!(took < Duration::from_secs(30), "{took:?}");
    }
}

/// The device the hostile guest's `prompt-*` roles ask about, named in the test's profile file.
const WRITTEN_DEVICE: &str = "arn:aws:iam::123456789012:mfa/me";

/// The part of a prompt test that runs at a terminal: this test binary again, in a session whose
/// controlling terminal is a pseudo-terminal, where the hostile guest makes `attack` with prompts
/// on; it prints what credbox made of it on a `RESULT:` line. `None` in that child itself (then
/// it has done the attack and printed it).
fn at_a_terminal(
    test: &str,
    attack: &str,
) -> Option<(std::process::Child, std::fs::File, common::pty::Screen)> {
    const CHILD: &str = "CREDBOX_HOSTILE_AT_A_TERMINAL";
    if let Ok(attack) = std::env::var(CHILD) {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        std::fs::write(
            &config,
            format!("[profile {attack}]\nmfa_serial = {WRITTEN_DEVICE}\n"),
        )
        .unwrap();
        let locations = credbox::files::Locations {
            config: config.display().to_string(),
            credentials: dir.path().join("credentials").display().to_string(),
            profile: attack.clone(),
        };
        let options = FetchOptions {
            timeout: Duration::from_secs(5),
            policy: CapabilityPolicy {
                prompt: credbox::prompt::PromptMode::Terminal,
                ..CapabilityPolicy::default()
            },
            ..FetchOptions::default()
        };
        let result = credbox::credentials_for_profile(&hostile_runtime(), &locations, &attack, &options);
        println!(
            "RESULT: {}",
            result.map_or_else(|e| e.to_string(), |_| "credentials".into())
        );
        return None;
    }
    let (controller, terminal) = common::pty::open_pty();
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, attack);
    let (child, held) = common::pty::spawn_in_session(command, Some(&terminal));
    std::mem::forget(held);
    let screen = common::pty::Screen::watch(&controller);
    Some((child, controller, screen))
}

/// The `RESULT:` line of a child of [`at_a_terminal`].
fn result_of(child: std::process::Child) -> String {
    let output = child.wait_with_output().unwrap();
    let printed = stdout_of(&output);
    printed
        .split("RESULT: ")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .unwrap_or_else(|| panic!("no result: {printed} {}", stderr_of(&output)))
        .to_string()
}

#[test]
fn what_is_not_a_code_never_reaches_the_guest_nor_the_screen() {
    // The guest's own check would say the same as the host's, so a guest that relays what it is
    // given is what shows the host's: typed into the MFA prompt by mistake, a password must stay
    // with the host, neither handed to the guest nor echoed.
    let test = "what_is_not_a_code_never_reaches_the_guest_nor_the_screen";
    let Some((child, mut controller, mut screen)) = at_a_terminal(test, "prompt-relay") else {
        return;
    };
    screen.wait_for(
        &format!("enter MFA code for {WRITTEN_DEVICE}: "),
        Duration::from_secs(30),
    );
    std::io::Write::write_all(&mut controller, b"hunter2-my-password\n").unwrap();
    let result = result_of(child);
    screen.settle(Duration::from_millis(300));
    assert!(result.contains("host answer: not-a-code"), "{result}");
    assert!(!result.contains("hunter2"), "{result}");
    assert!(!screen.shown.contains("hunter2"), "echoed: {:?}", screen.shown);
}

#[test]
fn a_guest_cannot_ask_the_person_about_a_device_no_profile_names() {
    let test = "a_guest_cannot_ask_the_person_about_a_device_no_profile_names";
    let Some((child, _controller, mut screen)) = at_a_terminal(test, "prompt-unwritten") else {
        return;
    };
    let result = result_of(child);
    screen.settle(Duration::from_millis(300));
    assert!(
        result.contains(
            "host answer: unavailable: the MFA device asked about is not an mfa_serial of the profile files"
        ),
        "{result}"
    );
    assert!(
        !screen.shown.contains("MFA code"),
        "the person was asked: {:?}",
        screen.shown
    );
}

#[test]
fn a_guest_cannot_run_a_command_outside_a_fetch() {
    // Outside `retrieve` and `restore` the host has no profile to pass down its recursion guard:
    // a command run there (here from `parse-command`) could nest credbox without bound.
    let (error, _) = attack(&["spawn-in-parse", "/bin/true"], &FetchOptions::default());
    assert_eq!(error.kind(), ErrorKind::SpawnDenied, "{error}");
    assert!(
        error
            .to_string()
            .contains("a command may only run while the policy gets a profile's credentials"),
        "{error}"
    );
}
