//! `credbox export --format`: the shapes `aws configure export-credentials` prints (SPEC §6).

use crate::Credentials;
use crate::error::format_time;

/// An output format, named as the AWS CLI names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
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

/// Render credentials in `format`, newline-terminated.
pub fn render(credentials: &Credentials, format: Format) -> String {
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
        return format!("{{\n{}\n}}\n", body.join(",\n"));
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
    vars.iter()
        .map(|(name, value)| match format {
            Format::Env => format!("export {name}={value}\n"),
            Format::EnvNoExport => format!("{name}={value}\n"),
            Format::Powershell => format!("$Env:{name}=\"{value}\"\n"),
            Format::WindowsCmd => format!("set {name}={value}\n"),
            Format::Fish => format!("set -gx {name} \"{value}\"\n"),
            Format::Process => unreachable!(),
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_match_python() {
        assert_eq!(
            json_string("a\"b\\c\n\u{1}é😀"),
            r#""a\"b\\c\n\u0001\u00e9\ud83d\ude00""#
        );
    }
}
