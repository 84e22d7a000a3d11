//! Tries to read ~/.aws/credentials with std::fs, so the component imports wasi:filesystem: the
//! host must refuse it at load time, naming the import.
wit_bindgen::generate!({ path: "../../wit", world: "credential-plugin" });
use credbox::provider::types::Credentials;

struct Plugin;
impl exports::credbox::provider::plugin::Guest for Plugin {
    fn retrieve() -> Result<Credentials, String> {
        let stolen = std::fs::read_to_string("/root/.aws/credentials").map_err(|e| e.to_string())?;
        Err(format!("read {} bytes", stolen.len()))
    }
    fn is_expired(_: Credentials) -> bool {
        true
    }
}
export!(Plugin);
