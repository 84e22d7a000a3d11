//! Test harness: a throw-away HOME with real profile files and real helper programs, and the real
//! `credbox` binary pointed at them.
#![allow(dead_code)]

pub mod http;
pub mod moto;
pub mod pty;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A recognisable secret and token: they must never appear where they do not belong.
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY";
pub const TOKEN: &str = "IQoJb3JpZ2luX2VjSESSIONTOKENSECRET";

pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("credbox-test").tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home/.aws")).unwrap();
        Sandbox { dir }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn home(&self) -> PathBuf {
        self.path("home")
    }

    pub fn config_path(&self) -> PathBuf {
        self.path("home/.aws/config")
    }

    pub fn credentials_path(&self) -> PathBuf {
        self.path("home/.aws/credentials")
    }

    pub fn config(&self, text: &str) -> &Self {
        std::fs::write(self.config_path(), text).unwrap();
        self
    }

    pub fn credentials(&self, text: &str) -> &Self {
        std::fs::write(self.credentials_path(), text).unwrap();
        self
    }

    /// An executable `/bin/sh` script at `relative` (directories created as needed).
    pub fn helper(&self, relative: &str, body: &str) -> PathBuf {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// A helper that prints `json` and exits 0.
    pub fn json_helper(&self, relative: &str, json: &str) -> PathBuf {
        self.helper(relative, &format!("cat <<'CREDBOX_EOF'\n{json}\nCREDBOX_EOF"))
    }

    /// A config file with one profile, `name` (`default` is `[default]`), whose
    /// `credential_process` runs `helper`.
    pub fn process_profile(&self, name: &str, helper: &Path) -> &Self {
        let section = if name == "default" {
            "[default]".to_string()
        } else {
            format!("[profile {name}]")
        };
        self.config(&format!("{section}\ncredential_process = {}\n", quoted(helper)))
    }

    /// A helper that appends a line to the sandbox's `runs` file each time it runs, takes `delay`
    /// seconds (a `sleep` argument) and prints `json`: [`Sandbox::runs`] counts its runs.
    pub fn counting_helper(&self, delay: &str, json: &str) -> PathBuf {
        let runs = self.path("runs");
        self.helper(
            "counting.sh",
            &format!(
                "echo run >> {}\nsleep {delay}\ncat <<'EOF'\n{json}\nEOF",
                runs.display()
            ),
        )
    }

    /// How many times a helper counting in the sandbox's `runs` file has run.
    pub fn runs(&self) -> usize {
        std::fs::read_to_string(self.path("runs")).map_or(0, |s| s.lines().count())
    }

    /// `credbox` with this sandbox's HOME and files, and no AWS or credbox variables inherited.
    pub fn credbox(&self) -> assert_cmd::Command {
        let mut command = assert_cmd::Command::from_std(self.std_credbox());
        command.timeout(std::time::Duration::from_secs(60));
        command
    }

    /// The same as a plain `std::process::Command`, for tests that spawn it themselves.
    /// `CREDBOX_TEST_BINARY` points the tests at another build (e.g. a release binary, for the
    /// load numbers).
    pub fn std_credbox(&self) -> std::process::Command {
        let mut command = std::process::Command::new(credbox_binary());
        for (name, _) in std::env::vars() {
            if name.starts_with("AWS_") || name.starts_with("CREDBOX_") {
                command.env_remove(name);
            }
        }
        command
            .env("HOME", self.home())
            .env("CREDBOX_CACHE_DIR", self.path("cache"))
            .current_dir(self.dir.path());
        // No controlling terminal, wherever the tests run: otherwise a helper's stderr (and any
        // prompt) would go to the developer's terminal instead of the pipe a test reads. (A
        // command made a process group leader keeps its session: setsid then fails, harmlessly.)
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                libc::setsid();
                Ok(())
            });
        }
        command
    }
}

