//! Output validation against what botocore, the JS SDK and aws-config accept and refuse.
use super::*;

const NOW: i64 = 1_700_000_000;

fn ok(json: &str) -> Credentials {
    validate_output(json.as_bytes(), None, NOW).unwrap()
}

fn err(json: &str) -> Error {
    validate_output(json.as_bytes(), None, NOW).unwrap_err()
}

#[test]
fn accepts_a_minimal_document_with_any_key_case() {
    let c = ok(r#" {"version":1.0,"accesskeyid":"AK","SECRETACCESSKEY":"S","Extra":[1]} "#);
    assert_eq!(
        (c.access_key_id.as_str(), c.secret_access_key.as_str()),
        ("AK", "S")
    );
    assert_eq!((c.session_token, c.expiration), (None, None));
}

#[test]
fn credential_values_outside_the_alphabet_are_refused_without_being_shown() {
    let hostile = [
        "abc$(touch pwned)",
        "a\nexport X=1",
        "a b",
        "a'b",
        "a\"b",
        "a`id`",
        "é",
        "a;b",
        "a\u{0}",
    ];
    for field in ["AccessKeyId", "SecretAccessKey", "SessionToken"] {
        for value in hostile {
            let mut doc = serde_json::json!({"Version": 1, "AccessKeyId": "AK", "SecretAccessKey": "S"});
            doc[field] = value.into();
            let error = err(&doc.to_string());
            let Error::InvalidField(InvalidField { field: named, reason }) = &error else {
                panic!("{field}={value:?}: {error:?}");
            };
            assert_eq!(named, field);
            assert!(!reason.contains(value), "{reason}");
        }
    }
    let Error::InvalidField(InvalidField { field, .. }) =
        err(r#"{"Version":1,"AccessKeyId":"AK","SecretAccessKey":"S","AccountId":"12$(x)"}"#)
    else {
        panic!("AccountId must be digits");
    };
    assert_eq!(field, "AccountId");
    let c = ok(
        r#"{"Version":1,"AccessKeyId":"ASIA_x-1.2","SecretAccessKey":"wJal/K7+MD==","SessionToken":"IQo+b/3=","AccountId":"123456789012"}"#,
    );
    assert_eq!(c.account_id.as_deref(), Some("123456789012"));
}

#[test]
fn expiration_variants() {
    let t = 2_000_000_000; // 2033-05-18T03:33:20Z
    for text in [
        "2033-05-18T03:33:20Z",
        "2033-05-18t03:33:20z",
        "2033-05-18T03:33:20+00:00",
        "2033-05-18T03:33:20-00:00",
        "2033-05-18T05:33:20+02:00",
        "2033-05-18T03:33:20.999Z",
        "2033-05-18 03:33:20Z",
        "2033-05-18T03:33:20.123456+00:00",
    ] {
        assert_eq!(parse_expiration(text), Ok(t), "{text}");
    }
    for text in [
        "2033-05-18T03:33:20",
        "2033-05-18",
        "1700000000",
        "2033-05-18T03:33:20+0000",
        "2033-05-18T03:33:20Z[UTC]",
        "tomorrow",
    ] {
        assert!(parse_expiration(text).is_err(), "{text}");
    }
}

#[test]
fn rejections_name_the_problem_without_the_secret() {
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    assert_eq!(
        err(""),
        Error::MalformedOutput(MalformedOutput {
            reason: "the helper printed nothing".into(),
            line: Some(1),
            column: Some(0)
        })
    );
    assert!(matches!(
        err(&format!(r#""{secret}""#)),
        Error::MalformedOutput(MalformedOutput { .. })
    ));
    assert!(
        matches!(err(r#"{"Version":1} x"#), Error::MalformedOutput(MalformedOutput { ref reason, .. }) if reason.contains("after"))
    );
    assert_eq!(err(r#"{"Version":2}"#), Error::UnsupportedVersion("2".into()));
    assert_eq!(
        err(r#"{"Version":"1"}"#),
        Error::UnsupportedVersion("the string \"1\"".into())
    );
    assert_eq!(
        err(r#"{"AccessKeyId":"a"}"#),
        Error::UnsupportedVersion("missing".into())
    );
    assert_eq!(
        err(r#"{"Version":1,"AccessKeyId":"","SecretAccessKey":"s"}"#),
        Error::MissingField("AccessKeyId".into())
    );
    assert_eq!(
        err(r#"{"Version":1,"AccessKeyId":"a"}"#),
        Error::MissingField("SecretAccessKey".into())
    );
    assert!(
        matches!(err(r#"{"Version":1,"AccessKeyId":"a","accesskeyid":"b","SecretAccessKey":"s"}"#), Error::InvalidField(InvalidField { ref field, .. }) if field == "AccessKeyId")
    );
    assert_eq!(
        err(r#"{"Version":1,"AccessKeyId":"a","SecretAccessKey":"s","Expiration":"2000-01-01T00:00:00Z"}"#),
        Error::Expired(946_684_800)
    );
    let e = err(&format!(
        r#"{{"Version":1,"AccessKeyId":"a","SecretAccessKey":"s","Expiration":"{secret}"}}"#
    ));
    assert!(!format!("{e:?}").contains(secret));
}

#[test]
fn a_bad_expiration_or_version_is_shown_only_when_it_cannot_be_a_secret() {
    let reason = |text: &str| match parse_expiration(text) {
        Err(Error::InvalidField(InvalidField { reason, .. })) => reason,
        other => panic!("{text}: {other:?}"),
    };
    // Shown: separated timestamps, epoch numbers, short runs.
    for text in [
        "2026-01-02T03:04:05",
        "2026-13-02T03:04:05Z",
        "1700000000000",
        "2026-01-02 3pm",
    ] {
        let shown = text.len() <= 40
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || "TtZz:+-. ".contains(c));
        assert_eq!(reason(text).contains(&format!("{text:?}")), shown, "{text}");
    }
    // Not shown: a 12+ run of key characters with a letter, however timestamp-like.
    for text in [
        "20260102T030405Z",
        "2026-01-02T030405123Z",
        "1234567890+1Z",
        "2026-01-02T03:04:05.AKIAEXAMPLE1Z",
    ] {
        assert!(!reason(text).contains(text), "{text}: {}", reason(text));
        assert!(!reason(text).contains("got"), "{text}: {}", reason(text));
    }
    assert!(reason("2026-01-02T03:04:05").starts_with("must end with `Z`"));
    assert!(reason("2026-13-02T03:04:05Z").starts_with("must be a real date"));
    assert!(reason("20260102T030405Z").starts_with("must be an RFC 3339 timestamp"));
    // Version numbers follow the same rule.
    assert_eq!(err(r#"{"Version":1.5}"#), Error::UnsupportedVersion("1.5".into()));
    assert_eq!(
        err(r#"{"Version":123456789012345}"#),
        Error::UnsupportedVersion("123456789012345".into())
    );
    assert_eq!(
        err(r#"{"Version":2.3928655523e+16}"#),
        Error::UnsupportedVersion("a number other than 1".into())
    );
    assert!(showable("2026-01-02T03:04:05+02:00") && !showable("abcdefghijk/l"));
}

#[test]
fn empty_session_token_is_absent_and_account_falls_back() {
    let c = validate_output(
        br#"{"Version":1,"AccessKeyId":"a","SecretAccessKey":"s","SessionToken":""}"#,
        Some("123"),
        NOW,
    )
    .unwrap();
    assert_eq!((c.session_token, c.account_id.as_deref()), (None, Some("123")));
}
