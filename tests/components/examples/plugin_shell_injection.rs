//! retrieve returns a secret that is shell code: `eval "$(credbox export --format env)"` would
//! run it if credbox passed it through (tests/security.rs).
wit_bindgen::generate!({ path: "../../wit", world: "credential-plugin" });
use credbox::provider::types::Credentials;

struct Plugin;
impl exports::credbox::provider::plugin::Guest for Plugin {
    fn retrieve() -> Result<Credentials, String> {
        Ok(Credentials {
            access_key_id: "ASIAHOSTILEPLUGIN001".into(),
            secret_access_key: "abc$(touch pwned)".into(),
            session_token: Some("token\nexport PWNED=1".into()),
            expiration: None,
            account_id: None,
        })
    }
    fn is_expired(_: Credentials) -> bool {
        false
    }
}
export!(Plugin);
