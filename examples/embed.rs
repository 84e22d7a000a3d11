//! credbox as a library: a thread-safe, cached provider for one profile, with the CLI's policy
//! options, shared by several threads.
//!
//! ```console
//! $ cargo run -p credbox --example embed -- dev
//! ```

use std::sync::Arc;
use std::time::Duration;

use credbox::{Cache, CapabilityPolicy, FetchOptions, Provider, Runtime, Target};

fn main() -> std::process::ExitCode {
    let profile = std::env::args().nth(1).unwrap_or_else(|| "default".into());
    let options = FetchOptions {
        // The same knobs as the CLI's --timeout, --min-ttl and --allow.
        timeout: Duration::from_secs(30),
        min_ttl: Duration::from_secs(600),
        policy: CapabilityPolicy {
            allow_list: std::env::var("CREDBOX_EXAMPLE_ALLOW")
                .ok()
                .map(|path| vec![path.parse().expect("an absolute path")]),
            ..CapabilityPolicy::default()
        },
        // Share the CLI's cross-process cache.
        cache: credbox::cache::default_dir().and_then(|dir| Cache::open(&dir).ok()),
        ..FetchOptions::default()
    };
    let runtime = Runtime::new().expect("the embedded guest loads");
    let provider = Arc::new(Provider::new(runtime, Target::profile(profile), options));

    // Eight threads ask at once: the helper runs at most once (single flight).
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let provider = provider.clone();
            std::thread::spawn(move || provider.retrieve())
        })
        .collect();
    for thread in threads {
        match thread.join().expect("no panic") {
            // `Debug` masks the key id and never shows the secret or the token.
            Ok(credentials) => println!("{credentials:?}"),
            Err(error) => {
                // One line naming the profile and what to fix; the CLI's exit codes.
                eprintln!("{error}");
                return std::process::ExitCode::from(error.kind().exit_code());
            }
        }
    }
    std::process::ExitCode::SUCCESS
}
