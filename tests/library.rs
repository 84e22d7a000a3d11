//! The library API where the tests control what the CLI cannot: the guest's clock, and host
//! ceilings that differ from what the guest asks for.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use credbox::{Cache, ErrorKind, FetchOptions, Runtime, files};

fn locations(sandbox: &Sandbox) -> files::Locations {
    files::Locations {
        config: sandbox.config_path().display().to_string(),
        credentials: sandbox.credentials_path().display().to_string(),
        profile: "default".into(),
    }
}

/// A helper printing credentials that expire `minutes` after the real now, counting its runs.
fn expiring_helper(sandbox: &Sandbox, minutes: u32) {
    let runs = sandbox.path("runs");
    let helper = sandbox.helper(
        "h.sh",
        &format!(
            "echo run >> {}\nexp=$(date -u -d '+{minutes} minutes' +%Y-%m-%dT%H:%M:%SZ)\n\
             printf '{{\"Version\":1,\"AccessKeyId\":\"ASIACLOCK\",\"SecretAccessKey\":\"s\",\"Expiration\":\"%s\"}}' \"$exp\"",
            runs.display()
        ),
    );
    sandbox.config(&format!("[default]\ncredential_process = {}\n", helper.display()));
}

/// Fetch at each minute offset (each fetch a fresh guest instance, as separate CLI runs are)
/// and return the helper's run count after each.
fn runs_at(sandbox: &Sandbox, minutes: &[u64]) -> Vec<usize> {
    let runtime = Runtime::new().unwrap();
    let clock = MovableClock::new();
    let options = FetchOptions {
        cache: Some(Cache::open(&sandbox.path("cache")).unwrap()),
        clock: Some(clock.clone()),
        ..FetchOptions::default()
    };
    minutes
        .iter()
        .map(|&m| {
            clock.set_minutes(m);
            credbox::credentials_for_profile(&runtime, &locations(sandbox), "default", &options).unwrap();
            sandbox.runs()
        })
        .collect()
}

#[test]
fn one_hour_credentials_are_cached_until_fifteen_minutes_remain() {
    let sandbox = Sandbox::new();
    expiring_helper(&sandbox, 60);
    // Fetched at 0; reused at 44 minutes; refreshed at 46 (14 minutes left).
    assert_eq!(runs_at(&sandbox, &[0, 44, 46]), [1, 1, 2]);
}

#[test]
fn fifteen_minute_credentials_are_reused_for_half_their_life() {
    let sandbox = Sandbox::new();
    expiring_helper(&sandbox, 15);
    // Window = min(15, 15 / 2) = 7.5 minutes: reused at 7, refreshed at 8.
    assert_eq!(runs_at(&sandbox, &[0, 1, 7, 8]), [1, 1, 1, 2]);
}

#[test]
fn the_host_timeout_ceiling_beats_what_the_guest_asks_for() {
    let sandbox = Sandbox::new();
    let helper = sandbox.helper("slow.sh", "exec sleep 30");
    sandbox.config(&format!("[default]\ncredential_process = {}\n", helper.display()));
    let mut options = FetchOptions {
        // The guest is told it may wait a minute...
        timeout: Duration::from_secs(60),
        ..FetchOptions::default()
    };
    // ...but the host's ceiling is half a second.
    options.policy.max_timeout = Duration::from_millis(500);
    let runtime = Runtime::new().unwrap();
    let start = std::time::Instant::now();
    let error =
        credbox::credentials_for_profile(&runtime, &locations(&sandbox), "default", &options).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TimedOut);
    assert!(error.to_string().contains("within 0.5 s"), "{error}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn credentials_debug_output_never_shows_secrets() {
    let sandbox = Sandbox::new();
    sandbox.credentials(&format!(
        "[default]\naws_access_key_id = AKIADEBUGEXAMPLE\naws_secret_access_key = {SECRET}\naws_session_token = {TOKEN}\n"
    ));
    let runtime = Runtime::new().unwrap();
    let (credentials, _) = credbox::credentials_for_profile(
        &runtime,
        &locations(&sandbox),
        "default",
        &FetchOptions::default(),
    )
    .unwrap();
    let debug = format!("{credentials:?} {credentials:#?}");
    assert!(!debug.contains(SECRET) && !debug.contains(TOKEN), "{debug}");
    assert!(debug.contains("****************MPLE"), "{debug}");
}

