//! The behaviour cases of `tests/cases/AREA/CASE/` (the README beside this file says how to write
//! one), run through the real binary with real helper processes. One harness for every system:
//! Linux runs it from `tests/cases.rs`, Windows from `tests/windows.rs`; each says only how to
//! make a helper ([`System`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use libtest_mimic::{Failed, Trial};
use serde::Deserialize;

/// What differs by system: how a case's helper is made and named on a `credential_process` line,
/// and the `credbox` binary.
pub trait System: Send + Sync {
    /// `unix` or `windows`: a case runs where its `platforms` lists it.
    fn name(&self) -> &'static str;
    /// The `credential_process` value that runs helper `name`: a program that appends a line to
    /// `DIR/NAME.runs`, writes `DIR/NAME.stdout` to stdout and `DIR/NAME.stderr` to stderr, and
    /// exits with the code in `DIR/NAME.exit`.
    fn helper(&self, dir: &Path, name: &str) -> String;
    /// `credbox`, with nothing of the user's environment (no `AWS_*`, no `CREDBOX_*`).
    fn credbox(&self) -> Command;
}

/// One case, as `case.json` says it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// What the case shows, in one line.
    about: String,
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// The helpers the profile files name (`{helper:NAME}`), by name.
    #[serde(default)]
    helpers: BTreeMap<String, Helper>,
    /// The systems the case runs on (default: all; read by [`runs_on`]).
    #[serde(default, rename = "platforms")]
    _platforms: Option<Vec<String>>,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Helper {
    /// A file of the case folder the helper prints on stdout.
    #[serde(default)]
    stdout: Option<String>,
    #[serde(default)]
    stderr: String,
    #[serde(default)]
    exit: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    exit: i32,
    /// A file of the case folder stdout must equal (after the placeholders).
    #[serde(default)]
    stdout: Option<String>,
    /// Fields stdout, read as JSON, must have.
    #[serde(default)]
    stdout_json: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    stdout_empty: bool,
    /// The whole of stderr, without its final newline.
    #[serde(default)]
    stderr: Option<String>,
    /// The last line of stderr (a helper's forwarded stderr comes before it).
    #[serde(default)]
    stderr_last_line: Option<String>,
    #[serde(default)]
    stderr_contains: Vec<String>,
    /// How many lines stdout and stderr hold together.
    #[serde(default)]
    lines: Option<usize>,
    /// What must appear in neither stdout nor stderr.
    #[serde(default)]
    never_shown: Vec<String>,
    /// How many times each helper ran.
    #[serde(default)]
    runs: BTreeMap<String, usize>,
}

/// Every case under `tests/cases`, as trials named `AREA/CASE`, for `system`.
pub fn trials(system: Arc<dyn System>) -> Vec<Trial> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/cases");
    let mut trials = Vec::new();
    for area in sorted_dirs(&root) {
        for case in sorted_dirs(&area) {
            let name = format!(
                "{}/{}",
                area.file_name().unwrap().to_string_lossy(),
                case.file_name().unwrap().to_string_lossy()
            );
            let elsewhere = !runs_on(&case, system.name());
            let system = system.clone();
            trials.push(Trial::test(name, move || run(&*system, &case)).with_ignored_flag(elsewhere));
        }
    }
    trials
}

