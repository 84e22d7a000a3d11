//! The host's guarantees with real processes: bounded execution, the allow-list, the recursion
//! guard, the cross-process cache, and the run / exec / cache commands.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

fn assert_gone_soon(pid_file: &Path) {
    assert_process_ends(&std::fs::read_to_string(pid_file).unwrap());
}

fn export_with(sandbox: &Sandbox, helper: &Path, args: &[&str]) -> std::process::Output {
    sandbox.config(&format!("[default]\ncredential_process = {}\n", quoted(helper)));
    sandbox.credbox().arg("export").args(args).output().unwrap()
}

#[test]
fn a_grandchild_holding_stdout_does_not_outlast_the_timeout() {
    let sandbox = Sandbox::new();
    let pid_file = sandbox.path("grandchild.pid");
    let helper = sandbox.helper(
        "holds-stdout.sh",
        &format!(
            "sleep 300 &\necho $! > {}\necho '{{}}'\nexit 0",
            pid_file.display()
        ),
    );
    let start = Instant::now();
    let output = export_with(&sandbox, &helper, &["--timeout", "1"]);
    let elapsed = start.elapsed();
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).contains("did not finish within 1.0 s"),
        "{}",
        stderr_of(&output)
    );
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    assert_gone_soon(&pid_file);
}

#[test]
fn a_helper_ignoring_sigterm_is_killed() {
    let sandbox = Sandbox::new();
    let pid_file = sandbox.path("stubborn.pid");
    let helper = sandbox.helper(
        "stubborn.sh",
        &format!(
            "trap '' TERM\necho $$ > {}\nwhile :; do sleep 1; done",
            pid_file.display()
        ),
    );
    let start = Instant::now();
    let output = export_with(&sandbox, &helper, &["--timeout", "0.5"]);
    let elapsed = start.elapsed();
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).contains("did not finish within 0.5 s"),
        "{}",
        stderr_of(&output)
    );
    // The 0.5 s timeout, then SIGTERM, which it ignores, then SIGKILL after the 1 s grace period:
    // about 1.5 s. Waiting it out (or a much longer grace) would take far more.
    assert!(
        elapsed < Duration::from_secs(4),
        "a helper ignoring SIGTERM kept credbox waiting {elapsed:?}"
    );
    assert_gone_soon(&pid_file);
}

