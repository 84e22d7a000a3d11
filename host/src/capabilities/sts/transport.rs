//! Sending: the HTTP agent (trust store, proxy, bounds), one signed attempt, and the standard
//! retry mode's backoff.

use std::time::{Duration, SystemTime};

use crate::bindings::{wit, wit_sts};

use super::MAX_ANSWER_BYTES;
use super::answer::parse_rejection;
use super::policy::StsPolicy;
use super::sign::signature_headers;

/// The largest CA bundle read (Mozilla's whole store is about 250 KiB).
const MAX_CA_BUNDLE: u64 = 4 << 20;

/// Why a request got no (usable) HTTP answer.
pub(super) enum Unsent {
    Timeout,
    Network(String),
    Signing(String),
    TooLarge,
}

pub(super) fn agent(policy: &StsPolicy, profile_ca_bundle: Option<&str>) -> Result<ureq::Agent, String> {
    // ureq reads ALL_PROXY, HTTPS_PROXY, HTTP_PROXY and NO_PROXY (either case). It would go direct
    // past a SOCKS proxy it cannot speak: refuse instead of bypassing a required egress proxy.
    let proxy = ureq::Proxy::try_from_env();
    if let Some(proxy) = &proxy
        && !matches!(
            proxy.protocol(),
            ureq::ProxyProtocol::Http | ureq::ProxyProtocol::Https
        )
    {
        return Err(
            "the proxy in ALL_PROXY/HTTPS_PROXY is a SOCKS proxy, which credbox cannot use for STS; set HTTPS_PROXY to an HTTP(S) proxy"
                .into(),
        );
    }
    // AWS_CA_BUNDLE, else the profile's ca_bundle (botocore's order), else the platform's store.
    let bundle = match std::env::var("AWS_CA_BUNDLE")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        Some(path) => Some(("AWS_CA_BUNDLE", path)),
        None => profile_ca_bundle.map(|path| ("ca_bundle", path.to_string())),
    };
    let roots = match bundle {
        None => ureq::tls::RootCerts::PlatformVerifier,
        Some((setting, path)) => {
            // Opened as a regular file without blocking: a FIFO here must not hang credbox while
            // it holds the role's cache lock. A CA bundle is a few hundred KiB at most.
            let mut pem = Vec::new();
            crate::platform::open_regular(std::path::Path::new(&path))
                .and_then(|file| {
                    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_CA_BUNDLE + 1), &mut pem)
                })
                .map_err(|e| format!("{setting} {path}: {e}"))?;
            if pem.len() as u64 > MAX_CA_BUNDLE {
                return Err(format!(
                    "{setting} {path} is larger than {} MiB, more than any CA bundle",
                    MAX_CA_BUNDLE >> 20
                ));
            }
            let certificates: Vec<_> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certificates.is_empty() {
                return Err(format!("{setting} {path} holds no PEM certificate"));
            }
            ureq::tls::RootCerts::new_with_certs(&certificates)
        }
    };
    Ok(ureq::Agent::config_builder()
        .timeout_connect(Some(policy.connect_timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(proxy)
        .user_agent(concat!("credbox/", env!("CARGO_PKG_VERSION")))
        .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
        .build()
        .into())
}

/// Sign (afresh: the signature carries the time) and send one attempt.
pub(super) fn send(
    agent: &ureq::Agent,
    request: &wit_sts::AssumeRoleRequest,
    body: &str,
    remaining: Duration,
) -> Result<(u16, Vec<u8>), Unsent> {
    if remaining.is_zero() {
        return Err(Unsent::Timeout);
    }
    let url = &request.endpoint.url;
    let content_type = ("content-type", "application/x-www-form-urlencoded; charset=utf-8");
    let signed = signature_headers(request, url, content_type, body).map_err(Unsent::Signing)?;
    let mut call = agent
        .post(url)
        .config()
        .timeout_global(Some(remaining))
        .build()
        .header(content_type.0, content_type.1);
    for (name, value) in &signed {
        call = call.header(name, value);
    }
    let mut response = call.send(body).map_err(|e| match e {
        ureq::Error::Timeout(_) => Unsent::Timeout,
        other => Unsent::Network(other.to_string()),
    })?;
    let status = response.status().as_u16();
    let answer = response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER_BYTES)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::Timeout(_) => Unsent::Timeout,
            ureq::Error::BodyExceedsLimit(_) => Unsent::TooLarge,
            other => Unsent::Network(other.to_string()),
        })?;
    Ok((status, answer))
}

/// Throttling and server errors are retried, as in the SDKs' standard mode: 5xx and 429, and a
/// 400 only when its code is a throttling one (STS sends `Throttling` with 400). Never a
/// validation error: the same request would fail again.
pub(super) fn is_retryable(status: u16, answer: &[u8]) -> bool {
    const THROTTLING: [&str; 7] = [
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
    ];
    match status {
        429 | 500 | 502 | 503 | 504 => true,
        400 => matches!(
            parse_rejection(status, answer),
            wit::StsError::Rejected(r) if THROTTLING.contains(&r.code.as_str())
        ),
        _ => false,
    }
}

/// The longest pause before the attempt after `attempt`: 2 s, then 4 s (capped at 20 s).
pub(super) fn backoff_ceiling(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.min(4)).min(Duration::from_secs(20))
}

/// Exponential backoff with full jitter: a random share of [`backoff_ceiling`] (the SDKs'
/// standard mode).
pub(super) fn backoff(attempt: u32) -> Duration {
    let ceiling = backoff_ceiling(attempt);
    // Jitter from the clock's nanoseconds: no random source needed for spreading retries.
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    ceiling.mul_f64(f64::from(nanos) / 1e9)
}
