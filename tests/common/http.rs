//! A scripted HTTP endpoint on loopback, for the answers no real server gives on purpose: a
//! redirect, an answer too large, one that never comes or comes a byte at a time, a 503 forever,
//! an STS answer whose expiration is far in the future or already past. It counts every request
//! and can pass requests on to a real server (moto) to count what reached it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the endpoint does with one request.
#[derive(Clone)]
pub enum Behaviour {
    /// Answer with this status and body.
    Answer(u16, Vec<u8>),
    /// Answer 307 with `Location:` this URL.
    Redirect(String),
    /// Accept, read the request, and never answer (until the test ends).
    Silence,
    /// Send a 200 head, then the body one byte every `pause`.
    Trickle(Vec<u8>, Duration),
    /// Pass the request on to this server (`http://127.0.0.1:PORT`) and its answer back.
    Forward(String),
}

/// The endpoint: its URL, how many requests it has had, and their bodies.
pub struct Endpoint {
    pub url: String,
    requests: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Endpoint {
    /// An endpoint on a free loopback port that answers every request as `behave` says (given
    /// the request's number, from 0).
    pub fn start(behave: impl Fn(usize) -> Behaviour + Send + Sync + 'static) -> Endpoint {
        Endpoint::listen(None, behave)
    }

    /// The same over TLS, with `tls`'s certificate (`https://127.0.0.1:PORT`).
    pub fn start_tls(tls: &Tls, behave: impl Fn(usize) -> Behaviour + Send + Sync + 'static) -> Endpoint {
        Endpoint::listen(Some(tls.server.clone()), behave)
    }

    fn listen(
        tls: Option<Arc<rustls::ServerConfig>>,
        behave: impl Fn(usize) -> Behaviour + Send + Sync + 'static,
    ) -> Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let behave = Arc::new(behave);
        let (counted, kept) = (requests.clone(), bodies.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (behave, counted, kept, tls) =
                    (behave.clone(), counted.clone(), kept.clone(), tls.clone());
                std::thread::spawn(move || match tls {
                    None => serve(stream, &*behave, &counted, &kept),
                    Some(config) => {
                        let Ok(connection) = rustls::ServerConnection::new(config) else {
                            return;
                        };
                        serve(
                            rustls::StreamOwned::new(connection, stream),
                            &*behave,
                            &counted,
                            &kept,
                        )
                    }
                });
            }
        });
        Endpoint {
            url,
            requests,
            bodies,
        }
    }

    /// An endpoint that always behaves the same way.
    pub fn always(behaviour: Behaviour) -> Endpoint {
        Endpoint::start(move |_| behaviour.clone())
    }

    /// How many requests it has read.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// The bodies of the requests it has read, in order.
    pub fn bodies(&self) -> Vec<Vec<u8>> {
        self.bodies.lock().unwrap().clone()
    }
}

/// One request (head and `Content-Length` body), or `None` when the client went away.
fn read_request(stream: &mut impl Read) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).ok().filter(|&n| n > 0)?;
        bytes.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while bytes.len() < head_end + length {
        let n = stream.read(&mut chunk).ok().filter(|&n| n > 0)?;
        bytes.extend_from_slice(&chunk[..n]);
    }
    let body = bytes[head_end..head_end + length].to_vec();
    Some((bytes[..head_end].to_vec(), body))
}

fn serve(
    mut stream: impl Read + Write,
    behave: &(dyn Fn(usize) -> Behaviour + Send + Sync),
    counted: &AtomicUsize,
    kept: &Mutex<Vec<Vec<u8>>>,
) {
    while let Some((head, body)) = read_request(&mut stream) {
        let number = counted.fetch_add(1, Ordering::SeqCst);
        kept.lock().unwrap().push(body.clone());
        let answer = |status: u16, extra: &str, body: &[u8]| {
            let mut bytes = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\ncontent-type: text/xml\r\n{extra}\r\n",
                body.len()
            )
            .into_bytes();
            bytes.extend_from_slice(body);
            bytes
        };
        let written = match behave(number) {
            Behaviour::Answer(status, body) => stream.write_all(&answer(status, "", &body)),
            Behaviour::Redirect(url) => stream.write_all(&answer(307, &format!("location: {url}\r\n"), b"")),
            Behaviour::Silence => {
                std::thread::sleep(Duration::from_secs(3600));
                return;
            }
            Behaviour::Trickle(body, pause) => {
                let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
                let mut result = stream.write_all(head.as_bytes());
                for byte in body {
                    if result.is_err() {
                        break;
                    }
                    std::thread::sleep(pause);
                    result = stream.write_all(&[byte]);
                }
                result
            }
            Behaviour::Forward(to) => forward(&to, &head, &body).and_then(|bytes| stream.write_all(&bytes)),
        };
        if written.is_err() {
            return;
        }
    }
}

/// Send the request on to `to` and read its whole answer (the connection closed after it).
fn forward(to: &str, head: &[u8], body: &[u8]) -> std::io::Result<Vec<u8>> {
    let address = to.trim_start_matches("http://");
    let mut upstream = TcpStream::connect(address)?;
    let head = String::from_utf8_lossy(head);
    // One request per connection upstream, so that the answer ends where the connection does.
    let mut rewritten = String::new();
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("connection:") {
            continue;
        }
        rewritten.push_str(line);
        rewritten.push_str("\r\n");
    }
    rewritten.push_str("connection: close\r\n\r\n");
    upstream.write_all(rewritten.as_bytes())?;
    upstream.write_all(body)?;
    let mut answer = Vec::new();
    upstream.read_to_end(&mut answer)?;
    Ok(answer)
}

/// An STS `AssumeRole` answer with these credentials and expiration (RFC 3339).
pub fn assume_role_answer(expiration: &str) -> Vec<u8> {
    format!(
        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>\
         <Credentials><AccessKeyId>ASIAHOSTILE000000001</AccessKeyId>\
         <SecretAccessKey>hostileSecretKey0000000000000000000000000</SecretAccessKey>\
         <SessionToken>hostileSessionToken</SessionToken><Expiration>{expiration}</Expiration></Credentials>\
         <AssumedRoleUser><Arn>arn:aws:sts::210987654321:assumed-role/Deploy/s</Arn>\
         <AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser></AssumeRoleResult>\
         <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></AssumeRoleResponse>"
    )
    .into_bytes()
}

/// A certificate authority made for one test, and a server certificate it signed for 127.0.0.1.
pub struct Tls {
    /// The authority's certificate, PEM: what a client must trust.
    pub ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

impl Tls {
    pub fn new() -> Tls {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "credbox test authority");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap()
            .signed_by(&key, &ca_cert, &ca_key)
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone(), ca_cert.der().clone()],
                rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
            )
            .unwrap();
        Tls {
            ca_pem: ca_cert.pem(),
            server: Arc::new(server),
        }
    }
}
