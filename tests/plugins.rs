//! Credential plugins (docs/PLUGINS.md): the example plugin through `--plugin` and `credential_plugin`,
//! and one purpose-built bad plugin per failure plugincreds names, each ending in a typed error.

mod common;

use common::*;

fn example() -> std::path::PathBuf {
    component("credbox_example_plugin")
}

#[test]
fn the_example_plugin_prints_credentials() {
    let sandbox = Sandbox::new();
    let output = sandbox
        .credbox()
        .args(["export", "--plugin"])
        .arg(example())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["AccessKeyId"], "ASIAEXAMPLEPLUGIN0001");
    assert_eq!(document["AccountId"], "123456789012");
    assert!(document["Expiration"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn a_profile_names_its_plugin_with_credential_plugin() {
    let sandbox = Sandbox::new();
    sandbox.config(&format!(
        "[profile p]\ncredential_plugin = {}\n",
        example().display()
    ));
    let output = sandbox
        .credbox()
        .args(["export", "--profile", "p", "--format", "env"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(stdout_of(&output).contains("AWS_ACCESS_KEY_ID=ASIAEXAMPLEPLUGIN0001"));

    let list = sandbox
        .credbox()
        .args(["list", "--profile", "p"])
        .output()
        .unwrap();
    assert!(stdout_of(&list).contains("custom-plugin"), "{}", stdout_of(&list));
    assert_cache_is_private(&sandbox.path("cache"));
}

#[test]
fn static_keys_win_and_process_plus_plugin_is_a_config_error() {
    let sandbox = Sandbox::new();
    let trap = component("plugin_trap");
    sandbox.config(&format!(
        "[profile keys]\naws_access_key_id = AKIASTATIC\naws_secret_access_key = {SECRET}\ncredential_plugin = {}\n\
         [profile both]\ncredential_process = /bin/true\ncredential_plugin = {}\n",
        trap.display(),
        example().display()
    ));
    let keys = sandbox
        .credbox()
        .args(["export", "--profile", "keys"])
        .output()
        .unwrap();
    assert!(keys.status.success(), "{}", stderr_of(&keys));
    assert!(stdout_of(&keys).contains("AKIASTATIC"));

    let both = sandbox
        .credbox()
        .args(["export", "--profile", "both"])
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(3));
    let message = stderr_of(&both);
    assert!(
        message.contains("profile both") && message.contains("config:7") && message.contains("keep one"),
        "{message}"
    );
}

#[test]
fn the_second_run_reuses_the_compiled_plugin() {
    let sandbox = Sandbox::new();
    let run = || {
        let output = sandbox
            .credbox()
            .args(["-v", "export", "--no-cache", "--plugin"])
            .arg(example())
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr_of(&output));
        stderr_of(&output)
    };
    assert!(
        !run().contains("compiled artifact reused"),
        "nothing to reuse on the first run"
    );
    assert!(run().contains("compiled artifact reused"));
    let artifacts: Vec<_> = std::fs::read_dir(sandbox.path("cache/plugins"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "cwasm")
        })
        .collect();
    assert_eq!(artifacts.len(), 1);
    assert_cache_is_private(&sandbox.path("cache"));
}

#[test]
fn plugin_credentials_are_cached_until_the_plugin_calls_them_expired() {
    let sandbox = Sandbox::new();
    let key = |plugin: &std::path::Path| {
        let output = sandbox
            .credbox()
            .args(["-v", "export", "--plugin"])
            .arg(plugin)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr_of(&output));
        let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        (
            document["AccessKeyId"].as_str().unwrap().to_string(),
            stderr_of(&output),
        )
    };
    // The example plugin's hour-long credentials are served from the cache the second time.
    let (_, first) = key(&example());
    let (_, second) = key(&example());
    assert!(first.contains("cache miss"), "{first}");
    assert!(second.contains("cache hit"), "{second}");

    // This plugin's credentials are good for an hour too, but its is-expired says no at once.
    let early = component("plugin_expires_early");
    let (one, _) = key(&early);
    let (two, log) = key(&early);
    assert_ne!(one, two, "is-expired must be asked before a reuse");
    assert!(
        log.contains("the plugin says its cached credentials have expired"),
        "{log}"
    );
}

