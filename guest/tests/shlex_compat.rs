//! The argv credbox runs is the argv the AWS CLI would run: for generated command lines that use
//! no rejected construct, `parse_command` equals Python's `shlex.split` (botocore's splitter),
//! asked of a real python3 process.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use credbox_guest::{Command as Parsed, parse_command};
use proptest::prelude::*;

struct Python {
    _child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

fn python() -> &'static Mutex<Python> {
    static PYTHON: OnceLock<Mutex<Python>> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let mut child = Command::new("python3")
            .args([
                "-c",
                "import json, shlex, sys\nfor line in sys.stdin:\n    print(json.dumps(shlex.split(json.loads(line))), flush=True)",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 is needed to compare with shlex.split");
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        Mutex::new(Python { _child: child, input, output })
    })
}

fn shlex_split(command: &str) -> Vec<String> {
    let mut python = python().lock().unwrap();
    writeln!(python.input, "{}", serde_json::to_string(command).unwrap()).unwrap();
    let mut line = String::new();
    python.output.read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap()
}

/// One piece of a word: bare characters, a quoted string, or an escaped character — none of
/// them a construct credbox rejects.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9._=:,+@/-]{1,8}",
        // Single quotes: anything but a single quote, shell syntax included (it is literal).
        "[a-zA-Z0-9 $|&;<>()~%`\\\\\"*?#-]{0,8}".prop_map(|s| format!("'{s}'")),
        // Double quotes: no `$`, backtick or `%NAME%`; backslashes escape `"` and `\` only.
        "([a-zA-Z0-9 |&;<>()~*?#'-]|\\\\\"|\\\\\\\\|\\\\[a-z])*".prop_map(|s| format!("\"{s}\"")),
        // An escaped character outside quotes is literal, shell syntax included.
        "[ a-zA-Z$|&;<>()~`%'\"\\\\]".prop_map(|c| format!("\\{c}")),
    ]
}

fn word() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 1..4).prop_map(|pieces| pieces.concat())
}

fn command_line() -> impl Strategy<Value = String> {
    (prop::collection::vec((word(), "[ \t]{1,3}"), 0..6), "[ \t]{0,2}").prop_map(|(words, trailing)| {
        let mut line = String::from("/opt/bin/helper");
        for (word, space) in words {
            line.push_str(&space);
            line.push_str(&word);
        }
        line.push_str(&trailing);
        line
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn argv_matches_python_shlex_split(line in command_line()) {
        let ours = parse_command(&line, false);
        let theirs = shlex_split(&line);
        prop_assert_eq!(ours, Ok(Parsed::Argv(theirs)), "command line: {:?}", line);
    }
}
