//! credbox at a terminal: helpers that ask the person (a password, a PIN) work as they do when a
//! shell runs them, under a real pseudo-terminal with a real interactive bash, directly and under
//! botocore; and without a terminal such a helper reads end-of-file at once instead of hanging.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::moto::{clients, python};
use common::pty::{shell, type_line};
use common::*;

/// A helper that asks for a password on stderr, reads it from stdin with the echo off (as
/// saml2aws, gimme-aws-creds and most scripts do), and prints credentials only for `expected`.
fn asking_helper(sandbox: &Sandbox, expected: &str) -> PathBuf {
    sandbox.helper(
        "bin/asks",
        &format!(
            "stty -echo 2>/dev/null\nprintf 'password: ' >&2\nread -r answer\nstty echo 2>/dev/null\nprintf '\\n' >&2\n\
             [ \"$answer\" = \"{expected}\" ] || {{ echo 'wrong password' >&2; exit 3; }}\n\
             cat <<'EOF'\n{}\nEOF",
            session_json(1)
        ),
    )
}

/// The password typed is a command: if the shell ever reads it, the marker appears.
fn password_that_is_a_command(sandbox: &Sandbox) -> (String, PathBuf) {
    let marker = sandbox.path("the-shell-ran-the-password");
    (format!("touch {}", marker.display()), marker)
}

#[test]
fn a_helper_reads_its_password_at_the_terminal_and_the_shell_never_sees_it() {
    // Run in its own process group (so that a timeout kills all it started), the helper was in
    // the background of the terminal: its read stopped it (SIGTTIN), credbox timed out, and the
    // shell then ran the typed password as a command. Handed the terminal, it reads it.
    let sandbox = Sandbox::new();
    let (password, marker) = password_that_is_a_command(&sandbox);
    let helper = asking_helper(&sandbox, &password);
    sandbox.config(&format!(
        "[profile p]\ncredential_process = {}\n",
        helper.display()
    ));
    let (mut bash, mut controller, mut screen) = shell(&sandbox);
    type_line(
        &mut controller,
        &format!(
            "{} export --profile p --timeout 5 > exported.json; echo \"EXIT\"\"=$?\"",
            credbox_binary().display()
        ),
    );
    screen.wait_for("password: ", Duration::from_secs(20));
    type_line(&mut controller, &password);
    screen.wait_for("EXIT=", Duration::from_secs(20));
    screen.settle(Duration::from_millis(300));
    type_line(&mut controller, "exit");
    bash.wait();
    assert!(screen.shown.contains("EXIT=0"), "{:?}", screen.shown);
    let exported = std::fs::read_to_string(sandbox.path("exported.json")).unwrap();
    assert!(exported.contains("ASIATESTKEY00001"), "{exported}");
    assert!(!marker.exists(), "the shell read the password and ran it");
    assert!(
        !screen.shown.contains(&password),
        "the password was echoed: {:?}",
        screen.shown
    );
}

#[test]
fn under_botocore_the_helper_still_gets_the_terminal() {
    // botocore runs `credential_process = credbox export ...` with stdout and stderr captured and
    // stdin inherited: the helper's prompt reaches the terminal and its read gets what is typed.
    let botocore = python();
    if !botocore.exists() {
        skip("botocore is not installed: run `make clients` (make test does)");
        return;
    }
    let sandbox = Sandbox::new();
    let (password, marker) = password_that_is_a_command(&sandbox);
    let helper = asking_helper(&sandbox, &password);
    sandbox.config(&format!(
        "[profile p]\ncredential_process = {}\n\
         [profile wrapped]\ncredential_process = {} export --profile p --timeout 5\n",
        helper.display(),
        credbox_binary().display()
    ));
    let script = "import botocore.session; c = botocore.session.Session(profile='wrapped').get_credentials(); print('KEY', c.access_key)";
    let (mut bash, mut controller, mut screen) = shell(&sandbox);
    type_line(
        &mut controller,
        &format!("{} -c \"{script}\"; echo \"EXIT\"\"=$?\"", botocore.display()),
    );
    screen.wait_for("password: ", Duration::from_secs(30));
    type_line(&mut controller, &password);
    screen.wait_for("EXIT=", Duration::from_secs(30));
    type_line(&mut controller, "exit");
    bash.wait();
    assert!(
        screen.shown.contains("KEY ASIATESTKEY00001") && screen.shown.contains("EXIT=0"),
        "{:?}",
        screen.shown
    );
    assert!(!marker.exists(), "the shell read the password and ran it");
    // (Used for the clients' location only.)
    let _ = clients();
}

