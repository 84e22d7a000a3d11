//! The provider's decisions, against a host that counts what it is asked.
use super::*;
use std::cell::Cell;

/// A host with a clock the test moves, a helper whose output the test sets, and a plugin that
/// calls its credentials expired when the test says so.
struct TestHost {
    now: Cell<i64>,
    lifetime: Cell<Option<i64>>,
    runs: Cell<u32>,
    plugin_says_expired: Cell<bool>,
    expiry_asks: Cell<u32>,
    assumed: RefCell<Vec<AssumeRoleRequest>>,
    prompts: Cell<u32>,
    /// The expiration STS answers with; `None`: an hour from now.
    sts_expiration: Cell<Option<i64>>,
}

impl TestHost {
    fn new(lifetime: Option<i64>) -> Self {
        TestHost {
            now: Cell::new(1_000_000),
            lifetime: Cell::new(lifetime),
            runs: Cell::new(0),
            plugin_says_expired: Cell::new(false),
            expiry_asks: Cell::new(0),
            assumed: RefCell::new(Vec::new()),
            prompts: Cell::new(0),
            sts_expiration: Cell::new(None),
        }
    }

    /// The same host, `seconds` later.
    fn at(&self, seconds: i64) -> &Self {
        self.now.set(self.now.get() + seconds);
        self
    }
}

