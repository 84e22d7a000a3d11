//! A local credentials endpoint (`credbox serve`, `credbox exec --server`).
//!
//! Every AWS SDK can read credentials from the container credentials endpoint
//! (`AWS_CONTAINER_CREDENTIALS_FULL_URI` with `AWS_CONTAINER_AUTHORIZATION_TOKEN`), and re-reads it
//! before they expire, which environment variables cannot offer long-running processes. This
//! serves that endpoint on loopback from a [`Provider`]: the same guest decisions and disk cache as
//! `export`, one helper run per refresh however many clients ask (single flight), the last good
//! credentials while a failed refresh is retried, and 503 once they have expired.
//!
//! The HTTP side is deliberately small: GET on two paths, one thread per keep-alive connection,
//! `httparse` for the request head. (tiny_http was tried first: its connection pool can leave a
//! new connection queued behind open keep-alive ones for as long as they stay open, which the
//! load test caught as multi-second stalls.)
//!
//! Local users without the token must not be able to starve the client that has it. Connections
//! that have not sent the token yet share a small pool of their own, where a new one closes the
//! oldest (a client with the token sends it at once, so sockets held open cannot keep it out),
//! and have until a deadline to send their request head; 401, 403 and malformed requests close
//! the connection. Only connections that have sent the token count against [`MAX_CONNECTIONS`].

use std::collections::VecDeque;
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use tracing::warn;

mod http;
mod token;

use http::serve_connection;
pub use token::{Token, check_listen};

use crate::{Credentials, Error, ErrorKind, Provider};

/// How long a failed refresh is not retried (while the last good credentials are served).
const RETRY_AFTER_FAILURE_SECONDS: i64 = 5;
/// The `Expiration` given for long-term credentials, which have none: clients ask again this
/// often (they get the same keys).
const LONG_TERM_REASK_SECONDS: i64 = 3600;
/// Connections that have sent the token, served at once; more are answered 503 and closed.
const MAX_CONNECTIONS: usize = 512;
/// Connections that have not sent the token yet; a new one beyond this closes the oldest.
const MAX_UNAUTHENTICATED: usize = 64;
/// The most time a request head may take to arrive, from accept for a connection's first request
/// and from its first byte for later ones, however slowly the bytes trickle in.
const HEAD_DEADLINE: Duration = Duration::from_secs(5);
/// How long accept() rests after failing for want of descriptors (EMFILE) or for good, which
/// retrying at once cannot fix.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// The largest request head (request line and headers) read, and the most headers parsed.
const MAX_HEAD: usize = 8 * 1024;
const MAX_HEADERS: usize = 32;
/// How often an idle connection checks whether the endpoint is stopping, and when it is closed.
const POLL: Duration = Duration::from_millis(250);
const IDLE: Duration = Duration::from_secs(60);

/// Credentials for the endpoint: the provider's, or the last good ones while a refresh fails (only
/// those the guest lets a host serve on its own).
struct Source {
    provider: Provider,
    last_good: ArcSwapOption<Credentials>,
    /// No refresh is tried before this instant (Unix seconds) after a failure.
    retry_at: AtomicI64,
    last_error: Mutex<Option<Error>>,
    refreshing: Mutex<()>,
}

impl Source {
    fn get(&self) -> Result<Arc<Credentials>, Error> {
        if let Some(credentials) = self.provider.cached() {
            return Ok(credentials);
        }
        // One refresh at a time; the others wait, then find its result (or its failure).
        let _refreshing = self.refreshing.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(credentials) = self.provider.cached() {
            return Ok(credentials);
        }
        let now = crate::text::unix_now();
        if now >= self.retry_at.load(Ordering::Acquire) {
            match self.provider.retrieve() {
                Ok(credentials) => {
                    // Only what the guest lets a host serve on its own may outlive a failed
                    // refresh: a plugin that calls its credentials expired is not overruled.
                    let keep = self.provider.may_serve_copies().then(|| credentials.clone());
                    self.last_good.store(keep);
                    return Ok(credentials);
                }
                Err(error) => {
                    eprintln!("credbox serve: refreshing credentials failed: {error}");
                    self.retry_at
                        .store(now + RETRY_AFTER_FAILURE_SECONDS, Ordering::Release);
                    *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
                }
            }
        }
        // Still good: keep serving them until they expire.
        if let Some(last) = self.last_good.load_full()
            && last.expiration.is_none_or(|at| now < at)
        {
            return Ok(last);
        }
        let error = self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Err(error.unwrap_or_else(|| Error::new(ErrorKind::Internal, "no credentials yet")))
    }
}

