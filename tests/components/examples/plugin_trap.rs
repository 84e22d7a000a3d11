//! retrieve panics (a trap).
wit_bindgen::generate!({ path: "../../wit", world: "credential-plugin" });
use credbox::provider::types::Credentials;

struct Plugin;
impl exports::credbox::provider::plugin::Guest for Plugin {
    fn retrieve() -> Result<Credentials, String> {
        panic!("plugin bug")
    }
    fn is_expired(_: Credentials) -> bool {
        true
    }
}
export!(Plugin);
