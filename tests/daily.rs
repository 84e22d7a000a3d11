//! Daily use: what a user of aws-vault or the AWS CLI expects in the first hour. `exec` passes the
//! profile's region and cannot be bypassed by the SDK in the child; completion offers the
//! profiles; the habits people bring (`-p`, a shell from `exec`, `profile.NAME.KEY`); what is
//! cached, shown without secrets; and messages and tables a person reads.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::moto::{clients, python};
use common::*;

/// botocore in the child: which provider resolved credentials, the key, and the region it uses.
fn botocore_in_child() -> Vec<String> {
    let script = "import botocore.session; s = botocore.session.get_session(); c = s.get_credentials(); \
                  print(c.method if c else 'none', c.access_key if c else '', s.get_config_variable('region'))";
    vec![python().display().to_string(), "-c".into(), script.into()]
}

fn helper_profile(sandbox: &Sandbox, name: &str, extra: &str) {
    let helper = sandbox.json_helper(&format!("bin/{name}"), &session_json(1));
    sandbox.config(&format!(
        "[profile {name}]\ncredential_process = {}\n{extra}",
        helper.display()
    ));
}

fn needs_botocore() -> bool {
    if !python().exists() {
        skip("botocore is not installed: run `make clients` (make test does)");
        return false;
    }
    true
}

#[test]
fn exec_passes_the_profile_s_region_to_the_command() {
    if !needs_botocore() {
        return;
    }
    let sandbox = Sandbox::new();
    helper_profile(&sandbox, "west2", "region = us-west-2\n");
    for server in [false, true] {
        let mut args = vec!["exec", "--profile", "west2"];
        if server {
            args.push("--server");
        }
        args.push("--");
        let output = sandbox
            .std_credbox()
            .args(&args)
            .args(botocore_in_child())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr_of(&output));
        let printed = stdout_of(&output);
        assert!(
            printed.trim().ends_with("us-west-2"),
            "--server {server}: {printed}"
        );
        let method = if server { "container-role" } else { "env" };
        assert!(printed.starts_with(method), "--server {server}: {printed}");
    }
    // A region the caller chose stands, in both variables (botocore reads AWS_DEFAULT_REGION).
    let output = sandbox
        .std_credbox()
        .args(["exec", "--profile", "west2", "--"])
        .args(botocore_in_child())
        .env("AWS_REGION", "eu-central-1")
        .output()
        .unwrap();
    assert!(
        stdout_of(&output).trim().ends_with("eu-central-1"),
        "{}",
        stdout_of(&output)
    );
}

#[test]
fn exec_server_is_not_bypassed_by_a_profile_in_the_environment() {
    // botocore reads the profile files before the container endpoint: with AWS_PROFILE=base in
    // the environment it ran base's helper itself and never asked credbox.
    if !needs_botocore() {
        return;
    }
    let sandbox = Sandbox::new();
    let base = sandbox.helper(
        "bin/base",
        &format!(
            "echo ran >> \"{}\"\ncat <<'EOF'\n{}\nEOF",
            sandbox.path("base-runs").display(),
            session_json(1)
        ),
    );
    sandbox.config(&format!(
        "[profile base]\ncredential_process = {}\nregion = eu-west-1\n",
        base.display()
    ));
    let output = sandbox
        .std_credbox()
        .args(["exec", "--server", "--profile", "base", "--"])
        .args(botocore_in_child())
        .env("AWS_PROFILE", "base")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let printed = stdout_of(&output);
    assert!(
        printed.starts_with("container-role ASIATESTKEY00001"),
        "{printed}"
    );
    assert!(printed.trim().ends_with("eu-west-1"), "{printed}");
    let runs = std::fs::read_to_string(sandbox.path("base-runs")).unwrap();
    assert_eq!(runs.lines().count(), 1, "the child ran the helper itself");

    // What would still shadow the endpoint (credentials in [default], which the child now
    // resolves) is said before the command runs.
    sandbox.credentials(&format!(
        "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = {SECRET}\n"
    ));
    let output = sandbox
        .std_credbox()
        .args(["exec", "--server", "--profile", "base", "--", "true"])
        .output()
        .unwrap();
    assert!(
        stderr_of(&output).contains("will find credentials in profile default (aws_access_key_id at"),
        "{}",
        stderr_of(&output)
    );
    assert!(!stderr_of(&output).contains(SECRET));
}

