//! Role profiles (`role_arn`): the chain from a base source through each role, and where the STS
//! call goes (docs/ROLES.md; BEHAVIOUR.md §8). The rules follow botocore and the AWS CLI v2, and
//! the chain rules are pinned by every case of smithy-rs `assume-role-tests.json`.

use crate::profile::{Profile, ProfileSet, Value};
use crate::settings::{FileText, config_error, helper_of, path_of, static_keys};
use crate::wit::profiles::{BaseSource as Base, RoleChain as Chain};
use crate::wit::{ProcessSettings, RoleSettings, StsEndpoint as Endpoint};
use crate::{Credentials, Error};

/// The environment variables `resolve` reads, as the host passed them.
#[derive(Clone, Debug, Default)]
pub struct Environment<'a> {
    vars: &'a [(String, String)],
}

impl<'a> Environment<'a> {
    pub fn new(vars: &'a [(String, String)]) -> Self {
        Environment { vars }
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.vars
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
    }
}

/// The AWS SDKs' accepted spellings of true for boolean settings.
fn is_true(value: &str) -> bool {
    value.trim().eq_ignore_ascii_case("true")
}

fn get<'p>(profile: &'p Profile, key: &str) -> Option<&'p Value> {
    profile.get(key).filter(|v| !v.value.trim().is_empty())
}

/// The SDKs' regions are lower-case letters, digits and dashes; anything else would put text
/// into a host name.
fn is_region(region: &str) -> bool {
    !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The STS endpoint for roles resolved under `selected`, as botocore and the AWS CLI v2 choose it:
/// a configured endpoint URL first (service-specific environment variable, the profile's
/// `[services]` section, the global environment variable, the profile's `endpoint_url`; none of
/// them when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` or `ignore_configured_endpoint_urls` is true),
/// else the regional endpoint of the region (`AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's
/// `region`), else the global one, signed for us-east-1.
pub fn endpoint(
    name: &str,
    selected: &Profile,
    set: &ProfileSet,
    files: (&FileText, &FileText),
    env: &Environment,
) -> Result<Endpoint, Error> {
    let place = |value: &Value| path_of(value.file, files.0, files.1).to_string();
    let region_value = get(selected, "region");
    let region = match (
        env.get("AWS_REGION").or(env.get("AWS_DEFAULT_REGION")),
        region_value,
    ) {
        (Some(region), _) => Some(region.to_string()),
        (None, Some(value)) => Some(value.value.trim().to_string()),
        (None, None) => None,
    };
    if let Some(region) = &region
        && !is_region(region)
    {
        let (file, line) = match region_value.filter(|_| env.get("AWS_REGION").is_none()) {
            Some(value) if env.get("AWS_DEFAULT_REGION").is_none() => (Some(place(value)), Some(value.line)),
            _ => (None, None),
        };
        return Err(config_error(
            name,
            file.as_deref(),
            line,
            format!("region `{region}` is not an AWS region name (like us-east-1); fix the region setting"),
        ));
    }
    let ignore = env
        .get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_some_and(is_true)
        || get(selected, "ignore_configured_endpoint_urls").is_some_and(|v| is_true(&v.value));
    let configured = if ignore {
        None
    } else {
        env.get("AWS_ENDPOINT_URL_STS")
            .map(String::from)
            .or_else(|| services_endpoint(selected, set))
            .or_else(|| env.get("AWS_ENDPOINT_URL").map(String::from))
            .or_else(|| get(selected, "endpoint_url").map(|v| v.value.trim().to_string()))
    };
    let signing_region = region.clone().unwrap_or_else(|| "us-east-1".to_string());
    let url = match (configured, region) {
        (Some(url), _) => {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(config_error(
                    name,
                    None,
                    None,
                    format!(
                        "the STS endpoint URL `{url}` must start with https:// (or http:// for a local test server)"
                    ),
                ));
            }
            url
        }
        (None, Some(region)) if region.starts_with("cn-") => format!("https://sts.{region}.amazonaws.com.cn"),
        (None, Some(region)) => format!("https://sts.{region}.amazonaws.com"),
        (None, None) => "https://sts.amazonaws.com".to_string(),
    };
    Ok(Endpoint {
        url,
        region: signing_region,
        ca_bundle: get(selected, "ca_bundle").map(|v| v.value.trim().to_string()),
    })
}

