//! credbox as the AWS SDK for Rust's credentials provider (cargo feature `aws-sdk`): aws-config
//! builds an `SdkConfig` with it, and credentials resolve through the SDK's own identity cache,
//! with no request to AWS.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_smithy_async::rt::sleep::{SharedAsyncSleep, TokioSleep};
use aws_smithy_async::time::SharedTimeSource;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::identity::{ResolveCachedIdentity, SharedIdentityResolver};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
use aws_smithy_types::config_bag::ConfigBag;
use common::*;
use credbox::{FetchOptions, Provider, Runtime, Target, files};

/// An HTTP client that refuses every request and counts them: the test proves nothing goes to
/// the network.
#[derive(Clone, Debug, Default)]
struct NoNetwork {
    requests: Arc<AtomicUsize>,
}

impl HttpClient for NoNetwork {
    fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

impl HttpConnector for NoNetwork {
    fn call(&self, _: HttpRequest) -> HttpConnectorFuture {
        self.requests.fetch_add(1, Ordering::SeqCst);
        HttpConnectorFuture::ready(Err(ConnectorError::other("no network in this test".into(), None)))
    }
}

fn profile_provider(sandbox: &Sandbox, name: &str) -> credbox::aws::CredentialsProvider {
    let locations = files::Locations {
        config: sandbox.config_path().display().to_string(),
        credentials: sandbox.credentials_path().display().to_string(),
        profile: name.to_string(),
    };
    let target = Target::Profile {
        locations,
        name: name.to_string(),
    };
    Provider::new(Runtime::new().unwrap(), target, FetchOptions::default()).into()
}

#[tokio::test]
async fn aws_config_resolves_credbox_credentials_through_its_identity_cache() {
    let sandbox = Sandbox::new();
    let helper = sandbox.helper(
        "bin/helper",
        &format!(
            "echo run >> {}\ncat <<'EOF'\n{}\nEOF",
            sandbox.path("runs").display(),
            session_json_for_account(1, "123456789012")
        ),
    );
    sandbox.config(&format!(
        "[profile dev]\ncredential_process = {}\n",
        quoted(&helper)
    ));

    let network = NoNetwork::default();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .http_client(network.clone())
        // The one line an aws-sdk-rust user writes:
        .credentials_provider(profile_provider(&sandbox, "dev"))
        .load()
        .await;

    let cache = config
        .identity_cache()
        .expect("aws-config sets up an identity cache");
    let resolver = SharedIdentityResolver::new(config.credentials_provider().unwrap());
    let components = RuntimeComponentsBuilder::for_tests()
        .with_time_source(Some(SharedTimeSource::default()))
        .with_sleep_impl(Some(SharedAsyncSleep::new(TokioSleep::new())))
        .build()
        .unwrap();
    for _ in 0..3 {
        let identity = cache
            .resolve_cached_identity(resolver.clone(), &components, &ConfigBag::base())
            .await
            .unwrap();
        let credentials = identity.data::<Credentials>().unwrap();
        assert_eq!(credentials.access_key_id(), "ASIATESTKEY00001");
        assert_eq!(credentials.secret_access_key(), SECRET);
        assert_eq!(credentials.session_token(), Some(TOKEN));
        assert_eq!(credentials.account_id().map(|a| a.as_str()), Some("123456789012"));
        assert!(identity.expiration().is_some());
        assert!(
            !format!("{credentials:?}").contains(SECRET),
            "the SDK's Debug is redacted too"
        );
    }
    assert_eq!(
        sandbox.runs(),
        1,
        "the SDK's cache and credbox's ran the helper once"
    );
    assert_eq!(
        network.requests.load(Ordering::SeqCst),
        0,
        "nothing went to the network"
    );
}

#[tokio::test]
async fn credbox_errors_reach_the_sdk_typed_and_without_secrets() {
    use aws_credential_types::provider::ProvideCredentials;
    use aws_credential_types::provider::error::CredentialsError;

    let sandbox = Sandbox::new();
    sandbox.config("[profile broken]\ncredential_process = ~/bin/helper\n");
    let error = profile_provider(&sandbox, "broken")
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(
        matches!(error, CredentialsError::InvalidConfiguration(_)),
        "{error:?}"
    );
    let source = std::error::Error::source(&error).unwrap().to_string();
    assert!(
        source.contains("profile broken") && source.contains("starts with ~"),
        "{source}"
    );

    let helper = sandbox.helper("bin/fails", &format!("echo '{SECRET}'; exit 3"));
    sandbox.config(&format!(
        "[profile fails]\ncredential_process = {}\n",
        quoted(&helper)
    ));
    let error = profile_provider(&sandbox, "fails")
        .provide_credentials()
        .await
        .unwrap_err();
    assert!(matches!(error, CredentialsError::ProviderError(_)), "{error:?}");
    let message = format!("{error:?} {}", std::error::Error::source(&error).unwrap());
    assert!(
        message.contains("exited with code 3") && !message.contains(SECRET),
        "{message}"
    );
}
