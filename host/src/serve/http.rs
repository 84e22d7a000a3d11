//! The HTTP side of the endpoint: one keep-alive connection, its request heads (parsed by
//! `httparse`, bounded in size and time), the token check, and the JSON responses.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tracing::debug;

use super::{HEAD_DEADLINE, IDLE, LONG_TERM_REASK_SECONDS, MAX_HEAD, MAX_HEADERS, POLL, Place, Shared};
use crate::format;
use crate::text::unix_now;

/// Answer requests on one keep-alive connection until the client closes it, goes idle, is too
/// slow sending a request head, sends something unparseable or no token, or the endpoint stops.
pub(super) fn serve_connection(mut stream: TcpStream, mut place: Place, accepted: Instant) {
    let shared = place.shared.clone();
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(IDLE));
    let mut buffer: Vec<u8> = Vec::with_capacity(1024);
    // When the head being read began (None between requests); the idle timeout runs from the
    // last answer.
    let mut head_started = Some(accepted);
    let mut answered = accepted;
    loop {
        // Parse what is buffered; read more only when the head is incomplete.
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        let parsed = request.parse(&buffer);
        let head_length = match parsed {
            Ok(httparse::Status::Complete(length)) => length,
            Ok(httparse::Status::Partial) if buffer.len() < MAX_HEAD => {
                if shared.stopping.load(Ordering::Acquire)
                    || head_started.is_some_and(|started| started.elapsed() >= HEAD_DEADLINE)
                {
                    return;
                }
                let mut chunk = [0u8; 1024];
                match stream.read(&mut chunk) {
                    Ok(0) => return,
                    Ok(n) => {
                        head_started.get_or_insert_with(Instant::now);
                        buffer.extend_from_slice(&chunk[..n]);
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        if head_started.is_none() && answered.elapsed() >= IDLE {
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
                close_unread(stream);
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
        // Authorization first: a request without the right token learns nothing else, not even
        // which paths exist, and its connection is closed.
        let offered = header("Authorization");
        if !offered.is_some_and(|offered| shared.token.matches(offered)) {
            let _ = stream.write_all(&refusal(offered.is_some()));
            return;
        }
        if !place.authenticate() {
            let busy = error_response(503, "Busy", "too many open connections", false);
            let _ = stream.write_all(&busy);
            return;
        }
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
            &shared,
            keep_alive,
        );
        buffer.drain(..head_length);
        if stream.write_all(&response).is_err() {
            return;
        }
        if !keep_alive {
            if has_body {
                close_unread(stream);
            }
            return;
        }
        answered = Instant::now();
        // A pipelined request already begun has its deadline from now.
        head_started = (!buffer.is_empty()).then_some(answered);
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

/// The answer to a request without the right token: 401 without one, 403 with another. Both close
/// the connection.
fn refusal(offered_one: bool) -> Vec<u8> {
    if offered_one {
        error_response(
            403,
            "Forbidden",
            "the Authorization token is not this endpoint's",
            false,
        )
    } else {
        error_response(
            401,
            "Unauthorized",
            "send the token from AWS_CONTAINER_AUTHORIZATION_TOKEN in the Authorization header",
            false,
        )
    }
}

/// The answer to a request with the right token.
fn answer(method: &str, path: &str, shared: &Shared, keep_alive: bool) -> Vec<u8> {
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
            json_response(
                200,
                &format::container_document(&credentials, unix_now() + LONG_TERM_REASK_SECONDS),
                keep_alive,
                "",
            )
        }
        Err(error) => error_response(503, "CredentialsUnavailable", &error.to_string(), keep_alive),
    }
}

/// Close a connection whose client may still be sending (the rest of a head too large, a body
/// that is never read): closed with bytes unread, the socket would send a reset that can reach
/// the client before the answer it was just sent. So: stop sending, then read and drop what
/// arrives for a moment (at most 64 KiB, half a second, or 100 ms of quiet), then close.
fn close_unread(mut stream: TcpStream) {
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_millis(100)));
    let until = Instant::now() + std::time::Duration::from_millis(500);
    let mut drained = 0;
    let mut chunk = [0u8; 4096];
    while drained < 64 * 1024 && Instant::now() < until {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}
