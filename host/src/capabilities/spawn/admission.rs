//! What may run: the allow-list and its SHA-256 pins (checked on the bytes that are executed or
//! compiled), the shell opt-in, and finding a bare program name on PATH.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{CapabilityPolicy, SpawnCommand, SpawnError, program_and_args};
use crate::platform;
use crate::text::hex;

/// A program the user allowed, optionally pinned to its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowed {
    /// The program's absolute path (symlinks resolved when compared).
    pub path: PathBuf,
    /// Its SHA-256, when pinned: it only runs while its content matches.
    pub sha256: Option<[u8; 32]>,
}

impl std::str::FromStr for Allowed {
    type Err = String;

    /// `PATH` or `PATH=SHA256HEX`.
    fn from_str(text: &str) -> Result<Self, String> {
        let (path, pin) = match text.rsplit_once('=') {
            Some((path, hex)) if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) => {
                (path, Some(hex))
            }
            _ => (text, None),
        };
        if !Path::new(path).is_absolute() {
            return Err(format!(
                "--allow takes an absolute path (optionally =SHA256), not `{path}`"
            ));
        }
        let sha256 = pin.map(|hex| {
            let mut digest = [0u8; 32];
            for (i, byte) in digest.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("checked hex");
            }
            digest
        });
        Ok(Allowed {
            path: PathBuf::from(path),
            sha256,
        })
    }
}

/// A bare name is looked up on PATH; a path is used as is. Only PATH's absolute directories are
/// searched: never the current directory, where Windows' own search would look first.
pub(crate) fn resolve_program(program: &str) -> Result<PathBuf, SpawnError> {
    if crate::platform::is_program_path(program) {
        return Ok(PathBuf::from(program));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .flat_map(|dir| platform::program_candidates(&dir, program))
        .find(|candidate| platform::is_executable(candidate))
        .ok_or_else(|| {
            SpawnError::Failed(format!(
                "program `{program}` was not found on PATH; give its absolute path, or add its directory to PATH"
            ))
        })
}

pub(super) fn spawn_failure(program: &Path, error: &std::io::Error) -> SpawnError {
    let program = program.display();
    SpawnError::Failed(match error.kind() {
        std::io::ErrorKind::NotFound => format!("program `{program}` does not exist"),
        std::io::ErrorKind::PermissionDenied => {
            format!("program `{program}` is not executable (chmod +x it)")
        }
        _ => format!("could not start `{program}`: {error}"),
    })
}

/// The allow-list entry that admits `program` (compared with symlinks resolved), or the denial.
fn allow_entry<'a>(program: &Path, allowed: &'a [Allowed]) -> Result<&'a Allowed, SpawnError> {
    let canonical = std::fs::canonicalize(program).unwrap_or_else(|_| program.to_path_buf());
    allowed
        .iter()
        .find(|a| a.path == program || std::fs::canonicalize(&a.path).is_ok_and(|p| p == canonical))
        .ok_or_else(|| {
            SpawnError::Denied(format!(
                "`{}` is not on the allow-list; add --allow {}",
                program.display(),
                program.display()
            ))
        })
}

/// Refuse `contents` (the bytes of `program`) unless they hash to `pin`.
pub(crate) fn check_pin(program: &Path, pin: &[u8; 32], contents: &[u8]) -> Result<(), SpawnError> {
    let actual: [u8; 32] = Sha256::digest(contents).into();
    if actual != *pin {
        return Err(SpawnError::Denied(format!(
            "`{}` does not match its pinned SHA-256 (it is now {}); check the program, then update the pin",
            program.display(),
            hex(&actual)
        )));
    }
    Ok(())
}

/// Admit `program` under the allow-list. For a pinned entry, the file is opened once, hashed
/// through that descriptor, and the descriptor is returned: what runs is what was hashed. A
/// descriptor does not stop a write into the same file, and a `#!` script is read again by its
/// interpreter after the exec, so a pin only holds for a file that no one but the user (or root)
/// can write; any other is refused.
pub(super) fn admit(program: &Path, allowed: &[Allowed]) -> Result<Option<std::fs::File>, SpawnError> {
    let entry = allow_entry(program, allowed)?;
    let Some(pin) = &entry.sha256 else {
        return Ok(None);
    };
    let unreadable = |e: std::io::Error| {
        SpawnError::Failed(format!("reading `{}` to check its pin: {e}", program.display()))
    };
    let mut file = platform::open_pinned(program).map_err(unreadable)?;
    writable_by_others(program, &file)?;
    let mut contents = Vec::new();
    file.read_to_end(&mut contents).map_err(unreadable)?;
    check_pin(program, pin, &contents)?;
    Ok(Some(file))
}

/// Refuse a pinned `file` that someone but its owner (you, or root: on Windows SYSTEM, the
/// Administrators, TrustedInstaller) could change, by owner and mode (or ACL): a descriptor does
/// not stop a write into the file.
fn writable_by_others(program: &Path, file: &std::fs::File) -> Result<(), SpawnError> {
    let exposure = platform::exposure_of_file(file)
        .map_err(|e| SpawnError::Failed(format!("reading `{}` to check its pin: {e}", program.display())))?;
    if exposure.foreign_owner || exposure.others_write {
        return Err(SpawnError::Denied(format!(
            "`{}` can be changed by other users (its owner or its access), so a pin cannot hold it; \
             make it yours or root's, and {}",
            program.display(),
            platform::unwritable_hint(program)
        )));
    }
    Ok(())
}

/// Whether the allow-list admits the credential plugin at `path`, checked on the path alone
/// (before anything is opened), and the pin its bytes must then match.
pub(crate) fn plugin_pin(
    allow_list: Option<&[Allowed]>,
    path: &Path,
) -> Result<Option<[u8; 32]>, SpawnError> {
    match allow_list {
        None => Ok(None),
        Some(allowed) => Ok(allow_entry(path, allowed)?.sha256),
    }
}

/// Whether the policy would let `command` run now (shell rule, allow-list, pins), without running
/// it. A cached answer is only served when this holds: caching must never widen what runs.
/// Plugins are checked as they are loaded ([`plugin_pin`]), since any use of one runs its code.
pub fn check_admitted(policy: &CapabilityPolicy, command: &SpawnCommand) -> Result<(), SpawnError> {
    refuse_shell(policy, command)?;
    let Some(allowed) = &policy.allow_list else {
        return Ok(());
    };
    let (program, _) = program_and_args(command)?;
    admit(&program, allowed).map(drop)
}

/// A shell command, unless the user allowed shells (`--allow-shell`), is refused.
pub(super) fn refuse_shell(policy: &CapabilityPolicy, command: &SpawnCommand) -> Result<(), SpawnError> {
    if matches!(command, SpawnCommand::Shell(_)) && !policy.allow_shell {
        return Err(SpawnError::Denied(
            "the command needs a shell, and shell commands only run with --allow-shell".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_entries_parse() {
        let pinned: Allowed = format!("/bin/h={}", "ab".repeat(32)).parse().unwrap();
        assert_eq!(pinned.sha256, Some([0xab; 32]));
        let plain: Allowed = "/opt/a=b".parse().unwrap();
        assert_eq!((plain.path, plain.sha256), (PathBuf::from("/opt/a=b"), None));
        assert!("relative".parse::<Allowed>().is_err());
    }
}
