//! Hour-long credentials whose issuer calls them expired at once: `is-expired` must be asked
//! before cached credentials are reused, so every run calls retrieve again. Each retrieve returns
//! a new access key id (from the clock's nanoseconds) so a test can tell runs apart.
wit_bindgen::generate!({ path: "../../wit", world: "credential-plugin" });
use credbox::provider::types::Credentials;
use std::time::{SystemTime, UNIX_EPOCH};

struct Plugin;
impl exports::credbox::provider::plugin::Guest for Plugin {
    fn retrieve() -> Result<Credentials, String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        Ok(Credentials {
            access_key_id: format!("ASIAEARLY{}", now.as_nanos()),
            secret_access_key: "early-plugin-secret".into(),
            session_token: None,
            expiration: Some(now.as_secs() as i64 + 3600),
            account_id: None,
        })
    }
    fn is_expired(_: Credentials) -> bool {
        true
    }
}
export!(Plugin);
