//! Exports `retrieve` and `is-expired` with the wrong types (plugincreds' InvalidSymbolError).
wit_bindgen::generate!({
    inline: r#"
        package credbox:provider@0.5.0;
        interface plugin {
            retrieve: func() -> string;
            is-expired: func() -> bool;
        }
        world wrong-plugin { export plugin; }
    "#,
});

struct Plugin;
impl exports::credbox::provider::plugin::Guest for Plugin {
    fn retrieve() -> String {
        "AKIA...:secret".into()
    }
    fn is_expired() -> bool {
        false
    }
}
export!(Plugin);