#[test]
fn a_provider_shared_by_many_threads_runs_the_helper_once_per_window() {
    let sandbox = Sandbox::new();
    expiring_helper(&sandbox, 60);
    let clock = MovableClock::new();
    let options = FetchOptions {
        clock: Some(clock.clone()),
        ..FetchOptions::default()
    };
    let target = credbox::Target::Profile {
        locations: locations(&sandbox),
        name: "default".into(),
    };
    let provider = Arc::new(credbox::Provider::new(Runtime::new().unwrap(), target, options));
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let provider = provider.clone();
            std::thread::spawn(move || {
                (0..100)
                    .map(|_| provider.retrieve().unwrap().access_key_id.clone())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for thread in threads {
        assert!(thread.join().unwrap().iter().all(|key| key == "ASIACLOCK"));
    }
    assert_eq!(
        sandbox.runs(),
        1,
        "1600 retrieves from 16 threads, one helper run"
    );

    clock.set_minutes(44);
    provider.retrieve().unwrap();
    assert_eq!(sandbox.runs(), 1);
    clock.set_minutes(46);
    provider.retrieve().unwrap();
    assert_eq!(sandbox.runs(), 2, "refreshed inside the 15-minute window");
}

/// The guest's instruction budget (2^30 per call) must leave ample room for real work: a config
/// with 2,000 profiles and a 60 KiB helper output each use a small fraction of it. The numbers
/// printed here are the ones in docs/PERFORMANCE.md.
#[test]
fn real_work_uses_a_small_fraction_of_the_guest_instruction_budget() {
    let sandbox = Sandbox::new();
    let mut config = String::new();
    for i in 0..2000 {
        config.push_str(&format!(
            "[profile p{i}]\nregion = eu-west-1\ncredential_process = /opt/helper --user u{i} --role r\n\n"
        ));
    }
    sandbox.config(&config);
    let files = files::read_files(&locations(&sandbox)).unwrap();
    let mut session = Runtime::new()
        .unwrap()
        .session(credbox::CapabilityPolicy::default(), None)
        .unwrap();
    let budget = credbox::component::Limits::GUEST.fuel;

    session.resolve(&files, "p1999").unwrap();
    let resolve = session.fuel_used();
    let padding = "x".repeat(60 * 1024);
    let output = session_json(1).replace("\"Version\"", &format!("\"Padding\": \"{padding}\", \"Version\""));
    session.validate_output(output.as_bytes(), None).unwrap();
    let validate = session.fuel_used();
    eprintln!("fuel: resolve in 2,000 profiles {resolve}, validate 60 KiB {validate}, budget {budget}");
    assert!(resolve < budget / 20, "{resolve}");
    assert!(validate < budget / 20, "{validate}");
}

/// The embedded guest runs from its precompiled code where the binary maps it (a JIT fallback
/// would still work, at 0.7 s a start), never writable and executable at once, and many runtimes in many threads share that one load:
/// wasmtime registers code by address, so a second load of the same pages would abort the
/// process, and dropping one would leave the others running non-executable pages.
#[test]
fn every_runtime_shares_the_embedded_guest_running_in_place() {
    let sandbox = Sandbox::new();
    sandbox.config("[profile p]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = s\n");
    let locations = locations(&sandbox);
    assert!(Runtime::new().unwrap().guest_runs_in_place().unwrap());
    // Made executable in place, but never writable and executable at once (W^X).
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let wx: Vec<&str> = maps
        .lines()
        .filter(|l| l.split(' ').nth(1).is_some_and(|p| p.contains("wx")))
        .collect();
    assert!(wx.is_empty(), "writable and executable mappings: {wx:?}");
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..4 {
                    // A runtime of its own each time, dropped after use.
                    let runtime = Runtime::new().unwrap();
                    let options = FetchOptions::default();
                    let (credentials, _) =
                        credbox::credentials_for_profile(&runtime, &locations, "p", &options).unwrap();
                    assert_eq!(credentials.access_key_id, "AKIAEXAMPLE");
                }
            });
        }
    });
}