/// Every way a plugin can fail: the exit code, and what the one-line message must say.
#[test]
fn bad_plugins_fail_with_typed_errors() {
    let sandbox = Sandbox::new();
    std::fs::write(sandbox.path("core.wasm"), wat::parse_str("(module)").unwrap()).unwrap();
    std::fs::write(sandbox.path("text.wasm"), "not wasm at all").unwrap();
    std::fs::write(sandbox.path("empty.wasm"), wat::parse_str("(component)").unwrap()).unwrap();
    let cases: Vec<(std::path::PathBuf, i32, &[&str])> = vec![
        (
            sandbox.path("core.wasm"),
            4,
            &["cannot be loaded", "not a WebAssembly component"],
        ),
        (
            sandbox.path("text.wasm"),
            4,
            &["cannot be loaded", "not a WebAssembly component"],
        ),
        (
            sandbox.path("absent.wasm"),
            4,
            &["cannot be loaded", "No such file"],
        ),
        // LookupSymbolError: a component of another world, and one missing a function.
        (
            sandbox.path("empty.wasm"),
            4,
            &["does not export credbox:provider/plugin@0.5.0 (it exports nothing)"],
        ),
        (
            component("plugin_missing_function"),
            4,
            &["does not export credbox:provider/plugin@0.5.0#is-expired"],
        ),
        // InvalidSymbolError.
        (
            component("plugin_wrong_type"),
            4,
            &[
                "do not have the types",
                "#retrieve must be `func() -> result<credentials, string>`",
            ],
        ),
        // PluginProviderRetrieveError, with the plugin's own message.
        (
            component("plugin_retrieve_error"),
            4,
            &["retrieve failed: vault is sealed: run `vault operator unseal` first"],
        ),
        (component("plugin_trap"), 4, &["crashed (trap)", "unreachable"]),
        (
            component("plugin_loop"),
            4,
            &["ran past its budget of 1073741824 instructions"],
        ),
        (component("plugin_grow"), 4, &["more than 64 MiB of memory"]),
        // The same validation as a helper's output.
        (
            component("plugin_expired"),
            5,
            &["the plugin returned expired credentials"],
        ),
        // The sandbox: forbidden imports are refused at load time, by name.
        (
            component("plugin_filesystem"),
            4,
            &[
                "wasi:filesystem/types@0.2.6",
                "wasi:filesystem/preopens@0.2.6",
                "does not grant a plugin",
            ],
        ),
        (
            component("plugin_spawn"),
            4,
            &["credbox:provider/spawn@0.5.0", "does not grant a plugin"],
        ),
    ];
    for (plugin, code, expected) in cases {
        let started = std::time::Instant::now();
        let output = sandbox
            .credbox()
            .args(["export", "--plugin"])
            .arg(&plugin)
            .output()
            .unwrap();
        let message = stderr_of(&output);
        let name = plugin.file_name().unwrap().to_string_lossy();
        assert_eq!(output.status.code(), Some(code), "{name}: {message}");
        assert!(output.stdout.is_empty(), "{name}");
        assert_eq!(message.lines().count(), 1, "{name}: one line: {message}");
        assert!(message.starts_with("credbox: plugin "), "{name}: {message}");
        for part in expected {
            assert!(message.contains(part), "{name}: {part:?} not in {message}");
        }
        for secret in ["expired-plugin-secret", "expired-plugin-token"] {
            assert!(!message.contains(secret), "{name}: secret in {message}");
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{name} was not stopped in time"
        );
    }
}

#[test]
fn a_fifo_or_device_in_place_of_a_plugin_never_hangs_credbox() {
    let sandbox = Sandbox::new();
    let fifo = sandbox.path("plugin.wasm");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    for path in [fifo.as_path(), std::path::Path::new("/dev/zero")] {
        let mut child = sandbox
            .std_credbox()
            .args(["export", "--plugin"])
            .arg(path)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Opening a FIFO nobody writes blocks; reading /dev/zero never ends.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("credbox hung on {}", path.display());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(4), "{stderr}");
        assert!(stderr.contains("not a regular file"), "{stderr}");
    }
}

#[test]
fn the_allow_list_and_pins_apply_to_plugins() {
    let sandbox = Sandbox::new();
    let denied = sandbox
        .credbox()
        .args(["export", "--allow", "/bin/true", "--plugin"])
        .arg(example())
        .output()
        .unwrap();
    assert_eq!(denied.status.code(), Some(4));
    assert!(
        stderr_of(&denied).contains("is not on the allow-list"),
        "{}",
        stderr_of(&denied)
    );

    let wrong_pin = format!("{}={}", example().display(), "0".repeat(64));
    let pinned = sandbox
        .credbox()
        .args(["export", "--allow", &wrong_pin, "--plugin"])
        .arg(example())
        .output()
        .unwrap();
    assert_eq!(pinned.status.code(), Some(4));
    assert!(
        stderr_of(&pinned).contains("does not match its pinned SHA-256"),
        "{}",
        stderr_of(&pinned)
    );

    let allowed = sandbox
        .credbox()
        .args(["export", "--allow"])
        .arg(example())
        .arg("--plugin")
        .arg(example())
        .output()
        .unwrap();
    assert!(allowed.status.success(), "{}", stderr_of(&allowed));
}

