//! What the host lets a request carry: the endpoints it will send to, and the values the person
//! wrote in the profile files (read by the host itself, never taken from the guest).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::bindings::wit_sts;
use crate::text::one_line;

/// The profile-file keys whose values a request may carry, read by the host itself.
const WRITTEN_KEYS: [&str; 9] = [
    "endpoint_url",
    "ca_bundle",
    "region",
    "role_arn",
    "role_session_name",
    "external_id",
    "duration_seconds",
    "mfa_serial",
    "source_identity",
];

/// What bounds the guest's STS calls.
#[derive(Clone, Debug)]
pub struct StsPolicy {
    /// What the person wrote, by key: every value of [`WRITTEN_KEYS`] in the profile files, and
    /// the endpoint URLs of the environment (under `endpoint_url`). A request may carry these and
    /// nothing else of the guest's choosing, but the source credentials and the MFA code.
    written: BTreeMap<&'static str, Vec<String>>,
    /// The credentials the host handed the guest as the source of the role being assumed: the
    /// only ones a request may be signed with.
    source: Option<crate::Credentials>,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// How long one call may take in all, retries included.
    pub total_timeout: Duration,
}

impl Default for StsPolicy {
    /// Nothing written but the environment's endpoint URLs: no role can be assumed until
    /// [`StsPolicy::for_files`] says what the profile files hold.
    fn default() -> Self {
        let mut written = BTreeMap::new();
        written.insert("endpoint_url", configured_from_env());
        // The regions a request may be signed for: the global endpoint's, and the environment's.
        let regions = ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .map(|region| region.trim().to_string())
            .chain(["us-east-1".to_string()])
            .collect();
        written.insert("region", regions);
        StsPolicy {
            written,
            source: None,
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(30),
        }
    }
}

impl StsPolicy {
    /// The policy for roles resolved from these profile files' text.
    pub fn for_files(texts: &[&str], total_timeout: Duration) -> Self {
        let mut policy = StsPolicy {
            total_timeout,
            ..StsPolicy::default()
        };
        let ignore_endpoints = ignore_configured_endpoints();
        for key in WRITTEN_KEYS {
            if key == "endpoint_url" && ignore_endpoints {
                continue;
            }
            let values = policy.written.entry(key).or_default();
            for text in texts {
                values.extend(values_of(text, key));
            }
        }
        policy
    }

    /// Let the next requests be signed with `source`, the credentials the host is about to hand
    /// the guest for a role.
    pub(crate) fn set_source(&mut self, source: &crate::Credentials) {
        self.source = Some(source.clone());
    }

    /// Whether `value` is a value of `key` the person wrote.
    pub(crate) fn is_written(&self, key: &str, value: &str) -> bool {
        self.written(key, value)
    }

    fn written(&self, key: &str, value: &str) -> bool {
        self.written
            .get(key)
            .is_some_and(|values| values.iter().any(|v| v == value))
    }

    /// Whether the host sends this request: to an endpoint it accepts, signed for that endpoint's
    /// region, with values the person wrote. So a guest that went wrong can neither name a role
    /// of its own choosing nor carry a secret to STS in a session name or an external id.
    pub(super) fn check_request(&self, request: &wit_sts::AssumeRoleRequest) -> Result<(), String> {
        let endpoint = &request.endpoint;
        check_endpoint(&endpoint.url, self)?;
        // Signed only with the credentials the host gave for this role, not keys of the guest's.
        let given = self.source.as_ref().is_some_and(|source| {
            let sent = &request.source;
            source.access_key_id == sent.access_key_id
                && source.secret_access_key() == sent.secret_access_key
                && source.session_token() == sent.session_token.as_deref()
        });
        if !given {
            return Err("the request is not signed with the credentials credbox gave for this role".into());
        }
        // The region: one the person set (or the global endpoint's), and the endpoint's own.
        if !self.written("region", &endpoint.region) {
            return Err(format!(
                "the request is signed for `{}`, a region set neither in the profile files nor in AWS_REGION/AWS_DEFAULT_REGION",
                one_line(&endpoint.region)
            ));
        }
        if let Some(region) = aws_endpoint_region(&endpoint.url)
            && region != endpoint.region
        {
            return Err(format!(
                "the request is signed for {}, but {} is in {region}",
                one_line(&endpoint.region),
                endpoint.url
            ));
        }
        let fields = [
            ("role_arn", Some(request.role_arn.clone())),
            ("role_session_name", request.session_name.clone()),
            ("external_id", request.external_id.clone()),
            (
                "mfa_serial",
                request.mfa.as_ref().map(|(serial, _)| serial.clone()),
            ),
            ("source_identity", request.source_identity.clone()),
            ("ca_bundle", endpoint.ca_bundle.clone()),
        ];
        for (key, value) in fields {
            if let Some(value) = value
                && !self.written(key, &value)
            {
                return Err(format!(
                    "the request's {key} `{}` is not a value of {key} in the profile files",
                    one_line(&value)
                ));
            }
        }
        // A duration is a number however it was written (`0900`).
        if let Some(seconds) = request.duration_seconds {
            let written = self.written.get("duration_seconds").into_iter().flatten();
            if !written
                .filter_map(|v| v.parse::<u32>().ok())
                .any(|v| v == seconds)
            {
                return Err(format!(
                    "the request's duration_seconds {seconds} is not a value of duration_seconds in the profile files"
                ));
            }
        }
        if let Some((_, code)) = &request.mfa
            && !is_mfa_code(code)
        {
            return Err("the MFA code is not six digits".into());
        }
        Ok(())
    }
}

