//! The local credentials endpoint (`credbox serve`, `credbox exec --server`) against real SDK
//! clients: botocore from PyPI and, where Node.js exists, the AWS SDK for JavaScript v3's HTTP
//! provider from npm (both installed by tests/clients/setup.sh, which `make test` runs).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;

fn clients() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/clients");
    assert!(
        dir.join("venv/bin/python").exists(),
        "{} has no botocore: run tests/clients/setup.sh (`make test` does)",
        dir.display()
    );
    dir
}

/// Profile `dev`, whose helper counts its runs and returns a new key each time, valid for
/// `seconds`; it fails (exit 1) while a file named `fail` exists beside it.
fn dev_profile(sandbox: &Sandbox, seconds: u32) {
    let dir = sandbox.path("helper");
    let helper = sandbox.helper(
        "helper/run",
        &format!(
            r#"cd "{dir}"
if [ -e fail ]; then echo "identity provider unreachable" >&2; exit 1; fi
echo run >> runs
n=$(wc -l < runs | tr -d ' ')
exp=$(date -u -d "+{seconds} seconds" +%Y-%m-%dT%H:%M:%SZ)
printf '{{"Version":1,"AccessKeyId":"ASIARUN%s","SecretAccessKey":"{SECRET}","SessionToken":"{TOKEN}","Expiration":"%s"}}' "$n" "$exp""#,
            dir = dir.display()
        ),
    );
    sandbox.config(&format!(
        "[profile dev]\ncredential_process = {}\n",
        quoted(&helper)
    ));
}

fn helper_runs(sandbox: &Sandbox) -> usize {
    std::fs::read_to_string(sandbox.path("helper/runs")).map_or(0, |s| s.lines().count())
}

/// A running `credbox serve` and the two variables it printed. Killed on drop.
struct Served {
    child: Child,
    uri: String,
    token: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn start(sandbox: &Sandbox, profile: &str) -> Served {
        let mut child = sandbox
            .std_credbox()
            .args(["serve", "--profile", profile])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut variable = |name: &str| {
            let line = lines.next().expect("serve prints two lines").unwrap();
            let prefix = format!("export {name}=");
            assert!(line.starts_with(&prefix), "{line}");
            line[prefix.len()..].to_string()
        };
        let uri = variable("AWS_CONTAINER_CREDENTIALS_FULL_URI");
        let token = variable("AWS_CONTAINER_AUTHORIZATION_TOKEN");
        Served { child, uri, token }
    }

    fn address(&self) -> String {
        self.uri
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .to_string()
    }

    /// The stderr written so far (after the process is killed).
    fn stop_and_stderr(mut self) -> String {
        let _ = self.child.kill();
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        stderr
    }
}

/// A client script printed that the SDK's container provider resolved the first helper run's key.
fn assert_resolved_from_the_endpoint(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "{}{}",
        stdout_of(output),
        stderr_of(output)
    );
    assert_eq!(stdout_of(output).trim(), "container-role ASIARUN1");
}

