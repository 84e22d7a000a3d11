//! IAM Identity Center profiles (docs/SSO.md). credbox does not fetch their credentials yet; it
//! reads them as botocore does, so a broken SSO profile is named for the same mistake botocore
//! reports — checked here against botocore itself, on the same files — with its file and line.

mod common;

use std::process::Command;

use common::moto::python;
use common::*;

const SESSION: &str =
    "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n";

/// What botocore says when asked for `profile`'s credentials from the sandbox's files: the
/// message of the `InvalidConfigError` it raises, or the name of whatever else it raised.
fn botocore_says(sandbox: &Sandbox, profile: &str) -> String {
    let script = "import sys, botocore.session, botocore.exceptions as e\n\
                  try:\n    botocore.session.Session(profile=sys.argv[1]).get_credentials().get_frozen_credentials(); print('ok')\n\
                  except e.InvalidConfigError as error: print(error)\n\
                  except Exception as error: print(type(error).__name__)";
    let mut command = Command::new(python());
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    let output = command
        .args(["-c", script, profile])
        .env("HOME", sandbox.home())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    stdout_of(&output).trim().to_string()
}

#[test]
fn a_broken_sso_profile_is_named_for_the_mistake_botocore_reports_with_its_line() {
    if !python().exists() {
        skip("botocore is not installed: run `make clients` (make test does)");
        return;
    }
    // (profile, the words botocore and credbox must both say, the line credbox must name)
    let cases = [
        ("ghost", "sso-session does not exist: \"nope\"", 2),
        // Several keys differ: the section's first, as botocore reads it in file order.
        (
            "order",
            "sso_start_url is inconsistent between profile (https://a/start) and sso-session (https://c/start)",
            35,
        ),
        // The sign-in's start URL and region come from the section alone.
        (
            "thin",
            "missing the following configuration: ['sso_start_url']",
            20,
        ),
        (
            "hollow",
            "the \"empty\" sso_session configuration does not exist",
            27,
        ),
        (
            "drift",
            "sso_region is inconsistent between profile (eu-west-1) and sso-session (us-east-1)",
            7,
        ),
        (
            "bare",
            "is configured to use SSO but is missing required configuration: sso_role_name, sso_start_url, sso_region",
            11,
        ),
    ];
    let sandbox = Sandbox::new();
    sandbox.config(&format!(
        "[profile ghost]\nsso_session = nope\nsso_account_id = 111111111111\nsso_role_name = Dev\n\
         [profile drift]\nsso_session = corp\nsso_region = eu-west-1\nsso_account_id = 111111111111\nsso_role_name = Dev\n\
         [profile bare]\nsso_account_id = 111111111111\n\
         [profile good]\nsso_session = corp\nsso_account_id = 111111111111\nsso_role_name = Dev\n{SESSION}\
         [profile thin]\nsso_session = slim\nsso_start_url = https://x/start\nsso_account_id = 1\nsso_role_name = Dev\n\
         [sso-session slim]\nsso_region = us-east-1\n\
         [profile hollow]\nsso_session = empty\nsso_start_url = https://x/start\nsso_region = us-east-1\n\
         sso_account_id = 1\nsso_role_name = Dev\n[sso-session empty]\n\
         [profile order]\nsso_session = ordered\nsso_start_url = https://a/start\nsso_region = b\n\
         sso_account_id = 1\nsso_role_name = Dev\n\
         [sso-session ordered]\nsso_start_url = https://c/start\nsso_region = d\n"
    ));
    let config = sandbox.config_path().display().to_string();
    for (profile, words, line) in cases {
        let botocore = botocore_says(&sandbox, profile);
        assert!(botocore.contains(words), "botocore on {profile}: {botocore}");

        let export = sandbox
            .credbox()
            .args(["export", "-p", profile])
            .output()
            .unwrap();
        assert_eq!(export.status.code(), Some(3), "{}", stderr_of(&export));
        let said = stderr_of(&export);
        assert!(
            said.contains(words) && said.contains(&format!("{config}:{line}")) && said.lines().count() == 1,
            "credbox on {profile}: {said}"
        );

        let check = sandbox.credbox().args(["check", "-p", profile]).output().unwrap();
        assert_eq!(check.status.code(), Some(1), "{}", stdout_of(&check));
        let report = stdout_of(&check);
        assert!(
            report.starts_with(&format!("error: profile {profile}: "))
                && report.contains(words)
                && report.contains(&format!("({config}:{line})")),
            "check on {profile}: {report}"
        );
    }
    // A profile botocore accepts (it then finds no sign-in: no token) is only one credbox does
    // not run.
    assert_eq!(botocore_says(&sandbox, "good"), "SSOTokenLoadError");
    let export = sandbox.credbox().args(["export", "-p", "good"]).output().unwrap();
    assert!(
        stderr_of(&export).contains("which credbox does not run"),
        "{}",
        stderr_of(&export)
    );
    let check = sandbox.credbox().args(["check", "-p", "good"]).output().unwrap();
    assert!(check.status.success(), "{}", stdout_of(&check));
}

/// Write sign-ins with botocore's own token loader (so botocore names the files and writes the
/// JSON): `(session or none, start URL, token fields as a Python dict literal)`.
fn botocore_saves(sandbox: &Sandbox, tokens: &[(Option<&str>, &str, &str)]) {
    let mut script = String::from(
        "import os\nfrom botocore.utils import JSONFileCache, SSOTokenLoader\n\
         loader = SSOTokenLoader(JSONFileCache(os.path.expanduser('~/.aws/sso/cache')))\n",
    );
    for (session, start_url, token) in tokens {
        let session = session.map_or("None".to_string(), |s| format!("'{s}'"));
        script.push_str(&format!(
            "loader.save_token('{start_url}', {token}, session_name={session})\n"
        ));
    }
    let output = Command::new(python())
        .args(["-c", &script])
        .env("HOME", sandbox.home())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
}

