//! credbox at a terminal: helpers that ask the person (a password, a PIN) work as they do when a
//! shell runs them, under a real pseudo-terminal with a real interactive bash, directly and under
//! botocore; and without a terminal such a helper reads end-of-file at once instead of hanging.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::moto::{clients, python};
use common::pty::{Screen, open_pty, spawn_on_terminal};
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

/// An interactive bash on a new pseudo-terminal, in the sandbox's HOME, with no AWS or credbox
/// variables: the person's shell. Returns it, the terminal's controller and what it shows.
fn shell(sandbox: &Sandbox) -> (std::process::Child, std::fs::File, Screen) {
    let (controller, terminal) = open_pty();
    let mut bash = Command::new("/bin/bash");
    bash.args(["--norc", "--noprofile", "-i"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("HOME", sandbox.home())
        .env("CREDBOX_CACHE_DIR", sandbox.path("cache"))
        .env("PS1", "$ ")
        .env("TERM", "dumb")
        .current_dir(sandbox.dir.path());
    let child = spawn_on_terminal(bash, &terminal);
    let mut screen = Screen::watch(&controller);
    screen.wait_for("$ ", Duration::from_secs(20));
    (child, controller, screen)
}

/// Type `line` and Enter at the terminal.
fn type_line(controller: &mut std::fs::File, line: &str) {
    controller.write_all(format!("{line}\n").as_bytes()).unwrap();
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
    let _ = bash.wait();
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
    let _ = bash.wait();
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
