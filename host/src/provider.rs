//! A long-lived, thread-safe credentials provider for programs that embed credbox.
//!
//! The guest decides until when credentials may be served (`serve-until`); until then every
//! [`Provider::retrieve`] reads only memory no other thread writes: a generation counter, a coarse
//! clock, and a per-thread copy of the credentials whose `Arc` count is that thread's alone (a
//! shared count would bounce between cores on every call). Past that instant one caller
//! refreshes (through the guest, the cache and the helper) while the others wait for its result:
//! single-flight.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;

use crate::fetch::{fetch_for_command, fetch_for_profile};
use crate::{Credentials, Error, FetchOptions, Runtime, files};

/// What a [`Provider`] gets credentials for.
#[derive(Clone, Debug)]
pub enum Target {
    /// A profile, resolved from the profile files at `locations`.
    Profile {
        /// Where the profile files are.
        locations: files::Locations,
        /// The profile's name.
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
    /// The provider's generation when this was stored.
    generation: u64,
}

/// Each thread's copy of the last credentials it served, for one provider.
struct ThreadCopy {
    provider: u64,
    generation: u64,
    serve_until: i64,
    credentials: Arc<Credentials>,
}

thread_local! {
    static THREAD_COPY: RefCell<Option<ThreadCopy>> = const { RefCell::new(None) };
}

/// Distinguishes providers in the per-thread slot.
static NEXT_PROVIDER_ID: AtomicU64 = AtomicU64::new(1);

/// Credentials for one [`Target`], fetched at most once per refresh window however many threads
/// ask. Cheap to share behind an `Arc`.
pub struct Provider {
    runtime: Runtime,
    target: Target,
    options: FetchOptions,
    id: u64,
    /// Bumped whenever `current` changes, so per-thread copies know they are stale.
    generation: AtomicU64,
    current: ArcSwapOption<Current>,
    refreshing: Mutex<()>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// A provider for `target`; nothing runs until the first [`retrieve`](Self::retrieve).
    pub fn new(runtime: Runtime, target: Target, options: FetchOptions) -> Self {
        Provider {
            runtime,
            target,
            options,
            id: NEXT_PROVIDER_ID.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
            current: ArcSwapOption::empty(),
            refreshing: Mutex::new(()),
        }
    }

    /// Credentials that are good for more than the refresh window.
    pub fn retrieve(&self) -> Result<Arc<Credentials>, Error> {
        let now = self.now();
        if let Some(credentials) = self.serve_thread_copy(now) {
            return Ok(credentials);
        }
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
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        self.current.store(Some(Arc::new(Current {
            credentials: credentials.clone(),
            // Without an answer from the guest, serve nothing from the copy: ask again next time.
            serve_until: fetched.serve_until.unwrap_or(i64::MIN),
            generation,
        })));
        Ok(credentials)
    }

    /// The current credentials if they may still be served, without ever refreshing.
    pub fn cached(&self) -> Option<Arc<Credentials>> {
        let now = self.now();
        self.serve_thread_copy(now)
            .or_else(|| self.serve(&self.current.load()))
    }

    /// Whether the guest let the current credentials be served on their own until an instant: not
    /// so for a credential plugin's, whose `is-expired` must be asked before every reuse.
    pub fn may_serve_copies(&self) -> bool {
        self.current
            .load()
            .as_ref()
            .is_some_and(|current| current.serve_until != i64::MIN)
    }

    /// Forget the current credentials: the next `retrieve` fetches again.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.current.store(None);
    }

    /// This thread's own copy, if it is of the current generation and still servable.
    fn serve_thread_copy(&self, now: i64) -> Option<Arc<Credentials>> {
        let generation = self.generation.load(Ordering::Acquire);
        THREAD_COPY.with_borrow(|copy| {
            let copy = copy.as_ref()?;
            (copy.provider == self.id && copy.generation == generation && now < copy.serve_until)
                .then(|| copy.credentials.clone())
        })
    }

    /// Serve from the shared current credentials, and leave this thread its own copy of them.
    fn serve(&self, current: &Option<Arc<Current>>) -> Option<Arc<Credentials>> {
        let current = current.as_ref()?;
        if self.now() >= current.serve_until {
            return None;
        }
        let credentials = Arc::new(Credentials::clone(&current.credentials));
        THREAD_COPY.set(Some(ThreadCopy {
            provider: self.id,
            generation: current.generation,
            serve_until: current.serve_until,
            credentials: credentials.clone(),
        }));
        Some(credentials)
    }

    fn now(&self) -> i64 {
        match &self.options.clock {
            Some(clock) => clock.now().as_secs() as i64,
            None => crate::platform::coarse_unix_now(),
        }
    }
}
