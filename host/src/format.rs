//! `credbox export --format`: the shapes `aws configure export-credentials` prints (BEHAVIOUR.md §6).

use crate::text::format_time;
use crate::{Credentials, Error, ErrorKind};

/// An output format, named as the AWS CLI names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// credential_process JSON.
    Process,
    /// `export AWS_ACCESS_KEY_ID=...` lines for POSIX shells.
    Env,
    /// `AWS_ACCESS_KEY_ID=...` lines.
    EnvNoExport,
    /// `$Env:AWS_ACCESS_KEY_ID="..."` lines.
    Powershell,
    /// `set AWS_ACCESS_KEY_ID=...` lines.
    WindowsCmd,
    /// `set -gx AWS_ACCESS_KEY_ID "..."` lines.
    Fish,
}

impl Format {
    /// Every format with its name, as `--format` takes it.
    pub const NAMES: [(&'static str, Format); 6] = [
        ("process", Format::Process),
        ("env", Format::Env),
        ("env-no-export", Format::EnvNoExport),
        ("powershell", Format::Powershell),
        ("windows-cmd", Format::WindowsCmd),
        ("fish", Format::Fish),
    ];
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Format::NAMES
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, format)| *format)
            .ok_or_else(|| format!("unknown format `{name}`"))
    }
}

/// Render credentials in `format`, newline-terminated.
///
/// The guest only admits credential values of a plain alphabet, but static keys come from the
/// profile files as written, so every shell format quotes anyway (defence in depth): a value is
/// printed bare, exactly as the AWS CLI v2 prints it, only when every character is inert in that
/// shell, and quoted for that shell otherwise. cmd.exe has no quoting that holds every character,
/// so a value it cannot hold is refused with an error naming the variable.
pub fn render(credentials: &Credentials, format: Format) -> Result<String, Error> {
    let expiration = credentials.expiration.map(format_time);
    if format == Format::Process {
        let mut fields: Vec<(&str, String)> = vec![
            ("Version", "1".into()),
            ("AccessKeyId", json_string(&credentials.access_key_id)),
            ("SecretAccessKey", json_string(credentials.secret_access_key())),
        ];
        if let Some(token) = credentials.session_token() {
            fields.push(("SessionToken", json_string(token)));
        }
        if let Some(expiration) = &expiration {
            fields.push(("Expiration", json_string(expiration)));
        }
        if let Some(account) = &credentials.account_id {
            fields.push(("AccountId", json_string(account)));
        }
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("  \"{k}\": {v}")).collect();
        return Ok(format!("{{\n{}\n}}\n", body.join(",\n")));
    }
    let mut vars = vec![
        ("AWS_ACCESS_KEY_ID", credentials.access_key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key()),
    ];
    if let Some(token) = credentials.session_token() {
        vars.push(("AWS_SESSION_TOKEN", token));
    }
    if let Some(expiration) = &expiration {
        vars.push(("AWS_CREDENTIAL_EXPIRATION", expiration));
    }
    let mut out = String::new();
    for (name, value) in vars {
        let line = match format {
            Format::Env => format!("export {name}={}\n", posix_word(value)),
            Format::EnvNoExport => format!("{name}={}\n", posix_word(value)),
            Format::Powershell => format!("$Env:{name}={}\n", powershell_string(value)),
            Format::WindowsCmd => format!("set {name}={}\n", cmd_value(name, value)?),
            Format::Fish => format!("set -gx {name} {}\n", fish_string(value)),
            Format::Process => unreachable!("handled above"),
        };
        out.push_str(&line);
    }
    Ok(out)
}

/// Characters that mean nothing to sh, bash, zsh, fish, PowerShell or cmd.exe, in or out of
/// double quotes: a value made only of these is printed as the AWS CLI prints it.
fn inert(value: &str) -> bool {
    value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_' | '.' | ':' | ','))
}

/// A POSIX shell word: bare when inert, else single-quoted (`'` written as `'\''`).
fn posix_word(value: &str) -> String {
    if inert(value) && !value.is_empty() {
        return value.to_string();
    }
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// A PowerShell string: `"..."` when inert (the AWS CLI's shape), else a verbatim single-quoted
/// string, in which only quote characters are special: PowerShell treats the typographic single
/// quotes as quotes too, so each of them is doubled like `'`.
fn powershell_string(value: &str) -> String {
    if inert(value) {
        return format!("\"{value}\"");
    }
    let mut out = String::from("'");
    for c in value.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// A fish string: `"..."` when inert (the AWS CLI's shape), else single-quoted, where only `\\`
/// and `\'` are escapes and nothing expands.
fn fish_string(value: &str) -> String {
    if inert(value) {
        return format!("\"{value}\"");
    }
    format!("'{}'", value.replace('\\', r"\\").replace('\'', r"\'"))
}

/// A cmd.exe `set` value. cmd expands `%` and `!` even inside quotes and cannot hold a line
/// break, so there is no quoting that holds every value: anything not inert is refused.
fn cmd_value<'a>(name: &str, value: &'a str) -> Result<&'a str, Error> {
    if inert(value) {
        return Ok(value);
    }
    Err(Error::new(
        ErrorKind::Usage,
        format!(
            "{name} holds characters that cmd.exe would interpret (only A-Z, a-z, 0-9 and + / = - _ . : , \
             are printed for windows-cmd); use --format powershell or process instead"
        ),
    ))
}

