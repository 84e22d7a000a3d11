//! The hostile-guest suite: a policy component that ignores every rule (tests/components/examples/
//! hostile_guest.rs) still cannot hang credbox, exhaust its memory, run a program outside the
//! allow-list, use a shell the user did not allow, outwait the host's timeout ceiling, or call
//! credential plugins the policy would not load.

mod common;

use std::time::{Duration, Instant};

use common::*;
use credbox::{Error, ErrorKind, FetchOptions, Runtime, SpawnPolicy};
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
        policy: SpawnPolicy {
            allow_list: Some(vec!["/bin/true".parse().unwrap()]),
            ..SpawnPolicy::default()
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
        policy: SpawnPolicy {
            prompt: credbox::prompt::PromptMode::Never,
            ..SpawnPolicy::default()
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
