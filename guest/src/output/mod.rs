//! Validating a helper's stdout as a credential_process document (BEHAVIOUR.md §4).
//!
//! Every error describes the problem by field name and position only: the output holds secrets, so
//! no part of it is copied into an error (serde's own messages can quote values, so they are never
//! used). The two exceptions, a bad `Version` number and a bad `Expiration`, are shown only when
//! [`showable`] says they cannot be a secret.

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::Value;

use crate::{Credentials, Error, InvalidField, MalformedOutput};

/// The top-level object's members in document order, duplicates kept, so that a key given twice
/// (in any letter case) is reported instead of silently resolved.
struct Members(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, Value>()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

fn malformed(reason: &str, error: Option<&serde_json::Error>) -> Error {
    let position = error.filter(|e| e.line() > 0);
    Error::MalformedOutput(MalformedOutput {
        reason: reason.into(),
        line: position.map(|e| e.line() as u32),
        column: position.map(|e| e.column() as u32),
    })
}

fn json_error(error: &serde_json::Error) -> Error {
    use serde_json::error::Category;
    let reason = match error.classify() {
        Category::Eof if error.line() == 1 && error.column() == 0 => "the helper printed nothing",
        Category::Eof => "the JSON document is incomplete",
        Category::Data => "expected a JSON object",
        Category::Syntax | Category::Io => "not valid JSON",
    };
    malformed(reason, Some(error))
}

/// A JSON type's name, for messages that must not show the value.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Whether a piece of the helper's output may be shown in an error because it cannot be (part of) a
/// secret: it has no run of 12 or more of the characters keys and tokens are made of (`A-Z`, `a-z`,
/// `0-9`, `+`, `/`) unless the run is digits alone (a number or an epoch time is not a secret).
/// So `2026-01-02T03:04:05` and `1700000000000` may be shown; `20260102T030405Z` may not, since a
/// token could look like it. The fuzz invariant (fuzz/fuzz_targets/output_validator.rs) and
/// guest/tests/properties.rs check errors against this same rule.
pub fn showable(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/'))
        .all(|run| run.len() < 12 || run.bytes().all(|b| b.is_ascii_digit()))
}

/// The protocol's fields, matched case-insensitively.
pub const FIELDS: [&str; 6] = [
    "Version",
    "AccessKeyId",
    "SecretAccessKey",
    "SessionToken",
    "Expiration",
    "AccountId",
];

/// Check `stdout` and return its credentials. `account_id` is the profile's fallback;
/// `now` (seconds since the epoch) decides whether the credentials are already expired.
pub fn validate_output(stdout: &[u8], account_id: Option<&str>, now: i64) -> Result<Credentials, Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(stdout);
    let Members(members) = Members::deserialize(&mut deserializer).map_err(|e| json_error(&e))?;
    deserializer
        .end()
        .map_err(|e| malformed("unexpected data after the JSON object", Some(&e)))?;

    let mut found: [Option<&Value>; 6] = [None; 6];
    for (key, value) in &members {
        if let Some(index) = FIELDS.iter().position(|f| f.eq_ignore_ascii_case(key)) {
            if found[index].is_some() {
                return Err(Error::InvalidField(InvalidField {
                    field: FIELDS[index].into(),
                    reason: "appears more than once (keys are matched ignoring case)".into(),
                }));
            }
            found[index] = Some(value);
        }
    }
    let [version, access_key_id, secret, token, expiration, account] = found;

    check_version(version)?;
    let access_key_id = in_alphabet("AccessKeyId", required_string("AccessKeyId", access_key_id)?)?;
    let secret_access_key = in_alphabet("SecretAccessKey", required_string("SecretAccessKey", secret)?)?;
    let session_token = optional_string("SessionToken", token)?
        .map(|t| in_alphabet("SessionToken", t))
        .transpose()?;
    let account_id = account_or(optional_string("AccountId", account)?, account_id)?;
    let expiration = match expiration {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(parse_expiration(text)?),
        Some(other) => {
            return Err(Error::InvalidField(InvalidField {
                field: "Expiration".into(),
                reason: format!("must be an RFC 3339 timestamp string, found {}", kind(other)),
            }));
        }
    };
    not_expired(expiration, now)?;
    Ok(Credentials {
        access_key_id,
        secret_access_key,
        session_token,
        expiration,
        account_id,
    })
}

