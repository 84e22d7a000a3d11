//! Resolve a profile's credentials once with aws-config's profile provider, and print the key id.
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_credential_types::provider::ProvideCredentials;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let profile = std::env::args().nth(1).unwrap_or_else(|| "default".into());
    let provider = ProfileFileCredentialsProvider::builder().profile_name(profile).build();
    let credentials = provider.provide_credentials().await.expect("credentials");
    println!("{}", credentials.access_key_id());
}
