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
    assert_eq!(runs(&sandbox), 2);
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
    assert_eq!((runs(&sandbox), records()), (1, 1));

    // A different command: a different entry, so the helper runs.
    sandbox.config(&format!(
        "[default]\ncredential_process = {} --changed\n",
        helper.display()
    ));
    export();
    assert_eq!(runs(&sandbox), 2);
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
        runs(&sandbox),
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
    assert!(runs(&sandbox) >= 10, "only {} helper runs", runs(&sandbox));
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
