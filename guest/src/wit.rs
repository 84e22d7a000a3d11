//! The WIT contract's types, generated from `wit/credbox.wit` on every target: the policy speaks
//! them directly, natively (tests, fuzzing) as in the component. Off wasm the imports are
//! stubs that are never called: native code reaches the host through [`crate::provider::Host`].
//!
//! `credentials` is the crate's own [`crate::Credentials`] (same fields): its `Debug` never shows
//! the secret key or the session token, which the generated `Debug` would.

wit_bindgen::generate!({
    path: "../wit",
    world: "credbox",
    with: {
        "credbox:provider/types@0.5.0/credentials": crate::Credentials,
    },
    additional_derives: [PartialEq, Eq],
    pub_export_macro: false,
});

pub use credbox::provider::types::*;
pub use credbox::provider::{plugins, prompt, spawn, sts};
pub use exports::credbox::provider::profiles;
pub use exports::credbox::provider::provider;