/// STS `TokenCode`s are six digits.
pub(crate) fn is_mfa_code(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`: no configured endpoint is used, so none is accepted.
fn ignore_configured_endpoints() -> bool {
    std::env::var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The variables `profiles.resolve` reads to choose a role's STS endpoint, as set here.
const ENDPOINT_VARIABLES: [&str; 5] = [
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_STS",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
];

/// The set ones of [`ENDPOINT_VARIABLES`], for the guest.
pub(crate) fn endpoint_environment() -> Vec<(String, String)> {
    ENDPOINT_VARIABLES
        .iter()
        .filter_map(|name| Some((name.to_string(), std::env::var(name).ok()?)))
        .collect()
}

fn configured_from_env() -> Vec<String> {
    if ignore_configured_endpoints() {
        return Vec::new();
    }
    ["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .map(|url| url.trim().to_string())
        .filter(|url| !url.is_empty())
        .collect()
}

/// The values of every `key = VALUE` line of a profile file (a property or a `[services]`
/// sub-property). Read by the host itself, not taken from the guest: what a request carries must
/// be what the person wrote. (Only a few keys, compared exactly: no profile semantics.)
fn values_of<'a>(text: &'a str, wanted: &'a str) -> impl Iterator<Item = String> + 'a {
    text.lines().filter_map(move |line| {
        let (key, value) = line.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case(wanted) {
            return None;
        }
        // An inline comment starts at a `#` or `;` after a blank.
        let comment = value
            .char_indices()
            .find(|&(i, c)| matches!(c, '#' | ';') && value[..i].ends_with([' ', '\t']))
            .map(|(i, _)| i);
        let value = comment.map_or(value, |i| &value[..i]).trim();
        (!value.is_empty()).then(|| value.to_string())
    })
}

/// An AWS region's name: `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`,
/// `ap-southeast-4`: two letters, words of letters, a number. (Not `s3` or `s3-accelerate`:
/// `sts.s3.amazonaws.com` would be an S3 bucket, not STS.)
fn is_region_name(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let letters = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    let last = parts[parts.len() - 1];
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1].iter().all(letters)
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
}

/// The region an AWS STS endpoint URL is in (`us-east-1` for the global one); `None` for any
/// other URL.
fn aws_endpoint_region(url: &str) -> Option<String> {
    let host = url.strip_prefix("https://")?;
    let host = host.strip_suffix('/').unwrap_or(host);
    if host == "sts.amazonaws.com" {
        return Some("us-east-1".into());
    }
    let rest = host.strip_prefix("sts.")?;
    let region = rest
        .strip_suffix(".amazonaws.com")
        .or_else(|| rest.strip_suffix(".amazonaws.com.cn"))?;
    is_region_name(region).then(|| region.to_string())
}

