//! The `sts` capability (docs/ROLES.md): one STS `AssumeRole` call for the guest, and nothing else.
//!
//! The guest chooses the role and the endpoint; the host decides whether it will send there at
//! all ([`check_endpoint`]: an AWS STS host name, or a URL the user configured, found by the host
//! on its own), signs with the AWS SDK's own SigV4 signer, sends with ureq (rustls; the
//! platform's trust store or `AWS_CA_BUNDLE`; `HTTPS_PROXY`/`NO_PROXY`), bounds the time and the
//! answer, and retries as the SDKs' standard retry mode does. The request and the answer hold
//! secrets: only the endpoint, the role and a masked access key id are ever logged.

mod answer;
pub(crate) mod import;
mod policy;
mod sign;
mod transport;

use std::time::Instant;

use tracing::{debug, info};

use crate::bindings::{wit, wit_sts};
use crate::credentials::mask;

use answer::{parse_rejection, parse_success};
pub use policy::{StsPolicy, check_endpoint};
pub(crate) use policy::{endpoint_environment, is_mfa_code};
use sign::form_body;
use transport::{Unsent, agent, backoff, backoff_ceiling, is_retryable, send};

/// The most an STS answer may be: a real one is about 1.5 KiB.
pub const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// Attempts per call, as in the SDKs' standard retry mode.
const MAX_ATTEMPTS: u32 = 3;

/// `AssumeRole`, within the policy's bounds.
pub(crate) fn assume_role(
    policy: &StsPolicy,
    request: &wit_sts::AssumeRoleRequest,
) -> Result<wit_sts::AssumedRole, wit::StsError> {
    let url = request.endpoint.url.as_str();
    policy.check_request(request).map_err(wit::StsError::Denied)?;
    info!(
        endpoint = url,
        role = %request.role_arn,
        source_key = %mask(&request.source.access_key_id),
        "assuming a role"
    );
    let body = form_body(request);
    let agent = agent(policy, request.endpoint.ca_bundle.as_deref()).map_err(wit::StsError::Denied)?;
    let deadline = Instant::now() + policy.total_timeout;
    let mut attempt = 1;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let outcome = send(&agent, request, &body, remaining);
        let retry = match &outcome {
            Ok((status, answer)) => is_retryable(*status, answer),
            Err(Unsent::Network(_)) => true,
            Err(Unsent::Timeout | Unsent::Signing(_) | Unsent::TooLarge) => false,
        };
        // Another attempt only while time is left for one: a retry that could only time out
        // would hide the network error behind a timeout.
        let left = deadline.saturating_duration_since(Instant::now());
        if retry && attempt < MAX_ATTEMPTS && backoff_ceiling(attempt) < left {
            let pause = backoff(attempt);
            debug!(
                attempt,
                pause_ms = pause.as_millis() as u64,
                "STS call failed; retrying"
            );
            std::thread::sleep(pause);
            attempt += 1;
            continue;
        }
        return match outcome {
            Ok((200, answer)) => parse_success(&answer),
            Ok((status, answer)) => Err(parse_rejection(status, &answer)),
            Err(Unsent::Timeout) => Err(wit::StsError::Unreachable(format!(
                "{url} did not answer within {} s",
                policy.total_timeout.as_secs()
            ))),
            Err(Unsent::Network(why)) => Err(wit::StsError::Unreachable(format!(
                "{url} could not be reached (after {attempt} attempts; connect timeout {} s): {why}",
                policy.connect_timeout.as_secs()
            ))),
            Err(Unsent::Signing(why)) => Err(wit::StsError::Denied(why)),
            Err(Unsent::TooLarge) => Err(wit::StsError::Malformed(format!(
                "the answer is larger than {MAX_ANSWER_BYTES} bytes"
            ))),
        };
    }
}
