//! `credbox configure`, `check` and `list` against real profile files.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

const COMMENTED_CONFIG: &str = "\
# Team AWS config — managed by hand, keep the comments!
[default]
region = eu-west-1   # Ireland

; the dev account
[profile dev]
credential_process = /opt/bin/helper --user me
s3 =
  addressing_style = path
output = json

[profile other]
region = us-east-1
";

#[test]
fn configure_set_changes_only_the_intended_line_and_keeps_the_mode() {
    let sandbox = Sandbox::new();
    sandbox.config(COMMENTED_CONFIG);
    let config = sandbox.config_path();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o640)).unwrap();

    let set = sandbox
        .credbox()
        .args(["configure", "set", "output", "text", "--profile", "dev"])
        .output()
        .unwrap();
    assert!(set.status.success(), "{}", stderr_of(&set));
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        COMMENTED_CONFIG.replace("output = json", "output = text")
    );
    assert_eq!(
        std::fs::metadata(&config).unwrap().permissions().mode() & 0o777,
        0o640
    );

    // A new key goes after the section's last property; a new profile at the end.
    sandbox
        .credbox()
        .args(["configure", "set", "region", "eu-north-1", "--profile", "dev"])
        .assert()
        .success();
    sandbox
        .credbox()
        .args(["configure", "set", "region", "ap-south-1", "--profile", "new"])
        .assert()
        .success();
    let expected = COMMENTED_CONFIG
        .replace("output = json\n", "output = text\nregion = eu-north-1\n")
        .replace(
            "region = us-east-1\n",
            "region = us-east-1\n\n[profile new]\nregion = ap-south-1\n",
        );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), expected);

    let get = sandbox
        .credbox()
        .args(["configure", "get", "region", "--profile", "dev"])
        .output()
        .unwrap();
    assert_eq!(stdout_of(&get), "eu-north-1\n");
    let missing = sandbox
        .credbox()
        .args(["configure", "get", "nothing", "--profile", "dev"])
        .output()
        .unwrap();
    assert_eq!((missing.status.code(), missing.stdout.len()), (Some(1), 0));
}

#[test]
fn configure_set_puts_keys_in_the_credentials_file_and_follows_symlinks() {
    let sandbox = Sandbox::new();
    let real = sandbox.path("dotfiles/credentials");
    std::fs::create_dir_all(real.parent().unwrap()).unwrap();
    std::fs::write(&real, "[dev]\naws_access_key_id = AKIAOLD\n").unwrap();
    std::os::unix::fs::symlink(&real, sandbox.credentials_path()).unwrap();

    sandbox
        .credbox()
        .args([
            "configure",
            "set",
            "aws_access_key_id",
            "AKIANEW",
            "--profile",
            "dev",
        ])
        .assert()
        .success();
    assert!(
        std::fs::symlink_metadata(sandbox.credentials_path())
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_to_string(&real).unwrap(),
        "[dev]\naws_access_key_id = AKIANEW\n"
    );
    assert!(
        !sandbox.config_path().exists(),
        "credential keys never go to the config file"
    );
}