/// `endpoint_url` under `sts` in the `[services NAME]` section the profile selects.
fn services_endpoint(selected: &Profile, set: &ProfileSet) -> Option<String> {
    let section = set.services.get(get(selected, "services")?.value.trim())?;
    let block = &section.get("sts")?.value;
    block.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        // A sub-property keeps its inline comment in the parsed block: drop it as for a property.
        let comment = value
            .char_indices()
            .find(|&(i, c)| matches!(c, '#' | ';') && value[..i].ends_with([' ', '\t']))
            .map(|(i, _)| i);
        let value = comment.map_or(value, |i| &value[..i]).trim();
        (key.trim().eq_ignore_ascii_case("endpoint_url") && !value.is_empty()).then(|| value.to_string())
    })
}

/// Whether `profile` names a role: then it is resolved as a chain, even over its own static keys.
pub fn is_role(profile: &Profile) -> bool {
    get(profile, "role_arn").is_some()
}

/// The chain of the role profile `name` of the fully parsed `set`.
pub fn chain(
    name: &str,
    set: &ProfileSet,
    files: (&FileText, &FileText),
    env: &Environment,
) -> Result<Chain, Error> {
    let selected = &set.profiles[name];
    let endpoint = endpoint(name, selected, set, files, env)?;
    let place = |value: &Value| (path_of(value.file, files.0, files.1).to_string(), value.line);
    let error_at = |value: &Value, message: String| {
        let (file, line) = place(value);
        config_error(name, Some(&file), Some(line), message)
    };
    let mut roles = Vec::new();
    let mut visited: Vec<&str> = Vec::new();
    let mut current = name;
    let mut first = true;
    let base = loop {
        if visited.contains(&current) {
            visited.push(current);
            return Err(config_error(
                name,
                None,
                None,
                format!(
                    "source_profile forms a cycle ({}); end the chain at a profile with static keys or credential_process",
                    visited.join(" -> ")
                ),
            ));
        }
        visited.push(current);
        let profile = &set.profiles[current];
        // A source profile's static keys end the chain, even beside a role_arn (as in the SDKs);
        // the selected profile's are ignored when it names a role.
        if !first && let Some(keys) = static_keys_of(profile) {
            break (current, keys);
        }
        first = false;
        if !is_role(profile) {
            break (current, base_of(current, profile, files, name)?);
        }
        let role_arn = get(profile, "role_arn").expect("is_role");
        roles.push(role_settings(current, profile, &endpoint, files)?);
        match (get(profile, "source_profile"), get(profile, "credential_source")) {
            (Some(_), Some(source)) => {
                return Err(error_at(
                    source,
                    format!(
                        "profile {current} sets both source_profile and credential_source; keep one of them"
                    ),
                ));
            }
            (Some(source), None) => {
                let source_name = source.value.trim();
                if source_name == current {
                    // A profile that is its own source: its static keys (or helper) assume its role.
                    break (current, base_of(current, profile, files, name)?);
                }
                if !set.profiles.contains_key(source_name) {
                    return Err(error_at(
                        source,
                        format!(
                            "source profile {source_name} (named by profile {current}) is not defined; add a [profile {source_name}] section or fix source_profile"
                        ),
                    ));
                }
                current = set.profiles.get_key_value(source_name).expect("checked").0;
            }
            (None, Some(source)) => match source.value.trim() {
                "Environment" => break (current, Base::Environment),
                other @ ("Ec2InstanceMetadata" | "EcsContainer") => {
                    return Err(error_at(
                        source,
                        format!(
                            "credential_source = {other} is not supported by credbox; use credential_source = Environment, or a source_profile"
                        ),
                    ));
                }
                other => {
                    return Err(error_at(
                        source,
                        format!(
                            "credential_source = {other} is not a credential source; use Environment, or a source_profile"
                        ),
                    ));
                }
            },
            (None, None) => {
                let message = if profile.contains_key("web_identity_token_file") {
                    "profile uses web identity (web_identity_token_file), which credbox does not run; give the role a source_profile".to_string()
                } else {
                    format!(
                        "profile {current} sets role_arn but neither source_profile nor credential_source; add source_profile = PROFILE that has the credentials to assume it"
                    )
                };
                return Err(error_at(role_arn, message));
            }
        }
    };
    let (base_profile, base) = base;
    roles.reverse();
    Ok(Chain {
        base_profile: base_profile.to_string(),
        base,
        roles,
    })
}

