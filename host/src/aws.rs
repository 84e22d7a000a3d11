//! credbox as a credentials provider for the AWS SDK for Rust (cargo feature `aws-sdk`).
//!
//! ```ignore
//! let config = aws_config::defaults(BehaviorVersion::latest())
//!     .credentials_provider(credbox::aws::CredentialsProvider::profile("dev"))
//!     .load()
//!     .await;
//! ```
//!
//! The SDK's identity cache decides when to ask; credbox adds its own guarantees underneath: the
//! sandboxed guest's validation, the refresh window, the cross-process disk cache, and one helper
//! run however many tasks ask at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials as AwsCredentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials};

use crate::{Cache, Credentials, Error, ErrorKind, FetchOptions, Provider, Runtime, Target};

/// The name the SDK records as the credentials' source.
const PROVIDER_NAME: &str = "credbox";

/// A [`Provider`] as an AWS SDK for Rust credentials provider. Cloning shares it.
#[derive(Clone)]
pub struct CredentialsProvider {
    provider: Arc<Provider>,
}

impl std::fmt::Debug for CredentialsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsProvider")
            .field("provider", &self.provider)
            .finish()
    }
}

impl CredentialsProvider {
    /// Serve credentials from `provider`.
    pub fn new(provider: Provider) -> Self {
        CredentialsProvider {
            provider: Arc::new(provider),
        }
    }

    /// The profile `name` from the files this process's environment points at, with the CLI's
    /// defaults: the disk cache in the default directory (when there is one), a 60 s timeout, a
    /// 15-minute refresh window.
    pub fn profile(name: impl Into<String>) -> Self {
        let options = FetchOptions {
            cache: crate::cache::default_dir().and_then(|dir| Cache::open(&dir).ok()),
            ..FetchOptions::default()
        };
        Self::new(Provider::new(Runtime::default(), Target::profile(name), options))
    }
}

impl From<Provider> for CredentialsProvider {
    fn from(provider: Provider) -> Self {
        Self::new(provider)
    }
}

impl ProvideCredentials for CredentialsProvider {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        // Served credentials cost nanoseconds: answer at once.
        if let Some(credentials) = self.provider.cached() {
            return provider::future::ProvideCredentials::ready(Ok(to_aws(&credentials)));
        }
        // A refresh runs a helper process and may wait on a prompt: do it on a thread of its own,
        // never on the async executor's.
        let provider = self.provider.clone();
        let (future, completer) = Blocking::new();
        std::thread::spawn(move || {
            let result = provider.retrieve().map(|c| to_aws(&c)).map_err(to_aws_error);
            completer.complete(result);
        });
        provider::future::ProvideCredentials::new(future)
    }
}

fn to_aws(credentials: &Credentials) -> AwsCredentials {
    let mut builder = AwsCredentials::builder()
        .access_key_id(credentials.access_key_id.clone())
        .secret_access_key(credentials.secret_access_key())
        .provider_name(PROVIDER_NAME);
    if let Some(token) = credentials.session_token() {
        builder = builder.session_token(token);
    }
    if let Some(expiration) = credentials.expiration {
        builder = builder.expiry(UNIX_EPOCH + Duration::from_secs(expiration.max(0) as u64));
    }
    if let Some(account) = &credentials.account_id {
        builder = builder.account_id(account.as_str());
    }
    builder.build()
}

fn to_aws_error(error: Error) -> CredentialsError {
    match error.kind() {
        ErrorKind::Usage | ErrorKind::Config | ErrorKind::CommandSyntax => {
            CredentialsError::invalid_configuration(error)
        }
        _ => CredentialsError::provider_error(error),
    }
}

type Outcome = Result<AwsCredentials, CredentialsError>;

/// A one-shot future completed from another thread (no async runtime needed).
struct Blocking {
    slot: Arc<Mutex<(Option<Outcome>, Option<Waker>)>>,
}

/// The sending half. Dropped without an answer (the thread panicked), it answers with an error,
/// so the future never hangs.
struct Completer {
    slot: Arc<Mutex<(Option<Outcome>, Option<Waker>)>>,
    answered: bool,
}

impl Blocking {
    fn new() -> (Self, Completer) {
        let slot = Arc::new(Mutex::new((None, None)));
        let completer = Completer {
            slot: slot.clone(),
            answered: false,
        };
        (Blocking { slot }, completer)
    }
}

impl Completer {
    fn complete(mut self, outcome: Outcome) {
        self.answer(outcome);
    }

    fn answer(&mut self, outcome: Outcome) {
        self.answered = true;
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        slot.0 = Some(outcome);
        if let Some(waker) = slot.1.take() {
            waker.wake();
        }
    }
}

impl Drop for Completer {
    fn drop(&mut self) {
        if !self.answered {
            self.answer(Err(CredentialsError::provider_error(
                "credbox's refresh thread ended without an answer",
            )));
        }
    }
}

impl Future for Blocking {
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        match slot.0.take() {
            Some(outcome) => Poll::Ready(outcome),
            None => {
                slot.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
