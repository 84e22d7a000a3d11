//! Role chains: every rule of the chain and of the STS endpoint, case by case.
use super::*;
use crate::ConfigError;
use crate::resolve::resolve;
use crate::wit::profiles::Source;

fn run(config: &str, name: &str, env: &[(&str, &str)]) -> Result<Source, Error> {
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    resolve(
        FileText {
            path: "/c",
            text: config,
        },
        FileText { path: "/k", text: "" },
        name,
        &Environment::new(&env),
    )
}

fn chain_of(config: &str, name: &str, env: &[(&str, &str)]) -> Chain {
    match run(config, name, env) {
        Ok(Source::Role(chain)) => chain,
        other => panic!("{other:?}"),
    }
}

fn message(result: Result<Source, Error>) -> String {
    match result {
        Err(Error::Config(ConfigError { message, .. })) => message,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_two_hop_chain_over_a_helper() {
    let config = "[profile base]\ncredential_process = /h\n\
        [profile mid]\nrole_arn = arn:aws:iam::1:role/Mid\nsource_profile = base\n\
        [profile top]\nrole_arn = arn:aws:iam::2:role/Top\nsource_profile = mid\nduration_seconds = 1800\nregion = eu-west-1\n";
    let chain = chain_of(config, "top", &[]);
    assert_eq!(chain.base_profile, "base");
    assert!(matches!(chain.base, Base::Process(_)));
    let arns: Vec<&str> = chain.roles.iter().map(|r| r.role_arn.as_str()).collect();
    assert_eq!(arns, ["arn:aws:iam::1:role/Mid", "arn:aws:iam::2:role/Top"]);
    assert_eq!(chain.roles[1].duration_seconds, Some(1800));
    // The selected profile's region decides every hop's endpoint, as in botocore.
    assert_eq!(chain.roles[0].endpoint.url, "https://sts.eu-west-1.amazonaws.com");
    assert_eq!(chain.roles[1].origin, ("/c".to_string(), 7).into());
}

#[test]
fn endpoints_follow_the_sdk_precedence() {
    let config = "[profile r]\nrole_arn = arn:aws:iam::1:role/R\ncredential_source = Environment\n\
        endpoint_url = http://profile\nservices = s\n[services s]\nsts =\n  endpoint_url = http://services\n";
    let url = |env: &[(&str, &str)]| chain_of(config, "r", env).roles[0].endpoint.url.clone();
    assert_eq!(
        url(&[("AWS_ENDPOINT_URL_STS", "http://sts-env")]),
        "http://sts-env"
    );
    assert_eq!(
        url(&[("AWS_ENDPOINT_URL", "http://global-env")]),
        "http://services"
    );
    assert_eq!(
        url(&[("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")]),
        "https://sts.amazonaws.com"
    );
    let plain = "[profile r]\nrole_arn = arn:aws:iam::1:role/R\ncredential_source = Environment\n";
    let url = |env: &[(&str, &str)]| chain_of(plain, "r", env).roles[0].endpoint.clone();
    assert_eq!(
        url(&[]),
        Endpoint {
            url: "https://sts.amazonaws.com".into(),
            region: "us-east-1".into(),
            ca_bundle: None,
        }
    );
    assert_eq!(
        url(&[("AWS_DEFAULT_REGION", "cn-north-1")]).url,
        "https://sts.cn-north-1.amazonaws.com.cn"
    );
    assert_eq!(
        url(&[("AWS_REGION", "eu-west-2"), ("AWS_DEFAULT_REGION", "us-west-1")]).region,
        "eu-west-2"
    );
    assert!(message(run(plain, "r", &[("AWS_REGION", "evil.com/")])).contains("not an AWS region"));
}

#[test]
fn broken_chains_say_what_to_fix() {
    let cycle = "[profile a]\nrole_arn = arn:aws:iam::1:role/A\nsource_profile = b\n\
        [profile b]\nrole_arn = arn:aws:iam::1:role/B\nsource_profile = a\n";
    assert!(message(run(cycle, "a", &[])).contains("cycle (a -> b -> a)"));
    let missing = "[profile a]\nrole_arn = arn:aws:iam::1:role/A\nsource_profile = nope\n";
    assert!(
        message(run(missing, "a", &[])).contains("source profile nope (named by profile a) is not defined")
    );
    let imds = "[profile a]\nrole_arn = arn:aws:iam::1:role/A\ncredential_source = Ec2InstanceMetadata\n";
    assert!(message(run(imds, "a", &[])).contains("not supported"));
    let duration = "[profile a]\nrole_arn = arn:aws:iam::1:role/A\ncredential_source = Environment\nduration_seconds = 60\n";
    assert!(message(run(duration, "a", &[])).contains("900 to 43200"));
}
