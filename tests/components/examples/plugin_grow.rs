//! retrieve allocates without end: the host's memory cap must stop it.
wit_bindgen::generate!({ path: "../../wit", world: "credential-plugin" });
use credbox::provider::types::Credentials;

struct Plugin;
impl exports::credbox::provider::plugin::Guest for Plugin {
    fn retrieve() -> Result<Credentials, String> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(vec![1u8; 1 << 20]);
            std::hint::black_box(&hoard);
        }
    }
    fn is_expired(_: Credentials) -> bool {
        true
    }
}
export!(Plugin);
