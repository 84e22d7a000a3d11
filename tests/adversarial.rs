//! Helpers that misbehave on purpose (real processes): each run must end within its bounds, with a
//! typed error (the exit code says which class), leaving no process behind, and with credbox's
//! peak memory, measured for every run, under 64 MiB.

mod common;

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The memory bound every run must stay under (docs/SECURITY.md: bounded memory whatever the helper does).
const MAX_PEAK_RSS_KIB: i64 = 64 * 1024;

/// What credbox itself gets as stdin.
#[derive(Clone, Copy)]
enum Stdin {
    /// `/dev/null`: a helper that reads it gets EOF whatever credbox does.
    Null,
    /// A pipe whose write end this test holds open until credbox has exited: a helper that
    /// inherits it blocks on read, so only `--stdin null` gives it EOF.
    OpenPipe,
}

/// Run `command` to completion with `stdin` and return its output and its own peak RSS in KiB
/// (from `wait4`, so it is this process's alone, not the test binary's other children). Killed
/// after 60 s.
// The child is reaped by wait4 below (std's wait would not give its rusage).
#[allow(clippy::zombie_processes)]
fn run_measured(mut command: Command, stdin: Stdin) -> (Output, i64) {
    let mut child = command
        .stdin(match stdin {
            Stdin::Null => Stdio::null(),
            Stdin::OpenPipe => Stdio::piped(),
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let collect = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).unwrap();
            bytes
        })
    };
    // Held (never written, never closed) until credbox has been reaped.
    let _stdin_write_end = child.stdin.take();
    let stdout = collect(Box::new(child.stdout.take().unwrap()));
    let stderr = collect(Box::new(child.stderr.take().unwrap()));
    let pid = child.id() as libc::pid_t;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog_done = done.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        if !watchdog_done.load(std::sync::atomic::Ordering::SeqCst) {
            // SAFETY: kill(2) with a pid we spawned and have not reaped yet.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    let mut status = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: wait4 reaps our own child and fills the status and rusage it is given.
    let usage = unsafe {
        assert_eq!(libc::wait4(pid, &mut status, 0, usage.as_mut_ptr()), pid);
        usage.assume_init()
    };
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let output = Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    };
    (output, usage.ru_maxrss)
}

/// Run `credbox export` against a helper with `body`; the helper writes `$$` to `pid_file` first.
/// Every run is held to the memory bound.
fn run_helper(sandbox: &Sandbox, name: &str, body: &str, args: &[&str]) -> (Output, Duration) {
    run_helper_with_stdin(sandbox, name, body, args, Stdin::Null)
}

/// [`run_helper`] with credbox's own stdin chosen.
fn run_helper_with_stdin(
    sandbox: &Sandbox,
    name: &str,
    body: &str,
    args: &[&str],
    stdin: Stdin,
) -> (Output, Duration) {
    let pid_file = sandbox.path(&format!("{name}.pid"));
    let helper = sandbox.helper(
        &format!("{name}.sh"),
        &format!("echo $$ > {}\n{body}", pid_file.display()),
    );
    sandbox.config(&format!("[default]\ncredential_process = {}\n", helper.display()));
    let start = Instant::now();
    let mut command = sandbox.std_credbox();
    command.args(["export", "--no-cache"]).args(args);
    let (output, peak) = run_measured(command, stdin);
    let took = start.elapsed();
    eprintln!(
        "{name}: exit {:?} in {took:?}, peak RSS {peak} KiB",
        output.status.code()
    );
    assert!(
        peak < MAX_PEAK_RSS_KIB,
        "{name}: credbox's peak RSS was {peak} KiB"
    );
    (output, took)
}

/// Every process whose pid was written to a `*.pid` file in the sandbox has ended.
fn assert_nothing_left(sandbox: &Sandbox) {
    for entry in std::fs::read_dir(sandbox.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "pid") {
            std::fs::read_to_string(&path)
                .unwrap()
                .split_whitespace()
                .for_each(assert_process_ends);
        }
    }
}

