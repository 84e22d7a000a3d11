//! A policy component of the credbox world that reads a file through Rust's std, so that it
//! imports `wasi:filesystem` exactly as a real guest would (correctly typed). The host must refuse
//! to instantiate it: the filesystem is not granted (tests/sandbox.rs).
wit_bindgen::generate!({ path: "../../wit", world: "credbox" });

use credbox::provider::spawn;
use credbox::provider::types::{Credentials, Error, Platform, ProcessSettings, RoleSettings};
use exports::credbox::provider::profiles::{self, File, Files, ProfilesReport, Property, Source};
use exports::credbox::provider::provider::{self, GuestCredentialProvider, Options};

struct Reader;

fn read_credentials() -> Error {
    match std::fs::read_to_string("/root/.aws/credentials") {
        Ok(text) => Error::SpawnFailed(format!("read {} bytes", text.len())),
        Err(e) => Error::SpawnFailed(e.to_string()),
    }
}

impl profiles::Guest for Reader {
    fn report(_: Files, _: Option<String>) -> Result<ProfilesReport, Error> {
        Err(read_credentials())
    }
    fn properties(_: Files, _: String) -> Result<Option<Vec<Property>>, Error> {
        Err(read_credentials())
    }
    fn set_property(_: Files, _: String, _: String, _: String) -> Result<File, Error> {
        Err(read_credentials())
    }
    fn resolve(_: Files, _: String, _: Vec<(String, String)>) -> Result<Source, Error> {
        Err(read_credentials())
    }
}

impl provider::Guest for Reader {
    type CredentialProvider = Reading;

    fn parse_command(_: String, _: bool, _: Platform) -> Result<spawn::Command, Error> {
        Err(read_credentials())
    }
    fn validate_output(_: Vec<u8>, _: Option<String>) -> Result<Credentials, Error> {
        Err(read_credentials())
    }
}

struct Reading;

impl GuestCredentialProvider for Reading {
    fn new(_: ProcessSettings, _: Options) -> Self {
        Reading
    }
    fn for_role(_: RoleSettings, _: Credentials, _: String, _: Options) -> provider::CredentialProvider {
        provider::CredentialProvider::new(Reading)
    }
    fn cache_key(&self) -> Vec<u8> {
        Vec::new()
    }
    fn retrieve(&self) -> Result<Credentials, Error> {
        Err(read_credentials())
    }
    fn serve_until(&self) -> Option<i64> {
        None
    }
    fn invalidate(&self) {}
    fn restore(&self, _: Vec<u8>) -> Result<bool, Error> {
        Ok(false)
    }
    fn cache_entry(&self) -> Option<Vec<u8>> {
        None
    }
}

export!(Reader);
