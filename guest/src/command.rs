//! From a `credential_process` value to the command to run (BEHAVIOUR.md §2).
//!
//! Words are split as botocore and the AWS CLI split them, so argv is the same as the AWS CLI's:
//! on Unix like Python's `shlex.split`, on Windows by the Windows C runtime's convention
//! (botocore's `compat_shell_split`), where a backslash is a path separator. The `shlex` crate
//! splits the Unix way but forgets how each character was quoted, and the rules need exactly that
//! (`'$HOME'` is a literal, `$HOME` is a mistake), and no crate splits the Windows way with
//! botocore's quirks, so both tokenizers are written here.

use crate::{Command, Error, Platform, SyntaxError, SyntaxRule};

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
    Error::CommandSyntax(SyntaxError {
        rule,
        word: word.into(),
    })
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

/// Split into words as botocore does on Windows (`_windows_shell_split`, the C runtime's rules):
/// only space and tab separate words; only double quotes quote (they toggle, and `""` is an empty
/// word); backslashes are literal unless a run of them leads up to a double quote, where each
/// pair is one backslash and an odd one out makes the quote literal.
fn split_words_windows(value: &str) -> Result<Vec<Word>, Error> {
    let mut words = Vec::new();
    let mut word: Option<(Word, usize)> = None;
    let mut quoted = false;
    let mut backslashes = 0;
    let mut quote_start = 0;
    for (i, c) in value.char_indices() {
        if !quoted && matches!(c, ' ' | '\t') {
            if let Some((mut done, start)) = word.take() {
                push_backslashes(&mut done, backslashes, Quoting::Bare);
                backslashes = 0;
                done.raw = value[start..i].to_string();
                words.push(done);
            }
            continue;
        }
        let (current, _) = word.get_or_insert_with(|| {
            (
                Word {
                    chars: Vec::new(),
                    raw: String::new(),
                },
                i,
            )
        });
        let quoting = if quoted { Quoting::Double } else { Quoting::Bare };
        match c {
            '\\' => backslashes += 1,
            '"' => {
                let half = backslashes / 2;
                push_backslashes(current, half, Quoting::Escaped);
                let escaped = backslashes % 2 == 1;
                backslashes = 0;
                if escaped {
                    current.chars.push(('"', Quoting::Escaped));
                } else {
                    quoted = !quoted;
                    quote_start = i;
                }
            }
            c => {
                push_backslashes(current, backslashes, quoting);
                backslashes = 0;
                current.chars.push((c, quoting));
            }
        }
    }
    if quoted {
        return Err(syntax(SyntaxRule::UnbalancedQuote, &value[quote_start..]));
    }
    if let Some((mut done, start)) = word {
        push_backslashes(&mut done, backslashes, Quoting::Bare);
        done.raw = value[start..].to_string();
        words.push(done);
    }
    Ok(words)
}

fn push_backslashes(word: &mut Word, count: usize, quoting: Quoting) {
    word.chars.extend(std::iter::repeat_n(('\\', quoting), count));
}

/// `shlex`'s whitespace set (not Unicode whitespace).
fn is_shlex_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// The first construct in a word that only cmd.exe would interpret, if any: its operators outside
/// quotes, and `%NAME%`, which cmd.exe expands even inside them. (`$` means nothing to it, and
/// parentheses are common in paths: `C:\Program Files (x86)`.)
fn cmd_construct(word: &Word) -> Option<SyntaxRule> {
    if let Some(&('~', Quoting::Bare)) = word.chars.first() {
        return Some(SyntaxRule::Tilde);
    }
    for (i, &(c, q)) in word.chars.iter().enumerate() {
        match c {
            '|' | '&' | '<' | '>' | '^' if q == Quoting::Bare => return Some(SyntaxRule::ShellOperator),
            '%' if percent_variable(&word.chars[i + 1..], |_| true) => {
                return Some(SyntaxRule::EnvironmentVariable);
            }
            _ => {}
        }
    }
    None
}

/// Whether `rest` (what follows a `%`) is `NAME%` with every character `expands`.
fn percent_variable(rest: &[(char, Quoting)], expands: impl Fn(Quoting) -> bool) -> bool {
    let name = rest
        .iter()
        .take_while(|(n, nq)| expands(*nq) && (*n == '_' || n.is_ascii_alphanumeric()))
        .count();
    name > 0 && matches!(rest.get(name), Some(&('%', cq)) if expands(cq))
}

/// Whether `program` names a file by a path that depends on the working directory (or, on
/// Windows, on the current drive: `\tools\h.exe`, `C:h.exe`). A bare name is looked up on PATH.
fn relative_program(program: &str, platform: Platform) -> bool {
    match platform {
        Platform::Unix => program.contains('/') && !program.starts_with('/'),
        Platform::Windows => program.contains(['\\', '/', ':']) && !windows_absolute(program),
    }
}

/// `X:\…`, `X:/…` or a UNC path (`\\server\share\…`): absolute on Windows.
pub(crate) fn windows_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    let separator = |b: u8| b == b'\\' || b == b'/';
    let drive = bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && separator(bytes[2]);
    let unc = bytes.len() >= 2 && separator(bytes[0]) && separator(bytes[1]);
    drive || unc
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
            // `%NAME%`, as Windows would expand it.
            '%' if expands(q) && percent_variable(&word.chars[i + 1..], expands) => {
                return Some(SyntaxRule::EnvironmentVariable);
            }
            _ => {}
        }
    }
    None
}

