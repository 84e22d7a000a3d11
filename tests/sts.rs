//! The STS capability against endpoints that misbehave on purpose (tests/common/http.rs): what
//! the docs claim of the transport (no redirect followed, a 64 KiB answer cap, every call within
//! `--timeout`, the SDKs' retries, no SOCKS bypass), what is done with an answer (bounded by what
//! was asked, never shown raw), and the trust store (`ca_bundle`, `AWS_CA_BUNDLE`) over real TLS.

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use common::http::{Behaviour, Endpoint, assume_role_answer};
use common::moto::Moto;
use common::*;
use serde_json::Value;

const ROLE: &str = "arn:aws:iam::210987654321:role/Deploy";
const BASE_KEY: &str = "AKIAEXAMPLEBASE00001";

/// A `prod` role over static keys, with `extra` lines in its profile.
fn role_profile(sandbox: &Sandbox, extra: &str) {
    sandbox.config(&format!(
        "[profile base]\naws_access_key_id = {BASE_KEY}\naws_secret_access_key = {SECRET}\n\
         [profile prod]\nrole_arn = {ROLE}\nsource_profile = base\n{extra}"
    ));
}

/// `credbox ARGS` with STS at `url`.
fn credbox_at(sandbox: &Sandbox, url: &str, args: &[&str]) -> std::process::Command {
    let mut command = sandbox.std_credbox();
    command.env("AWS_ENDPOINT_URL_STS", url).args(args);
    command
}

/// `export --profile prod` against `url`, and how long it took.
fn export_prod(sandbox: &Sandbox, url: &str, args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let mut all = vec!["export", "--profile", "prod", "--no-cache"];
    all.extend_from_slice(args);
    let output = credbox_at(sandbox, url, &all).output().unwrap();
    (output, started.elapsed())
}

fn failed_with(output: &Output, code: i32, says: &str) -> String {
    let message = stderr_of(output);
    assert_eq!(output.status.code(), Some(code), "{message}");
    assert!(message.contains(says), "expected {says:?} in: {message}");
    assert!(!message.contains(SECRET), "{message}");
    message
}

fn error_answer(code: &str, message: &str) -> Vec<u8> {
    format!(
        "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>r-1</RequestId></ErrorResponse>"
    )
    .into_bytes()
}

#[test]
fn a_redirect_is_not_followed() {
    // Following it would send the signed request (and then the credentials' use) elsewhere.
    let Some(moto) = Moto::start(None) else { return };
    let endpoint = Endpoint::always(Behaviour::Redirect(moto.url.clone()));
    let sandbox = Sandbox::new();
    role_profile(&sandbox, "");
    let (output, _) = export_prod(&sandbox, &endpoint.url, &[]);
    failed_with(&output, 6, "HTTP 307");
    assert_eq!(endpoint.requests(), 1);
    assert_eq!(moto.assume_role_calls().len(), 0, "the redirect was followed");
}

#[test]
fn an_answer_over_64_kib_is_refused() {
    let mut large = assume_role_answer("2030-01-01T00:00:00Z");
    large.extend(std::iter::repeat_n(b' ', 70 * 1024));
    let endpoint = Endpoint::always(Behaviour::Answer(200, large));
    let sandbox = Sandbox::new();
    role_profile(&sandbox, "");
    let (output, _) = export_prod(&sandbox, &endpoint.url, &[]);
    failed_with(&output, 6, "the answer is larger than 65536 bytes");
    assert_eq!(endpoint.requests(), 1, "a malformed answer is not retried");
}

#[test]
fn an_endpoint_that_accepts_and_never_answers_is_bounded_by_the_timeout() {
    let endpoint = Endpoint::always(Behaviour::Silence);
    let sandbox = Sandbox::new();
    role_profile(&sandbox, "");
    let (output, took) = export_prod(&sandbox, &endpoint.url, &["--timeout", "3"]);
    failed_with(&output, 6, "did not answer within 3 s");
    assert!(
        took >= Duration::from_millis(2900) && took < Duration::from_secs(8),
        "took {took:?}"
    );
}

#[test]
fn an_answer_trickled_a_byte_at_a_time_is_bounded_by_the_timeout() {
    // Each byte resets a per-read timeout; only a deadline over the whole call bounds it.
    let endpoint = Endpoint::always(Behaviour::Trickle(
        assume_role_answer("2030-01-01T00:00:00Z"),
        Duration::from_millis(100),
    ));
    let sandbox = Sandbox::new();
    role_profile(&sandbox, "");
    let (output, took) = export_prod(&sandbox, &endpoint.url, &["--timeout", "3"]);
    failed_with(&output, 6, "did not answer within 3 s");
    assert!(took < Duration::from_secs(8), "took {took:?}");
}

