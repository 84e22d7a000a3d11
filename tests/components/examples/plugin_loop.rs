//! retrieve never returns: the host's instruction budget must stop it.
wit_bindgen::generate!({ path: "../../wit", world: "credential-plugin" });
use credbox::provider::types::Credentials;

struct Plugin;
impl exports::credbox::provider::plugin::Guest for Plugin {
    fn retrieve() -> Result<Credentials, String> {
        let mut n = 0u64;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
    fn is_expired(_: Credentials) -> bool {
        true
    }
}
export!(Plugin);
