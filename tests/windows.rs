//! The Windows suite (`make test-windows`, under wine here; as is on Windows): the cross-built
//! `credbox.exe` and library against real Windows helper processes and real files.
//!
//! The helpers are this test binary itself, started with `--helper WHAT` (a `.sh` script cannot
//! run as a Windows program, and a Windows program under wine cannot read a Linux program's
//! output). Each test sets up its own directory with a config file, a cache directory and a home.

#[cfg(windows)]
#[path = "cases/runner.rs"]
mod cases;
#[cfg(windows)]
mod expect;

#[cfg(windows)]
fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--helper") {
        return helper::run(&args[2..]);
    }
    let arguments = libtest_mimic::Arguments::from_args();
    libtest_mimic::run(&arguments, suite::tests()).exit_code()
}

/// Nothing to run elsewhere: the Linux suite is the rest of tests/.
#[cfg(not(windows))]
fn main() {}

/// What this binary does when a test starts it as a credential helper.
#[cfg(windows)]
mod helper {
    use std::io::Write;
    use std::process::ExitCode;
    use std::time::Duration;

    pub const KEY: &str = "AKIAWINDOWSHELPER";

    pub fn run(args: &[String]) -> ExitCode {
        let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
        match arg(0) {
            // Print credentials; with a path, count the run by appending a line to it.
            "print" => {
                if !arg(1).is_empty() {
                    let mut count = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(arg(1))
                        .unwrap();
                    writeln!(count, "run").unwrap();
                    // Long enough for a second credbox to queue on the cache lock.
                    std::thread::sleep(Duration::from_millis(500));
                }
                println!(
                    r#"{{"Version":1,"AccessKeyId":"{KEY}","SecretAccessKey":"windows-secret","SessionToken":"windows-token","Expiration":"2099-01-01T00:00:00Z"}}"#
                );
                ExitCode::SUCCESS
            }
            // Record the arguments after the file's name in it, then print credentials.
            "args" => {
                let rest: Vec<&String> = args.iter().skip(2).collect();
                std::fs::write(arg(1), serde_json::to_vec(&rest).unwrap()).unwrap();
                run(&["print".to_string()])
            }
            // Write a marker file (proof that this program ran), then print credentials.
            "mark" => {
                std::fs::write(arg(1), b"ran").unwrap();
                run(&["print".to_string()])
            }
            // Play back a case of tests/cases (cases/runner.rs says what DIR/NAME.* hold).
            "case" => {
                let file =
                    |extension: &str| std::path::Path::new(arg(1)).join(format!("{}.{extension}", arg(2)));
                let mut runs = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(file("runs"))
                    .unwrap();
                writeln!(runs, "run").unwrap();
                std::io::stdout()
                    .write_all(&std::fs::read(file("stdout")).unwrap())
                    .unwrap();
                std::io::stderr()
                    .write_all(&std::fs::read(file("stderr")).unwrap())
                    .unwrap();
                let code = std::fs::read_to_string(file("exit")).unwrap();
                ExitCode::from(code.trim().parse::<u8>().unwrap())
            }
            // Print a file as it is (an SDK fixture as a helper's stdout).
            "cat" => {
                std::io::stdout()
                    .write_all(&std::fs::read(arg(1)).unwrap())
                    .unwrap();
                ExitCode::SUCCESS
            }
            // Print the credentials `exec` gave, then exit with the code asked for.
            "env" => {
                println!("{}", std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_default());
                ExitCode::from(arg(1).parse::<u8>().unwrap_or(0))
            }
            // Start a grandchild that writes a file if it is still alive after two seconds,
            // then hang: the timeout must end both.
            "tree" => {
                // Never waited for: the point is that it outlives its parent, unless the job ends it.
                #[allow(clippy::zombie_processes)]
                let _grandchild = std::process::Command::new(std::env::current_exe().unwrap())
                    .args(["--helper", "survive", arg(1)])
                    .spawn()
                    .unwrap();
                std::thread::sleep(Duration::from_secs(60));
                ExitCode::SUCCESS
            }
            "survive" => {
                // Proof that it ran at all: the tests check for this before the marker.
                std::fs::write(format!("{}.started", arg(1)), b"").unwrap();
                std::thread::sleep(Duration::from_secs(2));
                std::fs::write(arg(1), b"the grandchild outlived the timeout").unwrap();
                ExitCode::SUCCESS
            }
            other => {
                eprintln!("unknown helper mode {other}");
                ExitCode::from(2)
            }
        }
    }
}

