//! A role's credentials: the STS call for one role of a chain, the MFA code it needs, and the
//! bounds put on what STS answers.

use super::{Host, Provider};
use crate::wit::RoleSettings;
use crate::wit::prompt::PromptError;
use crate::wit::spawn::{Request as SpawnRequest, SpawnError};
use crate::wit::sts::AssumeRoleRequest;
use crate::{
    Credentials, Error, ExitStatus, InvalidField, StsError, StsFailure, SyntaxError, SyntaxRule, mask,
    parse_command, validate_credentials,
};

/// A role to assume with given source credentials.
pub(super) struct RoleJob {
    pub(super) settings: RoleSettings,
    pub(super) source: Credentials,
    pub(super) source_profile: String,
}

/// A digest of the whole source credentials (access key id, secret, session token), so that a
/// role's entry is bound to the credentials that signed its call without holding their secret.
/// SHA-256 over length-prefixed fields: no two different triples hash the same bytes.
pub(super) fn source_digest(source: &Credentials) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let token = source.session_token.as_deref();
    for field in [
        b"credbox-role-source-v1".as_slice(),
        source.access_key_id.as_bytes(),
        source.secret_access_key.as_bytes(),
        token.unwrap_or("").as_bytes(),
        &[u8::from(token.is_some())],
    ] {
        hasher.update((field.len() as u64).to_le_bytes());
        hasher.update(field);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Seconds since the epoch as credbox prints instants (`2026-01-02T03:04:05Z`).
pub(super) fn utc(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| seconds.to_string())
}

/// STS's longest session: `AssumeRole` grants at most 12 hours, whatever is asked.
pub(super) const STS_MAX_DURATION: i64 = 12 * 3600;
/// STS's default session when no duration is asked.
pub(super) const STS_DEFAULT_DURATION: i64 = 3600;

