//! retrieve returns a 1 MiB session token: more than a helper may print (tests/security.rs).
wit_bindgen::generate!({ path: "../../wit", world: "credential-plugin" });
use credbox::provider::types::Credentials;

struct Plugin;
impl exports::credbox::provider::plugin::Guest for Plugin {
    fn retrieve() -> Result<Credentials, String> {
        Ok(Credentials {
            access_key_id: "ASIAHUGEPLUGIN000001".into(),
            secret_access_key: "secret".into(),
            session_token: Some("A".repeat(1 << 20)),
            expiration: None,
            account_id: None,
        })
    }
    fn is_expired(_: Credentials) -> bool {
        false
    }
}
export!(Plugin);
