//! Where one cold `credbox export` spends its time, phase by phase (median of many runs in one
//! process). Run: `cargo run --release -p credbox --example startup_phases -- /path/to/helper`.
//! The process-level costs (exec, dynamic loading) are what hyperfine adds on top; see
//! docs/PERFORMANCE.md.

use std::time::{Duration, Instant};

use credbox::component::{File, Files};
use credbox::{CapabilityPolicy, FetchOptions, Runtime};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let helper = std::env::args()
        .nth(1)
        .expect("usage: startup_phases /path/to/helper");
    let files = Files {
        config: File {
            path: "config".into(),
            text: format!("[profile perf]\nregion = eu-west-1\ncredential_process = {helper}\n"),
        },
        credentials: File {
            path: "credentials".into(),
            text: String::new(),
        },
        platform: credbox::files::Platform::current().into(),
    };
    let rounds = 200;
    let (mut load, mut instantiate, mut resolve, mut fetch) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        let t = Instant::now();
        let runtime = Runtime::new().unwrap();
        load.push(t.elapsed());

        let t = Instant::now();
        let mut session = runtime.session(CapabilityPolicy::default(), None).unwrap();
        instantiate.push(t.elapsed());

        let t = Instant::now();
        let source = session.resolve(&files, "perf").unwrap();
        resolve.push(t.elapsed());

        let credbox::component::Source::Process(settings) = source else {
            panic!("not a process profile")
        };
        let t = Instant::now();
        let options = FetchOptions::default();
        let provider = session
            .new_provider(
                &settings,
                credbox::component::Options {
                    min_ttl_seconds: 900,
                    timeout_ms: 60_000,
                    allow_shell: false,
                    platform: credbox::files::Platform::current().into(),
                },
            )
            .unwrap();
        session.retrieve(provider).unwrap();
        fetch.push(t.elapsed());
        drop(options);
    }
    println!(
        "engine + deserialize precompiled guest + link: {:?}",
        median(load)
    );
    println!(
        "instantiate:                                  {:?}",
        median(instantiate)
    );
    println!(
        "resolve profile (guest call):                 {:?}",
        median(resolve)
    );
    println!(
        "spawn helper + validate output:               {:?}",
        median(fetch)
    );
}
