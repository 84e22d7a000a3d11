//! Reading STS's answer: the assumed role on success, the code and request id of a rejection.
//! Neither is ever echoed: an answer holds secrets.

use crate::bindings::{wit, wit_sts};

/// The text of the first element named `name` under `node`.
pub(super) fn text_of<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> Option<&'a str> {
    node.descendants()
        .find(|n| n.has_tag_name(name))
        .and_then(|n| n.text())
        .map(str::trim)
}

pub(super) fn parse_success(answer: &[u8]) -> Result<wit_sts::AssumedRole, wit::StsError> {
    let malformed = |what: &str| wit::StsError::Malformed(format!("the AssumeRole answer {what}"));
    let text = std::str::from_utf8(answer).map_err(|_| malformed("is not UTF-8"))?;
    let document = roxmltree::Document::parse(text).map_err(|e| malformed(&format!("is not XML ({e})")))?;
    let root = document.root_element();
    let credentials = root
        .descendants()
        .find(|n| n.has_tag_name("Credentials"))
        .ok_or_else(|| malformed("has no Credentials"))?;
    let field = |name: &str| {
        text_of(credentials, name)
            .filter(|v| !v.is_empty())
            .map(String::from)
            .ok_or_else(|| malformed(&format!("has no {name}")))
    };
    let expiration = field("Expiration")?;
    let expiration = expiration
        .parse::<jiff::Timestamp>()
        .map_err(|_| malformed("has an Expiration that is not a date and time"))?
        .as_second();
    let assumed_role_arn = root
        .descendants()
        .find(|n| n.has_tag_name("AssumedRoleUser"))
        .and_then(|user| text_of(user, "Arn"))
        .unwrap_or_default()
        .to_string();
    Ok(wit_sts::AssumedRole {
        credentials: wit::Credentials {
            access_key_id: field("AccessKeyId")?,
            secret_access_key: field("SecretAccessKey")?,
            session_token: Some(field("SessionToken")?),
            expiration: Some(expiration),
            account_id: None,
        },
        assumed_role_arn,
    })
}

/// An STS error answer: `<ErrorResponse><Error><Code>...</Code><Message>...` and a request id.
pub(super) fn parse_rejection(status: u16, answer: &[u8]) -> wit::StsError {
    let text = String::from_utf8_lossy(answer);
    let Ok(document) = roxmltree::Document::parse(&text) else {
        return wit::StsError::Malformed(format!("STS answered HTTP {status} with a body that is not XML"));
    };
    let root = document.root_element();
    // STS messages name the role, the caller and the reason; they hold no secret.
    let one_line = |s: Option<&str>| crate::text::one_line(s.unwrap_or_default());
    wit::StsError::Rejected(wit::StsRejection {
        status,
        code: one_line(text_of(root, "Code")),
        message: one_line(text_of(root, "Message")),
        request_id: text_of(root, "RequestId").map(|id| one_line(Some(id))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_parsed_without_echoing_them() {
        let ok = br#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
            <AssumedRoleUser><Arn>arn:aws:sts::123:assumed-role/R/s</Arn></AssumedRoleUser>
            <Credentials><AccessKeyId>ASIA1</AccessKeyId><SecretAccessKey>SECRET</SecretAccessKey>
            <SessionToken>TOKEN</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials>
            </AssumeRoleResult></AssumeRoleResponse>"#;
        let assumed = parse_success(ok).unwrap();
        assert_eq!(assumed.assumed_role_arn, "arn:aws:sts::123:assumed-role/R/s");
        assert_eq!(assumed.credentials.expiration, Some(1_893_456_000));
        let error = br#"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>
            <Message>not authorized</Message></Error><RequestId>abc</RequestId></ErrorResponse>"#;
        let wit::StsError::Rejected(rejection) = parse_rejection(403, error) else {
            panic!()
        };
        assert_eq!(
            (rejection.code.as_str(), rejection.request_id.as_deref()),
            ("AccessDenied", Some("abc"))
        );
        let wit::StsError::Malformed(why) = parse_success(b"<x>SECRET</x>").unwrap_err() else {
            panic!()
        };
        assert!(!why.contains("SECRET"), "{why}");
    }
}