/// Whether the case in `folder` runs on `system` (one that does not is reported as ignored).
fn runs_on(folder: &Path, system: &str) -> bool {
    let text = std::fs::read_to_string(folder.join("case.json")).unwrap_or_default();
    let case: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    case["platforms"]
        .as_array()
        .is_none_or(|platforms| platforms.iter().any(|p| p == system))
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn run(system: &dyn System, folder: &Path) -> Result<(), Failed> {
    let read = |name: &str| {
        std::fs::read_to_string(folder.join(name))
            .map_err(|e| format!("{}: {e}", folder.join(name).display()))
    };
    let case: Case = serde_json::from_str(&read("case.json")?).map_err(|e| format!("case.json: {e}"))?;
    let work = tempfile::Builder::new().prefix("credbox-case").tempdir()?;
    let dir = work.path();
    let paths: BTreeMap<&str, PathBuf> = [
        ("config", dir.join("config")),
        ("credentials", dir.join("credentials")),
    ]
    .into();
    let mut placeholders: Vec<(String, String)> = paths
        .iter()
        .map(|(name, path)| (format!("{{{name}}}"), path.display().to_string()))
        .collect();
    for (name, helper) in &case.helpers {
        let stdout = match &helper.stdout {
            Some(file) => std::fs::read(folder.join(file))?,
            None => Vec::new(),
        };
        std::fs::write(dir.join(format!("{name}.stdout")), stdout)?;
        std::fs::write(dir.join(format!("{name}.stderr")), &helper.stderr)?;
        std::fs::write(dir.join(format!("{name}.exit")), helper.exit.to_string())?;
        placeholders.push((format!("{{helper:{name}}}"), system.helper(dir, name)));
    }
    let fill = |text: &str| {
        placeholders
            .iter()
            .fold(text.to_string(), |text, (from, to)| text.replace(from, to))
    };
    for (name, path) in &paths {
        if let Ok(text) = std::fs::read_to_string(folder.join(name)) {
            std::fs::write(path, fill(&text))?;
        }
    }
    let output = system
        .credbox()
        .args(&case.args)
        .envs(&case.env)
        .env("AWS_CONFIG_FILE", &paths["config"])
        .env("AWS_SHARED_CREDENTIALS_FILE", &paths["credentials"])
        .env("CREDBOX_CACHE_DIR", dir.join("cache"))
        .current_dir(dir)
        .output()?;
    let shown = || describe(&case.about, &output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expect = &case.expect;
    check(output.status.code() == Some(expect.exit), "exit status", shown)?;
    if let Some(file) = &expect.stdout {
        check(stdout == fill(&read(file)?), "stdout", shown)?;
    }
    if let Some(fields) = &expect.stdout_json {
        let printed: serde_json::Value =
            serde_json::from_str(&stdout).map_err(|e| format!("stdout is not JSON ({e})\n{}", shown()))?;
        for (field, value) in fields {
            check(&printed[field] == value, &format!("stdout's {field}"), shown)?;
        }
    }
    check(!expect.stdout_empty || stdout.is_empty(), "empty stdout", shown)?;
    if let Some(text) = &expect.stderr {
        check(stderr.trim_end_matches('\n') == fill(text), "stderr", shown)?;
    }
    if let Some(line) = &expect.stderr_last_line {
        check(
            stderr.lines().last() == Some(&fill(line)),
            "stderr's last line",
            shown,
        )?;
    }
    for fragment in &expect.stderr_contains {
        check(
            stderr.contains(&fill(fragment)),
            &format!("stderr holding {fragment:?}"),
            shown,
        )?;
    }
    if let Some(lines) = expect.lines {
        check(
            stdout.lines().count() + stderr.lines().count() == lines,
            "line count",
            shown,
        )?;
    }
    for secret in &expect.never_shown {
        check(
            !stdout.contains(secret.as_str()) && !stderr.contains(secret.as_str()),
            &format!("{secret:?} never shown"),
            shown,
        )?;
    }
    for (helper, runs) in &expect.runs {
        let ran = std::fs::read_to_string(dir.join(format!("{helper}.runs")))
            .map_or(0, |text| text.lines().count());
        check(
            ran == *runs,
            &format!("helper {helper} ran {ran} times, not {runs}"),
            shown,
        )?;
    }
    Ok(())
}

fn check(condition: bool, what: &str, shown: impl Fn() -> String) -> Result<(), Failed> {
    if condition {
        Ok(())
    } else {
        Err(format!("{what} is not as expected\n{}", shown()).into())
    }
}

fn describe(about: &str, output: &Output) -> String {
    format!(
        "case: {about}\nstatus: {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
