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

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use tracing::{debug, warn};

use crate::{Credentials, Error, ErrorKind, Provider};

/// How long a failed refresh is not retried (while the last good credentials are served).
const RETRY_AFTER_FAILURE_SECONDS: i64 = 5;
/// The `Expiration` given for long-term credentials, which have none: clients ask again this
/// often (they get the same keys).
const LONG_TERM_REASK_SECONDS: i64 = 3600;
/// Open connections served at once; more are answered 503 and closed.
const MAX_CONNECTIONS: usize = 512;
/// The largest request head (request line and headers) read, and the most headers parsed.
const MAX_HEAD: usize = 8 * 1024;
const MAX_HEADERS: usize = 32;
/// How often an idle connection checks whether the endpoint is stopping, and when it is closed.
const POLL: Duration = Duration::from_millis(250);
const IDLE: Duration = Duration::from_secs(60);

/// The shared secret clients send in the `Authorization` header.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(** redacted **)")
    }
}

impl Token {
    /// 256 random bits from the kernel, as 64 hex digits.
    pub fn random() -> Result<Self, Error> {
        // /dev/urandom is the kernel CSPRNG; one read needs no crate.
        let mut bytes = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .map_err(|e| Error::internal(anyhow::anyhow!("reading /dev/urandom for a token: {e}")))?;
        Ok(Token(crate::spawn::hex(&bytes)))
    }

    /// A token kept in a file (its first line). It must be at least 16 characters.
    pub fn from_file(path: &std::path::Path) -> Result<Self, Error> {
        let usage = |why: String| {
            Error::new(
                ErrorKind::Usage,
                format!("--token-file {}: {why}", path.display()),
            )
        };
        let text = std::fs::read_to_string(path).map_err(|e| usage(format!("cannot read it: {e}")))?;
        let token = text.lines().next().unwrap_or("").trim().to_string();
        if token.len() < 16 || token.chars().any(|c| c.is_control()) {
            return Err(usage(
                "the first line must be a token of at least 16 printable characters".into(),
            ));
        }
        Ok(Token(token))
    }

    /// The token, to hand to the client that should use it.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// Compare without stopping at the first difference, so timing says nothing about the token.
    fn matches(&self, offered: &[u8]) -> bool {
        let ours = self.0.as_bytes();
        let mut difference = ours.len() ^ offered.len();
        for (i, byte) in ours.iter().enumerate() {
            difference |= usize::from(byte ^ offered.get(i).copied().unwrap_or(0));
        }
        difference == 0
    }
}

/// Refuse non-loopback addresses unless the user insists (`--insecure-listen`).
pub fn check_listen(addr: SocketAddr, insecure: bool) -> Result<(), Error> {
    if addr.ip().is_loopback() || insecure {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Usage,
        format!(
            "refusing to serve credentials on {addr}, which is not a loopback address: anyone who can reach it and sniff or guess the token gets credentials; use 127.0.0.1, or add --insecure-listen if you really mean it"
        ),
    ))
}

/// Credentials for the endpoint: the provider's, or the last good ones while a refresh fails.
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
        let now = crate::unix_now();
        if now >= self.retry_at.load(Ordering::Acquire) {
            match self.provider.retrieve() {
                Ok(credentials) => {
                    self.last_good.store(Some(credentials.clone()));
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
    connections: AtomicUsize,
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
            connections: AtomicUsize::new(0),
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
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::Acquire) {
            return;
        }
        let Ok(mut stream) = stream else { continue };
        // One thread per connection (SDK clients keep a connection or two open), up to a cap.
        if shared.connections.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            shared.connections.fetch_sub(1, Ordering::AcqRel);
            let busy = error_response(503, "Busy", "too many open connections", false);
            let _ = stream.write_all(&busy);
            continue;
        }
        let shared = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("credbox-serve".into())
            .stack_size(256 << 10)
            .spawn(move || {
                serve_connection(stream, &shared);
                shared.connections.fetch_sub(1, Ordering::AcqRel);
            });
        if let Err(e) = spawned {
            warn!("could not start a connection thread: {e}");
        }
    }
}