/// Whether the host sends to `url`: one the user configured, or an AWS STS endpoint over HTTPS
/// (`sts.amazonaws.com`, `sts.REGION.amazonaws.com`, `sts.REGION.amazonaws.com.cn`).
pub fn check_endpoint(url: &str, policy: &StsPolicy) -> Result<(), String> {
    if policy.written("endpoint_url", url) || aws_endpoint_region(url).is_some() {
        return Ok(());
    }
    Err(format!(
        "the STS endpoint {} is neither an AWS STS endpoint nor one you configured (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL or endpoint_url in the config file)",
        one_line(url)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::wit;

    fn policy(configured: &[&str]) -> StsPolicy {
        let text: String = configured
            .iter()
            .map(|url| format!("endpoint_url = {url}\n"))
            .collect();
        StsPolicy::for_files(&[&text], Duration::from_secs(5))
    }

    fn source() -> crate::Credentials {
        crate::Credentials::new("AKIA".into(), "secret".into(), None, None, None)
    }

    fn request(url: &str, region: &str) -> wit_sts::AssumeRoleRequest {
        wit_sts::AssumeRoleRequest {
            source: wit::Credentials {
                access_key_id: "AKIA".into(),
                secret_access_key: "secret".into(),
                session_token: None,
                expiration: None,
                account_id: None,
            },
            role_arn: "arn:aws:iam::1:role/R".into(),
            session_name: None,
            external_id: None,
            duration_seconds: None,
            mfa: None,
            source_identity: None,
            endpoint: wit::StsEndpoint {
                url: url.into(),
                region: region.into(),
                ca_bundle: None,
            },
        }
    }

    #[test]
    fn a_request_carries_only_what_the_person_wrote() {
        let files = "[profile p]\nrole_arn = arn:aws:iam::1:role/R\nrole_session_name = mine\n\
                     external_id = ext\nduration_seconds = 0900\nmfa_serial = arn:mfa\n";
        let mut policy = StsPolicy::for_files(&[files], Duration::from_secs(5));
        let global = "https://sts.amazonaws.com";
        assert!(
            policy.check_request(&request(global, "us-east-1")).is_err(),
            "no source given yet"
        );
        policy.set_source(&source());
        assert_eq!(policy.check_request(&request(global, "us-east-1")), Ok(()));
        let mut written = request(global, "us-east-1");
        written.session_name = Some("mine".into());
        written.external_id = Some("ext".into());
        written.duration_seconds = Some(900);
        written.mfa = Some(("arn:mfa".into(), "123456".into()));
        assert_eq!(policy.check_request(&written), Ok(()));
        let smuggled: [fn(&mut wit_sts::AssumeRoleRequest); 11] = [
            |r| r.endpoint.ca_bundle = Some("/home/me/.ssh/id_ed25519".into()),
            |r| r.source.access_key_id = "AKIAATTACKER".into(),
            |r| r.source.session_token = Some("data".into()),
            |r| {
                r.endpoint.url = "https://sts.ab-data-1.amazonaws.com".into();
                r.endpoint.region = "ab-data-1".into();
            },
            |r| r.role_arn = "arn:aws:iam::666:role/Attacker".into(),
            |r| r.session_name = Some("wJalrXUtnFEMI-K7MDENG".into()),
            |r| r.external_id = Some("secret".into()),
            |r| r.duration_seconds = Some(3599),
            |r| r.mfa = Some(("arn:other".into(), "123456".into())),
            |r| r.mfa = Some(("arn:mfa".into(), "password".into())),
            |r| r.endpoint.region = "eu-west-1".into(),
        ];
        for smuggle in smuggled {
            let mut r = written.clone();
            smuggle(&mut r);
            assert!(policy.check_request(&r).is_err());
        }
    }

    #[test]
    fn only_aws_sts_endpoints_and_configured_ones_are_accepted() {
        let none = policy(&[]);
        for good in [
            "https://sts.amazonaws.com",
            "https://sts.eu-west-1.amazonaws.com",
            "https://sts.cn-north-1.amazonaws.com.cn/",
        ] {
            assert_eq!(check_endpoint(good, &none), Ok(()), "{good}");
        }
        for bad in [
            "http://sts.amazonaws.com",
            "https://sts.amazonaws.com.evil.example",
            "https://sts.eu-west-1.amazonaws.com@evil.example",
            "https://sts.a/b.amazonaws.com",
            "https://sts.s3.amazonaws.com",
            "https://sts.s3-accelerate.amazonaws.com",
            "https://evil.example/sts.amazonaws.com",
            "https://sts..amazonaws.com",
            "https://s3.amazonaws.com",
            "http://127.0.0.1:5000",
        ] {
            assert!(check_endpoint(bad, &none).is_err(), "{bad}");
        }
        assert_eq!(
            check_endpoint("http://127.0.0.1:5000", &policy(&["http://127.0.0.1:5000"])),
            Ok(())
        );
    }

    #[test]
    fn endpoint_url_lines_are_read_with_their_comments_stripped() {
        let text = "[profile a]\nendpoint_url = http://one # note\n[services s]\nsts =\n  endpoint_url=http://two\nother = endpoint_url\n";
        let found: Vec<String> = values_of(text, "endpoint_url").collect();
        assert_eq!(found, ["http://one", "http://two"]);
    }
}
