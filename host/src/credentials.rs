//! The one credentials type of the host: what the guest returns, what the cache stores, what every
//! writer prints. Its `Debug` is redacted; the secret and the token are read through methods, on
//! purpose.

use serde::{Deserialize, Serialize};

/// AWS credentials. `Debug` shows the access key id masked and never the secret or the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The access key id (not secret; shown masked in messages).
    pub access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    /// Seconds since the Unix epoch; `None` for long-term credentials.
    pub expiration: Option<i64>,
    /// The AWS account they belong to, when the helper or the profile says.
    pub account_id: Option<String>,
}

impl Credentials {
    /// The secret access key. Kept private so that it is only read on purpose.
    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    /// The session token of temporary credentials.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    /// Credentials from their parts (`expiration` in seconds since the Unix epoch).
    pub fn new(
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
        expiration: Option<i64>,
        account_id: Option<String>,
    ) -> Self {
        Credentials {
            access_key_id,
            secret_access_key,
            session_token,
            expiration,
            account_id,
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &mask(&self.access_key_id))
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .field("expiration", &self.expiration)
            .field("account_id", &self.account_id)
            .finish()
    }
}

/// An access key id as `aws configure list` shows it: 16 stars and the last four characters.
pub fn mask(access_key_id: &str) -> String {
    let chars: Vec<char> = access_key_id.chars().collect();
    let shown: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("{}{shown}", "*".repeat(16))
}

/// The host's credentials as the guest takes them (a role's source).
impl From<&Credentials> for crate::bindings::wit::Credentials {
    fn from(c: &Credentials) -> Self {
        crate::bindings::wit::Credentials {
            access_key_id: c.access_key_id.clone(),
            secret_access_key: c.secret_access_key().to_string(),
            session_token: c.session_token().map(String::from),
            expiration: c.expiration,
            account_id: c.account_id.clone(),
        }
    }
}

/// The generated type (whose `Debug` shows the secret) becomes the host's at the boundary.
impl From<crate::bindings::wit::Credentials> for Credentials {
    fn from(c: crate::bindings::wit::Credentials) -> Self {
        Credentials::new(
            c.access_key_id,
            c.secret_access_key,
            c.session_token,
            c.expiration,
            c.account_id,
        )
    }
}