/// A running endpoint. Dropping it (or [`Endpoint::shutdown`]) stops it.
pub struct Endpoint {
    address: SocketAddr,
    token: Token,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

/// What every connection thread shares.
struct Shared {
    source: Source,
    token: Token,
    stopping: AtomicBool,
    /// Connections that have sent the token (up to [`MAX_CONNECTIONS`]).
    authenticated: AtomicUsize,
    /// Connections that have not, oldest first, each with a handle to close it from here.
    unauthenticated: Mutex<VecDeque<(u64, TcpStream)>>,
}

impl Shared {
    /// Take connection `id` out of the unauthenticated pool (closing our handle, not the socket).
    fn forget_unauthenticated(&self, id: u64) {
        let mut pool = self.unauthenticated.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(index) = pool.iter().position(|(i, _)| *i == id) {
            pool.remove(index);
        }
    }
}

/// A connection's place in one of the two pools, given up when it is dropped.
struct Place {
    shared: Arc<Shared>,
    id: u64,
    authenticated: bool,
}

impl Place {
    /// Move to the pool of connections that have sent the token; false when that one is full.
    fn authenticate(&mut self) -> bool {
        if self.authenticated {
            return true;
        }
        if self.shared.authenticated.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            self.shared.authenticated.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        self.shared.forget_unauthenticated(self.id);
        self.authenticated = true;
        true
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        if self.authenticated {
            self.shared.authenticated.fetch_sub(1, Ordering::AcqRel);
        } else {
            self.shared.forget_unauthenticated(self.id);
        }
    }
}

impl Endpoint {
    /// Fetch credentials once (so a broken profile fails now, not at the first client), then
    /// serve them on `listen`, which must be a loopback address.
    pub fn start(provider: Provider, listen: SocketAddr, token: Token) -> Result<Self, Error> {
        check_listen(listen, false)?;
        Self::start_on_any_address(provider, listen, token)
    }

    /// [`Endpoint::start`] without the loopback rule (`--insecure-listen`): anyone who can reach
    /// `listen` and has the token gets credentials, over plain HTTP.
    pub fn start_on_any_address(provider: Provider, listen: SocketAddr, token: Token) -> Result<Self, Error> {
        let first = provider.retrieve()?;
        let listener = TcpListener::bind(listen)
            .map_err(|e| Error::new(ErrorKind::Usage, format!("cannot listen on {listen}: {e}")))?;
        let address = listener
            .local_addr()
            .map_err(|e| Error::internal(anyhow::anyhow!("the listening address: {e}")))?;
        let shared = Arc::new(Shared {
            source: Source {
                provider,
                last_good: ArcSwapOption::new(Some(first)),
                retry_at: AtomicI64::new(0),
                last_error: Mutex::new(None),
                refreshing: Mutex::new(()),
            },
            token: token.clone(),
            stopping: AtomicBool::new(false),
            authenticated: AtomicUsize::new(0),
            unauthenticated: Mutex::new(VecDeque::new()),
        });
        let accepting = shared.clone();
        let acceptor = std::thread::spawn(move || accept_loop(&listener, &accepting));
        Ok(Endpoint {
            address,
            token,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The two variables that point an SDK at this endpoint.
    pub fn environment(&self) -> [(&'static str, String); 2] {
        let host = match self.address.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };
        [
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                format!("http://{host}:{}/creds", self.address.port()),
            ),
            (
                "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                self.token.reveal().to_string(),
            ),
        ]
    }

    /// Block until the endpoint is stopped (by a signal, in the CLI).
    pub fn wait(mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }

    /// Stop accepting connections; open ones close after their current request.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        if let Some(acceptor) = self.acceptor.take() {
            // Wake the blocked accept() with a connection of our own.
            let _ = TcpStream::connect(self.address);
            let _ = acceptor.join();
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    let mut next_id = 0u64;
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::Acquire) {
            return;
        }
        let stream = match stream {
            Ok(stream) => stream,
            // A connection that went away before it was accepted, or a signal: next.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            // Out of descriptors (EMFILE) or memory, accept() fails again at once until something
            // closes, as it does for good on a broken socket: rest rather than spin a core.
            Err(e) => {
                warn!("accepting a connection failed: {e}");
                std::thread::sleep(ACCEPT_BACKOFF);
                continue;
            }
        };
        let accepted = Instant::now();
        // The handle to close it from here costs a descriptor too; without one, turn it away.
        let Ok(handle) = stream.try_clone() else {
            std::thread::sleep(ACCEPT_BACKOFF);
            continue;
        };
        next_id += 1;
        {
            let mut pool = shared.unauthenticated.lock().unwrap_or_else(|p| p.into_inner());
            // Full: close the oldest rather than refuse the newest, so that sockets held open
            // without the token cannot keep out the token holder, who sends its head at once.
            if pool.len() >= MAX_UNAUTHENTICATED
                && let Some((_, oldest)) = pool.pop_front()
            {
                let _ = oldest.shutdown(Shutdown::Both);
            }
            pool.push_back((next_id, handle));
        }
        let place = Place {
            shared: shared.clone(),
            id: next_id,
            authenticated: false,
        };
        // One thread per connection (SDK clients keep a connection or two open).
        let spawned = std::thread::Builder::new()
            .name("credbox-serve".into())
            .stack_size(256 << 10)
            .spawn(move || serve_connection(stream, place, accepted));
        if let Err(e) = spawned {
            warn!("could not start a connection thread: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        let token = Token("0123456789abcdef".into());
        assert!(token.matches(b"0123456789abcdef"));
        assert!(!token.matches(b"0123456789abcde"));
        assert!(!token.matches(b"0123456789abcdeff"));
        assert!(!token.matches(b""));
        assert!(!format!("{token:?}").contains("0123"));
    }

    #[test]
    fn only_loopback_without_insecure_listen() {
        assert!(check_listen("127.0.0.1:0".parse().unwrap(), false).is_ok());
        assert!(check_listen("[::1]:0".parse().unwrap(), false).is_ok());
        assert!(check_listen("0.0.0.0:8080".parse().unwrap(), false).is_err());
        assert!(check_listen("0.0.0.0:8080".parse().unwrap(), true).is_ok());
    }
}
