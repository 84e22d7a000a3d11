//! The AWS profile file format (BEHAVIOUR.md §1).
//!
//! Hand-written because no crate implements the cross-SDK rules (`[profile x]` only in config,
//! `[profile default]` beating `[default]`, inline comments only after whitespace, continuation
//! lines and sub-properties, invalid names silently dropped). The behaviour is pinned by every
//! case of smithy-rs `profile-parser-tests.json`, which the tests read at test time.

use std::collections::BTreeMap;

/// Which of the two profile files a text came from; the rules for section names differ.
pub use crate::wit::profiles::FileKind;

/// A syntax error in a profile file, at a 1-based line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: u32,
    pub message: String,
}

/// A property value and where it was defined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Value {
    pub value: String,
    pub file: FileKind,
    pub line: u32,
}

/// One profile: lower-cased property names to values.
pub type Profile = BTreeMap<String, Value>;

/// Every profile (and sso-session, and services section) defined by a config file and a
/// credentials file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileSet {
    pub profiles: BTreeMap<String, Profile>,
    pub sso_sessions: BTreeMap<String, Profile>,
    /// `[services NAME]` sections: per-service settings (`sts =` then `endpoint_url = ...` as
    /// sub-properties) that a profile selects with `services = NAME`.
    pub services: BTreeMap<String, Profile>,
}

/// What a section header names, after normalisation (borrowed from the line).
#[derive(Debug, PartialEq, Eq)]
enum Section<'a> {
    /// A profile; `prefixed` is true for `[profile NAME]` (which beats `[default]` in config).
    Profile {
        name: &'a str,
        prefixed: bool,
    },
    SsoSession(&'a str),
    Services(&'a str),
    /// A section credbox does not use (or an invalid name): its properties are parsed and dropped.
    Ignored,
}

impl ProfileSet {
    /// Parse both files and merge them; credentials-file properties win over config-file ones.
    pub fn parse(config: &str, credentials: &str) -> Result<Self, (FileKind, ParseError)> {
        Self::parse_only(config, credentials, None)
    }

    /// Like [`ProfileSet::parse`], but with `only` keep just that profile: every line of both
    /// files is still checked (a syntax error anywhere fails, as it does in the SDKs), but nothing
    /// is built for the other sections, so resolving one profile of a 10,000-profile file costs a
    /// scan, not ten thousand profiles' worth of allocations (issue 20).
    pub fn parse_only(
        config: &str,
        credentials: &str,
        only: Option<&str>,
    ) -> Result<Self, (FileKind, ParseError)> {
        let mut set = ProfileSet::default();
        set.merge_file(config, FileKind::Config, only)
            .map_err(|e| (FileKind::Config, e))?;
        set.merge_file(credentials, FileKind::Credentials, only)
            .map_err(|e| (FileKind::Credentials, e))?;
        Ok(set)
    }

    fn merge_file(&mut self, text: &str, kind: FileKind, only: Option<&str>) -> Result<(), ParseError> {
        let sections = parse_sections(text, kind, only)?;
        let has_prefixed_default = sections.iter().any(|(s, _)| {
            matches!(
                s,
                Section::Profile {
                    name: "default",
                    prefixed: true
                }
            )
        });
        for (section, properties) in sections {
            let target = match section {
                // `[profile default]` anywhere in the config file hides every plain `[default]`.
                Section::Profile { name, prefixed } => {
                    if kind == FileKind::Config && name == "default" && !prefixed && has_prefixed_default {
                        continue;
                    }
                    self.profiles.entry(name.to_string()).or_default()
                }
                Section::SsoSession(name) => self.sso_sessions.entry(name.to_string()).or_default(),
                Section::Services(name) => self.services.entry(name.to_string()).or_default(),
                Section::Ignored => continue,
            };
            // Invalid property names are parsed (so their continuations attach to them) and dropped.
            for (key, value) in properties.into_iter().filter(|(key, _)| is_valid_name(key)) {
                target.insert(key, value);
            }
        }
        Ok(())
    }
}

/// Profile and property names allowed by the SDKs; others are ignored, not errors.
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'/' | b'.' | b'%' | b'@' | b'_' | b':' | b'+')
        })
}

/// `s` without its leading spaces and tabs.
#[inline(always)]
fn trim_blanks_start(s: &str) -> &str {
    let start = s.bytes().position(|b| b != b' ' && b != b'\t').unwrap_or(s.len());
    &s[start..]
}

/// Whether a property's raw value (the text after `=`) is empty once its inline comment is
/// stripped and it is trimmed, as `trim_blanks(strip_inline_comment(value)).is_empty()` says,
/// without reading past the first byte that is not blank: an inline comment starts at a `#` or
/// `;` after a blank, so only such a byte can end a blank value early.
#[inline(always)]
fn is_blank_value(value: &str) -> bool {
    let rest = trim_blanks_start(value);
    match rest.as_bytes().first() {
        None => true,
        Some(b'#' | b';') => rest.len() < value.len(),
        Some(_) => false,
    }
}