#[test]
fn without_a_terminal_a_helper_that_asks_reads_end_of_file_at_once() {
    // An SDK that gives credbox a stdin pipe it never writes to (and no terminal): inherited,
    // the helper's read waited for the whole timeout.
    let sandbox = Sandbox::new();
    let helper = asking_helper(&sandbox, "anything");
    sandbox.config(&format!(
        "[profile p]\ncredential_process = {}\n",
        helper.display()
    ));
    let mut command = sandbox.std_credbox();
    command
        .args(["export", "--profile", "p", "--timeout", "30"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn().unwrap();
    let _never_written = child.stdin.take();
    let output = child.wait_with_output().unwrap();
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).contains("wrong password"),
        "{}",
        stderr_of(&output)
    );
    assert!(
        took < Duration::from_secs(10),
        "the helper waited {took:?} on a pipe nobody writes"
    );
    // `--stdin inherit` still passes the pipe on, for a helper fed on purpose.
    let mut command = sandbox.std_credbox();
    command
        .args(["export", "--profile", "p", "--no-cache", "--stdin", "inherit"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"anything\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
}

/// A helper that asks for a password as [`asking_helper`] does, and first writes its own pid and
/// its parent's (credbox's) beside it.
fn asking_helper_telling_pids(sandbox: &Sandbox, expected: &str) -> PathBuf {
    let pids = sandbox.path("pids");
    sandbox.helper(
        "bin/asks",
        &format!(
            "echo \"$$ $PPID\" > \"{}\"\nstty -echo 2>/dev/null\nprintf 'password: ' >&2\nread -r answer\nstty echo 2>/dev/null\n\
             [ \"$answer\" = \"{expected}\" ] || exit 3\ncat <<'EOF'\n{}\nEOF",
            pids.display(),
            session_json(1)
        ),
    )
}

/// The helper's pid and credbox's, as [`asking_helper_telling_pids`] wrote them.
fn pids(sandbox: &Sandbox) -> (i32, i32) {
    let text = std::fs::read_to_string(sandbox.path("pids")).unwrap();
    let mut words = text.split_whitespace().map(|w| w.parse().unwrap());
    (words.next().unwrap(), words.next().unwrap())
}

#[test]
fn ctrl_z_at_a_helper_s_prompt_stops_the_job_and_fg_continues_it() {
    // As with a job the shell runs: Ctrl-Z gives the shell its terminal back (credbox's job is
    // stopped, not left waiting on a stopped helper), and `fg` resumes the helper's read. The
    // time stopped does not count against --timeout.
    let sandbox = Sandbox::new();
    let (password, marker) = password_that_is_a_command(&sandbox);
    let helper = asking_helper(&sandbox, &password);
    sandbox.config(&format!(
        "[profile p]\ncredential_process = {}\n",
        helper.display()
    ));
    let (mut bash, mut controller, mut screen) = shell(&sandbox);
    type_line(
        &mut controller,
        &format!(
            "{} export --profile p --timeout 4 > exported.json",
            credbox_binary().display()
        ),
    );
    screen.wait_for("password: ", Duration::from_secs(20));
    controller.write_all(b"\x1a").unwrap();
    screen.wait_for("Stopped", Duration::from_secs(10));
    // Longer than --timeout, stopped.
    std::thread::sleep(Duration::from_secs(5));
    type_line(&mut controller, "fg");
    std::thread::sleep(Duration::from_millis(500));
    type_line(&mut controller, &password);
    type_line(&mut controller, "echo \"EXIT\"\"=$?\"");
    screen.wait_for("EXIT=", Duration::from_secs(20));
    type_line(&mut controller, "exit");
    bash.wait();
    assert!(screen.shown.contains("EXIT=0"), "{:?}", screen.shown);
    assert!(!marker.exists(), "the shell read the password and ran it");
}

#[test]
fn ctrl_c_at_a_helper_s_prompt_ends_the_helper_and_credbox_as_it_would_a_job() {
    let sandbox = Sandbox::new();
    let helper = asking_helper(&sandbox, "anything");
    sandbox.config(&format!(
        "[profile p]\ncredential_process = {}\n",
        helper.display()
    ));
    let (mut bash, mut controller, mut screen) = shell(&sandbox);
    type_line(
        &mut controller,
        &format!("{} export --profile p --timeout 30", credbox_binary().display()),
    );
    screen.wait_for("password: ", Duration::from_secs(20));
    let started = Instant::now();
    controller.write_all(b"\x03").unwrap();
    // The shell is back (its list interrupted, as for any job Ctrl-C ends).
    screen.wait_for_another("$ ", Duration::from_secs(20));
    type_line(&mut controller, "echo \"EXIT\"\"=$?\"");
    screen.wait_for("EXIT=", Duration::from_secs(20));
    type_line(&mut controller, "exit");
    bash.wait();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // Ended by SIGINT, as the helper was (128 + 2), not an error exit after the timeout.
    assert!(screen.shown.contains("EXIT=130"), "{:?}", screen.shown);
}

#[test]
fn a_credbox_ended_while_its_helper_holds_the_terminal_gives_it_back() {
    // SIGTERM (an SDK's own timeout, say) while the helper reads: the terminal goes back to the
    // shell, and the helper does not stay behind reading the person's keystrokes.
    let sandbox = Sandbox::new();
    let helper = asking_helper_telling_pids(&sandbox, "anything");
    sandbox.config(&format!(
        "[profile p]\ncredential_process = {}\n",
        helper.display()
    ));
    let (mut bash, mut controller, mut screen) = shell(&sandbox);
    type_line(
        &mut controller,
        &format!(
            "{} export --profile p --timeout 30; echo \"EXIT\"\"=$?\"",
            credbox_binary().display()
        ),
    );
    screen.wait_for("password: ", Duration::from_secs(20));
    let (helper_pid, credbox_pid) = pids(&sandbox);
    // SAFETY: kill(2) on the credbox this test started.
    unsafe { libc::kill(credbox_pid, libc::SIGTERM) };
    screen.wait_for("EXIT=143", Duration::from_secs(20));
    assert_process_ends(&helper_pid.to_string());
    // The shell has its terminal: what is typed now is a command.
    type_line(&mut controller, "echo \"the shell\"\"-reads\"");
    screen.wait_for("the shell-reads", Duration::from_secs(10));
    type_line(&mut controller, "exit");
    bash.wait();
}

#[test]
fn exec_server_never_hands_its_command_s_terminal_to_a_refreshing_helper() {
    // The command owns the terminal while it runs: a refresh in the background must not make the
    // helper the terminal's foreground (the command would be stopped at its next read). The first
    // fetch, before the command starts, may.
    let botocore = python();
    if !botocore.exists() {
        skip("botocore is not installed: run `make clients` (make test does)");
        return;
    }
    let sandbox = Sandbox::new();
    let place = sandbox.path("where");
    let helper = sandbox.helper(
        "bin/short",
        &format!(
            "awk '{{ print ($5 == $8) ? \"fg\" : \"bg\" }}' /proc/$$/stat >> \"{}\"\n\
             exp=$(date -u -d \"@$(( $(date +%s) + 6 ))\" +%Y-%m-%dT%H:%M:%SZ)\n\
             printf '{{\"Version\":1,\"AccessKeyId\":\"ASIASHORTLIVED00001\",\"SecretAccessKey\":\"{SECRET}\",\"SessionToken\":\"t\",\"Expiration\":\"%s\"}}' \"$exp\"",
            place.display()
        ),
    );
    sandbox.config(&format!(
        "[profile p]\ncredential_process = {}\n",
        helper.display()
    ));
    let client = clients().join("../../tests/clients/botocore_client.py");
    let (mut bash, mut controller, mut screen) = shell(&sandbox);
    type_line(
        &mut controller,
        &format!(
            "{} exec --server --profile p -- sh -c 'sleep 4; AWS_EC2_METADATA_DISABLED=true {} {}'; echo \"EXIT\"\"=$?\"",
            credbox_binary().display(),
            botocore.display(),
            client.display()
        ),
    );
    screen.wait_for("EXIT=", Duration::from_secs(30));
    type_line(&mut controller, "exit");
    bash.wait();
    assert!(screen.shown.contains("EXIT=0"), "{:?}", screen.shown);
    let seen = std::fs::read_to_string(&place).unwrap();
    assert_eq!(
        seen.lines().collect::<Vec<_>>(),
        ["fg", "bg"],
        "{:?}",
        screen.shown
    );
}

#[test]
fn a_terminal_the_shell_took_back_is_never_taken_from_it() {
    // credbox's job stopped another way (SIGSTOP) and sent to the background while its helper
    // waits: the shell has the terminal. When the helper ends, credbox
    // must not take the terminal from the shell, whose next read would then fail.
    let sandbox = Sandbox::new();
    let helper = asking_helper_telling_pids(&sandbox, "anything");
    sandbox.config(&format!(
        "[profile p]\ncredential_process = {}\n",
        helper.display()
    ));
    let (mut bash, mut controller, mut screen) = shell(&sandbox);
    type_line(
        &mut controller,
        &format!("{} export --profile p --timeout 3", credbox_binary().display()),
    );
    screen.wait_for("password: ", Duration::from_secs(20));
    let (_, credbox_pid) = pids(&sandbox);
    // SAFETY: kill(2) on the credbox this test started.
    unsafe { libc::kill(credbox_pid, libc::SIGSTOP) };
    screen.wait_for("Stopped", Duration::from_secs(10));
    // A read already waiting in the kernel may still get the next line (then the helper exits),
    // or the shell does; what comes after it is the shell's either way.
    controller.write_all(b"\n").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    type_line(&mut controller, "bg");
    // The helper ends (by itself, or at the timeout), credbox reports in the background.
    screen.wait_for("credbox: profile p: the helper", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(500));
    type_line(&mut controller, "echo \"the shell\"\"-still-reads\"");
    screen.wait_for("the shell-still-reads", Duration::from_secs(10));
    type_line(&mut controller, "exit");
    bash.wait();
}