impl Host for TestHost {
    fn spawn(&self, request: SpawnRequest) -> Result<SpawnOutput, SpawnError> {
        assert_eq!(request.command, crate::Command::Argv(vec!["/h".into()]));
        self.runs.set(self.runs.get() + 1);
        let expiration = self.lifetime.get().map(|l| {
            let t = jiff::Timestamp::from_second(self.now.get() + l).unwrap();
            format!(r#","Expiration":"{t}""#)
        });
        let json = format!(
            r#"{{"Version":1,"AccessKeyId":"AK{}","SecretAccessKey":"S"{}}}"#,
            self.runs.get(),
            expiration.unwrap_or_default()
        );
        Ok(SpawnOutput {
            status: ExitStatus::Code(0),
            stdout: json.into_bytes(),
            stderr_tail: String::new(),
        })
    }
    fn plugin_retrieve(&self, path: &str) -> Result<Credentials, PluginCallError> {
        assert_eq!(path, "/p.wasm");
        self.runs.set(self.runs.get() + 1);
        Ok(Credentials {
            access_key_id: format!("AK{}", self.runs.get()),
            secret_access_key: "S".into(),
            session_token: None,
            expiration: self.lifetime.get().map(|l| self.now.get() + l),
            account_id: None,
        })
    }
    fn plugin_is_expired(&self, _: &str, _: &Credentials) -> Result<bool, PluginCallError> {
        self.expiry_asks.set(self.expiry_asks.get() + 1);
        Ok(self.plugin_says_expired.get())
    }
    fn assume_role(&self, request: AssumeRoleRequest) -> Result<AssumedRole, StsError> {
        self.runs.set(self.runs.get() + 1);
        self.assumed.borrow_mut().push(request);
        Ok(AssumedRole {
            credentials: Credentials {
                access_key_id: format!("ASIA{}", self.runs.get()),
                secret_access_key: "S".into(),
                session_token: Some("T".into()),
                expiration: Some(self.sts_expiration.get().unwrap_or(self.now.get() + 3600)),
                account_id: None,
            },
            assumed_role_arn: "arn:aws:sts::210987654321:assumed-role/Deploy/s".into(),
        })
    }
    fn mfa_code(&self, _: &str, _: &str) -> Result<String, PromptError> {
        self.prompts.set(self.prompts.get() + 1);
        Ok("123456".into())
    }
    fn now(&self) -> i64 {
        self.now.get()
    }
}

fn role(mfa_serial: Option<&str>) -> RoleSettings {
    RoleSettings {
        profile: "prod".into(),
        role_arn: "arn:aws:iam::210987654321:role/Deploy".into(),
        session_name: None,
        external_id: Some("x".into()),
        duration_seconds: Some(1800),
        mfa_serial: mfa_serial.map(String::from),
        mfa_process: None,
        source_identity: None,
        endpoint: crate::wit::StsEndpoint {
            url: "https://sts.amazonaws.com".into(),
            region: "us-east-1".into(),
            ca_bundle: None,
        },
        origin: ("/c".to_string(), 1).into(),
    }
}

fn source(key: &str) -> Credentials {
    Credentials {
        access_key_id: key.into(),
        secret_access_key: "base-secret".into(),
        session_token: None,
        expiration: None,
        account_id: None,
    }
}

#[test]
fn a_role_asks_once_and_its_entry_is_bound_to_source_and_parameters() {
    let host = TestHost::new(None);
    let p = Provider::for_role(
        role(Some("arn:mfa")),
        source("AKIABASE"),
        "base".into(),
        Options::default(),
    );
    let credentials = p.retrieve(&host).unwrap();
    assert_eq!(credentials.account_id.as_deref(), Some("210987654321"));
    p.retrieve(host.at(60)).unwrap();
    assert_eq!(
        (host.runs.get(), host.prompts.get()),
        (1, 1),
        "one STS call, one prompt"
    );
    let sent = host.assumed.borrow()[0].clone();
    assert_eq!(sent.mfa, Some(("arn:mfa".into(), "123456".into())));
    assert_eq!(sent.session_name, None, "the host names an unnamed session");
    assert_eq!(
        (sent.duration_seconds, sent.external_id.as_deref()),
        (Some(1800), Some("x"))
    );

    let entry = p.cache_entry().unwrap();
    let same = Provider::for_role(
        role(Some("arn:mfa")),
        source("AKIABASE"),
        "base".into(),
        Options::default(),
    );
    assert!(same.restore(&entry, &host).unwrap());
    assert_eq!(same.cache_key(), p.cache_key());
    for other in [
        Provider::for_role(
            role(Some("arn:mfa")),
            source("AKIAOTHER"),
            "base".into(),
            Options::default(),
        ),
        // The same key id with another secret, or with a session token: another source.
        Provider::for_role(
            role(Some("arn:mfa")),
            Credentials {
                secret_access_key: "wrong-secret".into(),
                ..source("AKIABASE")
            },
            "base".into(),
            Options::default(),
        ),
        Provider::for_role(
            role(Some("arn:mfa")),
            Credentials {
                session_token: Some("token".into()),
                ..source("AKIABASE")
            },
            "base".into(),
            Options::default(),
        ),
        Provider::for_role(role(None), source("AKIABASE"), "base".into(), Options::default()),
        provider(),
    ] {
        assert!(!other.restore(&entry, &host).unwrap());
        assert_ne!(other.cache_key(), p.cache_key());
    }
}

#[test]
fn a_role_s_key_and_entry_hold_no_secret_of_its_source() {
    let host = TestHost::new(None);
    let p = Provider::for_role(role(None), source("AKIABASE"), "base".into(), Options::default());
    p.retrieve(&host).unwrap();
    let entry = String::from_utf8(p.cache_entry().unwrap()).unwrap();
    let key = String::from_utf8(p.cache_key()).unwrap();
    for text in [&entry, &key] {
        assert!(!text.contains("base-secret"), "{text}");
    }
    assert!(key.contains("source_digest"), "{key}");
}

#[test]
fn what_sts_says_is_bounded_by_what_was_asked() {
    let host = TestHost::new(None);
    // 2200-01-01: kept only as long as the 1800 s session asked for.
    host.sts_expiration.set(Some(7_258_118_400));
    let p = Provider::for_role(role(None), source("AKIABASE"), "base".into(), Options::default());
    let credentials = p.retrieve(&host).unwrap();
    assert_eq!(credentials.expiration, Some(host.now() + 1800));
    // Already expired: STS's fault, said as such, never "the helper's output".
    host.sts_expiration.set(Some(host.now() - 1));
    let p = Provider::for_role(role(None), source("AKIABASE"), "base".into(), Options::default());
    let Err(Error::Sts(failure)) = p.retrieve(&host) else {
        panic!("an expired answer was accepted");
    };
    let StsError::Malformed(why) = failure.error else {
        panic!("{:?}", failure.error);
    };
    assert!(why.contains("expired at"), "{why}");
}

fn provider() -> Provider {
    let settings = ProcessSettings::command("p", "/h");
    Provider::new(settings, Options::default())
}

/// Advance the clock by `step` seconds until `until`, counting helper runs.
fn runs_over(host: &TestHost, provider: &Provider, until: i64, step: i64) -> u32 {
    let start = host.now.get();
    while host.now.get() < start + until {
        provider.retrieve(host).unwrap();
        host.now.set(host.now.get() + step);
    }
    host.runs.get()
}

#[test]
fn one_hour_credentials_are_reused_until_fifteen_minutes_remain() {
    let host = TestHost::new(Some(3600));
    let p = provider();
    p.retrieve(&host).unwrap();
    host.now.set(host.now.get() + 45 * 60 - 1);
    assert_eq!(p.retrieve(&host).unwrap().access_key_id, "AK1");
    host.now.set(host.now.get() + 1);
    assert_eq!(p.retrieve(&host).unwrap().access_key_id, "AK2");
}

#[test]
fn fifteen_minute_credentials_are_not_refetched_on_every_call() {
    let host = TestHost::new(Some(900));
    // Window = min(15 min, 7.5 min): one run per 7.5 minutes, over an hour with a call every 10 s.
    assert_eq!(runs_over(&host, &provider(), 3600, 10), 8);
}

#[test]
fn long_term_credentials_are_never_refetched_nor_stored() {
    let host = TestHost::new(None);
    let p = provider();
    assert_eq!(runs_over(&host, &p, 86_400 * 30, 3600), 1);
    assert_eq!(p.serve_until(), Some(i64::MAX));
    assert_eq!(p.cache_entry(), None);
}

#[test]
fn cache_entries_round_trip_and_are_bound_to_the_command() {
    let host = TestHost::new(Some(3600));
    let p = provider();
    p.retrieve(&host).unwrap();
    let entry = p.cache_entry().unwrap();

    let other = provider();
    assert!(other.restore(&entry, host.at(60)).unwrap());
    assert_eq!(other.retrieve(&host).unwrap().access_key_id, "AK1");
    assert!(!provider().restore(b"{not json", &host).unwrap());
    let settings = ProcessSettings::command("p", "/h2");
    let elsewhere = Provider::new(settings, Options::default());
    assert!(
        !elsewhere.restore(&entry, &host).unwrap(),
        "another command's entry"
    );
    let plugin = Provider::new(plugin_settings(), Options::default());
    assert!(
        !plugin.restore(&entry, &host).unwrap(),
        "a command's entry, for a plugin"
    );
    assert!(
        !provider().restore(&entry, host.at(45 * 60)).unwrap(),
        "inside the window"
    );
}

fn plugin_settings() -> ProcessSettings {
    ProcessSettings::new("p", Helper::Plugin("/p.wasm".into()))
}

#[test]
fn a_plugin_is_asked_before_every_reuse_and_restore_counts_as_the_ask() {
    let host = TestHost::new(Some(3600));
    let p = Provider::new(plugin_settings(), Options::default());
    assert_eq!(p.retrieve(&host).unwrap().access_key_id, "AK1");
    assert_eq!(host.expiry_asks.get(), 0, "fresh credentials need no ask");
    assert_eq!(
        p.serve_until(),
        None,
        "hosts must not serve a plugin's credentials on their own"
    );
    assert_eq!(p.retrieve(host.at(60)).unwrap().access_key_id, "AK1");
    assert_eq!(host.expiry_asks.get(), 1);

    // Another process adopts the entry: restore asks, and the retrieve right after does not.
    let entry = p.cache_entry().unwrap();
    let other = Provider::new(plugin_settings(), Options::default());
    assert!(other.restore(&entry, &host).unwrap());
    assert_eq!(other.retrieve(&host).unwrap().access_key_id, "AK1");
    assert_eq!(host.expiry_asks.get(), 2);

    // The plugin calls them expired: restore refuses the entry, retrieve fetches anew.
    host.plugin_says_expired.set(true);
    let third = Provider::new(plugin_settings(), Options::default());
    assert!(!third.restore(&entry, &host).unwrap());
    assert_eq!(p.retrieve(&host).unwrap().access_key_id, "AK2");
    assert_eq!(host.runs.get(), 2);
}