#[test]
fn throttling_and_server_errors_are_retried_three_times_validation_errors_never() {
    let cases = [
        (503, "ServiceUnavailable", 3),
        (400, "Throttling", 3),
        (400, "ValidationError", 1),
        (403, "AccessDenied", 1),
    ];
    for (status, code, attempts) in cases {
        let endpoint = Endpoint::always(Behaviour::Answer(status, error_answer(code, "no")));
        let sandbox = Sandbox::new();
        role_profile(&sandbox, "");
        let (output, took) = export_prod(&sandbox, &endpoint.url, &["--timeout", "30"]);
        failed_with(&output, 6, &format!("STS {code} (HTTP {status})"));
        assert_eq!(endpoint.requests(), attempts, "{code}");
        // Two pauses of at most 2 s and 4 s.
        assert!(took < Duration::from_secs(10), "{code}: took {took:?}");
    }
    // A retry is only made while time is left for it: with a short --timeout, fewer attempts.
    let endpoint = Endpoint::always(Behaviour::Answer(503, error_answer("ServiceUnavailable", "no")));
    let sandbox = Sandbox::new();
    role_profile(&sandbox, "");
    let (output, took) = export_prod(&sandbox, &endpoint.url, &["--timeout", "1"]);
    failed_with(&output, 6, "HTTP 503");
    assert!(endpoint.requests() < 3, "{}", endpoint.requests());
    assert!(took < Duration::from_secs(4), "took {took:?}");
}

#[test]
fn a_socks_proxy_is_refused_not_bypassed() {
    let endpoint = Endpoint::always(Behaviour::Answer(200, assume_role_answer("2030-01-01T00:00:00Z")));
    let sandbox = Sandbox::new();
    role_profile(&sandbox, "");
    let output = credbox_at(
        &sandbox,
        &endpoint.url,
        &["export", "--profile", "prod", "--no-cache"],
    )
    .env("ALL_PROXY", "socks5h://127.0.0.1:9")
    .output()
    .unwrap();
    failed_with(&output, 6, "SOCKS proxy");
    assert_eq!(endpoint.requests(), 0, "the request went around the proxy");
}