#[test]
fn configure_set_refuses_a_value_that_would_not_read_back() {
    let sandbox = Sandbox::new();
    sandbox.config(COMMENTED_CONFIG);
    let output = sandbox
        .credbox()
        .args([
            "configure",
            "set",
            "credential_process",
            "/h --x #y",
            "--profile",
            "dev",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr_of(&output).contains("would not read back"),
        "{}",
        stderr_of(&output)
    );
    assert_eq!(
        std::fs::read_to_string(sandbox.config_path()).unwrap(),
        COMMENTED_CONFIG
    );
}

#[test]
fn check_reports_each_problem_with_a_severity_and_exits_1_on_errors() {
    let sandbox = Sandbox::new();
    let good = sandbox.json_helper("bin/good", &session_json(1));
    let loose = sandbox.json_helper("bin/loose", &session_json(1));
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o777)).unwrap();
    let not_executable = sandbox.path("bin/plain");
    std::fs::write(&not_executable, "").unwrap();
    let credbox = credbox_binary().display().to_string();
    sandbox.config(&format!(
        "[profile good]\ncredential_process = {}\n\
         [profile shadowed]\naws_access_key_id = AKIA1\naws_secret_access_key = S\ncredential_process = {}\n\
         [profile shell]\ncredential_process = {} | base64 -d\n\
         [profile loose]\ncredential_process = {}\n\
         [profile plain]\ncredential_process = {}\n\
         [profile gone]\ncredential_process = /no/such/helper\n\
         [profile loop]\ncredential_process = {credbox} export --profile loop\n\
         [profile relative]\ncredential_process = ./helper\n",
        good.display(),
        good.display(),
        good.display(),
        loose.display(),
        not_executable.display(),
    ));
    std::fs::set_permissions(sandbox.path("bin"), std::fs::Permissions::from_mode(0o755)).unwrap();

    let output = sandbox
        .credbox()
        .args(["check", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr_of(&output));
    let findings: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let about = |profile: &str| -> Vec<(String, String)> {
        findings
            .iter()
            .filter(|f| f["profile"] == profile)
            .map(|f| {
                (
                    f["severity"].as_str().unwrap().to_string(),
                    f["message"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert!(about("good").is_empty(), "{:?}", about("good"));
    let expect = |profile: &str, severity: &str, text: &str| {
        let found = about(profile);
        assert!(
            found.iter().any(|(s, m)| s == severity && m.contains(text)),
            "{profile}: expected {severity} containing {text:?}, got {found:?}"
        );
    };
    expect("shadowed", "warning", "static keys shadow credential_process");
    expect("shell", "error", "--allow-shell");
    expect("loose", "error", "writable by group or others");
    expect("plain", "error", "is not an executable file");
    expect("gone", "error", "does not exist");
    expect("loop", "error", "would recurse");
    expect("relative", "error", "relative path");
    assert!(
        findings
            .iter()
            .all(|f| f["location"].as_str().unwrap().contains(":")),
        "file:line for each"
    );

    let only_good = sandbox
        .credbox()
        .args(["check", "--profile", "good"])
        .output()
        .unwrap();
    assert!(only_good.status.success(), "{}", stdout_of(&only_good));
    assert_eq!(stdout_of(&only_good), "0 error(s), 0 warning(s)\n");
}

#[test]
fn list_shows_sources_with_keys_masked() {
    let sandbox = Sandbox::new();
    let helper = sandbox.json_helper("h.sh", &session_json(1));
    sandbox
        .config(&format!(
            "[profile dev]\nregion = eu-west-1\ncredential_process = {}\n",
            helper.display()
        ))
        .credentials(&format!(
            "[static]\naws_access_key_id = AKIASTATICLIST1\naws_secret_access_key = {SECRET}\n"
        ));

    let dev = sandbox
        .credbox()
        .args(["list", "--profile", "dev"])
        .output()
        .unwrap();
    assert!(dev.status.success(), "{}", stderr_of(&dev));
    let config = sandbox.config_path().display().to_string();
    let text = stdout_of(&dev);
    assert!(
        text.contains(&format!(
            "access_key     ****************0001   custom-process    {config}:3"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "    region                eu-west-1      config-file    {config}:2"
        )),
        "{text}"
    );

    let stat = stdout_of(
        &sandbox
            .credbox()
            .args(["list"])
            .env("AWS_PROFILE", "static")
            .output()
            .unwrap(),
    );
    assert!(
        stat.contains("   profile                   static              env    AWS_PROFILE"),
        "{stat}"
    );
    assert!(
        stat.contains("****************IST1 shared-credentials-file"),
        "{stat}"
    );
    for text in [&text, &stat] {
        assert!(!text.contains(SECRET) && !text.contains(TOKEN), "{text}");
    }
}

/// (The values refused are cases under tests/cases/usage.)
#[test]
fn durations_are_accepted_as_people_type_them() {
    let sandbox = Sandbox::new();
    let good = sandbox.json_helper("bin/good", &session_json(1));
    for (timeout, min_ttl) in [
        ("90", "900"),
        ("0.5", "15m"),
        ("90s", "1h"),
        ("2m", "1h30m"),
        ("1h 30m", "30s"),
    ] {
        let output = sandbox
            .credbox()
            .args([
                "run",
                "--no-cache",
                "--timeout",
                timeout,
                "--min-ttl",
                min_ttl,
                "--",
            ])
            .arg(&good)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{timeout} {min_ttl}: {}",
            stderr_of(&output)
        );
    }
    // The unit is honoured: 500ms is half a second, not 500 seconds.
    let sleeper = sandbox.helper("bin/sleeper", "sleep 30");
    let started = std::time::Instant::now();
    let output = sandbox
        .credbox()
        .args(["run", "--no-cache", "--timeout", "500ms", "--"])
        .arg(&sleeper)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).contains("within 0.5 s"),
        "{}",
        stderr_of(&output)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn the_contract_printed_is_the_contract_embedded() {
    use wasmtime::component::Component;
    let sandbox = Sandbox::new();
    let output = sandbox
        .credbox()
        .args(["contract", "--format", "json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let contract: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    // The WIT text is the repository's, and its digest is the text's.
    let wit_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit/credbox.wit");
    let wit = std::fs::read_to_string(&wit_path).unwrap();
    assert_eq!(contract["wit"]["text"], wit.as_str());
    assert_eq!(contract["wit"]["sha256"], sha256_of(&wit_path).as_str());
    assert!(wit.contains(&format!(
        "package {};",
        contract["wit"]["package"].as_str().unwrap()
    )));
    let printed_wit = sandbox.credbox().args(["contract", "--wit"]).output().unwrap();
    assert_eq!(stdout_of(&printed_wit), wit);

    // The guest digest is the embedded component's, and --version names it too.
    let embedded = sandbox.path("guest.wasm");
    std::fs::write(&embedded, credbox::component::GUEST_WASM).unwrap();
    let guest = sha256_of(&embedded);
    assert_eq!(contract["guest"]["sha256"], guest.as_str());
    let version = sandbox.credbox().arg("--version").output().unwrap();
    assert!(stdout_of(&version).contains(&guest), "{}", stdout_of(&version));

    // The imports listed are the ones the component really has, each with its grant.
    let runtime = credbox::Runtime::new().unwrap();
    let engine = runtime.engine().unwrap();
    let component = Component::new(engine, credbox::component::GUEST_WASM).unwrap();
    let mut actual = credbox::component::component_imports(engine, &component);
    let mut listed: Vec<String> = contract["guest"]["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|import| {
            let granted = import["granted"].as_str().unwrap();
            assert!(
                !granted.is_empty() && !granted.starts_with("not linked"),
                "{import}"
            );
            import["name"].as_str().unwrap().to_string()
        })
        .collect();
    actual.sort();
    listed.sort();
    assert_eq!(listed, actual);
    assert_eq!(contract["ceilings"]["stdout_bytes"], 65536);
    assert_eq!(contract["ceilings"]["commands_per_call"], 4);

    let text = sandbox.credbox().arg("contract").output().unwrap();
    assert!(
        stdout_of(&text).contains("credbox:provider/spawn@"),
        "{}",
        stdout_of(&text)
    );
}

#[test]
fn list_all_shows_every_profile_at_a_glance_and_runs_no_helper() {
    let sandbox = Sandbox::new();
    let marker = sandbox.path("ran");
    let helper = sandbox.helper("bin/helper", &format!("touch {}", marker.display()));
    std::fs::set_permissions(sandbox.path("bin"), std::fs::Permissions::from_mode(0o755)).unwrap();
    sandbox
        .config(&format!(
            "[profile dev]\ncredential_process = {}\n\
             [profile piped]\ncredential_process = {} | cat\n\
             [profile vault]\ncredential_plugin = /nonexistent/vault.wasm\n\
             [profile region]\nregion = eu-west-1\n",
            helper.display(),
            helper.display()
        ))
        .credentials("[keys]\naws_access_key_id = AKIALISTALL1\naws_secret_access_key = S\n");
    let output = sandbox.credbox().args(["list", "--all"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let printed = stdout_of(&output);
    let line = |profile: &str| -> Vec<String> {
        let line = printed
            .lines()
            .find(|l| l.split_whitespace().next() == Some(profile))
            .unwrap_or_else(|| panic!("{profile} not in {printed}"));
        line.split_whitespace().map(String::from).collect()
    };
    assert_eq!(
        line("dev")[1..],
        [
            "process",
            &format!("{}:2", sandbox.path("home/.aws/config").display()),
            "ok"
        ]
    );
    assert_eq!(line("piped")[1], "process");
    assert_eq!(line("piped")[3..], ["1", "error(s)"]);
    assert_eq!(line("vault")[1], "plugin");
    assert_eq!(line("vault")[3..], ["1", "error(s)"], "the plugin does not exist");
    assert_eq!(line("region")[1..], ["none", "ok"]);
    assert_eq!(line("keys")[1], "static-keys");
    assert!(!marker.exists(), "list --all ran a helper");
}

/// Whether `program` is on PATH.
fn installed(program: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn completion_scripts_are_accepted_by_their_shells() {
    let sandbox = Sandbox::new();
    let script = |shell: &str| {
        let output = sandbox.credbox().args(["completions", shell]).output().unwrap();
        assert!(output.status.success(), "{shell}: {}", stderr_of(&output));
        let path = sandbox.path(&format!("credbox.{shell}"));
        std::fs::write(&path, &output.stdout).unwrap();
        path
    };
    for (shell, check) in [("bash", "-n"), ("zsh", "-n"), ("fish", "--no-execute")] {
        if !installed(shell) {
            skip(&format!(
                "{shell} is not installed (tests/clients/setup.sh installs it under CI)"
            ));
            continue;
        }
        let path = script(shell);
        let checked = std::process::Command::new(shell)
            .arg(check)
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            checked.status.success(),
            "{shell} refuses the script: {}",
            stderr_of(&checked)
        );
    }
    // Loaded into bash, it completes credbox's subcommands (asking the credbox on PATH).
    let bash = script("bash");
    let completed = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "PATH={}:$PATH; source {}; COMP_WORDS=(credbox ex); COMP_CWORD=1; _clap_complete_credbox credbox ex credbox; echo \"${{COMPREPLY[@]}}\"",
            credbox_binary().parent().unwrap().display(),
            bash.display()
        ))
        .output()
        .unwrap();
    let offered = stdout_of(&completed);
    assert!(
        offered.split_whitespace().any(|w| w == "export"),
        "{offered}{}",
        stderr_of(&completed)
    );
    assert!(offered.split_whitespace().any(|w| w == "exec"), "{offered}");
    for shell in ["powershell", "elvish"] {
        let text = std::fs::read_to_string(script(shell)).unwrap();
        assert!(text.contains("credbox") && text.contains("COMPLETE"), "{shell}");
    }
    let refused = sandbox.credbox().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
}

#[test]
fn man_pages_are_written_for_every_subcommand_and_render() {
    let sandbox = Sandbox::new();
    let out = sandbox.path("man");
    let output = sandbox
        .credbox()
        .arg("man")
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let mut pages: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    for expected in [
        "credbox.1",
        "credbox-export.1",
        "credbox-configure-set.1",
        "credbox-cache-clear.1",
    ] {
        assert!(pages.iter().any(|p| p == expected), "{expected} not in {pages:?}");
    }
    for page in &pages {
        let mode = std::fs::metadata(out.join(page)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{page}: man pages are for everyone to read");
        let rendered = std::process::Command::new("man")
            .arg("-l")
            .arg(out.join(page))
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "80")
            .output()
            .unwrap();
        assert!(rendered.status.success(), "{page}: {}", stderr_of(&rendered));
        let text = stdout_of(&rendered);
        assert!(
            text.contains("NAME") && text.contains("credbox"),
            "{page}: {text}"
        );
    }
}

#[test]
fn a_reader_that_goes_away_ends_credbox_quietly() {
    use std::io::Read;
    let sandbox = Sandbox::new();
    for args in [
        &["completions", "bash"][..],
        &["contract", "--format", "json"][..],
    ] {
        let mut child = sandbox
            .std_credbox()
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before credbox (still starting) has written anything.
        drop(child.stdout.take());
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        child.wait().unwrap();
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