/// The account the credentials belong to: the one they name (digits only), else the profile's.
fn account_or(named: Option<String>, fallback: Option<&str>) -> Result<Option<String>, Error> {
    match named {
        Some(id) => account_digits(id).map(Some),
        None => Ok(fallback.map(String::from)),
    }
}

/// Credentials that expire at or before `now` are an error.
fn not_expired(expiration: Option<i64>, now: i64) -> Result<(), Error> {
    match expiration {
        Some(expiration) if expiration <= now => Err(Error::Expired(expiration)),
        _ => Ok(()),
    }
}

/// Check credentials a credential plugin returned, with the rules a helper's output follows: the
/// keys are required and in the credential alphabet, an empty token or account means none, the
/// account is digits, and expired credentials are an error. `account_id` is the profile's fallback.
pub fn validate_credentials(
    credentials: Credentials,
    account_id: Option<&str>,
    now: i64,
) -> Result<Credentials, Error> {
    let required = |field: &str, value: String| {
        if value.is_empty() {
            return Err(Error::MissingField(field.into()));
        }
        in_alphabet(field, value)
    };
    let access_key_id = required("AccessKeyId", credentials.access_key_id)?;
    let secret_access_key = required("SecretAccessKey", credentials.secret_access_key)?;
    let session_token = credentials
        .session_token
        .filter(|t| !t.is_empty())
        .map(|t| in_alphabet("SessionToken", t))
        .transpose()?;
    let account_id = account_or(credentials.account_id.filter(|a| !a.is_empty()), account_id)?;
    // The same range an RFC 3339 `Expiration` can name, so that every host can print it.
    if let Some(expiration) = credentials.expiration
        && jiff::Timestamp::from_second(expiration).is_err()
    {
        return Err(Error::InvalidField(InvalidField {
            field: "Expiration".into(),
            reason: "is outside the years -9999 to 9999".into(),
        }));
    }
    not_expired(credentials.expiration, now)?;
    Ok(Credentials {
        access_key_id,
        secret_access_key,
        session_token,
        expiration: credentials.expiration,
        account_id,
    })
}

fn check_version(version: Option<&Value>) -> Result<(), Error> {
    match version {
        Some(Value::Number(n)) if n.as_f64() == Some(1.0) => Ok(()),
        // A number is shown unless its digits and exponent make a secret-like run (`2.3928655523e+16`).
        Some(Value::Number(n)) => Err(Error::UnsupportedVersion(
            Some(n.to_string())
                .filter(|n| showable(n))
                .unwrap_or_else(|| "a number other than 1".into()),
        )),
        // A short numeric string is shown ("1" is a common mistake); any other string is not.
        Some(Value::String(s)) if s.len() <= 8 && s.chars().all(|c| c.is_ascii_digit() || c == '.') => {
            Err(Error::UnsupportedVersion(format!("the string \"{s}\"")))
        }
        Some(other) => Err(Error::UnsupportedVersion(kind(other).into())),
        None => Err(Error::UnsupportedVersion("missing".into())),
    }
}

fn required_string(field: &str, value: Option<&Value>) -> Result<String, Error> {
    match value {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        None | Some(Value::Null) | Some(Value::String(_)) => Err(Error::MissingField(field.into())),
        Some(other) => Err(Error::InvalidField(InvalidField {
            field: field.into(),
            reason: format!("must be a string, found {}", kind(other)),
        })),
    }
}

/// Whether `c` may appear in an access key id, secret access key or session token.
///
/// AWS access key ids are `[A-Z0-9]` (IAM's `AccessKeyId` pattern is `[\w]+`), secret keys are
/// base64 (`[A-Za-z0-9+/]`), and session tokens are base64 with `=` padding; `-`, `_` and `.` are
/// admitted for the base64url alphabet and for S3-compatible stores whose keys use them. Nothing
/// here is special to any shell credbox prints for, so no value can become code, and none is
/// whitespace, a quote or a control character. (docs/BEHAVIOUR.md §4 "Field alphabet".)
pub fn credential_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_' | '.')
}