fn expect(output: &std::process::Output, code: i32, fragment: &str) {
    let stderr = stderr_of(output);
    assert_eq!(output.status.code(), Some(code), "{stderr}");
    assert!(stderr.lines().last().unwrap_or("").contains(fragment), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn hangs_and_hangs_after_printing() {
    let sandbox = Sandbox::new();
    let (output, took) = run_helper(&sandbox, "hang", "exec sleep 300", &["--timeout", "0.5"]);
    expect(&output, 4, "did not finish within 0.5 s");
    assert!(took < Duration::from_secs(4), "{took:?}");
    let (output, _) = run_helper(
        &sandbox,
        "hang-after",
        &format!("echo '{}'\nexec sleep 300", session_json(1)),
        &["--timeout", "0.5"],
    );
    expect(&output, 4, "did not finish within 0.5 s");
    assert_nothing_left(&sandbox);
}

#[test]
fn forks_a_grandchild_that_holds_stdout() {
    let sandbox = Sandbox::new();
    // The helper prints good credentials and exits, but its grandchild keeps stdout open.
    let body = format!(
        "sleep 300 &\necho $! > {}\necho '{}'\nexit 0",
        sandbox.path("grandchild.pid").display(),
        session_json(1)
    );
    let (output, took) = run_helper(&sandbox, "forks", &body, &["--timeout", "0.5"]);
    expect(&output, 4, "did not finish within 0.5 s");
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert_nothing_left(&sandbox);
}

#[test]
fn closes_stdout_early_then_keeps_running() {
    let sandbox = Sandbox::new();
    let (output, took) = run_helper(
        &sandbox,
        "closes",
        "exec 1>&-\nexec sleep 300",
        &["--timeout", "0.5"],
    );
    expect(&output, 4, "did not finish within 0.5 s");
    assert!(took < Duration::from_secs(4));
    assert_nothing_left(&sandbox);
}

#[test]
fn writes_to_stderr_without_end() {
    let sandbox = Sandbox::new();
    let (output, took) = run_helper(
        &sandbox,
        "chatty",
        "while :; do echo 'a line of noise on stderr' >&2; done",
        &["--timeout", "1"],
    );
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(4));
    assert!(
        stderr
            .lines()
            .last()
            .unwrap()
            .contains("did not finish within 1.0 s")
    );
    assert!(took < Duration::from_secs(5));
    assert_nothing_left(&sandbox);
}

#[test]
fn prints_a_gigabyte_with_bounded_memory() {
    let sandbox = Sandbox::new();
    let (output, took) = run_helper(&sandbox, "gigabyte", "exec head -c 1000000000 /dev/zero", &[]);
    expect(&output, 4, "wrote more than 64 KiB to stdout and was killed");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_nothing_left(&sandbox);
}

#[test]
fn prints_nul_bytes_and_invalid_utf8() {
    let sandbox = Sandbox::new();
    let (output, _) = run_helper(
        &sandbox,
        "nul",
        r#"printf '{"Version": 1, "AccessKeyId": "A\000B"}'"#,
        &[],
    );
    expect(&output, 5, "not a credential_process document: not valid JSON");
    let (output, _) = run_helper(
        &sandbox,
        "utf8",
        r#"printf '{"Version": 1, "AccessKeyId": "\377\376", "SecretAccessKey": "s"}'"#,
        &[],
    );
    expect(&output, 5, "not a credential_process document: not valid JSON");
    let (output, _) = run_helper(&sandbox, "binary", "head -c 4096 /dev/urandom", &[]);
    assert_eq!(output.status.code(), Some(5), "{}", stderr_of(&output));
    assert_nothing_left(&sandbox);
}

#[test]
fn exits_by_signal() {
    let sandbox = Sandbox::new();
    let (output, _) = run_helper(&sandbox, "killed", "kill -SEGV $$", &[]);
    expect(&output, 4, "was killed by signal 11");
    assert_nothing_left(&sandbox);
}

/// credbox's own stdin is a pipe that never closes (as a terminal nobody types into would be), and
/// the helper reads its stdin to the end before printing credentials. With `--stdin null` it must
/// get EOF at once; the control run without the flag shows that the same helper on the same pipe
/// really blocks (until the timeout kills it), so the first run could not pass by accident.
#[test]
fn reads_stdin_forever_with_stdin_null() {
    let sandbox = Sandbox::new();
    let body = format!(
        "while read line; do :; done\ncat <<'EOF'\n{}\nEOF",
        session_json(1)
    );
    let (output, took) = run_helper_with_stdin(
        &sandbox,
        "reader",
        &body,
        &["--stdin", "null", "--timeout", "10"],
        Stdin::OpenPipe,
    );
    assert!(output.status.success(), "{}", stderr_of(&output));
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed["AccessKeyId"], "ASIATESTKEY00001");
    assert!(
        took < Duration::from_secs(5),
        "the helper waited {took:?} for stdin: it was not /dev/null"
    );

    // Control: the helper inherits the open pipe, reads it forever, and is killed at the timeout.
    let (output, took) = run_helper_with_stdin(
        &sandbox,
        "inheriting-reader",
        &body,
        &["--stdin", "inherit", "--timeout", "1"],
        Stdin::OpenPipe,
    );
    expect(&output, 4, "did not finish within 1.0 s");
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert_nothing_left(&sandbox);
}

#[test]
fn sigkill_while_holding_the_cache_lock_leaves_nothing_stale() {
    let sandbox = Sandbox::new();
    let started = sandbox.path("started");
    let helper = sandbox.helper(
        "slow.sh",
        &format!(
            "touch {}\nsleep 1\ncat <<'EOF'\n{}\nEOF",
            started.display(),
            session_json(1)
        ),
    );
    sandbox.config(&format!("[default]\ncredential_process = {}\n", helper.display()));
    let mut victim = sandbox.std_credbox();
    let mut victim = victim
        .arg("export")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The helper only starts once credbox holds the key's lock.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !started.exists() {
        assert!(Instant::now() < deadline, "the helper never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    victim.kill().unwrap();
    victim.wait().unwrap();

    let start = Instant::now();
    let output = sandbox.credbox().arg("export").output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "the lock died with its holder"
    );
    let cache = sandbox.path("cache");
    assert_cache_is_private(&cache);
    for entry in std::fs::read_dir(&cache).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") {
            let bytes = std::fs::read(cache.join(&name)).unwrap();
            assert!(
                serde_json::from_slice::<serde_json::Value>(&bytes).is_ok(),
                "{name} is not whole"
            );
        }
    }
}