#[cfg(windows)]
mod suite {
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output};
    use std::time::{Duration, Instant};

    use libtest_mimic::{Failed, Trial};

    use super::helper::KEY;

    type Test = fn() -> Result<(), Failed>;

    pub fn tests() -> Vec<Trial> {
        let tests: [(&str, Test); 18] = [
            ("the_embedded_guest_is_precompiled_for_windows", precompiled),
            ("a_bare_program_name_is_found_through_pathext", pathext),
            ("shell_mode_runs_cmd", shell_mode),
            ("exec_passes_the_credentials_and_the_exit_code", exec),
            (
                "the_cache_is_shared_by_two_processes_under_its_lock",
                cache_and_lock,
            ),
            ("the_timeout_ends_the_whole_process_tree", timeout_tree),
            ("the_default_config_is_under_userprofile", userprofile),
            ("the_default_cache_is_under_localappdata", localappdata),
            ("a_profile_resolves_through_the_library", library),
            ("a_cache_entry_others_can_read_is_never_served", shared_entry),
            ("a_cache_directory_others_can_use_is_refused", shared_directory),
            ("a_token_file_others_can_read_is_refused", shared_token),
            ("the_allow_list_and_pins_hold_for_windows_paths", pins),
            (
                "a_planted_name_exe_beside_an_allowed_program_never_runs",
                planted_exe,
            ),
            ("a_helper_does_not_outlive_a_killed_credbox", killed_credbox),
            ("run_caches_a_windows_helper", run),
            ("the_cache_s_acls_read_back_as_written", cache_acls),
            ("configure_set_of_a_secret_writes_a_private_acl", configure_acl),
        ];
        let mut trials: Vec<Trial> = tests
            .into_iter()
            .map(|(name, test)| Trial::test(name, test))
            .collect();
        trials.extend(super::cases::trials(std::sync::Arc::new(Windows)));
        trials.extend(file_location_trials());
        trials.extend(go_output_trials());
        trials
    }

    /// The behaviour cases of tests/cases, with this binary as their helper.
    struct Windows;

    impl super::cases::System for Windows {
        fn name(&self) -> &'static str {
            "windows"
        }

        fn helper(&self, dir: &Path, name: &str) -> String {
            format!("{} \"{}\" {name}", helper_command("case"), dir.display())
        }

        fn credbox(&self) -> Command {
            let mut command = Command::new(env!("CARGO_BIN_EXE_credbox"));
            for (name, _) in std::env::vars() {
                if name.starts_with("AWS_") || name.starts_with("CREDBOX_") {
                    command.env_remove(name);
                }
            }
            command
        }
    }

    fn read_json(path: &Path) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    /// smithy-rs's file-location cases for Windows, through the real binary: with each case's
    /// environment, the missing profile's error names the two files credbox looked in.
    fn file_location_trials() -> Vec<Trial> {
        let suite = read_json(
            &super::expect::conformance().join("smithy-rs/aws-runtime/test-data/file-location-tests.json"),
        );
        let cases: Vec<serde_json::Value> = suite["tests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|case| case["platform"] == "windows")
            .cloned()
            .collect();
        cases
            .into_iter()
            .enumerate()
            .map(|(i, case)| {
                let name = format!("conformance: file-location (windows) #{}", i + 1);
                Trial::test(name, move || {
                    let mut command = Command::new(env!("CARGO_BIN_EXE_credbox"));
                    for var in [
                        "HOME",
                        "USERPROFILE",
                        "HOMEDRIVE",
                        "HOMEPATH",
                        "AWS_CONFIG_FILE",
                        "AWS_SHARED_CREDENTIALS_FILE",
                        "AWS_PROFILE",
                    ] {
                        command.env_remove(var);
                    }
                    for (var, value) in case["environment"].as_object().unwrap() {
                        command.env(var, value.as_str().unwrap());
                    }
                    let output = command
                        .args(["export", "--no-cache", "--profile", "no-such-profile"])
                        .output()?;
                    let expected = format!(
                        "profile not found in {} or {}",
                        case["configLocation"].as_str().unwrap(),
                        case["credentialsLocation"].as_str().unwrap()
                    );
                    check(
                        String::from_utf8_lossy(&output.stderr).contains(&expected),
                        format!("{}\nexpected: {expected}\n{}", case["name"], text(&output)),
                    )
                })
            })
            .collect()
    }

    /// aws-sdk-go's processcreds fixtures as a Windows helper's stdout, held to what the Linux
    /// suite holds them to (tests/expect).
    fn go_output_trials() -> Vec<Trial> {
        let testdata = super::expect::conformance().join("aws-sdk-go/aws/credentials/processcreds/testdata");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&testdata)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|path| {
                let file = path.file_name().unwrap().to_string_lossy().into_owned();
                Trial::test(format!("conformance: aws-sdk-go output {file}"), move || {
                    let world = World::new(&format!(
                        "[profile p]\ncredential_process = {} \"{}\"\n",
                        helper_command("cat"),
                        path.display()
                    ));
                    let output = world
                        .credbox(&["export", "--profile", "p", "--no-cache", "--format", "process"])
                        .output()?;
                    match super::expect::go_output(&file) {
                        Ok(key) => {
                            check(output.status.success(), text(&output))?;
                            let printed: serde_json::Value = serde_json::from_slice(&output.stdout)?;
                            check(printed["AccessKeyId"] == key, text(&output))
                        }
                        Err((code, fragment)) => {
                            check(output.status.code() == Some(code), text(&output))?;
                            says(&output, fragment)
                        }
                    }
                })
            })
            .collect()
    }

    /// One test's world: a temporary directory with a config file, a cache, a home.
    struct World {
        dir: tempfile::TempDir,
    }

    impl World {
        fn new(config: &str) -> World {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("config"), config).unwrap();
            World { dir }
        }

        /// A world whose profile `p` runs the helper in `mode` with the path of `file` in it (which
        /// the helper writes), and that path.
        fn with_helper_writing(mode: &str, file: &str) -> (World, PathBuf) {
            let world = World::new("");
            let path = world.path(file);
            let config = format!(
                "[profile p]\ncredential_process = {} \"{}\"\n",
                helper_command(mode),
                path.display()
            );
            std::fs::write(world.path("config"), config).unwrap();
            (world, path)
        }

        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }

        /// `credbox.exe ARGS`, with this world's files and nothing of the user's.
        fn credbox(&self, args: &[&str]) -> Command {
            let mut command = Command::new(env!("CARGO_BIN_EXE_credbox"));
            command
                .args(args)
                .env("AWS_CONFIG_FILE", self.path("config"))
                .env("AWS_SHARED_CREDENTIALS_FILE", self.path("no-credentials"))
                .env("CREDBOX_CACHE_DIR", self.path("cache"))
                .env_remove("AWS_PROFILE")
                .env_remove("CREDBOX_CHAIN");
            command
        }
    }

    /// This binary's path, quoted for `credential_process` as Windows users write it (double
    /// quotes; backslashes as they are).
    fn helper_command(mode: &str) -> String {
        format!("\"{}\" --helper {mode}", helper_exe().display())
    }

    fn helper_exe() -> PathBuf {
        std::env::current_exe().unwrap()
    }

    fn check(condition: bool, what: impl std::fmt::Display) -> Result<(), Failed> {
        if condition {
            Ok(())
        } else {
            Err(what.to_string().into())
        }
    }

    /// `output`'s stderr holds `fragment` (else the failure shows everything).
    fn says(output: &Output, fragment: &str) -> Result<(), Failed> {
        check(
            String::from_utf8_lossy(&output.stderr).contains(fragment),
            text(output),
        )
    }

    fn text(output: &Output) -> String {
        format!(
            "status {:?}\nstdout: {}\nstderr: {}",
            output.status.code(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }

    fn precompiled() -> Result<(), Failed> {
        let runtime = credbox::Runtime::new()?;
        check(
            !runtime.guest_compiled_at_start()?,
            "the embedded guest was compiled at start-up: host/build.rs precompiled it for another target",
        )?;
        // The binary too: with --verbose it says when it has to compile the guest.
        let world = World::new(&format!(
            "[profile p]\ncredential_process = {}\n",
            helper_command("print")
        ));
        let output = world
            .credbox(&["--verbose", "export", "--profile", "p", "--no-cache"])
            .output()?;
        check(output.status.success(), text(&output))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        check(!stderr.contains("compiling it"), text(&output))
    }

    fn pathext() -> Result<(), Failed> {
        let world = World::new("[profile p]\ncredential_process = credhelper --helper print\n");
        let bin = world.path("bin");
        std::fs::create_dir(&bin)?;
        std::fs::copy(helper_exe(), bin.join("credhelper.exe"))?;
        let output = world
            .credbox(&["export", "--profile", "p", "--no-cache", "--format", "process"])
            .env("PATH", &bin)
            .env("PATHEXT", ".COM;.EXE;.BAT;.CMD")
            .output()?;
        check(output.status.success(), text(&output))?;
        // Not found without PATHEXT's .EXE: the lookup is what found it.
        let output = world
            .credbox(&["export", "--profile", "p", "--no-cache"])
            .env("PATH", &bin)
            .env("PATHEXT", ".BAT")
            .output()?;
        check(output.status.code() != Some(0), text(&output))?;
        says(&output, "was not found on PATH")
    }

    fn shell_mode() -> Result<(), Failed> {
        // `&` makes it a shell command: refused by default, run by cmd.exe with --allow-shell,
        // which runs the second command too.
        let world = World::new("");
        let marker = world.path("cmd-ran.txt");
        std::fs::write(
            world.path("config"),
            format!(
                "[profile p]\ncredential_process = \"{}\" --helper print & echo ran> \"{}\"\n",
                helper_exe().display(),
                marker.display()
            ),
        )?;
        let refused = world
            .credbox(&["export", "--profile", "p", "--no-cache"])
            .output()?;
        check(refused.status.code() != Some(0), text(&refused))?;
        says(&refused, "--allow-shell")?;
        let output = world
            .credbox(&[
                "export",
                "--profile",
                "p",
                "--no-cache",
                "--allow-shell",
                "--format",
                "process",
            ])
            .output()?;
        check(output.status.success(), text(&output))?;
        let json: serde_json::Value = serde_json::from_slice(&output.stdout)?;
        check(json["AccessKeyId"] == KEY, text(&output))?;
        check(marker.exists(), "cmd.exe did not run the second command")
    }

    fn exec() -> Result<(), Failed> {
        let world = World::new(&format!(
            "[profile p]\ncredential_process = {}\n",
            helper_command("print")
        ));
        let exe = helper_exe();
        let output = world
            .credbox(&["exec", "--profile", "p", "--no-cache", "--"])
            .arg(&exe)
            .args(["--helper", "env", "7"])
            .output()?;
        check(output.status.code() == Some(7), text(&output))?;
        check(
            String::from_utf8_lossy(&output.stdout).trim() == KEY,
            text(&output),
        )
    }

    /// `credbox run -- HELPER ARGS`, the caching wrapper: the helper gets its arguments exactly
    /// (spaces, quotes, backslashes), and the second call is served from the cache.
    fn run() -> Result<(), Failed> {
        let world = World::new("");
        let seen = world.path("args.json");
        let exe = helper_exe();
        let tricky = ["a b", r#"say "hi""#, r"C:\dir\", r#"\"x"#, "", "x|y&z"];
        let run = || {
            world
                .credbox(&["run", "--"])
                .arg(&exe)
                .args(["--helper", "args"])
                .arg(&seen)
                .args(tricky)
                .output()
        };
        let first = run()?;
        check(first.status.success(), text(&first))?;
        let json: serde_json::Value = serde_json::from_slice(&first.stdout)?;
        check(json["AccessKeyId"] == KEY, text(&first))?;
        let got: Vec<String> = serde_json::from_slice(&std::fs::read(&seen)?)?;
        check(got == tricky, format!("the helper got {got:?}"))?;
        std::fs::remove_file(&seen)?;
        let again = run()?;
        check(again.status.success(), text(&again))?;
        check(
            !seen.exists(),
            "the helper ran again: the second call was not served from the cache",
        )
    }

    fn cache_and_lock() -> Result<(), Failed> {
        let (world, count) = World::with_helper_writing("print", "runs.txt");
        // Two processes at once: one runs the helper, the other waits on the lock and reads
        // what the first stored.
        let first = world
            .credbox(&["export", "--profile", "p"])
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        std::thread::sleep(Duration::from_millis(100));
        let second = world.credbox(&["export", "--profile", "p"]).output()?;
        let first = first.wait_with_output()?;
        check(first.status.success() && second.status.success(), text(&second))?;
        let third = world.credbox(&["export", "--profile", "p"]).output()?;
        check(third.status.success(), text(&third))?;
        let runs = std::fs::read_to_string(&count)?.lines().count();
        check(
            runs == 1,
            format!("the helper ran {runs} times for three exports"),
        )?;
        let entries = std::fs::read_dir(world.path("cache"))?
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.ends_with(".json") && !name.contains("-served-")
            })
            .count();
        check(entries == 1, format!("{entries} cache entries"))
    }

    fn timeout_tree() -> Result<(), Failed> {
        let (world, marker) = World::with_helper_writing("tree", "survived.txt");
        let started = Instant::now();
        let output = world
            .credbox(&["export", "--profile", "p", "--no-cache", "--timeout", "1"])
            .output()?;
        let took = started.elapsed();
        check(output.status.code() != Some(0), text(&output))?;
        says(&output, "did not finish within 1.0 s")?;
        check(took < Duration::from_secs(20), format!("took {took:?}"))?;
        // The grandchild would write its file two seconds after it started.
        std::thread::sleep(Duration::from_secs(4));
        check(
            marker.with_extension("txt.started").exists(),
            "the grandchild never started: nothing was tested",
        )?;
        check(
            !marker.exists(),
            "a grandchild of the helper outlived the timeout (it is not in the job)",
        )
    }

    /// Without AWS_CONFIG_FILE, the config is `%USERPROFILE%\.aws\config`.
    fn userprofile() -> Result<(), Failed> {
        let world = World::new("");
        let home = world.path("home");
        std::fs::create_dir_all(home.join(".aws"))?;
        std::fs::write(
            home.join(".aws").join("config"),
            format!("[profile p]\ncredential_process = {}\n", helper_command("print")),
        )?;
        let output = world
            .credbox(&["export", "--profile", "p", "--no-cache", "--format", "process"])
            .env_remove("AWS_CONFIG_FILE")
            .env_remove("HOME")
            .env("USERPROFILE", &home)
            .output()?;
        check(output.status.success(), text(&output))
    }

    /// Without CREDBOX_CACHE_DIR, entries go to `%LOCALAPPDATA%\credbox`.
    fn localappdata() -> Result<(), Failed> {
        let world = World::new(&format!(
            "[profile p]\ncredential_process = {}\n",
            helper_command("print")
        ));
        let local = world.path("local");
        std::fs::create_dir(&local)?;
        let output = world
            .credbox(&["export", "--profile", "p"])
            .env_remove("CREDBOX_CACHE_DIR")
            .env("LOCALAPPDATA", &local)
            .output()?;
        check(output.status.success(), text(&output))?;
        check(
            has_entry(&local.join("credbox")),
            format!("no cache entry in {}", local.join("credbox").display()),
        )
    }

    /// Give Everyone full control of `path`, as a careless `icacls` or a share would.
    /// The DACL of `path` as SDDL, read back from the system (not through credbox's own checker).
    fn dacl_sddl(path: &Path) -> Result<String, Failed> {
        use std::os::windows::ffi::OsStrExt;
        use windows_sys::Win32::Foundation::LocalFree;
        use windows_sys::Win32::Security::Authorization::{
            ConvertSecurityDescriptorToStringSecurityDescriptorW, GetNamedSecurityInfoW, SE_FILE_OBJECT,
        };
        use windows_sys::Win32::Security::DACL_SECURITY_INFORMATION;
        let name: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
        // SAFETY: a NUL-terminated name; the system allocates the descriptor and the string, both
        // freed here.
        unsafe {
            let mut sd = std::ptr::null_mut();
            let status = GetNamedSecurityInfoW(
                name.as_ptr(),
                SE_FILE_OBJECT,
                DACL_SECURITY_INFORMATION,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &mut sd,
            );
            if status != 0 {
                return Err(format!("reading the ACL of {}: error {status}", path.display()).into());
            }
            let mut text: *mut u16 = std::ptr::null_mut();
            let converted = ConvertSecurityDescriptorToStringSecurityDescriptorW(
                sd,
                1,
                DACL_SECURITY_INFORMATION,
                &mut text,
                std::ptr::null_mut(),
            );
            LocalFree(sd as _);
            if converted == 0 {
                return Err("converting the ACL to SDDL".into());
            }
            let len = (0..).take_while(|&i| *text.add(i) != 0).count();
            let sddl = String::from_utf16_lossy(std::slice::from_raw_parts(text, len));
            LocalFree(text as _);
            Ok(sddl)
        }
    }

    /// This process's user's SID, from its token.
    fn my_sid() -> Result<String, Failed> {
        use windows_sys::Win32::Foundation::{CloseHandle, LocalFree};
        use windows_sys::Win32::Security::Authorization::ConvertSidToStringSidW;
        use windows_sys::Win32::Security::{GetTokenInformation, TOKEN_QUERY, TOKEN_USER, TokenUser};
        use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};
        // SAFETY: our own process's token, a buffer large enough for TOKEN_USER and its SID, and
        // a string the system allocates and this frees.
        unsafe {
            let mut token = std::ptr::null_mut();
            if OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) == 0 {
                return Err("OpenProcessToken".into());
            }
            let mut buffer = vec![0u64; 64];
            let mut needed = 0;
            let ok = GetTokenInformation(
                token,
                TokenUser,
                buffer.as_mut_ptr().cast(),
                (buffer.len() * 8) as u32,
                &mut needed,
            );
            CloseHandle(token);
            if ok == 0 {
                return Err("GetTokenInformation".into());
            }
            let user = &*(buffer.as_ptr() as *const TOKEN_USER);
            let mut text: *mut u16 = std::ptr::null_mut();
            if ConvertSidToStringSidW(user.User.Sid, &mut text) == 0 {
                return Err("ConvertSidToStringSidW".into());
            }
            let len = (0..).take_while(|&i| *text.add(i) != 0).count();
            let sid = String::from_utf16_lossy(std::slice::from_raw_parts(text, len));
            LocalFree(text as _);
            Ok(sid)
        }
    }

    /// Whether this suite runs under wine (the test script sets WINEPREFIX, which wine passes on).
    fn under_wine() -> bool {
        std::env::var_os("WINEPREFIX").is_some()
    }

    /// `sddl` is the private ACL: on Windows exactly what credbox writes, protected (nothing
    /// inherited from the folder above) with full control for this user, SYSTEM and the
    /// Administrators and nobody else. Wine keeps no ACL of its own: it renders one from the
    /// file's Unix mode (no protection flag, no Administrators), so there the check is that
    /// nobody but this user and SYSTEM is let in, and this user is.
    fn is_private(sddl: &str, me: &str) -> bool {
        let protected = sddl.starts_with("D:P");
        let Some(aces) = sddl.strip_prefix("D:P").or_else(|| sddl.strip_prefix("D:")) else {
            return false;
        };
        let mut found: Vec<&str> = aces
            .trim_start_matches('(')
            .trim_end_matches(')')
            .split(")(")
            .collect();
        found.sort_unstable();
        if under_wine() {
            let ours = |ace: &&str| {
                ace.starts_with("A;")
                    && ace.contains(";FA;;;")
                    && [me, "SY", "BA"]
                        .iter()
                        .any(|who| ace.ends_with(&format!(";;;{who}")))
            };
            return found.iter().all(ours) && found.iter().any(|ace| ace.ends_with(&format!(";;;{me}")));
        }
        let mut expected = vec![
            format!("A;OICI;FA;;;{me}"),
            "A;OICI;FA;;;SY".to_string(),
            "A;OICI;FA;;;BA".to_string(),
        ];
        expected.sort_unstable();
        protected && found == expected
    }

    /// What credbox writes in its cache (the directory, an entry, the served record, the lock)
    /// carries exactly the private ACL, as the system reads it back.
    fn cache_acls() -> Result<(), Failed> {
        let (world, _) = World::with_helper_writing("print", "runs.txt");
        let output = world.credbox(&["export", "--profile", "p"]).output()?;
        check(output.status.success(), text(&output))?;
        let me = my_sid()?;
        let cache = world.path("cache");
        let mut paths = vec![cache.clone()];
        paths.extend(
            std::fs::read_dir(&cache)?
                .filter_map(Result::ok)
                .map(|e| e.path()),
        );
        check(paths.len() >= 4, format!("{paths:?}"))?;
        for path in paths {
            let sddl = dacl_sddl(&path)?;
            check(is_private(&sddl, &me), format!("{}: {sddl}", path.display()))?;
        }
        Ok(())
    }

    /// `configure set` of a secret into a file Everyone may read leaves it with the private ACL.
    fn configure_acl() -> Result<(), Failed> {
        let world = World::new("");
        let credentials = world.path("no-credentials");
        std::fs::write(&credentials, "[default]\nregion = eu-west-1\n")?;
        open_to_everyone(&credentials)?;
        let output = world
            .credbox(&["configure", "set", "aws_secret_access_key", "a-secret-key-value"])
            .output()?;
        check(output.status.success(), text(&output))?;
        let sddl = dacl_sddl(&credentials)?;
        check(is_private(&sddl, &my_sid()?), sddl)
    }

    fn open_to_everyone(path: &Path) -> Result<(), Failed> {
        set_acl(path, "D:(A;OICI;FA;;;WD)")
    }

    /// Replace the ACL of `path` with the one `sddl` describes.
    fn set_acl(path: &Path, sddl: &str) -> Result<(), Failed> {
        use std::os::windows::ffi::OsStrExt;
        use windows_sys::Win32::Foundation::LocalFree;
        use windows_sys::Win32::Security::Authorization::{
            ConvertStringSecurityDescriptorToSecurityDescriptorW, SE_FILE_OBJECT, SetNamedSecurityInfoW,
        };
        use windows_sys::Win32::Security::{DACL_SECURITY_INFORMATION, GetSecurityDescriptorDacl};
        let sddl: Vec<u16> = sddl.encode_utf16().chain(Some(0)).collect();
        let name: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
        // SAFETY: NUL-terminated strings; the descriptor is freed after the call that uses it.
        unsafe {
            let mut sd = std::ptr::null_mut();
            if ConvertStringSecurityDescriptorToSecurityDescriptorW(
                sddl.as_ptr(),
                1,
                &mut sd,
                std::ptr::null_mut(),
            ) == 0
            {
                return Err("SDDL".into());
            }
            let (mut present, mut defaulted, mut dacl) = (0, 0, std::ptr::null_mut());
            GetSecurityDescriptorDacl(sd, &mut present, &mut dacl, &mut defaulted);
            let status = SetNamedSecurityInfoW(
                name.as_ptr(),
                SE_FILE_OBJECT,
                DACL_SECURITY_INFORMATION,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                dacl,
                std::ptr::null(),
            );
            LocalFree(sd as _);
            check(status == 0, format!("SetNamedSecurityInfoW: {status}"))
        }
    }

    fn entries(dir: &Path) -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| {
                        let name = p.file_name().unwrap().to_string_lossy().into_owned();
                        name.ends_with(".json") && !name.contains("-served-")
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn shared_entry() -> Result<(), Failed> {
        let (world, count) = World::with_helper_writing("print", "runs.txt");
        let first = world.credbox(&["export", "--profile", "p"]).output()?;
        check(first.status.success(), text(&first))?;
        // The entry, and the record of what was served from it (which a warm export reads).
        let stored: Vec<PathBuf> = std::fs::read_dir(world.path("cache"))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        check(stored.len() == 2, format!("{stored:?}"))?;
        for file in &stored {
            open_to_everyone(file)?;
        }
        let second = world.credbox(&["export", "--profile", "p"]).output()?;
        check(second.status.success(), text(&second))?;
        let runs = std::fs::read_to_string(&count)?.lines().count();
        check(
            runs == 2,
            format!("an entry Everyone may read was served (the helper ran {runs} time)"),
        )
    }

    fn shared_directory() -> Result<(), Failed> {
        let world = World::new(&format!(
            "[profile p]\ncredential_process = {}\n",
            helper_command("print")
        ));
        let shared = world.path("shared");
        std::fs::create_dir(&shared)?;
        open_to_everyone(&shared)?;
        let output = world
            .credbox(&["export", "--profile", "p"])
            .env("CREDBOX_CACHE_DIR", &shared)
            .output()?;
        check(output.status.success(), text(&output))?;
        says(&output, "can be read or written by other users")?;
        check(
            entries(&shared).is_empty(),
            "an entry was written to a shared directory",
        )
    }

    fn shared_token() -> Result<(), Failed> {
        let world = World::new(&format!(
            "[profile p]\ncredential_process = {}\n",
            helper_command("print")
        ));
        let token = world.path("token");
        std::fs::write(&token, "a-token-of-at-least-some-length\n")?;
        open_to_everyone(&token)?;
        // Bounded: a serve that accepted the file would run until killed.
        let mut serve = world
            .credbox(&["serve", "--profile", "p", "--token-file"])
            .arg(&token)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while serve.try_wait()?.is_none() {
            if Instant::now() > deadline {
                serve.kill()?;
                let _ = serve.wait();
                return Err("serve started with a token file everyone can read".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let output = serve.wait_with_output()?;
        check(output.status.code() == Some(2), text(&output))?;
        says(&output, "other users can read it")
    }

    fn pins() -> Result<(), Failed> {
        use sha2::Digest;
        let world = World::new(&format!(
            "[profile p]\ncredential_process = {}\n",
            helper_command("print")
        ));
        let exe = helper_exe();
        let digest: String = sha2::Sha256::digest(std::fs::read(&exe)?)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let export = |allow: String| {
            world
                .credbox(&["export", "--profile", "p", "--no-cache", "--allow", &allow])
                .output()
        };
        let pinned = export(format!("{}={digest}", exe.display()))?;
        check(pinned.status.success(), text(&pinned))?;
        let wrong = export(format!("{}={}", exe.display(), "0".repeat(64)))?;
        check(wrong.status.code() == Some(4), text(&wrong))?;
        says(&wrong, "does not match its pinned SHA-256")?;
        let elsewhere = export(r"C:\windows\system32\cmd.exe".into())?;
        check(elsewhere.status.code() == Some(4), text(&elsewhere))?;
        says(&elsewhere, "is not on the allow-list")?;
        // A pinned copy that others may change is refused, whatever its hash.
        let shared = world.path("shared-bin");
        std::fs::create_dir(&shared)?;
        let copy = shared.join("helper.exe");
        std::fs::copy(&exe, &copy)?;
        set_acl(&copy, "D:(A;;FA;;;WD)")?;
        std::fs::write(
            world.path("config"),
            format!(
                "[profile p]\ncredential_process = \"{}\" --helper print\n",
                copy.display()
            ),
        )?;
        let exposed = export(format!("{}={digest}", copy.display()))?;
        check(exposed.status.code() == Some(4), text(&exposed))?;
        says(&exposed, "can be changed by other users")
    }

    /// std's Windows lookup runs `NAME.exe` before `NAME`: one planted beside an allowed
    /// `helper.cmd` must not run in its place.
    fn planted_exe() -> Result<(), Failed> {
        let world = World::new("");
        // What the planted program would write if it ever ran (the honest script ignores it).
        let marker = world.path("planted-ran.txt");
        let bin = world.path("bin");
        std::fs::create_dir(&bin)?;
        let script = bin.join("helper.cmd");
        std::fs::write(
            &script,
            "@echo {\"Version\":1,\"AccessKeyId\":\"AKIAFROMTHESCRIPT\",\"SecretAccessKey\":\"s\"}\r\n",
        )?;
        std::fs::write(
            world.path("config"),
            format!(
                "[profile p]\ncredential_process = \"{}\" --helper mark \"{}\"\n",
                script.display(),
                marker.display()
            ),
        )?;
        let allow = script.display().to_string();
        let export = || {
            world
                .credbox(&[
                    "export",
                    "--profile",
                    "p",
                    "--no-cache",
                    "--format",
                    "process",
                    "--allow",
                    &allow,
                ])
                .output()
        };
        let honest = export()?;
        check(honest.status.success(), text(&honest))?;
        check(
            String::from_utf8_lossy(&honest.stdout).contains("AKIAFROMTHESCRIPT"),
            text(&honest),
        )?;
        std::fs::copy(helper_exe(), bin.join("helper.cmd.exe"))?;
        let planted = export()?;
        check(planted.status.code() == Some(4), text(&planted))?;
        check(
            !String::from_utf8_lossy(&planted.stdout).contains(KEY),
            text(&planted),
        )?;
        says(&planted, "instead")?;
        check(!marker.exists(), "the planted program ran")
    }

    /// credbox killed while its helper runs: the job ends with it, grandchild included.
    fn killed_credbox() -> Result<(), Failed> {
        let (world, marker) = World::with_helper_writing("tree", "survived.txt");
        let mut credbox = world
            .credbox(&["export", "--profile", "p", "--no-cache"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        std::thread::sleep(Duration::from_millis(1000));
        credbox.kill()?;
        credbox.wait()?;
        // The grandchild would write its file two seconds after it started.
        std::thread::sleep(Duration::from_secs(4));
        check(
            marker.with_extension("txt.started").exists(),
            "the grandchild never started: nothing was tested",
        )?;
        check(
            !marker.exists(),
            "the helper's grandchild outlived credbox (the job does not end with it)",
        )
    }

    fn has_entry(dir: &Path) -> bool {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().ends_with(".json"))
        })
    }

    fn library() -> Result<(), Failed> {
        let world = World::new(&format!(
            "[profile p]\ncredential_process = {}\n",
            helper_command("print")
        ));
        let locations = credbox::files::Locations {
            config: world.path("config").display().to_string(),
            credentials: world.path("no-credentials").display().to_string(),
            profile: "p".into(),
        };
        let runtime = credbox::Runtime::new()?;
        let options = credbox::FetchOptions::default();
        let (credentials, _) = credbox::credentials_for_profile(&runtime, &locations, "p", &options)?;
        check(credentials.access_key_id == KEY, "the library's credentials")
    }
}