/// Trim the spaces and tabs around `s`: the only whitespace the profile format knows (a
/// form feed or a non-breaking space is part of a value). By bytes, not chars: this runs for
/// every line of files with thousands of profiles, and both are ASCII, so the cuts are always
/// on character boundaries.
#[inline(always)]
pub(crate) fn trim_blanks(s: &str) -> &str {
    let bytes = s.as_bytes();
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !blank(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !blank(b)).map_or(start, |i| i + 1);
    &s[start..end]
}

/// Strip an inline comment: `#` or `;` preceded by whitespace starts one.
pub(crate) fn strip_inline_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    for i in 1..bytes.len() {
        if (bytes[i] == b'#' || bytes[i] == b';') && (bytes[i - 1] == b' ' || bytes[i - 1] == b'\t') {
            return &value[..i];
        }
    }
    value
}

fn parse_section_header(line: &str, kind: FileKind, line_no: u32) -> Result<Section<'_>, ParseError> {
    // `[name]` followed by nothing but whitespace or a comment (adjacent comments are allowed here).
    let inner_and_rest = &line[1..];
    let Some(close) = memchr::memchr(b']', inner_and_rest.as_bytes()) else {
        return Err(ParseError {
            line: line_no,
            message: "Profile definition must end with ']'".into(),
        });
    };
    let rest = inner_and_rest[close + 1..].trim();
    if !matches!(rest.as_bytes().first(), None | Some(b'#' | b';')) {
        return Err(ParseError {
            line: line_no,
            message: "Profile definition must end with ']' (only a comment may follow it)".into(),
        });
    }
    let inner = trim_blanks(&inner_and_rest[..close]);
    // `prefix`, at least one blank, then the name.
    let named = |prefix: &str| {
        let rest = inner.strip_prefix(prefix)?;
        matches!(rest.as_bytes().first(), Some(b' ' | b'\t')).then(|| trim_blanks(rest))
    };
    let section = match kind {
        FileKind::Config => {
            if let Some(name) = named("profile") {
                Section::Profile { name, prefixed: true }
            } else if let Some(name) = named("sso-session") {
                Section::SsoSession(name)
            } else if let Some(name) = named("services") {
                Section::Services(name)
            } else if inner == "default" {
                Section::Profile {
                    name: inner,
                    prefixed: false,
                }
            } else {
                Section::Ignored
            }
        }
        FileKind::Credentials => Section::Profile {
            name: inner,
            prefixed: false,
        },
    };
    Ok(match section {
        Section::Profile { name, .. } | Section::SsoSession(name) | Section::Services(name)
            if !is_valid_name(name) =>
        {
            Section::Ignored
        }
        other => other,
    })
}

/// The profile a section header line names in a file of `kind`, if it names a valid one.
pub(crate) fn section_name(line: &str, kind: FileKind) -> Option<&str> {
    match parse_section_header(line, kind, 0).ok()? {
        Section::Profile { name, .. } => Some(name),
        _ => None,
    }
}

type Properties = Vec<(String, Value)>;

// The scan below runs over every line of files with thousands of profiles; `str::lines` and
// `split_once` go through the generic char searcher (a memchr and a memcmp per match), which was
// most of the time of resolving one profile in a 10,000-profile file. These two search bytes,
// with the memchr crate's word-at-a-time search.

/// The lines of `text` as the profile parser reads them: split at `\n`, then one `\r\n` or
/// `\n` dropped (as `str::lines` does), then one more trailing `\r` (a lone one at the end).
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = memchr::memchr(b'\n', rest.as_bytes()).map_or(rest.len(), |i| i + 1);
        let (line, after) = rest.split_at(end);
        rest = after;
        let without_newline = strip(line, b'\n');
        let line = if without_newline.len() < line.len() {
            strip(without_newline, b'\r')
        } else {
            line
        };
        Some(strip(line, b'\r'))
    })
}

/// `line` without one trailing `byte`.
#[inline(always)]
fn strip(line: &str, byte: u8) -> &str {
    match line.as_bytes().last() {
        Some(&last) if last == byte => &line[..line.len() - 1],
        _ => line,
    }
}

/// `s` split at its first `=`.
#[inline(always)]
fn split_at_equals(s: &str) -> Option<(&str, &str)> {
    let at = memchr::memchr(b'=', s.as_bytes())?;
    Some((&s[..at], &s[at + 1..]))
}

