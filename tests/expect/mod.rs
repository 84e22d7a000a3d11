//! What credbox must make of the SDKs' fixtures, shared by the Linux suite (tests/conformance.rs)
//! and the Windows one (tests/windows.rs), so that both hold the binary to the same answers.

use std::path::{Path, PathBuf};

/// The AWS SDKs' conformance fixtures, kept in the repository (`tests/fixtures/conformance`).
pub fn conformance() -> PathBuf {
    match std::env::var_os("CREDBOX_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/conformance"),
    }
}

/// What BEHAVIOUR.md §4 says of each Go fixture used as a helper's stdout: `Ok(access key)` or
/// `Err((exit code, message fragment))`.
pub fn go_output(file: &str) -> Result<&'static str, (i32, &'static str)> {
    match file {
        "static.json" => Ok("accesskey"),
        "nonexpire.json" => Ok("accessKey"),
        "longsessiontoken.json" => Ok("ASIAXXXXXXXXXXXXXXXX"),
        // Go treats these as valid (it never runs them in the not_alone case); as output they are.
        "verybad.json" => Ok("veryBadAccessKeyID"),
        "expired.json" => Err((
            5,
            "returned expired credentials (Expiration 2000-01-01T00:00:00Z)",
        )),
        "malformed.json" => Err((5, "the JSON document is incomplete")),
        // Named after Go's test, but it lacks SecretAccessKey (and missingsecret.json lacks
        // AccessKeyId): read the JSON, not the name.
        "missingkey.json" => Err((5, "has no SecretAccessKey")),
        "missingsecret.json" => Err((5, "has no AccessKeyId")),
        "wrongversion.json" => Err((5, "has Version 2")),
        other => panic!("no expectation for {other}: add one"),
    }
}
