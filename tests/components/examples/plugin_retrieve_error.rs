//! retrieve returns an error (plugincreds' PluginProviderRetrieveError).
wit_bindgen::generate!({ path: "../../wit", world: "credential-plugin" });
use credbox::provider::types::Credentials;

struct Plugin;
impl exports::credbox::provider::plugin::Guest for Plugin {
    fn retrieve() -> Result<Credentials, String> {
        Err("vault is sealed: run `vault operator unseal` first".into())
    }
    fn is_expired(_: Credentials) -> bool {
        true
    }
}
export!(Plugin);
