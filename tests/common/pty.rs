//! Pseudo-terminals: credbox (or a shell running it) at a terminal that the test types into and
//! reads from, as a person would.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// A pseudo-terminal pair: the controller side, and the path of the terminal side.
pub fn open_pty() -> (std::fs::File, PathBuf) {
    unsafe {
        let controller = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(controller >= 0);
        assert_eq!(libc::grantpt(controller), 0);
        assert_eq!(libc::unlockpt(controller), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(controller, name.as_mut_ptr(), name.len()), 0);
        let path = std::ffi::CStr::from_ptr(name.as_ptr())
            .to_string_lossy()
            .into_owned();
        (
            std::fs::File::from(OwnedFd::from_raw_fd(controller)),
            PathBuf::from(path),
        )
    }
}

/// Run `command` in a new session whose controlling terminal is `terminal` (or none), with its
/// stdin, stdout and stderr captured, as an SDK runs a credential_process.
pub fn spawn_in_session(mut command: Command, terminal: Option<&Path>) -> (Child, Option<std::fs::File>) {
    let terminal = terminal.map(|path| {
        std::fs::File::options()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(path)
            .unwrap()
    });
    let fd = terminal.as_ref().map(|t| t.as_raw_fd());
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    unsafe {
        command.pre_exec(move || {
            // The sandbox's command already starts a new session (then this one fails, harmlessly).
            libc::setsid();
            if let Some(fd) = fd
                && libc::ioctl(fd, libc::TIOCSCTTY, 0) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // The caller keeps the terminal side open: with no side open, the controller reads nothing.
    (command.spawn().unwrap(), terminal)
}

/// What a terminal's controller side shows, read on a thread as it comes.
pub struct Screen {
    pub shown: String,
    more: Receiver<String>,
}

impl Screen {
    /// Read what `controller` shows from now on.
    pub fn watch(controller: &std::fs::File) -> Screen {
        let mut reader = controller.try_clone().unwrap();
        let (sender, more) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 1024];
            while let Ok(n) = reader.read(&mut buffer) {
                let chunk = String::from_utf8_lossy(&buffer[..n]).into_owned();
                if n == 0 || sender.send(chunk).is_err() {
                    break;
                }
            }
        });
        Screen {
            shown: String::new(),
            more,
        }
    }

    /// Wait until the terminal has shown `text` (panicking after `within`).
    pub fn wait_for(&mut self, text: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.shown.contains(text) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.more.recv_timeout(left) {
                Ok(chunk) => self.shown.push_str(&chunk),
                Err(_) => panic!("the terminal never showed {text:?}; it showed {:?}", self.shown),
            }
        }
    }

    /// Wait until the terminal shows `text` once more than it has so far (a shell's next prompt).
    pub fn wait_for_another(&mut self, text: &str, within: Duration) {
        let seen = self.shown.matches(text).count();
        let deadline = Instant::now() + within;
        while self.shown.matches(text).count() <= seen {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.more.recv_timeout(left) {
                Ok(chunk) => self.shown.push_str(&chunk),
                Err(_) => panic!(
                    "the terminal never showed another {text:?}; it showed {:?}",
                    self.shown
                ),
            }
        }
    }

    /// Take in whatever arrives for `quiet` after the last chunk.
    pub fn settle(&mut self, quiet: Duration) {
        while let Ok(chunk) = self.more.recv_timeout(quiet) {
            self.shown.push_str(&chunk);
        }
    }
}

/// Run `command` in a new session whose controlling terminal is `terminal`, with the terminal as
/// its stdin, stdout and stderr: as a login shell runs at a terminal.
pub fn spawn_on_terminal(mut command: Command, terminal: &Path) -> Child {
    let open = || {
        std::fs::File::options()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(terminal)
            .unwrap()
    };
    let stdin = open();
    let fd = stdin.as_raw_fd();
    command
        .stdout(Stdio::from(open()))
        .stderr(Stdio::from(open()))
        .stdin(Stdio::from(stdin));
    unsafe {
        command.pre_exec(move || {
            libc::setsid();
            // stdin (fd 0) is the terminal by now.
            let _ = fd;
            if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.spawn().unwrap()
}

/// An interactive bash on a new pseudo-terminal, in the sandbox's HOME, with no AWS or credbox
/// variables: the person's shell. Returns it, the terminal's controller and what it shows.
pub fn shell(sandbox: &super::Sandbox) -> (Shell, std::fs::File, Screen) {
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
    (Shell(child), controller, screen)
}

/// The person's shell; killed when dropped, so that a test that fails with a job stopped (a
/// shell then refuses to exit) never hangs.
pub struct Shell(Child);

impl Shell {
    /// Wait for the shell to exit (after the test typed `exit`), at most a few seconds.
    pub fn wait(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Type `line` and Enter at the terminal.
pub fn type_line(controller: &mut std::fs::File, line: &str) {
    controller.write_all(format!("{line}\n").as_bytes()).unwrap();
}
