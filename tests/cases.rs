//! The behaviour cases of `tests/cases/` on this system (Unix): each helper is a `/bin/sh` script
//! that plays back what its case says. `tests/windows.rs` runs the same cases with a Windows
//! program in its place.

mod common;
#[path = "cases/runner.rs"]
mod runner;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

struct Unix;

impl runner::System for Unix {
    fn name(&self) -> &'static str {
        "unix"
    }

    fn helper(&self, dir: &Path, name: &str) -> String {
        let script = dir.join(format!("{name}.sh"));
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\ncd '{dir}'\necho run >> {name}.runs\ncat {name}.stdout\ncat {name}.stderr >&2\nexit \"$(cat {name}.exit)\"\n",
                dir = dir.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        common::quoted(&script)
    }

    fn credbox(&self) -> Command {
        let mut command = Command::new(common::credbox_binary());
        for (name, _) in std::env::vars() {
            if name.starts_with("AWS_") || name.starts_with("CREDBOX_") {
                command.env_remove(name);
            }
        }
        // No controlling terminal: a helper's stderr goes to the pipe the case reads.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                libc::setsid();
                Ok(())
            });
        }
        command
    }
}

fn main() {
    let arguments = libtest_mimic::Arguments::from_args();
    libtest_mimic::run(&arguments, runner::trials(Arc::new(Unix))).exit()
}