#[test]
fn ten_megabytes_of_output_is_cut_off() {
    let sandbox = Sandbox::new();
    let helper = sandbox.helper("flood.sh", "head -c 10000000 /dev/zero\necho done >&2");
    let start = Instant::now();
    let output = export_with(&sandbox, &helper, &[]);
    assert_eq!(output.status.code(), Some(4));
    assert!(
        stderr_of(&output).contains("wrote more than 64 KiB to stdout and was killed"),
        "{}",
        stderr_of(&output)
    );
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_missing_program_is_named() {
    let sandbox = Sandbox::new();
    let output = export_with(&sandbox, &sandbox.path("no such helper"), &[]);
    assert_eq!(output.status.code(), Some(4));
    assert!(
        stderr_of(&output).contains("no such helper` does not exist"),
        "{}",
        stderr_of(&output)
    );
}

#[test]
fn the_allow_list_and_pins_are_enforced() {
    let sandbox = Sandbox::new();
    let helper = sandbox.json_helper("pinned.sh", &session_json(1));
    let digest = sha256_of(&helper);
    let allow = |value: String| export_with(&sandbox, &helper, &["--no-cache", "--allow", &value]);

    let ok = allow(format!("{}={digest}", helper.display()));
    assert!(ok.status.success(), "{}", stderr_of(&ok));

    let wrong = allow(format!("{}={}", helper.display(), "0".repeat(64)));
    assert_eq!(wrong.status.code(), Some(4));
    assert!(
        stderr_of(&wrong).contains("does not match its pinned SHA-256"),
        "{}",
        stderr_of(&wrong)
    );
    assert!(
        stderr_of(&wrong).contains(&digest),
        "the message shows the actual digest"
    );

    let elsewhere = allow("/usr/bin/true".into());
    assert_eq!(elsewhere.status.code(), Some(4));
    assert!(
        stderr_of(&elsewhere).contains("is not on the allow-list"),
        "{}",
        stderr_of(&elsewhere)
    );
}

#[test]
fn recursion_through_credbox_is_stopped() {
    let sandbox = Sandbox::new();
    let credbox = credbox_binary().display().to_string();
    // A profile whose helper asks credbox for the same profile.
    sandbox.config(&format!(
        "[profile loop]\ncredential_process = {credbox} export --no-cache --profile loop\n"
    ));
    let output = sandbox
        .credbox()
        .args(["export", "--no-cache", "--profile", "loop"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let last = stderr_of(&output).lines().last().unwrap().to_string();
    assert!(
        last.contains("recursion: `loop` is already being resolved"),
        "{last}"
    );

    // A chain a -> b -> c -> d -> e is deeper than 4.
    let chain: String = ["a", "b", "c", "d"]
        .iter()
        .zip(["b", "c", "d", "e"])
        .map(|(from, to)| {
            format!("[profile {from}]\ncredential_process = {credbox} export --no-cache --profile {to}\n")
        })
        .collect();
    let helper = sandbox.json_helper("e.sh", &session_json(1));
    sandbox.config(&format!(
        "{chain}[profile e]\ncredential_process = {}\n",
        helper.display()
    ));
    let output = sandbox
        .credbox()
        .args(["export", "--no-cache", "--profile", "a"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    assert!(
        stderr_of(&output).contains("at most 4 are allowed"),
        "{}",
        stderr_of(&output)
    );
    let output = sandbox
        .credbox()
        .args(["export", "--no-cache", "--profile", "b"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "a chain of 4 is fine: {}",
        stderr_of(&output)
    );
}

#[test]
fn run_wraps_a_helper_with_caching() {
    let sandbox = Sandbox::new();
    let helper = sandbox.counting_helper("0", &session_json(1));
    let run = || {
        sandbox
            .credbox()
            .args(["run", "--"])
            .arg(&helper)
            .args(["--user", "it's me"])
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success(), "{}", stderr_of(&first));
    let second = run();
    assert_eq!(first.stdout, second.stdout);
    assert_eq!(sandbox.runs(), 1);
    let printed: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(printed["SecretAccessKey"], SECRET);
}

#[test]
fn exec_sets_fresh_variables_and_passes_the_exit_code_through() {
    let sandbox = Sandbox::new();
    sandbox.credentials(&format!(
        "[static]\naws_access_key_id = AKIASTATICEXEC\naws_secret_access_key = {SECRET}\n"
    ));
    let output = sandbox
        .credbox()
        .env("AWS_SESSION_TOKEN", "stale-token")
        .env("AWS_SECRET_ACCESS_KEY", "stale-secret")
        .args(["exec", "--profile", "static", "--", "sh", "-c"])
        .arg(format!(
            "test \"$AWS_ACCESS_KEY_ID\" = AKIASTATICEXEC && test \"$AWS_SECRET_ACCESS_KEY\" = '{SECRET}' \
             && test -z \"${{AWS_SESSION_TOKEN+set}}\" && exit 7; exit 1"
        ))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(7), "{}", stderr_of(&output));

    let missing = sandbox
        .credbox()
        .args(["exec", "--profile", "static", "--", "/no/such/cmd"])
        .output()
        .unwrap();
    // As a shell reports a command it cannot find.
    assert_eq!(missing.status.code(), Some(127));
    assert!(stderr_of(&missing).contains("could not run /no/such/cmd"));
}

#[test]
fn stdin_null_detaches_the_helper_from_our_stdin() {
    let sandbox = Sandbox::new();
    let helper = sandbox.helper(
        "reads-stdin.sh",
        &format!("cat > /dev/null\ncat <<'EOF'\n{}\nEOF", session_json(1)),
    );
    sandbox.config(&format!("[default]\ncredential_process = {}\n", helper.display()));
    // Our stdin is a pipe that never closes: inherited, the helper would wait for the timeout.
    let mut child = sandbox.std_credbox();
    child.args(["export", "--no-cache", "--stdin", "null", "--timeout", "20"]);
    let mut child = child
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _keep_open = child.stdin.take();
    let start = Instant::now();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn verbose_logs_decisions_but_no_secret() {
    let sandbox = Sandbox::new();
    let helper = sandbox.json_helper("h.sh", &session_json(1));
    sandbox.config(&format!(
        "[default]\ncredential_process = {} --password {TOKEN}\n",
        helper.display()
    ));
    // Cold, warm through the guest (served record removed), and warm from the served record.
    for (expected, remove_served) in [("cache miss", false), ("cache hit", true), ("cache hit", false)] {
        if remove_served {
            for record in std::fs::read_dir(sandbox.path("cache")).unwrap() {
                let path = record.unwrap().path();
                if path.to_string_lossy().contains("-served-") {
                    std::fs::remove_file(path).unwrap();
                }
            }
        }
        let output = sandbox.credbox().args(["-v", "export"]).output().unwrap();
        assert!(output.status.success());
        let log = stderr_of(&output);
        assert!(log.contains(expected), "{log}");
        assert!(!log.contains(SECRET) && !log.contains(TOKEN), "{log}");
        if expected == "cache miss" {
            assert!(log.contains("arguments redacted"), "{log}");
        }
    }
}

#[test]
fn a_helper_flooding_stderr_that_nobody_reads_still_ends_at_the_timeout() {
    // credbox's own stderr is a pipe nobody reads (an SDK that captures it and waits for the
    // exit first): once it is full, every write to it blocks. Neither the forwarding of the
    // helper's flood nor credbox's own last line may keep it from ending at the timeout.
    let sandbox = Sandbox::new();
    let flood = sandbox.helper(
        "bin/flood",
        "while :; do echo flood flood flood flood flood; done >&2",
    );
    let mut child = sandbox
        .std_credbox()
        .args([
            "run",
            "--no-cache",
            "--timeout",
            "1",
            "--",
            flood.to_str().unwrap(),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let took = started.elapsed();
    let status = status.unwrap_or_else(|| panic!("credbox was still running after {took:?}"));
    assert!(took < std::time::Duration::from_secs(6), "took {took:?}");
    assert_eq!(status.code(), Some(4));
}
