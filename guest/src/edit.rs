//! `credbox configure set`: change one property in a profile file's text, leaving every other
//! byte (comments, blank lines, ordering, line endings) as it was.

use crate::profile::{FileKind, ProfileSet, is_valid_name, section_name, strip_inline_comment, trim_blanks};
use crate::{Error, Location};

/// Keys that belong in the credentials file, as `aws configure set` decides.
const CREDENTIALS_FILE_KEYS: [&str; 3] = ["aws_access_key_id", "aws_secret_access_key", "aws_session_token"];

/// Which file `aws configure set KEY` writes to.
pub fn file_for_key(key: &str) -> FileKind {
    if CREDENTIALS_FILE_KEYS.contains(&key.to_ascii_lowercase().as_str()) {
        FileKind::Credentials
    } else {
        FileKind::Config
    }
}

/// Why a property cannot be set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EditError {
    /// The file does not parse (1-based line and message).
    Parse(u32, String),
    /// The key or value would not read back as given; the string says why.
    Invalid(String),
}

impl EditError {
    /// The policy's error for setting a property of `profile` in the file at `path`.
    pub fn into_error(self, profile: String, path: String) -> Error {
        let (line, message) = match self {
            EditError::Parse(line, message) => (Some(line), message),
            EditError::Invalid(message) => (None, message),
        };
        Error::config(Some(profile), Some(Location { file: path, line }), message)
    }
}

/// `text` with `key = value` in `profile`'s section of a file of `kind`: the last line defining
/// the key (and its continuation lines) replaced, else a line added after the section's last
/// property, else a new section appended.
pub fn set_property(
    text: &str,
    kind: FileKind,
    profile: &str,
    key: &str,
    value: &str,
) -> Result<String, EditError> {
    if !is_valid_name(key) {
        return Err(EditError::Invalid(format!(
            "`{key}` is not a valid property name (letters, digits and - / . % @ _ : +)"
        )));
    }
    if !is_valid_name(profile) {
        return Err(EditError::Invalid(format!(
            "`{profile}` is not a valid profile name"
        )));
    }
    // The line is written `key = value`: what the parser sees after `=` includes that space, so a
    // value starting with `#` or `;` would read back as a comment.
    let as_written = format!(" {value}");
    if value.contains(['\n', '\r'])
        || trim_blanks(value) != value
        || strip_inline_comment(&as_written) != as_written
    {
        return Err(EditError::Invalid(
            "the value would not read back as given: it has a line break, leading or trailing whitespace, or ` #` / ` ;` (which start a comment)".into(),
        ));
    }
    let (config, credentials) = match kind {
        FileKind::Config => (text, ""),
        FileKind::Credentials => ("", text),
    };
    ProfileSet::parse(config, credentials).map_err(|(_, e)| EditError::Parse(e.line, e.message))?;

    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let new_line = format!("{key} = {value}{newline}");

    let mut in_section = false;
    let mut definition: Option<(usize, usize)> = None; // [start, end) of the last definition
    let mut section_end: Option<usize> = None; // after the last property line of a matching section
    let mut i = 0;
    while i < lines.len() {
        let line = line_text(lines[i]);
        let trimmed = trim_blanks(line);
        if line.starts_with('[') {
            in_section = section_name(line, kind) == Some(profile);
            if in_section {
                // New properties of an empty section go right under its header.
                section_end = Some(i + 1);
            }
        } else if in_section && !trimmed.is_empty() && !trimmed.starts_with(['#', ';']) {
            let mut end = i + 1;
            if !line.starts_with([' ', '\t']) {
                // A property: its continuation lines are the indented, non-blank lines after it,
                // across blank and comment lines, as the parser reads them.
                let mut next = end;
                while next < lines.len() {
                    let text = line_text(lines[next]);
                    let trimmed = trim_blanks(text);
                    if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
                        next += 1;
                    } else if text.starts_with([' ', '\t']) {
                        next += 1;
                        end = next;
                    } else {
                        break;
                    }
                }
                let name = line.split_once('=').map(|(n, _)| trim_blanks(n));
                if name.is_some_and(|n| n.eq_ignore_ascii_case(key)) {
                    definition = Some((i, end));
                }
            }
            section_end = Some(end);
            i = end;
            continue;
        }
        i += 1;
    }

    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    match (definition, section_end) {
        (Some((start, end)), _) => {
            out.splice(start..end, [new_line]);
        }
        (None, Some(at)) => {
            if at > 0 && !out[at - 1].ends_with('\n') {
                out[at - 1].push_str(newline);
            }
            out.insert(at, new_line);
        }
        (None, None) => {
            if let Some(last) = lines.last_mut()
                && !last.ends_with('\n')
            {
                out.last_mut().unwrap().push_str(newline);
            }
            if !text.trim().is_empty() {
                out.push(newline.to_string());
            }
            let header = match (kind, profile) {
                (FileKind::Config, "default") => "[default]".to_string(),
                (FileKind::Config, name) => format!("[profile {name}]"),
                (FileKind::Credentials, name) => format!("[{name}]"),
            };
            out.push(format!("{header}{newline}"));
            out.push(new_line);
        }
    }
    Ok(out.concat())
}