/// Refuse a credential value with a character outside [`credential_char`]; the error names the
/// field and the position, never the value.
fn in_alphabet(field: &str, value: String) -> Result<String, Error> {
    match value.chars().position(|c| !credential_char(c)) {
        None => Ok(value),
        Some(index) => Err(Error::InvalidField(InvalidField {
            field: field.into(),
            reason: format!(
                "has a character no AWS credential contains at position {} (only A-Z, a-z, 0-9, \
                 `+`, `/`, `=`, `-`, `_` and `.` are accepted); the helper's output is damaged or hostile",
                index + 1
            ),
        })),
    }
}

/// An AWS account id is twelve digits; anything but digits is refused without being shown.
fn account_digits(value: String) -> Result<String, Error> {
    if value.chars().all(|c| c.is_ascii_digit()) {
        return Ok(value);
    }
    Err(Error::InvalidField(InvalidField {
        field: "AccountId".into(),
        reason: "must be an AWS account id: digits only (like 123456789012)".into(),
    }))
}

/// An optional string field: absent, `null` and `""` all mean absent.
fn optional_string(field: &str, value: Option<&Value>) -> Result<Option<String>, Error> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone()).filter(|s| !s.is_empty())),
        Some(other) => Err(Error::InvalidField(InvalidField {
            field: field.into(),
            reason: format!("must be a string, found {}", kind(other)),
        })),
    }
}

/// Parse an RFC 3339 timestamp (`T`, `t` or space separator; `Z`, `z` or `±HH:MM` offset;
/// optional fraction) to whole seconds since the epoch, rounding fractions down so that
/// credentials are never treated as living longer than they do.
pub fn parse_expiration(text: &str) -> Result<i64, Error> {
    let invalid = |problem: &str| {
        // Timestamps are not secret, but a confused helper may put a token here: the text is shown
        // only when it is made of timestamp characters and passes `showable` (no run of 12 or more
        // key characters other than digits), so `2026-01-02T03:04` is shown, `20260102T030405Z` not.
        let looks_like_time = text.len() <= 40
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || "TtZz:+-. ".contains(c));
        let shown = if looks_like_time && showable(text) {
            format!(" (got {text:?})")
        } else {
            String::new()
        };
        Error::InvalidField(InvalidField {
            field: "Expiration".into(),
            reason: format!("{problem}, like 2026-01-02T03:04:05Z{shown}"),
        })
    };
    // jiff also accepts forms RFC 3339 does not (bracketed zone names, offsets without a colon);
    // require the date-time shape (its first 19 characters) and an explicit offset first.
    const SHAPE: &str = "must be an RFC 3339 timestamp (date, `T`, time, then `Z` or an offset)";
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() >= 19
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && matches!(bytes[10], b'T' | b't' | b' ')
        && bytes[13] == b':'
        && bytes[16] == b':'
        && !text.contains('[');
    let has_offset = text.ends_with(['Z', 'z'])
        || (text.len() >= 6 && {
            let tail = &bytes[bytes.len() - 6..];
            matches!(tail[0], b'+' | b'-') && tail[3] == b':'
        });
    if !shape_ok {
        return Err(invalid(SHAPE));
    }
    if !has_offset {
        return Err(invalid("must end with `Z` or an offset with a colon (+02:00)"));
    }
    if bytes.len() < 20 {
        // `2026-01-02T03:04:5Z`: the offset took the place of a digit.
        return Err(invalid(SHAPE));
    }
    // jiff rejects a space separator and lowercase designators in some positions; normalise them.
    let mut normalised = text.to_string();
    normalised.replace_range(10..11, "T");
    if normalised.ends_with('z') {
        normalised.pop();
        normalised.push('Z');
    }
    normalised
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_second())
        .map_err(|_| invalid("must be a real date and time in RFC 3339 form"))
}

#[cfg(test)]
mod tests;