#[test]
fn exec_without_a_command_starts_the_user_s_shell_and_refuses_to_nest() {
    let sandbox = Sandbox::new();
    helper_profile(&sandbox, "dev", "region = ap-southeast-2\n");
    // A "shell" that reports what it was given.
    let shell = sandbox.helper(
        "bin/myshell",
        "echo \"profile=$CREDBOX_PROFILE key=$AWS_ACCESS_KEY_ID region=$AWS_REGION\"",
    );
    let output = sandbox
        .std_credbox()
        .args(["exec", "-p", "dev"])
        .env("SHELL", &shell)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert_eq!(
        stdout_of(&output).trim(),
        "profile=dev key=ASIATESTKEY00001 region=ap-southeast-2"
    );
    // Inside it, another exec is refused: its keys would replace the outer profile's.
    let nested = sandbox
        .std_credbox()
        .args(["exec", "-p", "dev", "--", "true"])
        .env("CREDBOX_PROFILE", "dev")
        .output()
        .unwrap();
    assert_eq!(nested.status.code(), Some(2), "{}", stderr_of(&nested));
    assert!(stderr_of(&nested).contains("already runs with profile dev's credentials"));
}

#[test]
fn exec_of_a_command_that_is_not_there_exits_127_as_a_shell_does() {
    let sandbox = Sandbox::new();
    helper_profile(&sandbox, "dev", "");
    let output = sandbox
        .std_credbox()
        .args(["exec", "-p", "dev", "--", "/nonexistent/command"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(127), "{}", stderr_of(&output));
    let not_executable = sandbox.path("plain-file");
    std::fs::write(&not_executable, "not a program").unwrap();
    let output = sandbox
        .std_credbox()
        .args(["exec", "-p", "dev", "--"])
        .arg(&not_executable)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(126), "{}", stderr_of(&output));
}

#[test]
fn configure_reads_profile_name_key_as_the_aws_cli_does() {
    let sandbox = Sandbox::new();
    sandbox.config("[default]\nregion = us-east-1\n");
    let set = |args: &[&str]| {
        sandbox
            .credbox()
            .args(["configure", "set"])
            .args(args)
            .output()
            .unwrap()
    };
    assert!(set(&["profile.dev.region", "eu-west-3"]).status.success());
    assert!(set(&["default.output", "json"]).status.success());
    let config = std::fs::read_to_string(sandbox.config_path()).unwrap();
    assert!(config.contains("[profile dev]\nregion = eu-west-3"), "{config}");
    assert!(
        config.contains("[default]\nregion = us-east-1\noutput = json"),
        "{config}"
    );
    assert!(
        !config.contains("profile.dev"),
        "a literal dotted key was written: {config}"
    );
    let get = sandbox
        .credbox()
        .args(["configure", "get", "profile.dev.region"])
        .output()
        .unwrap();
    assert_eq!(stdout_of(&get).trim(), "eu-west-3");
    // A nested setting is refused, not written as a key.
    let nested = set(&["s3.max_concurrent_requests", "20"]);
    assert_eq!(nested.status.code(), Some(2), "{}", stderr_of(&nested));
    assert!(
        stderr_of(&nested).contains("nested setting"),
        "{}",
        stderr_of(&nested)
    );
    assert_eq!(std::fs::read_to_string(sandbox.config_path()).unwrap(), config);
}

