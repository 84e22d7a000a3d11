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
    let output = export_with(&sandbox, &helper, &["--timeout", "0.5"]);
    assert_eq!(output.status.code(), Some(4));
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
    let digest = {
        use sha2::Digest;
        credbox_hex(&sha2::Sha256::digest(std::fs::read(&helper).unwrap()))
    };
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

fn credbox_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn recursion_through_credbox_is_stopped() {
    let sandbox = Sandbox::new();
    let credbox = env!("CARGO_BIN_EXE_credbox");
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

/// A helper that counts its runs in `runs` and takes `delay` seconds.
fn counting_helper(sandbox: &Sandbox, delay: &str, json: &str) -> std::path::PathBuf {
    let runs = sandbox.path("runs");
    sandbox.helper(
        "counting.sh",
        &format!(
            "echo run >> {}\nsleep {delay}\ncat <<'EOF'\n{json}\nEOF",
            runs.display()
        ),
    )
}

fn runs(sandbox: &Sandbox) -> usize {
    std::fs::read_to_string(sandbox.path("runs")).map_or(0, |s| s.lines().count())
}

#[test]
fn twenty_concurrent_cold_exports_run_the_helper_once() {
    let sandbox = Sandbox::new();
    let helper = counting_helper(&sandbox, "0.5", &session_json(1));
    sandbox.config(&format!(
        "[profile dev]\ncredential_process = {}\n",
        helper.display()
    ));
    let children: Vec<_> = (0..20)
        .map(|_| {
            let mut command = sandbox.std_credbox();
            command.args(["export", "--profile", "dev"]);
            command
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            command.spawn().unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for output in &outputs {
        assert!(output.status.success(), "{}", stderr_of(output));
        assert_eq!(
            output.stdout, outputs[0].stdout,
            "every caller prints the same credentials"
        );
    }
    assert_eq!(runs(&sandbox), 1, "the helper ran once for 20 callers");

    assert_cache_is_private(&sandbox.path("cache"));
}

#[test]
fn a_corrupt_cache_entry_is_replaced() {
    let sandbox = Sandbox::new();
    let helper = counting_helper(&sandbox, "0", &session_json(1));
    sandbox.config(&format!("[default]\ncredential_process = {}\n", helper.display()));
    assert!(sandbox.credbox().arg("export").output().unwrap().status.success());
    // The guest's entry and the host's served record: both corrupt, or the other would serve.
    let records: Vec<_> = std::fs::read_dir(sandbox.path("cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(records.len(), 2, "{records:?}");
    for record in &records {
        std::fs::write(record, b"{\"credbox_cache\": 1, garbage").unwrap();
    }

    let output = sandbox.credbox().arg("export").output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert_eq!(runs(&sandbox), 2);
    for record in &records {
        assert!(serde_json::from_slice::<serde_json::Value>(&std::fs::read(record).unwrap()).is_ok());
    }
    assert!(sandbox.credbox().arg("export").output().unwrap().status.success());
    assert_eq!(runs(&sandbox), 2, "the replaced entry is served");
}

#[test]
fn long_term_credentials_are_never_cached_on_disk() {
    let sandbox = Sandbox::new();
    let json = format!(r#"{{"Version": 1, "AccessKeyId": "AKIALONGTERM", "SecretAccessKey": "{SECRET}"}}"#);
    let helper = counting_helper(&sandbox, "0", &json);
    export_with(&sandbox, &helper, &[]);
    export_with(&sandbox, &helper, &[]);
    assert_eq!(runs(&sandbox), 2);
    let stored = std::fs::read_dir(sandbox.path("cache")).unwrap().count();
    let entries = std::fs::read_dir(sandbox.path("cache"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json")
        })
        .count();
    assert_eq!(entries, 0, "{stored} files, none an entry");
}

#[test]
fn no_cache_and_cache_clear() {
    let sandbox = Sandbox::new();
    let helper = counting_helper(&sandbox, "0", &session_json(1));
    sandbox.config(&format!(
        "[profile a]\ncredential_process = {}\n",
        helper.display()
    ));
    let export = |args: &[&str]| {
        sandbox
            .credbox()
            .args(["export", "--profile", "a"])
            .args(args)
            .output()
            .unwrap()
    };
    export(&[]);
    export(&[]);
    assert_eq!(runs(&sandbox), 1);
    export(&["--no-cache"]);
    assert_eq!(runs(&sandbox), 2);
    let cleared = sandbox
        .credbox()
        .args(["cache", "clear", "--profile", "a"])
        .output()
        .unwrap();
    assert!(
        stderr_of(&cleared).contains("removed 1 cached credential(s)"),
        "{}",
        stderr_of(&cleared)
    );
    export(&[]);
    assert_eq!(runs(&sandbox), 3);
}

#[test]
fn run_wraps_a_helper_with_caching() {
    let sandbox = Sandbox::new();
    let helper = counting_helper(&sandbox, "0", &session_json(1));
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
    assert_eq!(runs(&sandbox), 1);
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
    assert_eq!(missing.status.code(), Some(4));
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
fn served_records_follow_every_input_the_guest_saw() {
    let sandbox = Sandbox::new();
    let helper = counting_helper(&sandbox, "0", &session_json(1));
    let config = format!("[default]\ncredential_process = {}\n", helper.display());
    sandbox.config(&config);
    let export = || {
        let output = sandbox.credbox().arg("export").output().unwrap();
        assert!(output.status.success(), "{}", stderr_of(&output));
    };
    let records = || {
        std::fs::read_dir(sandbox.path("cache"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains("-served-")
            })
            .count()
    };
    export();
    export();
    assert_eq!((runs(&sandbox), records()), (1, 1));

    // An unrelated edit: the guest decides again, from its own cache entry; no helper run.
    sandbox.config(&format!("{config}\n[profile other]\nregion = eu-west-1\n"));
    export();
    assert_eq!((runs(&sandbox), records()), (1, 2));

    // A different command: a different entry, so the helper runs.
    sandbox.config(&format!(
        "[default]\ncredential_process = {} --changed\n",
        helper.display()
    ));
    export();
    assert_eq!(runs(&sandbox), 2);
}
