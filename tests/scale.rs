//! Configs with thousands of profiles, as aws-sso-util, Granted and Leapp generate them: walking
//! every profile is linear work, resolving one profile builds only that one, a legitimate
//! 100,000-profile config fits the guest's budgets, and a file too large to be a profile file is
//! refused. Work is counted in guest instructions,
//! not wall time (`bench/scale.sh` times it).

mod common;

use common::*;
use credbox::{FetchOptions, Runtime, files};

/// A config of `n` generated profiles (the shape of bench/gen-config.py): SSO profiles with a
/// sub-property block, role profiles on top of them, credential_process profiles, comments; and
/// a `bench` profile whose helper is `helper`.
fn generated_config(n: usize, helper: &str) -> String {
    let mut config = String::from("# generated\n[default]\nregion = us-east-1\n\n");
    for i in 0..n {
        let account = 100_000_000_000u64 + i as u64;
        config.push_str(&match i % 10 {
            9 => format!("[profile process-{i}]\ncredential_process = {helper} --account {account}\nregion = eu-west-1\n\n"),
            8 => format!(
                "# role on top of an SSO profile\n[profile role-{i}]\nrole_arn = arn:aws:iam::{account}:role/Deploy\n\
                 source_profile = sso-{}\nrole_session_name = bench\n\n",
                i - 1
            ),
            _ => format!(
                "[profile sso-{i}]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n\
                 sso_account_id = {account}\nsso_role_name = AdministratorAccess\nregion = us-west-2\noutput = json\n\
                 s3 =\n  max_concurrent_requests = 20\n  multipart_threshold = 64MB\n\n"
            ),
        });
    }
    config.push_str(&format!("[profile bench]\ncredential_process = {helper}\n"));
    config
}

fn locations(sandbox: &Sandbox) -> files::Locations {
    files::Locations {
        config: sandbox.config_path().display().to_string(),
        credentials: sandbox.credentials_path().display().to_string(),
        profile: "default".into(),
    }
}

/// A sandbox whose config holds `n` generated profiles, the `bench` one with a working helper.
fn sandbox_with_profiles(n: usize) -> Sandbox {
    let sandbox = Sandbox::new();
    let helper = sandbox.json_helper("bin/helper", &session_json(1));
    sandbox.config(&generated_config(n, &helper.display().to_string()));
    sandbox
}

/// The guest instructions `credbox check` over every profile takes on an `n`-profile config.
fn check_instructions(n: usize) -> u64 {
    let sandbox = sandbox_with_profiles(n);
    let runtime = Runtime::new().unwrap();
    let findings = credbox::audit::check(&runtime, &locations(&sandbox), None).unwrap();
    // The role profiles sit on SSO profiles, which credbox does not run: a warning each.
    assert!(
        findings
            .iter()
            .all(|f| f.severity == credbox::audit::Severity::Warning
                && f.message.contains("IAM Identity Center")),
        "{findings:?}"
    );
    runtime.instructions_used()
}

/// Minor page faults of this thread so far: the guest runs on the calling thread, and the other
/// tests of this binary, running in parallel, must not count (they could only shrink the ratio).
fn page_faults() -> i64 {
    // SAFETY: getrusage writes into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) }, 0);
    usage.ru_minflt
}

#[test]
fn check_over_a_large_config_grows_guest_memory_in_place() {
    // Past wasmtime's address-space reservation, every growth of the guest's memory copied all of
    // it into a new mapping: check over 50,000 profiles took 13.6 times the page faults of 10,000.
    let faults = |n| {
        let sandbox = Sandbox::new();
        sandbox.config(&generated_config(n, "/bin/true"));
        let runtime = Runtime::new().unwrap();
        runtime.guest_runs_in_place().unwrap(); // the guest loaded before counting
        let before = page_faults();
        credbox::audit::check(&runtime, &locations(&sandbox), None).unwrap();
        page_faults() - before
    };
    let (small, large) = (faults(10_000), faults(50_000));
    let ratio = large as f64 / small as f64;
    eprintln!("check: {small} page faults at 10,000 profiles, {large} at 50,000 (x{ratio:.2})");
    assert!(ratio < 7.0, "x{ratio:.2} for 5x the profiles");
}

#[test]
fn check_over_every_profile_is_linear_work() {
    let small = check_instructions(500);
    let large = check_instructions(2000);
    let ratio = large as f64 / small as f64;
    eprintln!("check: {small} instructions at 500 profiles, {large} at 2,000 (x{ratio:.2})");
    // Four times the profiles: about four times the work (parsing once per profile was x16).
    assert!(ratio < 5.0, "x{ratio:.2} for 4x the profiles");
}

/// The guest instructions of resolving and running the `bench` profile (cold, no cache) in an
/// `n`-profile config.
fn export_instructions(n: usize) -> u64 {
    let sandbox = sandbox_with_profiles(n);
    let runtime = Runtime::new().unwrap();
    let options = FetchOptions::default();
    credbox::credentials_for_profile(&runtime, &locations(&sandbox), "bench", &options).unwrap();
    runtime.instructions_used()
}

#[test]
fn resolving_one_profile_scans_the_others_without_building_them() {
    let (one, many) = (export_instructions(0), export_instructions(2000));
    let check = check_instructions(2000);
    eprintln!("export: {one} instructions on a one-profile config, {many} at 2,000 profiles; check {check}");
    // Every line is still checked (a syntax error anywhere fails, as in the SDKs), so the work
    // grows with the file; but building all 2,000 profiles, as check does, costs several times
    // more than the scan (a resolve that parsed everything cost about what check costs).
    assert!(many * 3 < check, "export {many} against check {check}");
}

#[test]
fn a_100000_profile_config_resolves_within_the_guest_budgets() {
    let sandbox = Sandbox::new();
    let helper = sandbox.json_helper("bin/helper", &session_json(1));
    let config = generated_config(100_000, &helper.display().to_string());
    assert!(config.len() > 20 << 20, "{} bytes", config.len());
    sandbox.config(&config);
    let options = FetchOptions::default();
    let (credentials, _) =
        credbox::credentials_for_profile(&Runtime::new().unwrap(), &locations(&sandbox), "bench", &options)
            .unwrap();
    assert_eq!(credentials.access_key_id, "ASIATESTKEY00001");
}

#[test]
fn a_file_too_large_to_be_a_profile_file_is_refused_by_name() {
    let sandbox = Sandbox::new();
    let file = std::fs::File::create(sandbox.config_path()).unwrap();
    file.set_len(files::MAX_PROFILE_FILE + 1).unwrap();
    let output = sandbox
        .credbox()
        .args(["export", "--profile", "p"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr_of(&output));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("home/.aws/config") && stderr.contains("larger than 32 MiB"),
        "{stderr}"
    );
}
