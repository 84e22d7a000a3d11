//! From a `credential_process` value to the command to run (BEHAVIOUR.md §2).
//!
//! Words are split like Python's `shlex.split` (which botocore and the AWS CLI use), so argv is
//! the same as the AWS CLI's. The `shlex` crate splits the same way but forgets how each character
//! was quoted, and the rules need exactly that (`'$HOME'` is a literal, `$HOME` is a mistake), so
//! the tokenizer is written here.

use crate::{Error, SyntaxRule};

/// What to run: an argv, or (only when the user allows a shell) the whole value through `sh -c`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Argv(Vec<String>),
    Shell(String),
}

/// How a character of a word was written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quoting {
    Bare,
    Single,
    Double,
    /// Preceded by a backslash outside single quotes: always literal.
    Escaped,
}

struct Word {
    chars: Vec<(char, Quoting)>,
    /// The word as written, for messages.
    raw: String,
}

impl Word {
    fn text(&self) -> String {
        self.chars.iter().map(|(c, _)| c).collect()
    }
}

fn syntax(rule: SyntaxRule, word: impl Into<String>) -> Error {
    Error::CommandSyntax {
        rule,
        word: word.into(),
    }
}

/// Split into words with `shlex.split` semantics (POSIX mode, no comments).
fn split_words(value: &str) -> Result<Vec<Word>, Error> {
    let mut words = Vec::new();
    let mut chars = value.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if is_shlex_space(c) {
            chars.next();
            continue;
        }
        let mut word = Word {
            chars: Vec::new(),
            raw: String::new(),
        };
        let mut end = value.len();
        while let Some((i, c)) = chars.next() {
            match c {
                c if is_shlex_space(c) => {
                    end = i;
                    break;
                }
                '\'' | '"' => {
                    let quoting = if c == '\'' {
                        Quoting::Single
                    } else {
                        Quoting::Double
                    };
                    let mut closed = false;
                    while let Some((_, q)) = chars.next() {
                        if q == c {
                            closed = true;
                            break;
                        }
                        if q == '\\' && quoting == Quoting::Double {
                            // Inside double quotes a backslash escapes only `"` and `\`.
                            match chars.next() {
                                Some((_, e @ ('"' | '\\'))) => word.chars.push((e, Quoting::Escaped)),
                                Some((_, e)) => {
                                    word.chars.push(('\\', Quoting::Double));
                                    word.chars.push((e, Quoting::Double));
                                }
                                None => break,
                            }
                            continue;
                        }
                        word.chars.push((q, quoting));
                    }
                    if !closed {
                        return Err(syntax(SyntaxRule::UnbalancedQuote, &value[i..]));
                    }
                }
                '\\' => match chars.next() {
                    Some((_, e)) => word.chars.push((e, Quoting::Escaped)),
                    None => return Err(syntax(SyntaxRule::UnbalancedQuote, &value[i..])),
                },
                c => word.chars.push((c, Quoting::Bare)),
            }
        }
        word.raw = value[start..end].to_string();
        words.push(word);
    }
    Ok(words)
}

/// `shlex`'s whitespace set (not Unicode whitespace).
fn is_shlex_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// The first construct in a word that only a shell would interpret, if any.
fn shell_construct(word: &Word) -> Option<SyntaxRule> {
    let expands = |q: Quoting| matches!(q, Quoting::Bare | Quoting::Double);
    if let Some(&('~', Quoting::Bare)) = word.chars.first() {
        return Some(SyntaxRule::Tilde);
    }
    for (i, &(c, q)) in word.chars.iter().enumerate() {
        let next = word.chars.get(i + 1).copied();
        match c {
            '|' | '&' | ';' | '<' | '>' | '(' | ')' if q == Quoting::Bare => {
                return Some(SyntaxRule::ShellOperator);
            }
            '`' if expands(q) => return Some(SyntaxRule::ShellOperator),
            '$' if expands(q) => match next {
                Some(('(', nq)) if expands(nq) => return Some(SyntaxRule::ShellOperator),
                Some((n, nq)) if expands(nq) && (n == '{' || n == '_' || n.is_ascii_alphanumeric()) => {
                    return Some(SyntaxRule::EnvironmentVariable);
                }
                _ => {}
            },
            '%' if expands(q) => {
                // `%NAME%`, as Windows would expand it.
                let name: Vec<_> = word.chars[i + 1..]
                    .iter()
                    .take_while(|(n, nq)| expands(*nq) && (*n == '_' || n.is_ascii_alphanumeric()))
                    .collect();
                let closing = word.chars.get(i + 1 + name.len());
                if !name.is_empty() && matches!(closing, Some(&('%', cq)) if expands(cq)) {
                    return Some(SyntaxRule::EnvironmentVariable);
                }
            }
            _ => {}
        }
    }
    None
}

