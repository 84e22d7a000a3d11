//! The cross-process cache as users meet it: one helper run for many processes, what is kept and
//! what never is, when a kept answer is served again and when the profile files changed under
//! it, `--no-cache`, `cache clear` and `cache list`, and readers that only ever see whole files.
//! Attacks on the cache (planted entries, shared directories) are in tests/security.rs; a role's
//! entry and its binding in tests/roles.rs; a plugin's in tests/plugins.rs.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

fn export_with(sandbox: &Sandbox, helper: &Path, args: &[&str]) -> std::process::Output {
    sandbox.process_profile("default", helper);
    sandbox.credbox().arg("export").args(args).output().unwrap()
}

/// The host's served record replays the guest's decision for exactly the inputs it was made
/// with. `--min-ttl`, `--allow-shell` and the profile files are part of its key: under another
/// value there is no record, and the guest decides again (for `--min-ttl`, differently). The
/// allow-list and its pins are not in the key; they are checked on every replay, so a record is
/// never served for a command the current policy would not run.
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
    sandbox.process_profile("p", &helper);
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

#[test]
fn twenty_concurrent_cold_exports_run_the_helper_once() {
    let sandbox = Sandbox::new();
    let helper = sandbox.counting_helper("0.5", &session_json(1));
    sandbox.process_profile("dev", &helper);
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
    assert_eq!(sandbox.runs(), 1, "the helper ran once for 20 callers");

    assert_cache_is_private(&sandbox.path("cache"));
}

#[test]
fn a_corrupt_cache_entry_is_replaced() {
    let sandbox = Sandbox::new();
    let helper = sandbox.counting_helper("0", &session_json(1));
    sandbox.process_profile("default", &helper);
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
    assert_eq!(sandbox.runs(), 2);
    for record in &records {
        assert!(serde_json::from_slice::<serde_json::Value>(&std::fs::read(record).unwrap()).is_ok());
    }
    assert!(sandbox.credbox().arg("export").output().unwrap().status.success());
    assert_eq!(sandbox.runs(), 2, "the replaced entry is served");
}