/// What bash's completion for credbox offers for `words` (the last one being completed), through
/// the registration `credbox completions bash` prints, run by a real bash.
fn bash_completes(sandbox: &Sandbox, words: &[&str]) -> Vec<String> {
    let bin = credbox_binary();
    let script = format!(
        "PATH={dir}:$PATH\nsource <(credbox completions bash)\nCOMP_WORDS=({words})\nCOMP_CWORD={last}\n\
         _clap_complete_credbox credbox \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        dir = bin.parent().unwrap().display(),
        words = words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" "),
        last = words.len() - 1,
    );
    let output = Command::new("bash")
        .args(["-c", &script])
        .env("HOME", sandbox.home())
        .env_remove("AWS_CONFIG_FILE")
        .env_remove("AWS_SHARED_CREDENTIALS_FILE")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    stdout_of(&output)
        .lines()
        .map(String::from)
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn profile_completion_offers_the_profiles_the_files_define() {
    let sandbox = Sandbox::new();
    sandbox.config("[profile alpha]\nregion = eu-west-1\n[profile beta]\nregion = us-east-1\n[default]\n");
    sandbox.credentials("[gamma]\naws_access_key_id = A\naws_secret_access_key = B\n");
    assert_eq!(
        bash_completes(&sandbox, &["credbox", "export", "--profile", ""]),
        ["alpha", "beta", "default", "gamma"]
    );
    assert_eq!(
        bash_completes(&sandbox, &["credbox", "exec", "-p", "b"]),
        ["beta"]
    );
    // zsh: its registration asks the same question through the same protocol.
    let zsh = credbox_completions("zsh");
    assert!(
        zsh.contains("COMPLETE=\"zsh\"") && zsh.contains("credbox -- \"${words[@]}\""),
        "{zsh}"
    );
    let asked = sandbox
        .std_credbox()
        .args(["--", "credbox", "list", "--profile", "g"])
        .env("COMPLETE", "zsh")
        .env("_CLAP_COMPLETE_INDEX", "3")
        .env("_CLAP_IFS", "\n")
        .output()
        .unwrap();
    assert_eq!(stdout_of(&asked).trim(), "gamma");
    // fish, for real, where it is installed (make clients installs it).
    match which("fish") {
        Some(fish) => {
            let output = Command::new(fish)
                .args([
                    "-c",
                    "COMPLETE=fish credbox | source; complete -C 'credbox check --profile a'",
                ])
                .env(
                    "PATH",
                    format!("{}:/usr/bin:/bin", credbox_binary().parent().unwrap().display()),
                )
                .env("HOME", sandbox.home())
                .output()
                .unwrap();
            assert_eq!(stdout_of(&output).trim(), "alpha", "{}", stderr_of(&output));
        }
        None => skip("fish is not installed (make clients installs it)"),
    }
}

fn credbox_completions(shell: &str) -> String {
    let output = Command::new(credbox_binary())
        .args(["completions", shell])
        .output()
        .unwrap();
    assert!(output.status.success());
    stdout_of(&output)
}

#[test]
fn list_all_keeps_its_columns_and_names_sources_credbox_does_not_run() {
    let sandbox = Sandbox::new();
    let deep = sandbox.path("a/very/deep/directory/with/a/long/name/that/goes/on/and/on/helper");
    std::fs::create_dir_all(deep.parent().unwrap()).unwrap();
    let deep = sandbox.json_helper(
        "a/very/deep/directory/with/a/long/name/that/goes/on/and/on/helper",
        &session_json(1),
    );
    let config_dir = sandbox.path("a-config-directory-whose-name-is-longer-than-forty-characters");
    std::fs::create_dir_all(&config_dir).unwrap();
    let config = config_dir.join("config");
    std::fs::write(
        &config,
        format!(
            "[profile short]\ncredential_process = {}\n\
             [profile sso-user]\nsso_session = corp\nsso_account_id = 111111111111\nsso_role_name = Dev\n\
             [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n",
            deep.display()
        ),
    )
    .unwrap();
    let output = sandbox
        .credbox()
        .args(["list", "--all"])
        .env("AWS_CONFIG_FILE", &config)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let text = stdout_of(&output);
    let lines: Vec<&str> = text.lines().collect();
    // Every column starts where the header's does.
    let column = |line: &str, n: usize| {
        let header = lines[0];
        let starts: Vec<usize> = ["Source", "Location", "Check"]
            .iter()
            .map(|h| header.find(h).unwrap())
            .collect();
        let at = starts[n];
        assert!(
            line.len() > at && line.as_bytes()[at - 1] == b' ' && line.as_bytes()[at] != b' ',
            "column {n} of {line:?} does not start at {at}:\n{text}"
        );
    };
    for line in &lines[2..4] {
        for n in 0..3 {
            column(line, n);
        }
    }
    let sso = lines.iter().find(|l| l.starts_with("sso-user")).unwrap();
    assert!(
        sso.contains(" sso ")
            && sso.contains(
                "(session corp: not signed in: run `aws sso login --sso-session corp`; not run by credbox)"
            )
            && sso.contains("1 warning"),
        "{sso}"
    );
    let check = sandbox
        .credbox()
        .args(["check", "-p", "sso-user"])
        .env("AWS_CONFIG_FILE", &config)
        .output()
        .unwrap();
    assert!(
        stdout_of(&check).contains("warning: profile sso-user: profile uses IAM Identity Center (sso_session), which credbox does not run yet"),
        "{}",
        stdout_of(&check)
    );
}