/// A line without its line ending, exactly as the parser sees it (`profile::parse_sections`), so
/// that the editor and the parser agree on which lines are blank and which continue a value (a
/// line of a space and two `\r` continues one).
fn line_text(line: &str) -> &str {
    // `str::lines` takes off `\n` or `\r\n`; the parser then takes off one more `\r`.
    let line = match line.strip_suffix('\n') {
        Some(line) => line.strip_suffix('\r').unwrap_or(line),
        None => line,
    };
    line.strip_suffix('\r').unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str, profile: &str, key: &str, value: &str) -> String {
        set_property(text, FileKind::Config, profile, key, value).unwrap()
    }

    #[test]
    fn a_value_starting_with_a_comment_character_is_refused() {
        // Found by tests/properties.rs: `key = #x` reads back as an empty value.
        for value in ["#", "#x", ";x"] {
            let edited = set_property("[default]\n", FileKind::Config, "default", "k", value);
            assert!(
                matches!(edited, Err(EditError::Invalid(_))),
                "{value}: {edited:?}"
            );
        }
        assert!(set_property("[default]\n", FileKind::Config, "default", "k", "a#b").is_ok());
    }

    #[test]
    fn replaces_the_definition_and_its_continuations_only() {
        let text = "# top\n[profile a]\nregion = x ; old\ns3 =\n  addressing_style = path\n\n[profile b]\nregion = y\n";
        assert_eq!(
            set(text, "a", "S3", "v"),
            "# top\n[profile a]\nregion = x ; old\nS3 = v\n\n[profile b]\nregion = y\n"
        );
        assert_eq!(
            set(text, "b", "region", "z"),
            text.replace("region = y", "region = z")
        );
    }

    #[test]
    fn adds_to_an_existing_section_before_trailing_comments() {
        let text = "[profile a]\nregion = x\n# about b\n\n[profile b]\n";
        assert_eq!(
            set(text, "a", "output", "json"),
            "[profile a]\nregion = x\noutput = json\n# about b\n\n[profile b]\n"
        );
        assert_eq!(set(text, "b", "output", "json"), format!("{text}output = json\n"));
    }

    #[test]
    fn appends_a_section_keeping_crlf() {
        assert_eq!(
            set("[profile a]\r\nx = 1", "new", "k", "v"),
            "[profile a]\r\nx = 1\r\n\r\n[profile new]\r\nk = v\r\n"
        );
        assert_eq!(set("", "default", "k", "v"), "[default]\nk = v\n");
        let credentials = set_property("", FileKind::Credentials, "p", "aws_access_key_id", "AK").unwrap();
        assert_eq!(credentials, "[p]\naws_access_key_id = AK\n");
    }

    #[test]
    fn default_matches_either_header_and_values_must_read_back() {
        assert_eq!(
            set("[default]\nk = 1\n", "default", "k", "2"),
            "[default]\nk = 2\n"
        );
        assert!(set_property("", FileKind::Config, "a", "k", "x #y").is_err());
        assert!(set_property("", FileKind::Config, "a", "k", " x").is_err());
        assert!(set_property("", FileKind::Config, "a", "bad key", "x").is_err());
        assert!(matches!(
            set_property("oops\n", FileKind::Config, "a", "k", "x"),
            Err(EditError::Parse(1, _))
        ));
    }

    #[test]
    fn a_line_of_carriage_returns_is_read_as_the_parser_reads_it() {
        // Found by the profile_parser fuzz target: the parser reads ` \r\r` as a continuation
        // line, so the new property must not go before it.
        let text = "[profile fuzzed]\nname = value\n \r\r\r";
        let edited = set(text, "fuzzed", "region", "eu-west-1");
        let set = ProfileSet::parse(&edited, "").unwrap();
        assert_eq!(set.profiles["fuzzed"]["region"].value, "eu-west-1");
    }

    #[test]
    fn continuation_lines_after_a_blank_line_are_replaced_with_the_value() {
        // Found by the profile_parser fuzz target: the parser continues a value across blank and
        // comment lines, so the old value's continuation must go with it.
        for text in [
            "[profile fuzzed]\nregion = a\n\t\n value\n",
            "[profile fuzzed]\nregion = a\n# note\n value\r\r\n",
            "[profile fuzzed]\nregion = a\n\n\nname = kept\n",
        ] {
            let edited = set(text, "fuzzed", "region", "eu-west-1");
            let set = ProfileSet::parse(&edited, "").unwrap();
            assert_eq!(set.profiles["fuzzed"]["region"].value, "eu-west-1", "{text:?}");
        }
        let kept = set(
            "[profile fuzzed]\nregion = a\n\nname = kept\n",
            "fuzzed",
            "region",
            "b",
        );
        assert_eq!(
            kept, "[profile fuzzed]\nregion = b\n\nname = kept\n",
            "blank lines before a property stay"
        );
    }
}
