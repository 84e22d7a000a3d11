//! An example credential plugin: the whole of what a plugin is, in one file.
//!
//! A plugin is granted nothing: no files, no network, no environment, only the clock. So this
//! one hands out fixed example keys that expire an hour after they are issued; a real plugin would
//! derive its credentials from what it is built with (see docs/PLUGINS.md).

use std::time::{SystemTime, UNIX_EPOCH};

wit_bindgen::generate!({ path: "../../wit", world: "credential-plugin" });

use credbox::provider::types::Credentials;
use exports::credbox::provider::plugin::Guest;

/// Credentials are good for an hour; the plugin calls them expired five minutes before that.
const LIFETIME_SECONDS: i64 = 3600;
const MARGIN_SECONDS: i64 = 300;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

struct ExamplePlugin;

impl Guest for ExamplePlugin {
    fn retrieve() -> Result<Credentials, String> {
        Ok(Credentials {
            access_key_id: "ASIAEXAMPLEPLUGIN0001".into(),
            secret_access_key: "example/plugin/secret/key/not/a/real/one".into(),
            session_token: Some("example-plugin-session-token".into()),
            expiration: Some(now() + LIFETIME_SECONDS),
            account_id: Some("123456789012".into()),
        })
    }

    fn is_expired(credentials: Credentials) -> bool {
        credentials
            .expiration
            .is_none_or(|at| now() >= at - MARGIN_SECONDS)
    }
}

export!(ExamplePlugin);