#[test]
fn messages_say_the_same_thing_wherever_they_are_read() {
    let sandbox = Sandbox::new();
    sandbox.config(
        "[profile home]\ncredential_process = $HOME/bin/helper\n\
         [profile missing]\ncredential_process = no-such-helper-anywhere --flag\n",
    );
    // export and check give the same advice for $HOME.
    let export = sandbox.credbox().args(["export", "-p", "home"]).output().unwrap();
    let check = sandbox.credbox().args(["check", "-p", "home"]).output().unwrap();
    let advice = "so nothing expands it; write the value out in full";
    assert!(stderr_of(&export).contains(advice), "{}", stderr_of(&export));
    assert!(stdout_of(&check).contains(advice), "{}", stdout_of(&check));
    // A missing program names where it is set, as every profile error does.
    let missing = sandbox
        .credbox()
        .args(["export", "-p", "missing"])
        .output()
        .unwrap();
    let message = stderr_of(&missing);
    assert!(
        message.contains(&format!(
            "(credential_process at {}:4)",
            sandbox.config_path().display()
        )),
        "{message}"
    );
    // `run` has no credential_process to blame.
    let run = sandbox
        .credbox()
        .args(["run", "--", "./relative-helper"])
        .output()
        .unwrap();
    assert!(
        !stderr_of(&run).contains("credential_process"),
        "{}",
        stderr_of(&run)
    );
    assert!(stderr_of(&run).contains("the command"), "{}", stderr_of(&run));
    // -v speaks of cache hits, not of the guest.
    helper_profile(&sandbox, "dev", "");
    sandbox.credbox().args(["export", "-p", "dev"]).output().unwrap();
    let verbose = sandbox
        .credbox()
        .args(["-v", "export", "-p", "dev"])
        .output()
        .unwrap();
    assert!(
        stderr_of(&verbose).contains("cache hit"),
        "{}",
        stderr_of(&verbose)
    );
    assert!(!stderr_of(&verbose).contains("guest"), "{}", stderr_of(&verbose));
}

#[test]
fn every_help_entry_has_a_description() {
    let commands: [&[&str]; 16] = [
        &[],
        &["export"],
        &["run"],
        &["exec"],
        &["serve"],
        &["list"],
        &["configure"],
        &["configure", "get"],
        &["configure", "set"],
        &["check"],
        &["contract"],
        &["completions"],
        &["man"],
        &["cache"],
        &["cache", "clear"],
        &["cache", "list"],
    ];
    for command in commands {
        let output = Command::new(credbox_binary())
            .args(command)
            .arg("--help")
            .output()
            .unwrap();
        let help = stdout_of(&output);
        for line in help.lines().filter(|l| l.starts_with("  ")) {
            let entry = line.trim_start();
            let is_entry = entry.starts_with('-') || entry.starts_with('<') || entry.starts_with('[');
            // An entry's description follows two spaces after its name, on the same line.
            if is_entry {
                assert!(
                    entry.contains("  "),
                    "credbox {command:?} --help: `{line}` has no description"
                );
            }
        }
    }
}

#[test]
fn serve_says_it_stopped_when_interrupted() {
    let sandbox = Sandbox::new();
    helper_profile(&sandbox, "dev", "");
    let mut serve = sandbox
        .std_credbox()
        .args(["serve", "-p", "dev"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(serve.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert!(
        line.starts_with("export AWS_CONTAINER_CREDENTIALS_FULL_URI="),
        "{line}"
    );
    let started = Instant::now();
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(serve.id() as i32, libc::SIGINT) };
    let output: Output = serve.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(output.status.signal(), Some(libc::SIGINT));
    assert!(
        stderr_of(&output).contains("credbox: stopped serving on http://127.0.0.1:"),
        "{}",
        stderr_of(&output)
    );
    let _ = (clients(), PathBuf::new());
}
