//! retrieve returns credentials that expired in 2020: the host's validation must refuse them.
wit_bindgen::generate!({ path: "../../wit", world: "credential-plugin" });
use credbox::provider::types::Credentials;

struct Plugin;
impl exports::credbox::provider::plugin::Guest for Plugin {
    fn retrieve() -> Result<Credentials, String> {
        Ok(Credentials {
            access_key_id: "ASIAPLUGINEXPIRED".into(),
            secret_access_key: "expired-plugin-secret".into(),
            session_token: Some("expired-plugin-token".into()),
            expiration: Some(1_577_836_800),
            account_id: None,
        })
    }
    fn is_expired(_: Credentials) -> bool {
        true
    }
}
export!(Plugin);