/// Answer requests on one keep-alive connection until the client closes it, goes idle, sends
/// something unparseable, or the endpoint stops.
fn serve_connection(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(IDLE));
    let mut buffer: Vec<u8> = Vec::with_capacity(1024);
    let mut idle = Duration::ZERO;
    loop {
        // Parse what is buffered; read more only when the head is incomplete.
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        let parsed = request.parse(&buffer);
        let head_length = match parsed {
            Ok(httparse::Status::Complete(length)) => length,
            Ok(httparse::Status::Partial) if buffer.len() < MAX_HEAD => {
                if shared.stopping.load(Ordering::Acquire) {
                    return;
                }
                let mut chunk = [0u8; 1024];
                match stream.read(&mut chunk) {
                    Ok(0) => return,
                    Ok(n) => {
                        buffer.extend_from_slice(&chunk[..n]);
                        idle = Duration::ZERO;
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        idle += POLL;
                        if idle >= IDLE {
                            return;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => return,
                }
                continue;
            }
            Ok(httparse::Status::Partial) => {
                let _ = stream.write_all(&error_response(
                    431,
                    "HeadersTooLarge",
                    "request head too large",
                    false,
                ));
                return;
            }
            Err(_) => {
                let _ = stream.write_all(&error_response(
                    400,
                    "BadRequest",
                    "not an HTTP/1.1 request",
                    false,
                ));
                return;
            }
        };
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.value)
        };
        // Requests here carry no body; one that does is answered and the connection closed,
        // rather than reading the body.
        let has_body =
            header("Content-Length").is_some_and(|v| v != b"0") || header("Transfer-Encoding").is_some();
        let keep_alive = !has_body
            && request.version == Some(1)
            && !header("Connection").is_some_and(|v| v.eq_ignore_ascii_case(b"close"));
        let response = answer(
            request.method.unwrap_or(""),
            request.path.unwrap_or(""),
            header("Authorization"),
            shared,
            keep_alive,
        );
        buffer.drain(..head_length);
        if stream.write_all(&response).is_err() || !keep_alive {
            return;
        }
    }
}

/// An HTTP/1.1 response with a JSON body.
fn json_response(status: u16, body: &serde_json::Value, keep_alive: bool, extra: &str) -> Vec<u8> {
    let body = body.to_string();
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let connection = if keep_alive { "keep-alive" } else { "close" };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: {connection}\r\n{extra}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn error_response(status: u16, code: &str, message: &str, keep_alive: bool) -> Vec<u8> {
    let extra = if status == 405 { "Allow: GET\r\n" } else { "" };
    json_response(
        status,
        &serde_json::json!({ "Code": code, "Message": message }),
        keep_alive,
        extra,
    )
}

/// Authorization first: a request without the right token learns nothing else, not even which
/// paths exist.
fn answer(method: &str, path: &str, offered: Option<&[u8]>, shared: &Shared, keep_alive: bool) -> Vec<u8> {
    match offered {
        None => {
            return error_response(
                401,
                "Unauthorized",
                "send the token from AWS_CONTAINER_AUTHORIZATION_TOKEN in the Authorization header",
                keep_alive,
            );
        }
        Some(offered) if !shared.token.matches(offered) => {
            return error_response(
                403,
                "Forbidden",
                "the Authorization token is not this endpoint's",
                keep_alive,
            );
        }
        Some(_) => {}
    }
    let path = path.split('?').next().unwrap_or("");
    if path != "/" && path != "/creds" {
        return error_response(
            404,
            "NotFound",
            "credentials are served at / and /creds",
            keep_alive,
        );
    }
    if method != "GET" {
        return error_response(405, "MethodNotAllowed", "only GET is served", keep_alive);
    }
    match shared.source.get() {
        Ok(credentials) => {
            debug!("served credentials");
            json_response(200, &container_document(&credentials), keep_alive, "")
        }
        Err(error) => error_response(503, "CredentialsUnavailable", &error.to_string(), keep_alive),
    }
}

/// The container credentials shape the SDKs read.
fn container_document(credentials: &Credentials) -> serde_json::Value {
    let expiration = credentials
        .expiration
        .unwrap_or_else(|| crate::unix_now() + LONG_TERM_REASK_SECONDS);
    let mut document = serde_json::json!({
        "AccessKeyId": credentials.access_key_id,
        "SecretAccessKey": credentials.secret_access_key(),
        "Token": credentials.session_token().unwrap_or(""),
        "Expiration": crate::error::format_time(expiration),
    });
    if let Some(account) = &credentials.account_id {
        document["AccountId"] = account.clone().into();
    }
    document
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
