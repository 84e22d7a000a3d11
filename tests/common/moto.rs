//! moto's server on loopback (from PyPI, installed by `make clients`): a real STS that records
//! every request it serves, so tests count AssumeRole calls and read their parameters.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::skip;

/// Where `make clients` installs the SDK clients and servers.
pub fn clients() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/clients")
}

pub fn python() -> PathBuf {
    clients().join("venv/bin/python")
}

/// moto's server on a free loopback port, recording every request; stopped when dropped.
pub struct Moto {
    child: Child,
    pub url: String,
    recording: PathBuf,
    _dir: tempfile::TempDir,
}

impl Moto {
    /// A server; with `free_actions`, only that many requests may go unsigned (strict mode).
    pub fn start(free_actions: Option<u32>) -> Option<Moto> {
        let server = clients().join("venv/bin/moto_server");
        if !server.exists() {
            skip("moto_server is not installed: run `make clients` (make test does)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let recording = dir.path().join("recording.jsonl");
        let mut command = Command::new(server);
        command
            .args(["-H", "127.0.0.1", "-p", "0"])
            .env("MOTO_ENABLE_RECORDING", "true")
            .env("MOTO_RECORDER_FILEPATH", &recording)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(n) = free_actions {
            command.env("INITIAL_NO_AUTH_ACTION_COUNT", n.to_string());
        }
        let mut child = command.spawn().unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut line = String::new();
        let url = loop {
            line.clear();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0 && Instant::now() < deadline,
                "moto_server stopped before it said where it listens"
            );
            if let Some(at) = line.find("http://127.0.0.1:") {
                break line[at..].trim().to_string();
            }
        };
        // Keep draining its log so that it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        Some(Moto {
            child,
            url,
            recording,
            _dir: dir,
        })
    }

    /// Every AssumeRole request moto served: its form parameters, and the access key id in its
    /// signature's credential scope (with the scope).
    pub fn assume_role_calls(&self) -> Vec<(BTreeMap<String, String>, String)> {
        let text = std::fs::read_to_string(&self.recording).unwrap_or_default();
        text.lines()
            .filter_map(|line| {
                let entry: Value = serde_json::from_str(line).ok()?;
                let body = entry["body"].as_str()?;
                let body = if entry["body_encoded"] == true {
                    use base64::Engine as _;
                    base64::engine::general_purpose::STANDARD.decode(body).ok()?
                } else {
                    body.as_bytes().to_vec()
                };
                let form: BTreeMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
                (form.get("Action").map(String::as_str) == Some("AssumeRole")).then(|| {
                    let authorization = entry["headers"]["Authorization"].as_str().unwrap_or("");
                    let scope = authorization
                        .split("Credential=")
                        .nth(1)
                        .and_then(|rest| rest.split(',').next())
                        .unwrap_or("")
                        .to_string();
                    (form, scope)
                })
            })
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
