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

/// Where a `-v` export says its credentials came from, and until when they may be served.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    /// The host replayed the guest's earlier decision (a served record): the guest never ran.
    Replayed(String),
    /// The guest decided now (adopting its cache entry, or running the helper).
    Guest(String),
}

fn decision(output: &std::process::Output) -> Decision {
    let stderr = stderr_of(output);
    assert!(output.status.success(), "{stderr}");
    let line = stderr
        .lines()
        .rfind(|line| line.contains("serve_until="))
        .unwrap_or_else(|| panic!("no serve_until logged: {stderr}"));
    let until = line.split("serve_until=").nth(1).unwrap().trim().to_string();
    if line.contains("cache hit (profile files unchanged)") {
        Decision::Replayed(until)
    } else {
        Decision::Guest(until)
    }
}

/// The host's served record replays the guest's decision for exactly the inputs it was made
/// with. `--min-ttl`, `--allow-shell` and the profile files are part of its key: under another
/// value there is no record, and the guest decides again (for `--min-ttl`, differently). The
/// allow-list and its pins are not in the key; they are checked on every replay, so a record is
/// never served for a command the current policy would not run.
#[test]
fn a_served_record_is_only_replayed_for_the_inputs_it_was_decided_with() {
    let sandbox = Sandbox::new();
    // 20 minutes: the guest serves them until 10 minutes remain (half the lifetime) with the
    // default --min-ttl of 15 minutes, and until 1 minute remains with --min-ttl 60.
    let expiration =
        (jiff::Timestamp::now() + jiff::SignedDuration::from_mins(20)).strftime("%Y-%m-%dT%H:%M:%SZ");
    let runs = sandbox.path("runs");
    let helper = sandbox.helper(
        "h.sh",
        &format!(
            "echo run >> {}\ncat <<'EOF'\n{{\"Version\": 1, \"AccessKeyId\": \"ASIASERVED\", \"SecretAccessKey\": \"{SECRET}\", \"SessionToken\": \"{TOKEN}\", \"Expiration\": \"{expiration}\"}}\nEOF",
            runs.display()
        ),
    );
    let runs = || std::fs::read_to_string(&runs).map_or(0, |s| s.lines().count());
    let config = format!(
        "[default]\ncredential_process = {h}\n[profile piped]\ncredential_process = {h} | cat\n",
        h = helper.display()
    );
    sandbox.config(&config);
    let export = |args: &[&str]| {
        sandbox
            .credbox()
            .args(["-v", "export"])
            .args(args)
            .output()
            .unwrap()
    };

    // --min-ttl: each value has its own record, and the guest's decisions differ.
    let Decision::Guest(default_until) = decision(&export(&[])) else {
        panic!("the first export cannot replay anything")
    };
    assert_eq!(runs(), 1);
    assert_eq!(decision(&export(&[])), Decision::Replayed(default_until.clone()));
    let Decision::Guest(short_until) = decision(&export(&["--min-ttl", "60"])) else {
        panic!("the record made with the default --min-ttl was replayed under --min-ttl 60")
    };
    assert_ne!(
        short_until, default_until,
        "the guest decided the same under another --min-ttl"
    );
    assert_eq!(
        decision(&export(&["--min-ttl", "60"])),
        Decision::Replayed(short_until)
    );
    assert_eq!(decision(&export(&[])), Decision::Replayed(default_until.clone()));
    assert_eq!(
        runs(),
        1,
        "the guest's cache entry served every decision after the first"
    );

    // --allow-shell, with a command that needs no shell: another key, so the record is not even
    // looked at (nothing logs "not serving the recorded answer"), and the guest decides again.
    let output = export(&["--allow-shell"]);
    assert_eq!(decision(&output), Decision::Guest(default_until.clone()));
    assert!(
        !stderr_of(&output).contains("not serving the recorded answer"),
        "{}",
        stderr_of(&output)
    );
    assert_eq!(
        decision(&export(&["--allow-shell"])),
        Decision::Replayed(default_until.clone())
    );

    // --allow-shell, with a command that needs one: the record made with it is never used
    // without it, and the guest refuses the command.
    assert!(matches!(
        decision(&export(&["--profile", "piped", "--allow-shell"])),
        Decision::Guest(_)
    ));
    assert_eq!(runs(), 2);
    assert!(matches!(
        decision(&export(&["--profile", "piped", "--allow-shell"])),
        Decision::Replayed(_)
    ));
    let output = export(&["--profile", "piped"]);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("--allow-shell"), "{stderr}");
    assert!(
        !stderr.contains("cache hit") && !stderr.contains("not serving the recorded answer"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
    assert_eq!(runs(), 2);

    // The allow-list and pins: checked on every replay.
    let digest = sha256_of(&helper);
    let refused = |allow: &str, why: &str| {
        let output = export(&["--allow", allow]);
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(4), "--allow {allow}: {stderr}");
        assert!(stderr.contains(why), "--allow {allow}: {stderr}");
        assert!(
            stderr.contains("not serving the recorded answer"),
            "--allow {allow}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "--allow {allow}");
    };
    refused("/usr/bin/true", "is not on the allow-list");
    refused(
        &format!("{}={}", helper.display(), "0".repeat(64)),
        "does not match its pinned SHA-256",
    );
    let pinned = format!("{}={digest}", helper.display());
    assert_eq!(
        decision(&export(&["--allow", &pinned])),
        Decision::Replayed(default_until.clone())
    );
    // The helper changes (same output, another digest): the pin no longer admits the record.
    let mut text = std::fs::read_to_string(&helper).unwrap();
    text.push_str("# changed\n");
    std::fs::write(&helper, text).unwrap();
    refused(&pinned, "does not match its pinned SHA-256");
    assert_eq!(runs(), 2, "no refused export ran the helper");

    // The profile files: an edit anywhere in them (here a profile nobody asks for) is a new key.
    sandbox.config(&format!("{config}[profile unrelated]\nregion = eu-west-1\n"));
    assert_eq!(decision(&export(&[])), Decision::Guest(default_until.clone()));
    assert_eq!(decision(&export(&[])), Decision::Replayed(default_until));
}

#[test]
fn a_same_size_edit_of_a_settled_profile_file_is_seen() {
    // A served record vouches for a file that had settled (last changed 2 s before the record)
    // by its stamp alone, without reading it. Rewriting it in place, same size, same mtime, must
    // still send the next call back to the guest: the kernel's ctime changes on every write.
    let sandbox = Sandbox::new();
    let first = sandbox.json_helper("bin/first", &session_json(6));
    let second = sandbox.json_helper(
        "bin/secon",
        &session_json(6).replace("ASIATESTKEY00001", "ASIATESTKEY00002"),
    );
    let config =
        |helper: &std::path::Path| format!("[profile p]\ncredential_process = {}\n", helper.display());
    assert_eq!(config(&first).len(), config(&second).len());
    sandbox.config(&config(&first));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let export = || export_verbose(&sandbox, "p");
    assert!(export().0.contains("ASIATESTKEY00001"));
    let (out, log) = export();
    assert!(
        out.contains("ASIATESTKEY00001") && log.contains("cache hit (profile files unchanged)"),
        "{log}"
    );
    let before = std::fs::metadata(sandbox.config_path())
        .unwrap()
        .modified()
        .unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(sandbox.config_path())
        .and_then(|mut file| std::io::Write::write_all(&mut file, config(&second).as_bytes()))
        .unwrap();
    std::fs::File::options()
        .write(true)
        .open(sandbox.config_path())
        .unwrap()
        .set_modified(before)
        .unwrap();
    let (out, log) = export();
    assert!(out.contains("ASIATESTKEY00002"), "the edit was not seen: {log}");
}

#[test]
fn a_touched_profile_file_is_read_once_then_trusted_by_its_new_stamp() {
    // Touching a file (or rewriting it identically) changes its ctime: the next warm call reads
    // and compares its text, finds it the same, and records the new stamp, so the calls after it
    // read nothing again.
    let sandbox = Sandbox::new();
    let helper = sandbox.json_helper("bin/helper", &session_json(6));
    sandbox.config(&format!(
        "[profile p]\ncredential_process = {}\n",
        helper.display()
    ));
    let export = || export_verbose(&sandbox, "p").1;
    export();
    let touch = || {
        let text = std::fs::read(sandbox.config_path()).unwrap();
        std::fs::write(sandbox.config_path(), text).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2100));
    };
    touch();
    let log = export();
    assert!(
        log.contains("cache hit (profile files unchanged)") && log.contains("recording their new stamps"),
        "{log}"
    );
    let log = export();
    assert!(
        log.contains("cache hit (profile files unchanged)") && !log.contains("recording their new stamps"),
        "{log}"
    );
}

/// `credbox -v export --profile PROFILE`, which must succeed: its stdout and its log.
fn export_verbose(sandbox: &Sandbox, profile: &str) -> (String, String) {
    let output = sandbox
        .credbox()
        .args(["export", "-v", "--profile", profile])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    (stdout_of(&output), stderr_of(&output))
}