#[test]
fn check_audits_credential_plugin() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    let writable = sandbox.path("shared/plugin.wasm");
    std::fs::create_dir_all(writable.parent().unwrap()).unwrap();
    std::fs::copy(example(), &writable).unwrap();
    std::fs::set_permissions(&writable, std::fs::Permissions::from_mode(0o666)).unwrap();
    sandbox.config(&format!(
        "[profile good]\ncredential_plugin = {}\n[profile missing]\ncredential_plugin = /nonexistent/p.wasm\n\
         [profile writable]\ncredential_plugin = {}\n[profile both]\ncredential_process = /bin/true\ncredential_plugin = {}\n\
         [profile keyed]\naws_access_key_id = AKIA1\naws_secret_access_key = S\ncredential_plugin = {}\n",
        example().display(),
        writable.display(),
        example().display(),
        example().display()
    ));
    let output = sandbox
        .credbox()
        .args(["check", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr_of(&output));
    let findings: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let about = |profile: &str| -> Vec<String> {
        findings
            .iter()
            .filter(|f| f["profile"] == profile)
            .map(|f| f["message"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(about("good").is_empty(), "{:?}", about("good"));
    assert!(
        about("missing").iter().any(|m| m.contains("does not exist")),
        "{:?}",
        about("missing")
    );
    assert!(
        about("writable")
            .iter()
            .any(|m| m.contains("writable by group or others")),
        "{:?}",
        about("writable")
    );
    assert!(
        about("both").iter().any(|m| m.contains("keep one")),
        "{:?}",
        about("both")
    );
    assert!(
        about("keyed")
            .iter()
            .any(|m| m.contains("static keys shadow credential_plugin")),
        "{:?}",
        about("keyed")
    );
}

#[test]
fn a_damaged_or_foreign_artifact_is_never_reused() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    let run = |plugin: &std::path::Path| {
        let output = sandbox
            .credbox()
            .args(["-v", "export", "--no-cache", "--plugin"])
            .arg(plugin)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr_of(&output));
        assert!(
            stdout_of(&output).contains("ASIAEXAMPLEPLUGIN0001") || plugin != example(),
            "the example plugin's own credentials"
        );
        stderr_of(&output).contains("compiled artifact reused")
    };
    let store = sandbox.path("cache/plugins");
    let artifacts = || -> Vec<std::path::PathBuf> {
        let mut found: Vec<_> = std::fs::read_dir(&store)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
            .collect();
        found.sort_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap());
        found
    };
    assert!(!run(&example()));
    let ours = artifacts()[0].clone();
    assert!(!run(&component("plugin_expires_early")));
    let theirs = artifacts().into_iter().find(|p| *p != ours).unwrap();
    let pristine = std::fs::read(&ours).unwrap();

    type Attack<'a> = (&'a str, Box<dyn Fn(&std::path::Path) + 'a>);
    let mut attacks: Vec<Attack> = vec![
        (
            "group-writable",
            Box::new(|p| std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o620)).unwrap()),
        ),
        (
            "truncated",
            Box::new(|p| {
                let bytes = std::fs::read(p).unwrap();
                std::fs::write(p, &bytes[..bytes.len() / 2]).unwrap();
            }),
        ),
        (
            "damaged",
            Box::new(|p| {
                let mut bytes = std::fs::read(p).unwrap();
                let middle = bytes.len() / 2;
                bytes[middle] ^= 0x55;
                std::fs::write(p, bytes).unwrap();
            }),
        ),
        (
            "another plugin's",
            Box::new(|p| {
                std::fs::copy(&theirs, p).unwrap();
            }),
        ),
        (
            "a symlink to another plugin's",
            Box::new(|p| {
                std::fs::remove_file(p).unwrap();
                std::os::unix::fs::symlink(&theirs, p).unwrap();
            }),
        ),
    ];
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        attacks.push((
            "another user's",
            Box::new(|p| std::os::unix::fs::chown(p, Some(65534), Some(65534)).unwrap()),
        ));
    } else {
        skip("the two-user case needs root to give the artifact to uid 65534");
    }
    for (attack, apply) in attacks {
        assert!(run(&example()), "{attack}: the intact artifact is reused");
        apply(&ours);
        assert!(!run(&example()), "{attack}: the artifact was reused");
        assert_eq!(
            std::fs::read(&ours).unwrap().len(),
            pristine.len(),
            "{attack}: recompiled and stored again"
        );
    }
}