/// Turn a `credential_process` value into a command, enforcing the syntax rules.
///
/// With `allow_shell`, a value that uses shell syntax runs as `sh -c VALUE` (Windows:
/// `cmd.exe /d /s /c VALUE`) instead of being refused; a value that needs no shell still runs as
/// plain argv.
pub fn parse_command(value: &str, allow_shell: bool, platform: Platform) -> Result<Command, Error> {
    if value.trim().is_empty() {
        return Err(syntax(SyntaxRule::Empty, value));
    }
    let (words, construct): (_, fn(&Word) -> Option<SyntaxRule>) = match platform {
        Platform::Unix => (split_words(value)?, shell_construct),
        Platform::Windows => (split_words_windows(value)?, cmd_construct),
    };
    if let Some((word, rule)) = words.iter().find_map(|w| construct(w).map(|rule| (w, rule))) {
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
    if relative_program(program, platform) {
        return Err(syntax(SyntaxRule::RelativeProgram, &words[0].raw));
    }
    Ok(Command::Argv(argv))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(value: &str) -> Vec<String> {
        argv_on(Platform::Unix, value)
    }

    fn argv_on(platform: Platform, value: &str) -> Vec<String> {
        match parse_command(value, false, platform) {
            Ok(Command::Argv(argv)) => argv,
            other => panic!("{value:?}: {other:?}"),
        }
    }

    fn rule(value: &str) -> (SyntaxRule, String) {
        rule_on(Platform::Unix, value)
    }

    fn rule_on(platform: Platform, value: &str) -> (SyntaxRule, String) {
        match parse_command(value, false, platform) {
            Err(Error::CommandSyntax(SyntaxError { rule, word })) => (rule, word),
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
        for (platform, program) in [(Platform::Unix, "/h"), (Platform::Windows, "C:\\h")] {
            assert_eq!(
                parse_command("echo x | base64 -d", true, platform),
                Ok(Command::Shell("echo x | base64 -d".into()))
            );
            assert_eq!(
                parse_command(&format!("{program} a"), true, platform),
                Ok(Command::Argv(vec![program.into(), "a".into()]))
            );
            assert!(parse_command("./h", true, platform).is_err());
        }
    }

    /// The cases of botocore's tests of `_windows_shell_split` (tests/unit/test_compat.py),
    /// which follow the C runtime's rules.
    #[test]
    fn splits_like_botocore_on_windows() {
        let windows = |value: &str| argv_on(Platform::Windows, value);
        assert_eq!(
            windows(r"C:\tools\helper.exe --user x"),
            [r"C:\tools\helper.exe", "--user", "x"]
        );
        assert_eq!(
            windows(r#""C:\Program Files (x86)\h.exe" "a b" c"#),
            [r"C:\Program Files (x86)\h.exe", "a b", "c"]
        );
        assert_eq!(windows(r#"h a"b c"d"#), ["h", "ab cd"]);
        assert_eq!(windows(r#"h \"a"#), ["h", "\"a"]);
        assert_eq!(windows(r#"h \\"a b""#), ["h", r"\a b"]);
        assert_eq!(windows(r#"h \\\"a"#), ["h", r#"\"a"#]);
        assert_eq!(windows(r"h a\\b\ c\"), ["h", r"a\\b\", r"c\"]);
        assert_eq!(windows(r#"h """#), ["h", ""]);
        assert_eq!(windows("h 'a b'"), ["h", "'a", "b'"]);
        assert_eq!(windows("h\ta  b"), ["h", "a", "b"]);
    }

    #[test]
    fn windows_rules() {
        let windows = |value: &str| rule_on(Platform::Windows, value);
        assert_eq!(
            windows(r#"C:\h.exe "abc"#),
            (SyntaxRule::UnbalancedQuote, "\"abc".into())
        );
        assert_eq!(windows(r"%APPDATA%\h.exe").0, SyntaxRule::EnvironmentVariable);
        // cmd.exe expands it inside quotes too.
        assert_eq!(
            windows(r#"C:\h.exe "%USERNAME%""#).0,
            SyntaxRule::EnvironmentVariable
        );
        assert_eq!(windows(r"~\bin\h.exe").0, SyntaxRule::Tilde);
        for operator in ["a | b", "a & b", "a && b", "a > f", "a < f", "a ^& b"] {
            assert_eq!(
                windows(&format!("C:\\h.exe {operator}")).0,
                SyntaxRule::ShellOperator,
                "{operator}"
            );
        }
        for relative in [r"bin\h.exe", r".\h.exe", r"\tools\h.exe", "C:h.exe", "bin/h"] {
            assert_eq!(windows(relative).0, SyntaxRule::RelativeProgram, "{relative}");
        }
        // What only a POSIX shell would interpret is literal to Windows programs.
        assert_eq!(
            argv_on(Platform::Windows, r#"C:\h.exe $HOME ; (x) "a|b" 100%"#),
            [r"C:\h.exe", "$HOME", ";", "(x)", "a|b", "100%"]
        );
        for absolute in [r"C:\h.exe", "c:/h.exe", r"\\server\share\h.exe", "helper"] {
            assert_eq!(argv_on(Platform::Windows, absolute)[0], absolute);
        }
    }
}
