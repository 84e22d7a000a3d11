//! The AWS profile file format (BEHAVIOUR.md §1).
//!
//! Hand-written because no crate implements the cross-SDK rules (`[profile x]` only in config,
//! `[profile default]` beating `[default]`, inline comments only after whitespace, continuation
//! lines and sub-properties, invalid names silently dropped). The behaviour is pinned by every
//! case of smithy-rs `profile-parser-tests.json`, which the tests read at test time.

use std::collections::BTreeMap;

/// Which of the two profile files a text came from; the rules for section names differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    Config,
    Credentials,
}

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

/// Every profile (and sso-session) defined by a config file and a credentials file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileSet {
    pub profiles: BTreeMap<String, Profile>,
    pub sso_sessions: BTreeMap<String, Profile>,
}

/// What a section header names, after normalisation.
#[derive(Debug, PartialEq, Eq)]
enum Section {
    /// A profile; `prefixed` is true for `[profile NAME]` (which beats `[default]` in config).
    Profile {
        name: String,
        prefixed: bool,
    },
    SsoSession(String),
    /// A section credbox does not use (or an invalid name): its properties are parsed and dropped.
    Ignored,
}

impl ProfileSet {
    /// Parse both files and merge them; credentials-file properties win over config-file ones.
    pub fn parse(config: &str, credentials: &str) -> Result<Self, (FileKind, ParseError)> {
        let mut set = ProfileSet::default();
        set.merge_file(config, FileKind::Config)
            .map_err(|e| (FileKind::Config, e))?;
        set.merge_file(credentials, FileKind::Credentials)
            .map_err(|e| (FileKind::Credentials, e))?;
        Ok(set)
    }

    fn merge_file(&mut self, text: &str, kind: FileKind) -> Result<(), ParseError> {
        let sections = parse_sections(text, kind)?;
        let has_prefixed_default = sections
            .iter()
            .any(|(s, _)| matches!(s, Section::Profile { name, prefixed: true } if name == "default"));
        for (section, properties) in sections {
            let target = match section {
                // `[profile default]` anywhere in the config file hides every plain `[default]`.
                Section::Profile { name, prefixed } => {
                    if kind == FileKind::Config && name == "default" && !prefixed && has_prefixed_default {
                        continue;
                    }
                    self.profiles.entry(name).or_default()
                }
                Section::SsoSession(name) => self.sso_sessions.entry(name).or_default(),
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
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-/.%@_:+".contains(c))
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

fn parse_section_header(line: &str, kind: FileKind, line_no: u32) -> Result<Section, ParseError> {
    // `[name]` followed by nothing but whitespace or a comment (adjacent comments are allowed here).
    let inner_and_rest = &line[1..];
    let Some(close) = inner_and_rest.find(']') else {
        return Err(ParseError {
            line: line_no,
            message: "Profile definition must end with ']'".into(),
        });
    };
    let rest = inner_and_rest[close + 1..].trim();
    if !(rest.is_empty() || rest.starts_with('#') || rest.starts_with(';')) {
        return Err(ParseError {
            line: line_no,
            message: "Profile definition must end with ']' (only a comment may follow it)".into(),
        });
    }
    let inner = inner_and_rest[..close].trim_matches([' ', '\t']);
    let named = |prefix: &str| {
        inner
            .strip_prefix(prefix)
            .filter(|rest| rest.starts_with([' ', '\t']))
            .map(|rest| rest.trim_matches([' ', '\t']).to_string())
    };
    let section = match kind {
        FileKind::Config => {
            if let Some(name) = named("profile") {
                Section::Profile { name, prefixed: true }
            } else if let Some(name) = named("sso-session") {
                Section::SsoSession(name)
            } else if inner == "default" {
                Section::Profile {
                    name: inner.into(),
                    prefixed: false,
                }
            } else {
                Section::Ignored
            }
        }
        FileKind::Credentials => Section::Profile {
            name: inner.into(),
            prefixed: false,
        },
    };
    Ok(match section {
        Section::Profile { ref name, .. } | Section::SsoSession(ref name) if !is_valid_name(name) => {
            Section::Ignored
        }
        other => other,
    })
}

/// The profile a section header line names in a file of `kind`, if it names a valid one.
pub(crate) fn section_name(line: &str, kind: FileKind) -> Option<String> {
    match parse_section_header(line, kind, 0).ok()? {
        Section::Profile { name, .. } => Some(name),
        _ => None,
    }
}

type Properties = Vec<(String, Value)>;

/// Split a file into its sections, each with its properties in order (continuations joined).
fn parse_sections(text: &str, kind: FileKind) -> Result<Vec<(Section, Properties)>, ParseError> {
    let mut sections: Vec<(Section, Properties)> = Vec::new();
    // Whether the last property of the current section may take continuation lines, and whether
    // it is a sub-property block (`s3 =` with an empty value).
    let mut open_property: Option<bool> = None;
    for (index, raw) in text.lines().enumerate() {
        let line_no = index as u32 + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = line.trim_matches([' ', '\t']);
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            sections.push((parse_section_header(line, kind, line_no)?, Vec::new()));
            open_property = None;
            continue;
        }
        let Some((_, properties)) = sections.last_mut() else {
            return Err(ParseError {
                line: line_no,
                message:
                    "Expected a profile definition before this line; add a [profile NAME] header above it"
                        .into(),
            });
        };
        if line.starts_with([' ', '\t']) {
            // A continuation of the previous property.
            let (Some(sub_properties), Some((_, value))) = (open_property, properties.last_mut()) else {
                return Err(ParseError {
                    line: line_no,
                    message:
                        "Expected a property definition, found continuation; remove the leading whitespace"
                            .into(),
                });
            };
            if sub_properties {
                let Some((name, _)) = trimmed.split_once('=') else {
                    return Err(ParseError {
                        line: line_no,
                        message: "Expected an '=' sign defining a sub-property".into(),
                    });
                };
                if name.trim_matches([' ', '\t']).is_empty() {
                    return Err(ParseError {
                        line: line_no,
                        message: "Sub-property did not have a name".into(),
                    });
                }
            }
            value.value.push('\n');
            value.value.push_str(trimmed);
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            return Err(ParseError {
                line: line_no,
                message: "Expected an '=' sign defining a property (write it as `name = value`)".into(),
            });
        };
        let name = name.trim_matches([' ', '\t']);
        if name.is_empty() {
            return Err(ParseError {
                line: line_no,
                message: "Property did not have a name".into(),
            });
        }
        let value = strip_inline_comment(value).trim_matches([' ', '\t']);
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