/// Turn a `credential_process` value into a command, enforcing the syntax rules.
///
/// With `allow_shell`, a value that uses shell syntax runs as `sh -c VALUE` instead of being
/// refused; a value that needs no shell still runs as plain argv.
pub fn parse_command(value: &str, allow_shell: bool) -> Result<Command, Error> {
    if value.trim().is_empty() {
        return Err(syntax(SyntaxRule::Empty, value));
    }
    let words = split_words(value)?;
    if let Some((word, rule)) = words
        .iter()
        .find_map(|w| shell_construct(w).map(|rule| (w, rule)))
    {
        return if allow_shell {
            Ok(Command::Shell(value.trim().to_string()))
        } else {
            Err(syntax(rule, &word.raw))
        };
    }
    let argv: Vec<String> = words.iter().map(Word::text).collect();
    let program = &argv[0];
    if program.is_empty() {
        return Err(syntax(SyntaxRule::Empty, &words[0].raw));
    }
    if program.contains('/') && !program.starts_with('/') {
        return Err(syntax(SyntaxRule::RelativeProgram, &words[0].raw));
    }
    Ok(Command::Argv(argv))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(value: &str) -> Vec<String> {
        match parse_command(value, false) {
            Ok(Command::Argv(argv)) => argv,
            other => panic!("{value:?}: {other:?}"),
        }
    }

    fn rule(value: &str) -> (SyntaxRule, String) {
        match parse_command(value, false) {
            Err(Error::CommandSyntax { rule, word }) => (rule, word),
            other => panic!("{value:?}: {other:?}"),
        }
    }

    #[test]
    fn splits_like_shlex() {
        assert_eq!(
            argv("/opt/bin/helper --user x"),
            ["/opt/bin/helper", "--user", "x"]
        );
        assert_eq!(argv("'/opt/my dir/helper' a"), ["/opt/my dir/helper", "a"]);
        assert_eq!(
            argv(r#""/opt/my dir/helper" "a\"b" 'c\d'"#),
            ["/opt/my dir/helper", "a\"b", "c\\d"]
        );
        assert_eq!(argv(r#"/h a\ b "x\y" """#), ["/h", "a b", "x\\y", ""]);
        assert_eq!(argv("helper a'b'\"c\""), ["helper", "abc"]);
    }

    #[test]
    fn quoted_or_escaped_shell_syntax_is_literal() {
        assert_eq!(
            argv("/h '$HOME' '~x' 'a|b' \\$X \\~"),
            ["/h", "$HOME", "~x", "a|b", "$X", "~"]
        );
        assert_eq!(argv("/h a~b $ 100%"), ["/h", "a~b", "$", "100%"]);
    }

    #[test]
    fn each_rule_has_its_error() {
        assert_eq!(rule("   ").0, SyntaxRule::Empty);
        assert_eq!(rule("'' x").0, SyntaxRule::Empty);
        assert_eq!(rule("/h 'abc"), (SyntaxRule::UnbalancedQuote, "'abc".into()));
        assert_eq!(rule("/h abc\\").0, SyntaxRule::UnbalancedQuote);
        assert_eq!(
            rule("/h $HOME/x"),
            (SyntaxRule::EnvironmentVariable, "$HOME/x".into())
        );
        assert_eq!(rule("/h \"${X}\"").0, SyntaxRule::EnvironmentVariable);
        assert_eq!(rule("/h %APPDATA%\\x").0, SyntaxRule::EnvironmentVariable);
        assert_eq!(rule("~/bin/h"), (SyntaxRule::Tilde, "~/bin/h".into()));
        assert_eq!(rule("/h | base64").0, SyntaxRule::ShellOperator);
        assert_eq!(rule("/h a&&b").0, SyntaxRule::ShellOperator);
        assert_eq!(rule("/h $(id)").0, SyntaxRule::ShellOperator);
        assert_eq!(rule("/h \"`id`\"").0, SyntaxRule::ShellOperator);
        assert_eq!(rule("./bin/h x"), (SyntaxRule::RelativeProgram, "./bin/h".into()));
        assert_eq!(rule("bin/h").0, SyntaxRule::RelativeProgram);
    }

    #[test]
    fn shell_mode_only_when_needed_and_allowed() {
        assert_eq!(
            parse_command("echo x | base64 -d", true),
            Ok(Command::Shell("echo x | base64 -d".into()))
        );
        assert_eq!(
            parse_command("/h a", true),
            Ok(Command::Argv(vec!["/h".into(), "a".into()]))
        );
        assert!(parse_command("./h", true).is_err());
    }
}