/// A JSON string as Python's `json.dumps` writes it (ASCII only, `\uXXXX` escapes), so that the
/// output is byte-identical to the AWS CLI's. serde_json has no ASCII-only mode.
fn json_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The container credentials document the SDKs read from an endpoint (`credbox serve`). Long-term
/// credentials have no expiration; clients are told `long_term_expiration` so that they ask again.
pub fn container_document(credentials: &Credentials, long_term_expiration: i64) -> serde_json::Value {
    let expiration = credentials.expiration.unwrap_or(long_term_expiration);
    let mut document = serde_json::json!({
        "AccessKeyId": credentials.access_key_id,
        "SecretAccessKey": credentials.secret_access_key(),
        "Token": credentials.session_token().unwrap_or(""),
        "Expiration": format_time(expiration),
    });
    if let Some(account) = &credentials.account_id {
        document["AccountId"] = account.clone().into();
    }
    document
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run `script` in `shell` with `-c`, if that shell is installed; its stdout.
    fn run_in(shell: &str, script: &str) -> Option<String> {
        let output = std::process::Command::new(shell)
            .arg("-c")
            .arg(script)
            .output()
            .ok()?;
        assert!(
            output.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Some(String::from_utf8(output.stdout).unwrap())
    }

    #[test]
    fn hostile_values_stay_data_in_every_posix_shell() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("pwned");
        let hostile = format!(
            "a$(touch {m})`touch {m}`'\"\\\n; touch {m} #\u{2019}!%PATH%",
            m = marker.display()
        );
        let credentials = Credentials::new("AKIA".into(), hostile.clone(), None, None, None);
        for format in [Format::Env, Format::EnvNoExport] {
            let script = format!(
                "{}printf %s \"$AWS_SECRET_ACCESS_KEY\"",
                render(&credentials, format).unwrap()
            );
            for shell in ["sh", "bash", "dash", "zsh"] {
                if let Some(printed) = run_in(shell, &script) {
                    assert_eq!(printed, hostile, "{shell} {format:?}");
                }
            }
        }
        let fish = format!(
            "{}printf %s \"$AWS_SECRET_ACCESS_KEY\"",
            render(&credentials, Format::Fish).unwrap()
        );
        if let Some(printed) = run_in("fish", &fish) {
            assert_eq!(printed, hostile);
        }
        assert!(!marker.exists(), "a value ran as code");
        assert!(render(&credentials, Format::WindowsCmd).is_err());
        let powershell = render(&credentials, Format::Powershell).unwrap();
        assert!(
            powershell.contains("$Env:AWS_SECRET_ACCESS_KEY='a$(touch"),
            "{powershell}"
        );
        assert!(powershell.contains("#\u{2019}\u{2019}!"), "{powershell}");
    }

    #[test]
    fn ordinary_values_keep_the_aws_cli_shapes() {
        let credentials = Credentials::new(
            "ASIAEXAMPLE".into(),
            "wJal/K7+MD".into(),
            Some("IQo+b/3==".into()),
            Some(2_000_000_000),
            None,
        );
        let expected = [
            (
                Format::Env,
                "export AWS_ACCESS_KEY_ID=ASIAEXAMPLE\nexport AWS_SECRET_ACCESS_KEY=wJal/K7+MD\nexport AWS_SESSION_TOKEN=IQo+b/3==\nexport AWS_CREDENTIAL_EXPIRATION=2033-05-18T03:33:20Z\n",
            ),
            (
                Format::Powershell,
                "$Env:AWS_ACCESS_KEY_ID=\"ASIAEXAMPLE\"\n$Env:AWS_SECRET_ACCESS_KEY=\"wJal/K7+MD\"\n$Env:AWS_SESSION_TOKEN=\"IQo+b/3==\"\n$Env:AWS_CREDENTIAL_EXPIRATION=\"2033-05-18T03:33:20Z\"\n",
            ),
            (
                Format::WindowsCmd,
                "set AWS_ACCESS_KEY_ID=ASIAEXAMPLE\nset AWS_SECRET_ACCESS_KEY=wJal/K7+MD\nset AWS_SESSION_TOKEN=IQo+b/3==\nset AWS_CREDENTIAL_EXPIRATION=2033-05-18T03:33:20Z\n",
            ),
            (
                Format::Fish,
                "set -gx AWS_ACCESS_KEY_ID \"ASIAEXAMPLE\"\nset -gx AWS_SECRET_ACCESS_KEY \"wJal/K7+MD\"\nset -gx AWS_SESSION_TOKEN \"IQo+b/3==\"\nset -gx AWS_CREDENTIAL_EXPIRATION \"2033-05-18T03:33:20Z\"\n",
            ),
        ];
        for (format, text) in expected {
            assert_eq!(render(&credentials, format).unwrap(), text, "{format:?}");
        }
    }

    #[test]
    fn json_strings_match_python() {
        assert_eq!(
            json_string("a\"b\\c\n\u{1}é😀"),
            r#""a\"b\\c\n\u0001\u00e9\ud83d\ude00""#
        );
    }
}