#[test]
fn list_all_shows_each_sso_profile_s_sign_in_without_calling_anything() {
    if !python().exists() {
        skip("botocore is not installed: run `make clients` (make test does)");
        return;
    }
    let sandbox = Sandbox::new();
    let session = |name: &str| {
        format!(
            "[profile {name}]\nsso_session = {name}\nsso_account_id = 111111111111\nsso_role_name = Dev\n\
             [sso-session {name}]\nsso_start_url = https://{name}.awsapps.com/start\nsso_region = us-east-1\n"
        )
    };
    sandbox.config(&format!(
        "{}{}{}{}{}{}[profile legacy]\nsso_start_url = https://legacy.awsapps.com/start/\nsso_region = eu-west-1\n\
         sso_account_id = 222222222222\nsso_role_name = Ops\n\
         [profile legacy-old]\nsso_start_url = https://legacy-old.awsapps.com/start\nsso_region = eu-west-1\n\
         sso_account_id = 222222222222\nsso_role_name = Ops\n",
        session("fresh"),
        session("stale"),
        session("old"),
        session("never"),
        session("shared"),
        session("linked"),
    ));
    let token = |expires: &str, refresh: bool| {
        let mut fields = format!("{{'accessToken': 'SECRET-ACCESS-TOKEN', 'expiresAt': '{expires}'");
        if refresh {
            fields.push_str(
                ", 'refreshToken': 'SECRET-REFRESH', 'clientId': 'client', 'clientSecret': 'SECRET-CLIENT', \
                 'registrationExpiresAt': '2099-01-01T00:00:00Z'",
            );
        }
        fields + "}"
    };
    let fresh = token("2099-06-01T12:30:00Z", true);
    let stale = token("2020-01-01T00:00:00Z", true);
    let old = token("2020-01-01T00:00:00Z", false);
    let shared = token("2099-06-01T12:30:00Z", false);
    botocore_saves(
        &sandbox,
        &[
            (Some("fresh"), "https://fresh.awsapps.com/start", &fresh),
            (Some("stale"), "https://stale.awsapps.com/start", &stale),
            (Some("old"), "https://old.awsapps.com/start", &old),
            (Some("shared"), "https://shared.awsapps.com/start", &shared),
            (None, "https://legacy.awsapps.com/start/", &fresh),
            // A legacy sign-in never refreshes, whatever its file holds.
            (None, "https://legacy-old.awsapps.com/start", &stale),
        ],
    );
    // Another user could swap this sign-in for theirs: refused, not read. (The file's name is
    // botocore's: the SHA-1 of the session's name.)
    let cache = sandbox.home().join(".aws/sso/cache");
    let sha1_of = |text: &str| {
        let output = Command::new(python())
            .args([
                "-c",
                "import hashlib,sys; print(hashlib.sha1(sys.argv[1].encode()).hexdigest())",
                text,
            ])
            .output()
            .unwrap();
        cache.join(format!("{}.json", stdout_of(&output).trim()))
    };
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(sha1_of("shared"), std::fs::Permissions::from_mode(0o666)).unwrap();

    let output = sandbox.credbox().args(["list", "--all"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let text = stdout_of(&output);
    let row = |profile: &str| {
        text.lines()
            .find(|line| line.starts_with(&format!("{profile} ")))
            .unwrap_or_else(|| panic!("no row for {profile}:\n{text}"))
            .to_string()
    };
    for (profile, says) in [
        (
            "fresh",
            "(session fresh: signed in until 2099-06-01 12:30 UTC; not run by credbox)",
        ),
        (
            "stale",
            "(session stale: expired 2020-01-01 00:00 UTC, refreshable; not run by credbox)",
        ),
        (
            "old",
            "(session old: expired 2020-01-01 00:00 UTC: run `aws sso login --sso-session old`; not run by credbox)",
        ),
        (
            "never",
            "(session never: not signed in: run `aws sso login --sso-session never`; not run by credbox)",
        ),
        (
            "legacy",
            "(start URL https://legacy.awsapps.com/start/: signed in until 2099-06-01 12:30 UTC; not run by credbox)",
        ),
        (
            "legacy-old",
            "(start URL https://legacy-old.awsapps.com/start: expired 2020-01-01 00:00 UTC: run `aws sso login --profile legacy-old`; not run by credbox)",
        ),
        (
            "shared",
            "(session shared: token file refused: the sign-in token file ",
        ),
    ] {
        let line = row(profile);
        assert!(line.contains(" sso ") && line.contains(says), "{profile}: {line}");
    }
    assert!(
        row("shared").contains("writable by group or others"),
        "{}",
        row("shared")
    );
    assert!(!text.contains("SECRET"), "{text}");

    // A symbolic link is not the AWS CLI's file; a cache directory others can change is no
    // place for a sign-in.
    std::os::unix::fs::symlink(sha1_of("fresh"), sha1_of("linked")).unwrap();
    let listed = |sandbox: &Sandbox| stdout_of(&sandbox.credbox().args(["list", "--all"]).output().unwrap());
    let text = listed(&sandbox);
    let linked = text.lines().find(|l| l.starts_with("linked ")).unwrap();
    assert!(
        linked.contains("token file refused: ") && linked.contains("is a symbolic link"),
        "{linked}"
    );
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let text = listed(&sandbox);
    let fresh = text.lines().find(|l| l.starts_with("fresh ")).unwrap();
    assert!(
        fresh.contains("token file refused: the directory ") && fresh.contains("writable by group or others"),
        "{fresh}"
    );
}