/// One HTTP/1.1 request on its own connection: (status, body).
fn request(address: &str, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    let auth = token
        .map(|t| format!("Authorization: {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// An SDK client's environment: nothing from ours, no profile files, only the endpoint.
fn client_command(program: &PathBuf, sandbox: &Sandbox, served: &Served) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("HOME", sandbox.path("client-home"))
        .env("AWS_CONFIG_FILE", sandbox.path("client-home/none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", sandbox.path("client-home/none"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &served.uri)
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", &served.token);
    command
}

#[test]
fn botocore_resolves_credentials_from_the_endpoint() {
    let sandbox = Sandbox::new();
    dev_profile(&sandbox, 3600);
    let served = Served::start(&sandbox, "dev");
    let clients = clients();
    let mut command = client_command(&clients.join("venv/bin/python"), &sandbox, &served);
    let output = command
        .arg("../tests/clients/botocore_client.py")
        .output()
        .unwrap();
    assert_resolved_from_the_endpoint(&output);
    assert_eq!(helper_runs(&sandbox), 1);
}

#[test]
fn the_javascript_sdk_resolves_credentials_from_the_endpoint() {
    let Some(node) = which("node") else {
        eprintln!("SKIPPED: node is not installed, so the JavaScript SDK cannot run here");
        return;
    };
    let sandbox = Sandbox::new();
    dev_profile(&sandbox, 3600);
    let served = Served::start(&sandbox, "dev");
    let script = clients().join("js/js_client.mjs");
    assert!(script.exists(), "run tests/clients/setup.sh (`make test` does)");
    let output = client_command(&node, &sandbox, &served)
        .arg(script)
        .output()
        .unwrap();
    assert_resolved_from_the_endpoint(&output);
}

#[test]
fn without_the_token_no_credentials_are_served() {
    let sandbox = Sandbox::new();
    dev_profile(&sandbox, 3600);
    let served = Served::start(&sandbox, "dev");
    let address = served.address();
    let mut near_miss = served.token.clone();
    near_miss.pop();
    for (method, path, token, status) in [
        ("GET", "/creds", None, 401),
        ("GET", "/", None, 401),
        ("GET", "/creds", Some("wrong"), 403),
        ("GET", "/creds", Some(near_miss.as_str()), 403),
        ("GET", "/creds", Some(""), 403),
        ("POST", "/creds", None, 401),
        ("GET", "/other", None, 401),
        ("GET", "/other", Some(served.token.as_str()), 404),
        ("POST", "/creds", Some(served.token.as_str()), 405),
        ("DELETE", "/", Some(served.token.as_str()), 405),
    ] {
        let (got, body) = request(&address, method, path, token);
        assert_eq!(got, status, "{method} {path} {token:?}: {body}");
        for secret in [SECRET, TOKEN, "ASIARUN"] {
            assert!(!body.contains(secret), "{method} {path}: {body}");
        }
    }
    let (status, body) = request(&address, "GET", "/", Some(&served.token));
    assert_eq!(status, 200, "{body}");
    let document: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(document["AccessKeyId"], "ASIARUN1");
    assert_eq!(document["SecretAccessKey"], SECRET);
    assert_eq!(document["Token"], TOKEN);
    let stderr = served.stop_and_stderr();
    assert!(!stderr.contains(SECRET) && !stderr.contains(TOKEN), "{stderr}");
}

#[test]
fn a_failed_refresh_keeps_serving_valid_credentials_then_answers_503() {
    let sandbox = Sandbox::new();
    // Good for 6 s: refreshed after 3 s (half the lifetime).
    dev_profile(&sandbox, 6);
    let served = Served::start(&sandbox, "dev");
    let started = Instant::now();
    let address = served.address();
    std::fs::write(sandbox.path("helper/fail"), "").unwrap();

    std::thread::sleep(Duration::from_millis(3500));
    let (status, body) = request(&address, "GET", "/creds", Some(&served.token));
    assert_eq!(status, 200, "still valid for ~2 s: {body}");
    assert!(body.contains("ASIARUN1"), "{body}");

    std::thread::sleep(Duration::from_secs(7).saturating_sub(started.elapsed()));
    let (status, body) = request(&address, "GET", "/creds", Some(&served.token));
    assert_eq!(status, 503, "{body}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["Code"], "CredentialsUnavailable");
    assert!(
        error["Message"]
            .as_str()
            .unwrap()
            .contains("identity provider unreachable"),
        "{body}"
    );
    assert!(!body.contains(SECRET));

    let stderr = served.stop_and_stderr();
    assert!(stderr.contains("refreshing credentials failed"), "{stderr}");
}

#[test]
fn exec_server_gives_the_command_an_endpoint_for_its_lifetime() {
    let sandbox = Sandbox::new();
    dev_profile(&sandbox, 3600);
    let python = clients().join("venv/bin/python");
    let output = sandbox
        .credbox()
        .env("AWS_ACCESS_KEY_ID", "AKIASTALE")
        .env("AWS_SECRET_ACCESS_KEY", "stale")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["exec", "--server", "--profile", "dev", "--"])
        .arg(&python)
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/clients/botocore_client.py"))
        .output()
        .unwrap();
    assert_resolved_from_the_endpoint(&output);

    // Its exit code is ours, and the endpoint is gone once it has exited.
    let output = sandbox
        .credbox()
        .args(["exec", "--server", "--profile", "dev", "--", "sh", "-c"])
        .arg(format!(
            "echo $AWS_CONTAINER_CREDENTIALS_FULL_URI > {}; exit 7",
            sandbox.path("uri").display()
        ))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(7), "{}", stderr_of(&output));
    let uri = std::fs::read_to_string(sandbox.path("uri")).unwrap();
    let address = uri
        .trim()
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    assert!(
        TcpStream::connect(&address).is_err(),
        "the endpoint outlived the command"
    );
}

/// The load test: at least 20,000 requests over 64 keep-alive connections, as fast as they go,
/// for at least 2.5 s so that they span refreshes. Prints throughput and latency percentiles;
/// asserts every answer was 200 and that each expiry caused exactly one helper run.
#[test]
fn load_many_clients_one_helper_run_per_expiry() {
    const CONNECTIONS: usize = 64;
    const REQUESTS: usize = 20_000;
    const AT_LEAST: Duration = Duration::from_millis(2500);
    let sandbox = Sandbox::new();
    // Good for 2 s: refreshed every second.
    dev_profile(&sandbox, 2);
    let served = Served::start(&sandbox, "dev");
    let address = served.address();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (address, token, next) = (address.clone(), served.token.clone(), next.clone());
            std::thread::spawn(move || {
                let stream = TcpStream::connect(&address).unwrap();
                stream.set_nodelay(true).unwrap();
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                let mut latencies = Vec::new();
                let mut keys = std::collections::BTreeSet::new();
                while next.fetch_add(1, Ordering::Relaxed) < REQUESTS || started.elapsed() < AT_LEAST {
                    let sent = Instant::now();
                    write!(
                        writer,
                        "GET /creds HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n\r\n"
                    )
                    .unwrap();
                    let (status, body) = read_response(&mut reader);
                    latencies.push(sent.elapsed());
                    assert_eq!(status, 200, "{body}");
                    let document: serde_json::Value = serde_json::from_str(&body).unwrap();
                    keys.insert(document["AccessKeyId"].as_str().unwrap().to_string());
                }
                (latencies, keys)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut keys = std::collections::BTreeSet::new();
    for thread in threads {
        let (l, k) = thread.join().unwrap();
        latencies.extend(l);
        keys.extend(k);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    eprintln!("slowest: {:?}", &latencies[latencies.len().saturating_sub(5)..]);
    let percentile = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let runs = helper_runs(&sandbox);
    eprintln!(
        "load: {} requests on {CONNECTIONS} connections in {:.2} s = {:.0} req/s; latency p50 {:?}, p99 {:?}, max {:?}; {runs} helper runs, {} distinct keys",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(0.50),
        percentile(0.99),
        latencies.last().unwrap(),
        keys.len()
    );
    assert!(latencies.len() >= REQUESTS);
    // Every refresh ran the helper for a client that then got its key: every key from the second
    // run on was seen. (The first, fetched when `serve` started, may expire before the clients
    // connect: credentials are stamped in whole seconds.) And no expiry ran the helper twice: at
    // most one run per 1-second window, plus the first and one for a window boundary.
    for run in 2..=runs {
        assert!(
            keys.contains(&format!("ASIARUN{run}")),
            "run {run} was not served: {keys:?}"
        );
    }
    assert!(keys.len() <= runs, "{keys:?} from {runs} runs");
    let windows = elapsed.as_secs_f64();
    assert!(
        runs as f64 <= windows.ceil() + 2.0,
        "{runs} runs in {windows:.1} windows"
    );
    assert!(
        runs >= 2,
        "the test must span at least one refresh ({runs} runs in {elapsed:?})"
    );
}

/// Read one HTTP/1.1 response with a Content-Length body.
fn read_response(reader: &mut impl BufRead) -> (u16, String) {
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status = status_line[9..12].parse().unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (status, String::from_utf8(body).unwrap())
}

#[test]
fn exec_server_serves_through_ctrl_c_and_passes_sigterm_on() {
    use std::os::unix::process::CommandExt;
    let sandbox = Sandbox::new();
    dev_profile(&sandbox, 3600);
    let python = clients().join("venv/bin/python");
    let client = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/clients/botocore_client.py");
    let ready = sandbox.path("ready");
    let wait_ready = || {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ready.exists() {
            assert!(Instant::now() < deadline, "the command never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::fs::remove_file(&ready).unwrap();
    };

    // Ctrl-C reaches the whole process group. The command traps it and still gets credentials
    // from the endpoint, because credbox kept serving.
    let script = format!(
        "trap 'AWS_EC2_METADATA_DISABLED=true {} {} > {}; exit 42' INT\ntouch {}\nwhile :; do sleep 0.05; done",
        python.display(),
        client.display(),
        sandbox.path("after-ctrl-c").display(),
        ready.display()
    );
    let mut credbox = sandbox
        .std_credbox()
        .args(["exec", "--server", "--profile", "dev", "--", "sh", "-c", &script])
        .process_group(0)
        .spawn()
        .unwrap();
    wait_ready();
    // SAFETY: kill(2) on the process group we just created.
    unsafe { libc::kill(-(credbox.id() as i32), libc::SIGINT) };
    let status = credbox.wait().unwrap();
    assert_eq!(status.code(), Some(42), "{status:?}");
    let after = std::fs::read_to_string(sandbox.path("after-ctrl-c")).unwrap();
    assert_eq!(after.trim(), "container-role ASIARUN1");

    // SIGTERM to credbox alone is passed on; the command's death by it is reported as 128 + 15.
    let script = format!("touch {}\nwhile :; do sleep 0.05; done", ready.display());
    let mut credbox = sandbox
        .std_credbox()
        .args(["exec", "--server", "--profile", "dev", "--", "sh", "-c", &script])
        .spawn()
        .unwrap();
    wait_ready();
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(credbox.id() as i32, libc::SIGTERM) };
    assert_eq!(credbox.wait().unwrap().code(), Some(143));
}
