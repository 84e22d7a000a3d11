//! In-process costs of credbox (criterion). Needs a compiled helper: `make bench` builds
//! `bench/helper.c` and passes it as CREDBOX_BENCH_HELPER.

use std::sync::Arc;
use std::time::{Duration, Instant};

use credbox::component::{File, Files, Options, Source};
use credbox::files::Platform;
use credbox::{CapabilityPolicy, FetchOptions, Provider, Runtime, Target};
use criterion::{Criterion, criterion_group, criterion_main};

fn helper() -> String {
    std::env::var("CREDBOX_BENCH_HELPER")
        .expect("set CREDBOX_BENCH_HELPER to a compiled helper (make bench does)")
}

const OUTPUT: &[u8] = br#"{"Version": 1, "AccessKeyId": "ASIAIOSFODNN7EXAMPLE", "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "SessionToken": "IQoJb3JpZ2luX2VjEXAMPLETOKEN", "Expiration": "2099-01-01T00:00:00Z"}"#;

fn warm_provider() -> Arc<Provider> {
    let provider = Provider::new(
        Runtime::new().unwrap(),
        Target::Command(vec![helper()]),
        FetchOptions::default(),
    );
    provider.retrieve().unwrap();
    Arc::new(provider)
}

fn cached_retrieve(c: &mut Criterion) {
    let provider = warm_provider();
    c.bench_function("cached retrieve, 1 thread", |b| {
        b.iter(|| provider.retrieve().unwrap())
    });
    for threads in [2, 4, 8] {
        // Wall time for all calls spread over the threads: with perfect scaling it falls as
        // threads are added, up to the number of cores.
        let name = format!("cached retrieve, {threads} threads (wall time per call)");
        c.bench_function(&name, |b| {
            b.iter_custom(|iterations| {
                let per_thread = iterations.div_ceil(threads);
                let start = Instant::now();
                let handles: Vec<_> = (0..threads)
                    .map(|_| {
                        let provider = provider.clone();
                        std::thread::spawn(move || {
                            for _ in 0..per_thread {
                                std::hint::black_box(provider.retrieve().unwrap());
                            }
                        })
                    })
                    .collect();
                handles.into_iter().for_each(|h| h.join().unwrap());
                start.elapsed()
            })
        });
    }
}

fn guest_calls(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let mut session = runtime.session(CapabilityPolicy::default(), None).unwrap();
    c.bench_function("guest: validate one helper output", |b| {
        b.iter(|| session.validate_output(OUTPUT, None).unwrap())
    });
    let files = Files {
        config: File {
            path: "config".into(),
            text: format!(
                "[profile p]\nregion = eu-west-1\ncredential_process = {}\n",
                helper()
            ),
        },
        credentials: File {
            path: "credentials".into(),
            text: String::new(),
        },
        platform: Platform::current().into(),
    };
    c.bench_function("guest: resolve a profile", |b| {
        b.iter(|| session.resolve(&files, "p").unwrap())
    });
    c.bench_function("instantiate the guest", |b| {
        b.iter(|| runtime.session(CapabilityPolicy::default(), None).unwrap())
    });
}

fn refresh(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let mut session = runtime.session(CapabilityPolicy::default(), None).unwrap();
    let files = Files {
        config: File {
            path: "config".into(),
            text: format!("[profile p]\ncredential_process = {}\n", helper()),
        },
        credentials: File {
            path: "credentials".into(),
            text: String::new(),
        },
        platform: Platform::current().into(),
    };
    let Source::Process(settings) = session.resolve(&files, "p").unwrap() else {
        panic!()
    };
    let options = Options {
        min_ttl_seconds: 900,
        timeout_ms: 60_000,
        allow_shell: false,
        platform: Platform::current().into(),
    };
    let mut group = c.benchmark_group("refresh");
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("spawn the helper and validate (no cache)", |b| {
        b.iter(|| {
            let provider = session.new_provider(&settings, options).unwrap();
            session.retrieve(provider).unwrap()
        })
    });
    group.finish();
}

// Loading the guest is not benchmarked in-process: the embedded guest is loaded once per process
// and shared (it runs in place, and wasmtime registers code by address), so only a new process
// pays for it: bench/compare.sh's cold export measures that.

criterion_group!(benches, cached_retrieve, guest_calls, refresh);
criterion_main!(benches);