/// STS `TokenCode`s are six digits.
pub(super) fn is_mfa_code(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// The account of an assumed role's ARN (`arn:aws:sts::ACCOUNT:assumed-role/...`), as botocore
/// reads it; only twelve digits are an account.
pub(super) fn account_of(assumed_role_arn: &str) -> Option<String> {
    let account = assumed_role_arn.split(':').nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then(|| account.to_string())
}

impl Provider {
    /// Assume the role: ask for an MFA code first when the role needs one.
    pub(super) fn assume(&self, job: &RoleJob, host: &impl Host) -> Result<(Credentials, i64), Error> {
        let r = &job.settings;
        let mfa = match &r.mfa_serial {
            None => None,
            Some(serial) => Some((serial.clone(), self.mfa_code(r, serial, host)?)),
        };
        let request = AssumeRoleRequest {
            source: job.source.clone(),
            role_arn: r.role_arn.clone(),
            session_name: r.session_name.clone(),
            external_id: r.external_id.clone(),
            duration_seconds: r.duration_seconds,
            mfa,
            source_identity: r.source_identity.clone(),
            endpoint: r.endpoint.clone(),
        };
        let assumed = host.assume_role(request).map_err(|error| {
            Error::Sts(StsFailure {
                role_arn: r.role_arn.clone(),
                source_key: mask(&job.source.access_key_id),
                source_profile: job.source_profile.clone(),
                error,
            })
        })?;
        let (returned, assumed_role_arn) = (assumed.credentials, assumed.assumed_role_arn);
        let now = host.now();
        let malformed = |why: String| {
            Error::Sts(StsFailure {
                role_arn: r.role_arn.clone(),
                source_key: mask(&job.source.access_key_id),
                source_profile: job.source_profile.clone(),
                error: StsError::Malformed(why),
            })
        };
        // What STS says is bounded by what was asked: credentials that outlive the session asked
        // for (or STS's longest) are kept only that long, and expired ones are STS's fault, not a
        // helper's.
        let asked = r
            .duration_seconds
            .map_or(STS_DEFAULT_DURATION, i64::from)
            .min(STS_MAX_DURATION);
        let mut returned = returned;
        match returned.expiration {
            None => return Err(malformed("the answer has no expiration".into())),
            Some(expiration) if expiration <= now => {
                return Err(malformed(format!(
                    "the answer's credentials expired at {} (this machine's clock says {}); check the clock, or the STS endpoint",
                    utc(expiration),
                    utc(now)
                )));
            }
            Some(expiration) => returned.expiration = Some(expiration.min(now.saturating_add(asked))),
        }
        let account_id = account_of(&assumed_role_arn);
        let credentials =
            validate_credentials(returned, account_id.as_deref(), now).map_err(|e| match e {
                // STS's answer, not a helper's output, is at fault: say so.
                Error::MissingField(field) => malformed(format!("the answer has no {field}")),
                Error::InvalidField(InvalidField { field, reason }) => {
                    malformed(format!("the answer's {field}: {reason}"))
                }
                other => other,
            })?;
        if credentials.session_token.is_none() {
            return Err(malformed("the answer has no session token".into()));
        }
        Ok((credentials, now))
    }

    /// The MFA code: from `mfa_process` (run through `spawn`) or from the person. Every failure
    /// is an `mfa` error (the host names the role's profile in front of it).
    pub(super) fn mfa_code(&self, r: &RoleSettings, serial: &str, host: &impl Host) -> Result<String, Error> {
        let not_a_code = || {
            Error::Mfa(format!(
                "what was entered for {serial} is not a 6-digit MFA code; run the command again and type the code your device shows"
            ))
        };
        let Some(process) = &r.mfa_process else {
            let code = host.mfa_code(&r.profile, serial).map_err(|e| match e {
                PromptError::Unavailable(why) => Error::Mfa(format!(
                    "needs an MFA code for {serial}, but {why}; run credbox where it can ask on a terminal, or set mfa_process to a command that prints the code"
                )),
                PromptError::Cancelled => Error::Mfa(format!("no MFA code was entered for {serial}")),
                PromptError::NotACode => not_a_code(),
            })?;
            // What was typed is never shown: it may be a password typed into the wrong prompt.
            return if is_mfa_code(&code) {
                Ok(code)
            } else {
                Err(not_a_code())
            };
        };
        // The command line is never quoted back: it may carry a TOTP seed (`oathtool -b SEED`).
        let command = parse_command(process, self.options.allow_shell, self.options.platform).map_err(|e| {
            let why = match e {
                Error::CommandSyntax(SyntaxError { rule, .. }) => match rule {
                    SyntaxRule::Empty => "is empty",
                    SyntaxRule::UnbalancedQuote => "has an unclosed quote or a trailing backslash",
                    SyntaxRule::EnvironmentVariable => "uses an environment variable, which nothing expands",
                    SyntaxRule::Tilde => "uses ~, which only a shell expands",
                    SyntaxRule::ShellOperator => "uses shell syntax (a pipe, redirection, `;`, `&&` or substitution)",
                    SyntaxRule::RelativeProgram => "names its program by a relative path",
                },
                _ => "cannot be parsed",
            };
            Error::Mfa(format!(
                "mfa_process {why}, but it runs without a shell; write the program's absolute path (or a name on PATH) and its arguments, or put the pipeline in a script"
            ))
        })?;
        let output = host
            .spawn(SpawnRequest {
                command,
                timeout_ms: self.options.timeout_ms,
                label: format!("{} mfa_process", r.profile),
            })
            .map_err(|e| {
                Error::Mfa(match e {
                    SpawnError::Denied(why) => format!("mfa_process was not run: {why}"),
                    SpawnError::Failed(why) => format!("mfa_process could not run: {why}"),
                    SpawnError::TimedOut(ms) => {
                        format!(
                            "mfa_process did not finish within {:.1} s and was killed",
                            ms as f64 / 1000.0
                        )
                    }
                    SpawnError::OutputTooLarge(n) => {
                        format!(
                            "mfa_process printed more than {} KiB; make it print only the code",
                            n / 1024
                        )
                    }
                })
            })?;
        if output.status != ExitStatus::Code(0) {
            let how = match output.status {
                ExitStatus::Code(code) => format!("exited with code {code}"),
                ExitStatus::Signal(signal) => format!("was killed by signal {signal}"),
            };
            return Err(Error::Mfa(format!(
                "mfa_process {how}; run it by hand to see why (its output is never shown: it holds codes)"
            )));
        }
        // The code itself is never shown: a message says only what shape it had.
        let code = String::from_utf8(output.stdout).unwrap_or_default();
        let code = code.trim();
        if !is_mfa_code(code) {
            return Err(Error::Mfa(format!(
                "mfa_process printed {} characters, not a 6-digit MFA code; make it print only the code",
                code.chars().count()
            )));
        }
        Ok(code.to_string())
    }
}