#[test]
fn what_sts_says_is_bounded_by_what_was_asked() {
    // An answer that claims credentials valid until 2200 is kept only as long as the session
    // asked for (here 900 s), in what is printed and in what is cached.
    let endpoint = Endpoint::always(Behaviour::Answer(200, assume_role_answer("2200-01-01T00:00:00Z")));
    let sandbox = Sandbox::new();
    role_profile(&sandbox, "duration_seconds = 900\n");
    let output = credbox_at(&sandbox, &endpoint.url, &["export", "--profile", "prod"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    let expiration: jiff::Timestamp = printed["Expiration"].as_str().unwrap().parse().unwrap();
    let left = expiration.as_second() - jiff::Timestamp::now().as_second();
    assert!(
        (840..=900).contains(&left),
        "served until {expiration} ({left} s)"
    );
    for entry in std::fs::read_dir(sandbox.path("cache")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        assert!(!text.contains("7258118400"), "cached until 2200: {text}");
    }
    // Already expired: STS's fault, and said so (not "the helper's output").
    let endpoint = Endpoint::always(Behaviour::Answer(200, assume_role_answer("2001-01-01T00:00:00Z")));
    let sandbox = Sandbox::new();
    role_profile(&sandbox, "");
    let (output, _) = export_prod(&sandbox, &endpoint.url, &[]);
    let message = failed_with(&output, 6, "expired at 2001-01-01T00:00:00Z");
    assert!(
        message.contains("STS") && !message.contains("helper"),
        "{message}"
    );
}

/// Whether `text` holds a byte that would act on a terminal.
fn raw_control(text: &[u8]) -> bool {
    let text = String::from_utf8_lossy(text);
    text.chars().any(|c| {
        (c.is_control() && c != '\n') || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    })
}

#[test]
fn nothing_from_sts_or_the_files_reaches_the_terminal_raw() {
    // Malformed XML with an ESC in it, and an error whose code and message hold escapes.
    for answer in [
        Behaviour::Answer(200, b"<AssumeRoleResponse>\x1b]2;owned\x07</Wrong>".to_vec()),
        Behaviour::Answer(
            403,
            error_answer("Access\x1b[5mDenied", "\x1b]2;owned\x07 \x1b[2J"),
        ),
    ] {
        let endpoint = Endpoint::always(answer);
        let sandbox = Sandbox::new();
        role_profile(&sandbox, "");
        let (output, _) = export_prod(&sandbox, &endpoint.url, &["-v"]);
        assert_eq!(output.status.code(), Some(6), "{}", stderr_of(&output));
        assert!(!raw_control(&output.stderr), "{:?}", stderr_of(&output));
    }
    // Profile values holding escapes: in errors, `-v` logs, `list`, `list --all` and `check`.
    let endpoint = Endpoint::always(Behaviour::Answer(403, error_answer("AccessDenied", "no")));
    let sandbox = Sandbox::new();
    let hostile_role = "arn:aws:iam::210987654321:role/R\x1b]2;owned\x07";
    sandbox.config(&format!(
        "[profile base]\naws_access_key_id = {BASE_KEY}\naws_secret_access_key = {SECRET}\n\
         [profile prod]\nrole_arn = {hostile_role}\nsource_profile = base\nmfa_serial = arn:mfa\x1b[2J\u{9b}2J\u{202e}\n\
         mfa_process = /bin/echo 123456\n# a bell\x07\n"
    ));
    let runs: [&[&str]; 5] = [
        &["export", "--profile", "prod", "-v"],
        &["list", "--profile", "prod"],
        &["list", "--all"],
        &["check"],
        &["check", "--profile", "prod"],
    ];
    for args in runs {
        let output = credbox_at(&sandbox, &endpoint.url, args).output().unwrap();
        assert!(
            !raw_control(&output.stdout) && !raw_control(&output.stderr),
            "{args:?}: {:?} {:?}",
            stdout_of(&output),
            stderr_of(&output)
        );
    }
    let shown = credbox_at(&sandbox, &endpoint.url, &["export", "--profile", "prod"])
        .output()
        .unwrap();
    assert!(
        stderr_of(&shown).contains(r"role/R\u{1b}]2;owned\u{7}"),
        "{}",
        stderr_of(&shown)
    );
    // `check` says where such characters are, by code point, never quoting the line.
    let check = credbox_at(&sandbox, &endpoint.url, &["check"]).output().unwrap();
    let found = stdout_of(&check);
    for (line, named) in [
        (5, "U+001B, U+0007"),
        (7, "U+001B, U+009B, U+202E"),
        (9, "U+0007"),
    ] {
        assert!(
            found
                .lines()
                .any(|l| l.contains(&format!("config:{line})")) && l.contains(&format!("({named})"))),
            "line {line}: {found}"
        );
    }
}

#[test]
fn a_ca_bundle_is_the_trust_store_and_aws_ca_bundle_wins_over_it() {
    // A TLS endpoint whose certificate a test authority signed: unknown to the platform's store.
    let tls = common::http::Tls::new();
    let stranger = common::http::Tls::new();
    let endpoint = Endpoint::start_tls(&tls, |_| {
        Behaviour::Answer(200, assume_role_answer("2100-01-01T00:00:00Z"))
    });
    let sandbox = Sandbox::new();
    let (ours, theirs) = (sandbox.path("ours.pem"), sandbox.path("theirs.pem"));
    std::fs::write(&ours, &tls.ca_pem).unwrap();
    std::fs::write(&theirs, &stranger.ca_pem).unwrap();
    let export = |bundle: Option<&std::path::Path>, environment: Option<&std::path::Path>| {
        let extra = bundle.map_or(String::new(), |b| format!("ca_bundle = {}\n", b.display()));
        role_profile(&sandbox, &extra);
        let mut command = credbox_at(
            &sandbox,
            &endpoint.url,
            &["export", "--profile", "prod", "--no-cache", "--timeout", "4"],
        );
        if let Some(path) = environment {
            command.env("AWS_CA_BUNDLE", path);
        }
        command.output().unwrap()
    };
    let untrusted = export(None, None);
    failed_with(&untrusted, 6, "could not be reached");
    assert_eq!(endpoint.requests(), 0);
    let trusted = export(Some(&ours), None);
    assert!(trusted.status.success(), "{}", stderr_of(&trusted));
    assert_eq!(endpoint.requests(), 1);
    // AWS_CA_BUNDLE wins over the profile's ca_bundle, either way round (botocore's order).
    failed_with(&export(Some(&ours), Some(&theirs)), 6, "could not be reached");
    let output = export(Some(&theirs), Some(&ours));
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert_eq!(endpoint.requests(), 2);
}
