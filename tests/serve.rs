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
/// `seconds`; it fails (exit 1) while a file named `fail` exists beside it. Each run appends a
/// line `run <unix second>` to `runs`: the second its credentials were issued in.
fn dev_profile(sandbox: &Sandbox, seconds: u32) {
    let dir = sandbox.path("helper");
    let helper = sandbox.helper(
        "helper/run",
        &format!(
            r#"cd "{dir}"
echo "$(date +%s.%N)" >> attempts
if [ -e fail ]; then echo "identity provider unreachable" >&2; exit 1; fi
now=$(date +%s)
echo "run $now" >> runs
n=$(wc -l < runs | tr -d ' ')
exp=$(date -u -d "@$((now + {seconds}))" +%Y-%m-%dT%H:%M:%SZ)
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
    helper_run_seconds(sandbox).len()
}

/// The second each helper run issued its credentials in, in run order.
fn helper_run_seconds(sandbox: &Sandbox) -> Vec<i64> {
    std::fs::read_to_string(sandbox.path("helper/runs")).map_or(Vec::new(), |s| {
        s.lines()
            .map(|line| line.strip_prefix("run ").unwrap().parse().unwrap())
            .collect()
    })
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
        Served::start_with(sandbox, &["serve", "--profile", profile])
    }

    fn start_with(sandbox: &Sandbox, args: &[&str]) -> Served {
        let mut child = sandbox
            .std_credbox()
            .args(args)
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
        return skip("node is not installed, so the JavaScript SDK cannot run here");
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
fn a_plugin_that_calls_its_credentials_expired_is_not_overruled_by_the_endpoint() {
    // This plugin's credentials are good for an hour, but its is-expired says no to every reuse.
    let sandbox = Sandbox::new();
    let plugin = sandbox.path("plugin.wasm");
    std::fs::copy(component("plugin_expires_early"), &plugin).unwrap();
    sandbox.config(&format!(
        "[profile p]\ncredential_plugin = {}\n",
        plugin.display()
    ));
    let served = Served::start(&sandbox, "p");
    let address = served.address();
    let (status, body) = request(&address, "GET", "/creds", Some(&served.token));
    assert_eq!(status, 200, "{body}");

    // Now the plugin can neither be asked nor run: the endpoint must not fall back on the
    // credentials it served a moment ago, which the plugin has called expired.
    std::fs::write(&plugin, "no longer a component").unwrap();
    let (status, body) = request(&address, "GET", "/creds", Some(&served.token));
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("cannot be loaded"), "{body}");
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

    // The endpoint serves while the command runs, its exit code is ours, and the endpoint is gone
    // once it has exited. The command waits (at most 15 s) for a file named `go`.
    let (uri_file, token_file, go) = (sandbox.path("uri"), sandbox.path("token"), sandbox.path("go"));
    /// Writes `go` and waits for credbox, also when the test fails before it lets it go.
    struct Running {
        credbox: Option<Child>,
        go: PathBuf,
    }
    impl Running {
        fn finish(mut self) -> std::process::Output {
            std::fs::write(&self.go, "").unwrap();
            self.credbox.take().unwrap().wait_with_output().unwrap()
        }
    }
    impl Drop for Running {
        fn drop(&mut self) {
            if let Some(mut credbox) = self.credbox.take() {
                let _ = std::fs::write(&self.go, "");
                let _ = credbox.wait();
            }
        }
    }
    let script = format!(
        "echo \"$AWS_CONTAINER_AUTHORIZATION_TOKEN\" > {token}\necho \"$AWS_CONTAINER_CREDENTIALS_FULL_URI\" > {uri}.tmp\n\
         mv {uri}.tmp {uri}\ni=0\nwhile [ ! -e {go} ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i + 1)); done\nexit 7",
        token = token_file.display(),
        uri = uri_file.display(),
        go = go.display()
    );
    let running = Running {
        credbox: Some(
            sandbox
                .std_credbox()
                .args(["exec", "--server", "--profile", "dev", "--", "sh", "-c", &script])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        ),
        go,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !uri_file.exists() {
        assert!(Instant::now() < deadline, "the command never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let uri = std::fs::read_to_string(&uri_file).unwrap().trim().to_string();
    let address: std::net::SocketAddr = uri
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix("/creds"))
        .unwrap_or_else(|| panic!("the command got no endpoint URI: {uri:?}"))
        .parse()
        .unwrap_or_else(|e| panic!("{uri:?}: {e}"));
    assert!(address.ip().is_loopback() && address.port() != 0, "{uri}");
    let token = std::fs::read_to_string(&token_file).unwrap().trim().to_string();
    let (status, body) = request(&address.to_string(), "GET", "/creds", Some(&token));
    assert_eq!(
        status, 200,
        "the endpoint did not serve while the command ran: {body}"
    );
    assert!(body.contains("ASIARUN1"), "{body}");

    let output = running.finish();
    assert_eq!(output.status.code(), Some(7), "{}", stderr_of(&output));
    assert!(
        TcpStream::connect(address).is_err(),
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
    let seconds = helper_run_seconds(&sandbox);
    let runs = seconds.len();
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
    assert!(
        runs >= 2,
        "the test must span at least one refresh ({runs} runs in {elapsed:?})"
    );
    // No expiry ran the helper twice. Run n issues credentials in second s(n) that expire at
    // s(n) + 2; the guest serves them until expiry minus half their lifetime, which is never
    // before s(n) + 1 (the lifetime it counts from its own clock, after the run, is at most 2 s).
    // So the next run for the next expiry comes in a later second, and any second run in the
    // same second is a duplicate: two clients refreshed the same expiry.
    for (n, pair) in seconds.windows(2).enumerate() {
        assert!(
            pair[1] > pair[0],
            "runs {} and {} both issued credentials in second {}: one expiry ran the helper twice (runs at {seconds:?})",
            n + 1,
            n + 2,
            pair[0]
        );
    }
    // Every refresh ran the helper for a client that then got its key: every key from the second
    // run on was seen. (The first, fetched when `serve` started, may enter its refresh window
    // before the clients connect: credentials are stamped in whole seconds.)
    for run in 2..=runs {
        assert!(
            keys.contains(&format!("ASIARUN{run}")),
            "run {run} was not served: {keys:?}"
        );
    }
    assert!(keys.len() <= runs, "{keys:?} from {runs} runs");
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

/// The request head of a client that connected without the token and has not finished.
const PARTIAL_HEAD: &[u8] = b"GET /creds HTTP/1.1\r\nHost: x\r\n";

#[test]
fn unauthenticated_clients_cannot_starve_the_token_holder() {
    let sandbox = Sandbox::new();
    dev_profile(&sandbox, 3600);
    let served = Served::start(&sandbox, "dev");
    let address = served.address();
    // More sockets than the endpoint serves at once (512), held open without the token: half
    // stop mid-head, half send nothing.
    let held: Vec<TcpStream> = (0..520)
        .map(|i| {
            let mut stream = TcpStream::connect(&address).unwrap();
            if i % 2 == 0 {
                stream.write_all(PARTIAL_HEAD).unwrap();
            }
            stream
        })
        .collect();
    for _ in 0..3 {
        let sent = Instant::now();
        let mut stream = TcpStream::connect(&address).unwrap();
        write!(
            stream,
            "GET /creds HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n",
            served.token
        )
        .unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        let read = reader.read_line(&mut status_line);
        let took = sent.elapsed();
        eprintln!("the token holder's answer took {took:?}: {}", status_line.trim());
        assert!(
            read.is_ok() && status_line.starts_with("HTTP/1.1 200 "),
            "the token holder got {status_line:?} ({read:?}) after {took:?}"
        );
    }
    drop(held);
}

/// Everything the server sends on `stream` until it closes the connection; panics if it keeps it
/// open for 3 s.
fn read_until_closed(stream: &mut TcpStream) -> String {
    stream.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut response = Vec::new();
    match stream.read_to_end(&mut response) {
        Ok(_) => String::from_utf8(response).unwrap(),
        Err(e) => panic!(
            "the connection stayed open ({e}) after: {}",
            String::from_utf8_lossy(&response)
        ),
    }
}

#[test]
fn a_401_or_403_closes_the_connection() {
    let sandbox = Sandbox::new();
    dev_profile(&sandbox, 3600);
    let served = Served::start(&sandbox, "dev");
    let address = served.address();
    for (auth, status) in [("", "401"), ("Authorization: wrong\r\n", "403")] {
        // Keep-alive is asked for (HTTP/1.1, no `Connection: close`), and not given.
        let mut stream = TcpStream::connect(&address).unwrap();
        write!(stream, "GET /creds HTTP/1.1\r\nHost: x\r\n{auth}\r\n").unwrap();
        let response = read_until_closed(&mut stream);
        assert!(response.starts_with(&format!("HTTP/1.1 {status} ")), "{response}");
        assert!(response.contains("\r\nConnection: close\r\n"), "{response}");
    }
    // So is a malformed request.
    let mut stream = TcpStream::connect(&address).unwrap();
    stream.write_all(b"GARBAGE\x01\r\n\r\n").unwrap();
    let response = read_until_closed(&mut stream);
    assert!(response.starts_with("HTTP/1.1 400 "), "{response}");
}

#[test]
fn a_slow_request_head_is_cut_off_at_its_deadline() {
    let sandbox = Sandbox::new();
    dev_profile(&sandbox, 3600);
    let served = Served::start(&sandbox, "dev");
    let mut stream = TcpStream::connect(served.address()).unwrap();
    let connected = Instant::now();
    // One byte every 200 ms of a head that never ends, until the server closes the connection.
    stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let head = b"GET /creds HTTP/1.1\r\nHost: x\r\nX-Slow: "
        .iter()
        .chain(std::iter::repeat(&b'a'));
    for byte in head {
        let closed = match stream.write_all(&[*byte]) {
            Err(_) => true,
            Ok(()) => match stream.read(&mut [0u8; 256]) {
                Ok(_) => true,
                Err(e) => !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
            },
        };
        if closed {
            break;
        }
        assert!(
            connected.elapsed() < Duration::from_secs(7),
            "the server kept reading a head that took 7 s (deadline 5 s)"
        );
    }
    let elapsed = connected.elapsed();
    eprintln!("slow head cut off after {elapsed:?}");
    assert!(elapsed >= Duration::from_secs(4), "cut off early: {elapsed:?}");
}

#[test]
fn a_keep_alive_connection_may_idle_past_the_head_deadline() {
    let sandbox = Sandbox::new();
    dev_profile(&sandbox, 3600);
    let served = Served::start(&sandbox, "dev");
    let stream = TcpStream::connect(served.address()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    for _ in 0..2 {
        write!(
            writer,
            "GET /creds HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n",
            served.token
        )
        .unwrap();
        let (status, body) = read_response(&mut reader);
        assert_eq!(status, 200, "{body}");
        // Longer than a request head may take, well within the idle timeout.
        std::thread::sleep(Duration::from_secs(6));
    }
}

#[test]
fn a_token_file_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    dev_profile(&sandbox, 3600);
    let file = sandbox.path("token");
    std::fs::write(&file, "0123456789abcdef0123\n").unwrap();
    let file_arg = file.to_str().unwrap();
    let args = ["serve", "--profile", "dev", "--token-file", file_arg];
    let refused = |why: &str| {
        let mut child = sandbox
            .std_credbox()
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("serve started with a token file {why}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let output = child.wait_with_output().unwrap();
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(file_arg), "{stderr}");
        assert!(!stderr.contains("0123456789abcdef"), "{stderr}");
        assert_eq!(helper_runs(&sandbox), 0, "the helper ran before the refusal");
        stderr
    };

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let stderr = refused("others can read");
    assert!(stderr.contains(&format!("chmod 600 {file_arg}")), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    refused("its group can read");

    // Someone else's file, however private, could hold someone else's token (checked as root).
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    // SAFETY: geteuid(2) cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        std::os::unix::fs::chown(&file, Some(65534), None).unwrap();
        let stderr = refused("of another user");
        assert!(stderr.contains("another user"), "{stderr}");
        std::os::unix::fs::chown(&file, Some(0), None).unwrap();
    }

    let served = Served::start_with(&sandbox, &args);
    assert_eq!(served.token, "0123456789abcdef0123");
    let (status, body) = request(&served.address(), "GET", "/creds", Some(&served.token));
    assert_eq!(status, 200, "{body}");
    if !root {
        skip("the two-user case needs root to give the token file to uid 65534");
    }
}

/// CPU time (user + system) process `pid` has used so far.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields 14 and 15 (utime, stime), counted after the parenthesised command name (field 2).
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf(3) only reads a constant.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / per_second)
}

#[test]
fn accept_rests_while_out_of_file_descriptors() {
    let sandbox = Sandbox::new();
    dev_profile(&sandbox, 3600);
    let served = Served::start(&sandbox, "dev");
    let pid = served.child.id();
    // Limit its descriptors to those it has open (below the lowest free one), so that accept()
    // fails with EMFILE, and keeps failing while a connection waits.
    let open: std::collections::BTreeSet<u64> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .collect();
    let lowest_free = (0..).find(|fd| !open.contains(fd)).unwrap();
    let set_limit = |soft: u64| {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: prlimit(2) on our own child, with valid pointers.
        unsafe {
            assert_eq!(
                libc::prlimit(pid as i32, libc::RLIMIT_NOFILE, std::ptr::null(), &mut limit),
                0
            );
            let previous = limit.rlim_cur;
            limit.rlim_cur = soft;
            assert_eq!(
                libc::prlimit(pid as i32, libc::RLIMIT_NOFILE, &limit, std::ptr::null_mut()),
                0
            );
            previous
        }
    };
    let previous = set_limit(lowest_free);
    let waiting = TcpStream::connect(served.address()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let before = cpu_time(pid);
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_time(pid) - before;
    eprintln!("CPU time over 1 s out of descriptors: {used:?}");
    assert!(
        used < Duration::from_millis(200),
        "accept() spun: {used:?} of CPU in 1 s"
    );

    // Given descriptors again, it serves.
    set_limit(previous);
    drop(waiting);
    let (status, body) = request(&served.address(), "GET", "/creds", Some(&served.token));
    assert_eq!(status, 200, "{body}");
}

/// When each helper run began (seconds, fractional), failed ones included.
fn helper_attempts(sandbox: &Sandbox) -> Vec<f64> {
    std::fs::read_to_string(sandbox.path("helper/attempts")).map_or(Vec::new(), |s| {
        s.lines().map(|l| l.trim().parse().unwrap()).collect()
    })
}

#[test]
fn a_failed_refresh_is_retried_after_5_s_not_on_every_request() {
    let sandbox = Sandbox::new();
    // Good for 6 s: due for refresh after 3 s, expired after 6.
    dev_profile(&sandbox, 6);
    let served = Served::start(&sandbox, "dev");
    let address = served.address();
    std::fs::write(sandbox.path("helper/fail"), "").unwrap();
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(3200));
    // Ten requests a second for 5 s: before and after the credentials expire.
    let mut statuses = Vec::new();
    while started.elapsed() < Duration::from_millis(8200) {
        statuses.push(request(&address, "GET", "/creds", Some(&served.token)).0);
        std::thread::sleep(Duration::from_millis(100));
    }
    let attempts = helper_attempts(&sandbox);
    assert!(statuses.len() >= 40, "{}", statuses.len());
    assert!(statuses.contains(&200) && statuses.contains(&503), "{statuses:?}");
    // The first run, then the failed refreshes: at most two in 5 s of requests, 4 s or more apart
    // (the retry instant is counted in whole seconds).
    let failed = &attempts[1..];
    assert!(
        (1..=2).contains(&failed.len()),
        "{} attempts for {} requests",
        failed.len(),
        statuses.len()
    );
    if let [first, second] = failed {
        assert!(second - first >= 3.9, "retried after {} s", second - first);
    }
}

#[test]
fn more_than_512_connections_with_the_token_get_503() {
    let sandbox = Sandbox::new();
    dev_profile(&sandbox, 3600);
    let served = Served::start(&sandbox, "dev");
    let address = served.address();
    // 512 keep-alive connections that have each been answered once, and stay open.
    let mut open = Vec::new();
    for _ in 0..512 {
        let mut stream = TcpStream::connect(&address).unwrap();
        write!(
            stream,
            "GET /creds HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n",
            served.token
        )
        .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        assert_eq!(read_response(&mut reader).0, 200);
        open.push((stream, reader));
    }
    let (status, body) = request(&address, "GET", "/creds", Some(&served.token));
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("too many open connections"), "{body}");
    // One closes: the next one is served.
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = request(&address, "GET", "/creds", Some(&served.token));
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "a freed place was never given back");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_head_over_8_kib_or_a_request_with_a_body_ends_its_connection() {
    let sandbox = Sandbox::new();
    dev_profile(&sandbox, 3600);
    let served = Served::start(&sandbox, "dev");
    let address = served.address();
    // A head of more than 8 KiB, even with the token: 431, and closed.
    let mut stream = TcpStream::connect(&address).unwrap();
    write!(
        stream,
        "GET /creds HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nX-Padding: {}\r\n\r\n",
        served.token,
        "a".repeat(9 * 1024)
    )
    .unwrap();
    // The server closes with the rest of the head unread: the client may see a reset after the
    // answer, which is all there is to read.
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert!(!answer.contains(SECRET));
    // A request with a body is answered (its body never read) and its connection closed.
    let mut stream = TcpStream::connect(&address).unwrap();
    write!(
        stream,
        "GET /creds HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Length: 5\r\n\r\nhello",
        served.token
    )
    .unwrap();
    let answer = read_until_closed(&mut stream);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("Connection: close"), "{answer}");
}

#[test]
fn serve_fails_before_printing_anything_on_a_broken_profile() {
    let sandbox = Sandbox::new();
    sandbox.config("[profile broken]\ncredential_process = ./relative-helper\n");
    let output = sandbox
        .std_credbox()
        .args(["serve", "--profile", "broken"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr_of(&output));
    assert_eq!(
        stdout_of(&output),
        "",
        "it printed variables for an endpoint that cannot serve"
    );
    assert!(
        stderr_of(&output).contains("profile broken"),
        "{}",
        stderr_of(&output)
    );
}

#[test]
fn ctrl_backslash_does_not_stop_exec_server() {
    use std::os::unix::process::CommandExt;
    let sandbox = Sandbox::new();
    dev_profile(&sandbox, 3600);
    let python = clients().join("venv/bin/python");
    let client = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/clients/botocore_client.py");
    let ready = sandbox.path("ready");
    // Ctrl-\ (SIGQUIT) reaches the whole process group: the command traps it and still gets
    // credentials, because credbox kept serving.
    let script = format!(
        "trap 'AWS_EC2_METADATA_DISABLED=true {} {} > {}; exit 43' QUIT\ntouch {}\nwhile :; do sleep 0.05; done",
        python.display(),
        client.display(),
        sandbox.path("after-quit").display(),
        ready.display()
    );
    let mut credbox = sandbox
        .std_credbox()
        .args(["exec", "--server", "--profile", "dev", "--", "sh", "-c", &script])
        .process_group(0)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready.exists() {
        assert!(Instant::now() < deadline, "the command never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) on the process group we just created.
    unsafe { libc::kill(-(credbox.id() as i32), libc::SIGQUIT) };
    let status = credbox.wait().unwrap();
    assert_eq!(status.code(), Some(43), "{status:?}");
    let after = std::fs::read_to_string(sandbox.path("after-quit")).unwrap();
    assert_eq!(after.trim(), "container-role ASIARUN1");
}