#[test]
fn long_term_credentials_are_never_cached_on_disk() {
    let sandbox = Sandbox::new();
    let json = format!(r#"{{"Version": 1, "AccessKeyId": "AKIALONGTERM", "SecretAccessKey": "{SECRET}"}}"#);
    let helper = sandbox.counting_helper("0", &json);
    for run in 1..=2 {
        let output = export_with(&sandbox, &helper, &["-v"]);
        // The export itself worked: the helper's keys were printed, and not from a cache.
        assert!(output.status.success(), "run {run}: {}", stderr_of(&output));
        let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(printed["AccessKeyId"], "AKIALONGTERM", "run {run}");
        assert_eq!(printed["SecretAccessKey"], SECRET, "run {run}");
        assert!(printed.get("Expiration").is_none(), "run {run}: {printed}");
        let stderr = stderr_of(&output);
        assert!(
            stderr.contains("cache miss; running the helper"),
            "run {run}: {stderr}"
        );
        assert!(
            stderr.contains("long-term credentials are never written to disk"),
            "run {run}: {stderr}"
        );
        assert!(!stderr.contains("cache hit"), "run {run}: {stderr}");
    }
    assert_eq!(sandbox.runs(), 2);
    let stored: Vec<String> = std::fs::read_dir(sandbox.path("cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !stored.iter().any(|name| name.ends_with(".json")),
        "an entry or a served record was written: {stored:?}"
    );
    for name in &stored {
        let bytes = std::fs::read(sandbox.path("cache").join(name)).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(SECRET),
            "{name} holds the secret"
        );
    }
}

#[test]
fn no_cache_and_cache_clear() {
    let sandbox = Sandbox::new();
    let helper = sandbox.counting_helper("0", &session_json(1));
    sandbox.process_profile("a", &helper);
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
    assert_eq!(sandbox.runs(), 1);
    export(&["--no-cache"]);
    assert_eq!(sandbox.runs(), 2);
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
    assert_eq!(sandbox.runs(), 3);
}

#[test]
fn served_records_follow_every_input_the_guest_saw() {
    let sandbox = Sandbox::new();
    let helper = sandbox.counting_helper("0", &session_json(1));
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
    assert_eq!((sandbox.runs(), records()), (1, 1));

    // An unrelated edit: the guest decides again, from its own cache entry; no helper run. The
    // profile's one record is replaced by the new decision.
    sandbox.config(&format!("{config}\n[profile other]\nregion = eu-west-1\n"));
    let output = sandbox.credbox().args(["-v", "export"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(
        !stderr_of(&output).contains("cache hit (profile files unchanged)"),
        "{}",
        stderr_of(&output)
    );
    assert_eq!((sandbox.runs(), records()), (1, 1));

    // A different command: a different entry, so the helper runs.
    sandbox.config(&format!(
        "[default]\ncredential_process = {} --changed\n",
        helper.display()
    ));
    export();
    assert_eq!(sandbox.runs(), 2);
}

/// Cache files are replaced atomically (a temporary file, then a rename): while `credbox export`
/// processes race to replace one entry, and some are SIGKILLed at random moments (between the
/// temporary file and the rename among them), a reader looping over the cache directory only ever
/// finds whole files, each holding one of the two documents the helper alternates between.
///
/// The writers use two spellings of one command (`H` and `"H"`): the same argv, so the same entry
/// file, but each one's guest refuses the other's entry, so every change of spelling runs the
/// helper and replaces the entry. Each writer also has its own `--min-ttl` (its own served-record
/// key), so no served record answers in the guest's place, and each writes one.
#[test]
fn readers_only_ever_see_whole_cache_files_while_writers_race_and_die() {
    use std::io::Read;
    use std::process::{Child, Stdio};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    const RUN_FOR: Duration = Duration::from_secs(5);
    const IN_FLIGHT: usize = 4;
    let sandbox = Sandbox::new();
    let tokens = ["A".repeat(40_000), "B".repeat(15_000)];
    for (i, token) in tokens.iter().enumerate() {
        std::fs::write(sandbox.path(&format!("token{i}")), token).unwrap();
    }
    let expiration =
        (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1)).strftime("%Y-%m-%dT%H:%M:%SZ");
    let runs_file = sandbox.path("runs");
    let helper = sandbox.helper(
        "alternating.sh",
        &format!(
            r#"echo run >> "{runs}"
n=$(wc -l < "{runs}" | tr -d ' ')
printf '{{"Version": 1, "AccessKeyId": "ASIAWRITER%06d", "SecretAccessKey": "{SECRET}", "SessionToken": "' "$n"
cat "{dir}/token$((n % 2))"
printf '", "Expiration": "{expiration}"}}'"#,
            runs = runs_file.display(),
            dir = sandbox.dir.path().display()
        ),
    );
    let configs = [sandbox.path("config-plain"), sandbox.path("config-quoted")];
    std::fs::write(
        &configs[0],
        format!("[default]\ncredential_process = {}\n", helper.display()),
    )
    .unwrap();
    std::fs::write(
        &configs[1],
        format!("[default]\ncredential_process = {}\n", quoted(&helper)),
    )
    .unwrap();

    // What every whole file (or printed document) holds: one of the two tokens, entire.
    let whole = |token: &serde_json::Value| tokens.iter().any(|t| token.as_str() == Some(t.as_str()));

    // The reader: every `.json` in the cache directory (temporary files start with a dot).
    let cache = sandbox.path("cache");
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (cache, stop, tokens) = (cache.clone(), stop.clone(), tokens.clone());
        std::thread::spawn(move || {
            let whole = |token: &serde_json::Value| tokens.iter().any(|t| token.as_str() == Some(t.as_str()));
            let (mut reads, mut versions, mut torn) = (0usize, std::collections::BTreeSet::new(), Vec::new());
            while !stop.load(Ordering::SeqCst) {
                let Ok(names) = std::fs::read_dir(&cache) else {
                    continue;
                };
                for entry in names {
                    let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                    if name.starts_with('.') || !name.ends_with(".json") {
                        continue;
                    }
                    let Ok(bytes) = std::fs::read(cache.join(&name)) else {
                        continue;
                    };
                    reads += 1;
                    match serde_json::from_slice::<serde_json::Value>(&bytes) {
                        Ok(value) if whole(&value["session_token"]) => {
                            if !name.contains("-served-") {
                                versions.insert(value["access_key_id"].as_str().unwrap().to_string());
                            }
                        }
                        _ => torn.push(format!(
                            "{name}: {} bytes: {}…",
                            bytes.len(),
                            String::from_utf8_lossy(&bytes[..bytes.len().min(120)])
                        )),
                    }
                }
            }
            (reads, versions, torn)
        })
    };

    // The writers: IN_FLIGHT at a time, a third of them killed after 0–150 ms. The choices come
    // from a fixed-seed generator; only the timing varies from run to run.
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    struct Writer {
        child: Child,
        kill_at: Option<Instant>,
        killed: bool,
    }
    let failures = Mutex::new(Vec::new());
    let finish = |mut writer: Writer, status: std::process::ExitStatus| {
        if writer.killed && !status.success() {
            return;
        }
        let mut stdout = Vec::new();
        writer
            .child
            .stdout
            .take()
            .unwrap()
            .read_to_end(&mut stdout)
            .unwrap();
        let mut stderr = String::new();
        writer
            .child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let printed = serde_json::from_slice::<serde_json::Value>(&stdout);
        if !status.success() || !printed.is_ok_and(|p| whole(&p["SessionToken"])) {
            failures.lock().unwrap().push(format!("{status:?}: {stderr}"));
        }
    };
    let started = Instant::now();
    let (mut spawned, mut kills) = (0u64, 0usize);
    let mut writers: Vec<Writer> = Vec::new();
    while started.elapsed() < RUN_FOR || !writers.is_empty() {
        let mut still = Vec::new();
        for mut writer in writers.drain(..) {
            if let Some(status) = writer.child.try_wait().unwrap() {
                finish(writer, status);
                continue;
            }
            if writer.kill_at.is_some_and(|at| Instant::now() >= at) && !writer.killed {
                writer.child.kill().unwrap();
                writer.killed = true;
                kills += 1;
            }
            still.push(writer);
        }
        writers = still;
        while started.elapsed() < RUN_FOR && writers.len() < IN_FLIGHT {
            let mut command = sandbox.std_credbox();
            command
                .env("AWS_CONFIG_FILE", &configs[(random() % 2) as usize])
                .args(["export", "--min-ttl", &(2000 + spawned).to_string()])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            spawned += 1;
            let kill_at = (random() % 3 == 0).then(|| Instant::now() + Duration::from_millis(random() % 150));
            writers.push(Writer {
                child: command.spawn().unwrap(),
                kill_at,
                killed: false,
            });
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    stop.store(true, Ordering::SeqCst);
    let (reads, versions, torn) = reader.join().unwrap();
    let left = std::fs::read_dir(&cache)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".entry-")
        })
        .count();
    eprintln!(
        "{spawned} writers ({kills} killed), {} helper runs; {reads} reads saw {} versions of the entry; {left} temporary files left by killed writers",
        sandbox.runs(),
        versions.len()
    );
    assert!(
        torn.is_empty(),
        "a reader saw a partial file:\n{}",
        torn.join("\n")
    );
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "writers that were not killed failed:\n{}",
        failures.join("\n")
    );
    // The race happened: the entry was replaced again and again while it was being read.
    assert!(sandbox.runs() >= 10, "only {} helper runs", sandbox.runs());
    assert!(versions.len() >= 5, "the reader saw only {versions:?}");
    assert!(reads >= 100, "only {reads} reads");
    // And credbox still serves from what the killed writers left.
    let output = sandbox
        .credbox()
        .env("AWS_CONFIG_FILE", &configs[0])
        .arg("export")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(whole(&printed["SessionToken"]));
}