fn static_keys_of(profile: &Profile) -> Option<Base> {
    let (access_key_id, secret) = static_keys(profile)?;
    Some(Base::StaticKeys(Credentials {
        access_key_id: access_key_id.value.clone(),
        secret_access_key: secret.value.clone(),
        session_token: get(profile, "aws_session_token").map(|v| v.value.clone()),
        expiration: None,
        account_id: get(profile, "aws_account_id").map(|v| v.value.trim().to_string()),
    }))
}

/// The credentials a chain's source profile itself supplies: static keys, else its helper.
fn base_of(
    name: &str,
    profile: &Profile,
    files: (&FileText, &FileText),
    selected: &str,
) -> Result<Base, Error> {
    if let Some(keys) = static_keys_of(profile) {
        return Ok(keys);
    }
    if let Some((helper, origin)) = helper_of(name, profile, files.0, files.1) {
        return Ok(Base::Process(ProcessSettings {
            profile: name.to_string(),
            helper: helper?,
            account_id: get(profile, "aws_account_id").map(|v| v.value.trim().to_string()),
            origin: Some(origin.into()),
        }));
    }
    for (present, missing) in [
        ("aws_access_key_id", "aws_secret_access_key"),
        ("aws_secret_access_key", "aws_access_key_id"),
    ] {
        if let Some(value) = get(profile, present) {
            let (file, line) = (path_of(value.file, files.0, files.1), value.line);
            return Err(config_error(
                selected,
                Some(file),
                Some(line),
                format!("source profile {name} sets {present} but not {missing}; add {missing}"),
            ));
        }
    }
    let what = if profile.contains_key("sso_session") || profile.contains_key("sso_start_url") {
        " (it uses IAM Identity Center, which credbox does not run)"
    } else if profile.contains_key("web_identity_token_file") {
        " (it uses web identity, which credbox does not run)"
    } else {
        ""
    };
    Err(config_error(
        selected,
        None,
        None,
        format!(
            "source profile {name} supplies no credentials{what}; give it static keys or credential_process"
        ),
    ))
}

/// STS accepts role sessions of 900 s to 12 h (the role's own maximum may be lower).
const DURATION_RANGE: std::ops::RangeInclusive<u32> = 900..=43_200;

fn role_settings(
    name: &str,
    profile: &Profile,
    endpoint: &Endpoint,
    files: (&FileText, &FileText),
) -> Result<RoleSettings, Error> {
    let place = |value: &Value| (path_of(value.file, files.0, files.1).to_string(), value.line);
    let error_at = |value: &Value, message: String| {
        let (file, line) = place(value);
        config_error(name, Some(&file), Some(line), message)
    };
    let role_arn = get(profile, "role_arn").expect("a role profile");
    let arn = role_arn.value.trim();
    if !arn.starts_with("arn:") {
        return Err(error_at(
            role_arn,
            format!(
                "role_arn `{arn}` of profile {name} is not an ARN; write it as arn:aws:iam::ACCOUNT:role/NAME"
            ),
        ));
    }
    let duration_seconds = match get(profile, "duration_seconds") {
        None => None,
        Some(value) => match value.value.trim().parse::<u32>() {
            Ok(seconds) if DURATION_RANGE.contains(&seconds) => Some(seconds),
            _ => {
                return Err(error_at(
                    value,
                    format!(
                        "duration_seconds `{}` of profile {name} must be a whole number of seconds from 900 to 43200",
                        value.value.trim()
                    ),
                ));
            }
        },
    };
    let text = |key| get(profile, key).map(|v: &Value| v.value.trim().to_string());
    if let Some(process) = get(profile, "mfa_process")
        && get(profile, "mfa_serial").is_none()
    {
        return Err(error_at(
            process,
            format!(
                "profile {name} sets mfa_process without mfa_serial; add mfa_serial = the MFA device's ARN"
            ),
        ));
    }
    Ok(RoleSettings {
        profile: name.to_string(),
        role_arn: arn.to_string(),
        session_name: text("role_session_name"),
        external_id: text("external_id"),
        duration_seconds,
        mfa_serial: text("mfa_serial"),
        mfa_process: text("mfa_process"),
        source_identity: text("source_identity"),
        endpoint: endpoint.clone(),
        origin: place(role_arn).into(),
    })
}

#[cfg(test)]
mod tests;
