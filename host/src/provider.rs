//! A long-lived, thread-safe credentials provider for programs that embed credbox.
//!
//! The guest decides until when credentials may be served (`serve-until`); until then every
//! [`Provider::retrieve`] is one lock-free load, one clock read and one `Arc` clone, from any
//! number of threads. Past that instant one caller refreshes (through the guest, the cache and
//! the helper) while the others wait for its result: single-flight.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;

use crate::{Credentials, Error, FetchOptions, Runtime, fetch_for_command, fetch_for_profile, files};

/// What a [`Provider`] gets credentials for.
#[derive(Clone, Debug)]
pub enum Target {
    /// A profile, resolved from the profile files at `locations`.
    Profile {
        locations: files::Locations,
        name: String,
    },
    /// A helper run directly (`credbox run`): its argv.
    Command(Vec<String>),
}

impl Target {
    /// The profile `name` in the files this process's environment points at.
    pub fn profile(name: impl Into<String>) -> Self {
        Target::Profile {
            locations: files::locate_from_env(),
            name: name.into(),
        }
    }
}

struct Current {
    credentials: Arc<Credentials>,
    serve_until: i64,
}

/// Credentials for one [`Target`], fetched at most once per refresh window however many threads
/// ask. Cheap to share behind an `Arc`.
pub struct Provider {
    runtime: Runtime,
    target: Target,
    options: FetchOptions,
    current: ArcSwapOption<Current>,
    refreshing: Mutex<()>,
}

impl Provider {
    /// A provider for `target`; nothing runs until the first [`retrieve`](Self::retrieve).
    pub fn new(runtime: Runtime, target: Target, options: FetchOptions) -> Self {
        Provider {
            runtime,
            target,
            options,
            current: ArcSwapOption::empty(),
            refreshing: Mutex::new(()),
        }
    }

    /// Credentials that are good for more than the refresh window.
    pub fn retrieve(&self) -> Result<Arc<Credentials>, Error> {
        if let Some(credentials) = self.serve(&self.current.load()) {
            return Ok(credentials);
        }
        // Single flight: one caller refreshes; the rest wait here, then find its result.
        let _refreshing = self
            .refreshing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(credentials) = self.serve(&self.current.load()) {
            return Ok(credentials);
        }
        let fetched = match &self.target {
            Target::Profile { locations, name } => {
                fetch_for_profile(&self.runtime, locations, name, &self.options)?
            }
            Target::Command(argv) => fetch_for_command(&self.runtime, argv, &self.options)?,
        };
        let credentials = Arc::new(fetched.credentials);
        self.current.store(Some(Arc::new(Current {
            credentials: credentials.clone(),
            // Without an answer from the guest, serve nothing from the copy: ask again next time.
            serve_until: fetched.serve_until.unwrap_or(i64::MIN),
        })));
        Ok(credentials)
    }

    /// Forget the current credentials: the next `retrieve` fetches again.
    pub fn invalidate(&self) {
        self.current.store(None);
    }

    fn serve(&self, current: &Option<Arc<Current>>) -> Option<Arc<Credentials>> {
        let current = current.as_ref()?;
        (self.now() < current.serve_until).then(|| current.credentials.clone())
    }

    fn now(&self) -> i64 {
        match &self.options.clock {
            Some(clock) => clock.now().as_secs() as i64,
            None => crate::unix_now(),
        }
    }
}