#[test]
fn cache_list_shows_what_is_cached_without_secrets() {
    let sandbox = Sandbox::new();
    let helper = sandbox.json_helper("bin/dev", &session_json(1));
    sandbox.process_profile("dev", &helper);
    let exported = sandbox.credbox().args(["export", "-p", "dev"]).output().unwrap();
    assert!(exported.status.success(), "{}", stderr_of(&exported));
    let listed = sandbox.credbox().args(["cache", "list"]).output().unwrap();
    assert!(listed.status.success(), "{}", stderr_of(&listed));
    let text = stdout_of(&listed);
    let row = text
        .lines()
        .find(|l| l.starts_with("dev "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains("process ") && row.contains("bin/dev"), "{row}");
    assert!(row.contains("****************0001"), "{row}");
    assert!(row.contains(" in "), "a refresh in the future: {row}");
    for secret in [SECRET, TOKEN, "ASIATESTKEY00001"] {
        assert!(!text.contains(secret), "{text}");
    }
    // A profile the files do not define is named as such, not "removed 0".
    let cleared = sandbox
        .credbox()
        .args(["cache", "clear", "-p", "nosuch"])
        .output()
        .unwrap();
    assert_eq!(cleared.status.code(), Some(3), "{}", stderr_of(&cleared));
    assert!(
        stderr_of(&cleared).contains("profile nosuch is in neither"),
        "{}",
        stderr_of(&cleared)
    );
    let cleared = sandbox
        .credbox()
        .args(["cache", "clear", "-p", "dev"])
        .output()
        .unwrap();
    assert!(
        stderr_of(&cleared).contains("removed 1 cached credential"),
        "{}",
        stderr_of(&cleared)
    );
    let listed = sandbox.credbox().args(["cache", "list"]).output().unwrap();
    assert!(
        stdout_of(&listed).contains("nothing cached"),
        "{}",
        stdout_of(&listed)
    );
}
