//! Exports the plugin interface without `is-expired` (plugincreds' LookupSymbolError).
wit_bindgen::generate!({
    inline: r#"
        package credbox:provider@0.5.0;
        interface types {
            record credentials {
                access-key-id: string,
                secret-access-key: string,
                session-token: option<string>,
                expiration: option<s64>,
                account-id: option<string>,
            }
        }
        interface plugin {
            use types.{credentials};
            retrieve: func() -> result<credentials, string>;
        }
        world half-plugin { export plugin; }
    "#,
});
use credbox::provider::types::Credentials;

struct Plugin;
impl exports::credbox::provider::plugin::Guest for Plugin {
    fn retrieve() -> Result<Credentials, String> {
        Err("unreachable: the host refuses this plugin before calling it".into())
    }
}
export!(Plugin);