/// Split a file into its sections, each with its properties in order (continuations joined).
/// With `only`, every line is checked but only that profile's sections are kept.
fn parse_sections<'a>(
    text: &'a str,
    kind: FileKind,
    only: Option<&str>,
) -> Result<Vec<(Section<'a>, Properties)>, ParseError> {
    let mut sections: Vec<(Section, Properties)> = Vec::new();
    // Whether a header has been seen, and whether the current section is the last of `sections`.
    let (mut in_section, mut keep) = (false, false);
    // Whether the current section has a property that may take continuation lines, and whether it
    // is a sub-property block (`s3 =` with an empty value).
    let mut open_property: Option<bool> = None;
    for (index, line) in lines(text).enumerate() {
        let line_no = index as u32 + 1;
        let indented = trim_blanks_start(line);
        if matches!(indented.as_bytes().first(), None | Some(b'#' | b';')) {
            continue;
        }
        if line.as_bytes()[0] == b'[' {
            let section = parse_section_header(line, kind, line_no)?;
            keep = match (&section, only) {
                (Section::Ignored, _) => false,
                (_, None) => true,
                (Section::Profile { name, .. }, Some(only)) => *name == only,
                (Section::SsoSession(_) | Section::Services(_), Some(_)) => false,
            };
            if keep {
                sections.push((section, Vec::new()));
            }
            in_section = true;
            open_property = None;
            continue;
        }
        if !in_section {
            return Err(ParseError {
                line: line_no,
                message:
                    "Expected a profile definition before this line; add a [profile NAME] header above it"
                        .into(),
            });
        }
        if matches!(line.as_bytes()[0], b' ' | b'\t') {
            // A continuation of the previous property.
            let Some(sub_properties) = open_property else {
                return Err(ParseError {
                    line: line_no,
                    message:
                        "Expected a property definition, found continuation; remove the leading whitespace"
                            .into(),
                });
            };
            let trimmed = trim_blanks(indented);
            if sub_properties {
                let Some((name, _)) = split_at_equals(trimmed) else {
                    return Err(ParseError {
                        line: line_no,
                        message: "Expected an '=' sign defining a sub-property".into(),
                    });
                };
                if trim_blanks(name).is_empty() {
                    return Err(ParseError {
                        line: line_no,
                        message: "Sub-property did not have a name".into(),
                    });
                }
            }
            if let Some((_, value)) = sections
                .last_mut()
                .filter(|_| keep)
                .and_then(|(_, p)| p.last_mut())
            {
                value.value.push('\n');
                value.value.push_str(trimmed);
            }
            continue;
        }
        let Some((name, value)) = split_at_equals(line) else {
            return Err(ParseError {
                line: line_no,
                message: "Expected an '=' sign defining a property (write it as `name = value`)".into(),
            });
        };
        let name = trim_blanks(name);
        if name.is_empty() {
            return Err(ParseError {
                line: line_no,
                message: "Property did not have a name".into(),
            });
        }
        let Some((_, properties)) = sections.last_mut().filter(|_| keep) else {
            open_property = Some(is_blank_value(value));
            continue;
        };
        let value = trim_blanks(strip_inline_comment(value));
        open_property = Some(value.is_empty());
        properties.push((
            name.to_ascii_lowercase(),
            Value {
                value: value.to_string(),
                file: kind,
                line: line_no,
            },
        ));
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_blank_value_is_what_stripping_and_trimming_leaves_empty(value in "[ \t#;a]{0,6}") {
            prop_assert_eq!(is_blank_value(&value), trim_blanks(strip_inline_comment(&value)).is_empty());
        }

        #[test]
        fn lines_splits_as_str_lines_then_one_carriage_return(text in "[a\r\n]{0,12}") {
            let expected: Vec<&str> = text.lines().map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
            prop_assert_eq!(lines(&text).collect::<Vec<_>>(), expected);
        }
    }

    fn props(set: &ProfileSet, profile: &str) -> Vec<(String, String)> {
        set.profiles[profile]
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect()
    }

    #[test]
    fn credentials_file_wins_and_lines_are_recorded() {
        let set = ProfileSet::parse("[profile a]\nx = 1\ny = 2\n", "[a]\nx = 3\n").unwrap();
        assert_eq!(
            props(&set, "a"),
            [("x".into(), "3".into()), ("y".into(), "2".into())]
        );
        let x = &set.profiles["a"]["x"];
        assert_eq!((x.file, x.line), (FileKind::Credentials, 2));
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let err = ProfileSet::parse("[profile a]\nok = 1\nbroken\n", "").unwrap_err();
        assert_eq!(err.0, FileKind::Config);
        assert_eq!(err.1.line, 3);
    }

    #[test]
    fn continuation_of_an_invalid_name_is_dropped_with_it() {
        let set = ProfileSet::parse("[profile a]\nk = v\nin valid = x\n  more\n", "").unwrap();
        assert_eq!(props(&set, "a"), [("k".into(), "v".into())]);
    }
}