/// The SHA-256 of the file at `path`, in hex: what `--allow PATH=SHA256` pins.
pub fn sha256_of(path: &Path) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(std::fs::read(path).unwrap());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The binary under test: `CREDBOX_TEST_BINARY` when set, else this build's.
pub fn credbox_binary() -> PathBuf {
    std::env::var_os("CREDBOX_TEST_BINARY")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_credbox")), PathBuf::from)
}

/// Wait (up to 3 s) until process `pid` is gone, or a zombie waiting for init to reap it;
/// panic if it outlives that.
pub fn assert_process_ends(pid: &str) {
    let pid = pid.trim();
    let gone = || match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit(')').next().unwrap().trim_start().starts_with('Z'),
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while !gone() {
        assert!(
            std::time::Instant::now() < deadline,
            "process {pid} outlived credbox"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The cache directory is private (0700), every file in it is 0600, and no temporary file from
/// an interrupted write is left behind.
pub fn assert_cache_is_private(cache: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |meta: std::fs::Metadata| meta.permissions().mode() & 0o777;
    assert_eq!(
        mode(std::fs::metadata(cache).unwrap()),
        0o700,
        "{}",
        cache.display()
    );
    for entry in std::fs::read_dir(cache).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with(".entry-"), "temporary file left: {name}");
        if entry.file_type().unwrap().is_dir() {
            // Compiled plugins live in a subdirectory, held to the same rules.
            assert_cache_is_private(&entry.path());
        } else {
            assert_eq!(mode(entry.metadata().unwrap()), 0o600, "{name}");
        }
    }
}

/// A test component built by `make plugins` (the example plugin, or one of tests/components).
pub fn component(name: &str) -> PathBuf {
    let release = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/components/wasm32-wasip2/release");
    let path = if name == "credbox_example_plugin" {
        // Where `make plugins` puts it for users.
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plugin/example-plugin.wasm")
    } else {
        release.join(format!("examples/{name}.wasm"))
    };
    assert!(
        path.exists(),
        "{} is missing: run `make plugins` (`make test` does) to build the test components",
        path.display()
    );
    path.canonicalize().unwrap()
}

/// A shell-quoted path for a config file value.
pub fn quoted(path: &Path) -> String {
    format!("\"{}\"", path.display())
}

/// Credentials JSON that expires `hours` from now.
pub fn session_json(hours: i64) -> String {
    let expiration = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(hours);
    format!(
        r#"{{"Version": 1, "AccessKeyId": "ASIATESTKEY00001", "SecretAccessKey": "{SECRET}", "SessionToken": "{TOKEN}", "Expiration": "{}"}}"#,
        expiration.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
}

pub fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `program` found on PATH, if it is installed.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

/// Credentials JSON that expires `hours` from now and names `account`.
pub fn session_json_for_account(hours: i64, account: &str) -> String {
    session_json(hours).replace(
        "\"Version\"",
        &format!("\"AccountId\": \"{account}\", \"Version\""),
    )
}

/// Skip the rest of a test that needs something this machine lacks. In CI (`CI` set) a missing
/// requirement is a failure, never a silent pass. Elsewhere a `SKIPPED:` line goes straight to
/// stderr (past libtest's capture), and `.ci/run` counts those lines as skipped, not passed.
pub fn skip(reason: &str) {
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("?").to_string();
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{test}: {reason}, and CI must run every test");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {reason}");
}

/// A clock the test moves: the real time at creation plus an offset.
pub struct MovableClock {
    start: Duration,
    offset: AtomicU64,
}

impl MovableClock {
    pub fn new() -> Arc<Self> {
        Arc::new(MovableClock {
            start: SystemTime::now().duration_since(UNIX_EPOCH).unwrap(),
            offset: AtomicU64::new(0),
        })
    }

    pub fn set_minutes(&self, minutes: u64) {
        self.offset.store(minutes * 60, Ordering::SeqCst);
    }
}

impl credbox::Clock for MovableClock {
    fn now(&self) -> Duration {
        self.start + Duration::from_secs(self.offset.load(Ordering::SeqCst))
    }
}
