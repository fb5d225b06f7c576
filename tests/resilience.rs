//! What real KMS and real networks do that a local server does not, injected by a proxy:
//! IAM propagation delays, keys not yet visible, throttling, server errors and dropped
//! connections. Every scenario must end converged, with no duplicate and no double write.

mod support;

use kms_operator::api::Reason;
use kms_operator::aws::{AccountConfig, RetryPolicy};
use kms_operator::engine::{EngineError, Outcome};
use kms_operator::local::runner::Command;
use support::engine::{assert_ok, engine, engine_with, fast_settings, run};
use support::kms;
use support::manifests::{ACCOUNT_ID, REGION, Workspace, account, key};
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy};

const SPEC: &str = r#"
description: resilient
tags: {Team: data}
rotation: {enabled: true}
policy:
  users: ["arn:aws:iam::123456789012:role/just-created"]
"#;

struct Setup {
    _moto: Moto,
    proxy: FaultProxy,
    ws: Workspace,
    kms: aws_sdk_kms::Client,
}

async fn setup(keys: &[(&str, &str)]) -> Setup {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&proxy.endpoint()));
    for (name, spec) in keys {
        ws.write(&format!("{name}.yaml"), &key(name, spec));
    }
    let kms = kms::client(&moto.endpoint(), REGION).await;
    Setup { _moto: moto, proxy, ws, kms }
}

#[tokio::test]
async fn a_policy_naming_a_new_principal_is_retried_until_iam_propagates() {
    let s = setup(&[("app", SPEC)]).await;
    s.proxy.inject("CreateKey", Fault::invalid_principal(), 2);
    let engine = engine().await;
    let output = run(&engine, s.ws.path(), Command::Apply).await;
    assert_ok(&output);
    assert_eq!(s.proxy.forwarded("CreateKey"), 1, "the refused attempts created nothing");
    assert_eq!(kms::key_ids(&s.kms).await.len(), 1);

    // The same on a policy change of an existing key.
    s.ws.write("app.yaml", &key("app", &SPEC.replace("just-created", "another-new-role")));
    s.proxy.inject("PutKeyPolicy", Fault::invalid_principal(), 2);
    let output = run(&engine, s.ws.path(), Command::Apply).await;
    assert_ok(&output);
    assert_eq!(s.proxy.forwarded("PutKeyPolicy"), 1);
}

#[tokio::test]
async fn a_policy_refused_for_longer_than_the_timeout_is_reported() {
    let s = setup(&[("app", SPEC)]).await;
    s.proxy.inject("CreateKey", Fault::invalid_principal(), 10_000);
    let mut settings = fast_settings();
    settings.policy_propagation_timeout = std::time::Duration::from_millis(300);
    let engine = engine_with(settings, kms_operator::aws::RateLimits::unlimited()).await;
    let output = run(&engine, s.ws.path(), Command::Apply).await;
    let result = output.results.iter().find(|r| r.object.name == "app").unwrap();
    let Outcome::Failed(error @ EngineError::PolicyRefused { .. }) = &result.outcome else {
        panic!("expected PolicyRefused, got {:?}", result.outcome)
    };
    assert!(error.to_string().contains("IAM"), "{error}");
    assert_eq!(result.synced.reason, Reason::PolicyRefused);
    assert!(kms::key_ids(&s.kms).await.is_empty());
}

#[tokio::test]
async fn a_key_that_is_not_visible_yet_after_creation_is_waited_for() {
    let s = setup(&[("app", SPEC)]).await;
    s.proxy.inject("EnableKeyRotation", Fault::not_found(), 2);
    s.proxy.inject("DescribeKey", Fault::not_found(), 1);
    let engine = engine().await;
    let output = run(&engine, s.ws.path(), Command::Apply).await;
    assert_ok(&output);
    let ids = kms::key_ids(&s.kms).await;
    assert_eq!(ids.len(), 1);
    assert!(kms::rotation_enabled(&s.kms, &ids[0]).await);
    assert_eq!(s.proxy.pending_faults(), 0, "every injected NotFound was met and survived");
}

fn account_behind(proxy: &FaultProxy) -> AccountConfig {
    AccountConfig {
        name: "test".into(),
        account_id: ACCOUNT_ID.into(),
        region: REGION.into(),
        assume_role_arn: None,
        external_id: None,
        endpoint_url: Some(proxy.endpoint()),
        sts_endpoint_url: Some(proxy.endpoint()),
        verify_account: true,
    }
}

#[tokio::test]
async fn a_transient_identity_check_failure_is_transient_and_the_retry_succeeds() {
    let s = setup(&[]).await;
    let retries = RetryPolicy::fast();
    // Each fault outlasts the retries of one call, so the check itself fails.
    let cases = [
        ("ServiceUnavailable", Fault::unavailable(), retries.transient_attempts),
        ("InternalFailure", Fault::server_error(), retries.transient_attempts),
        ("Throttling", Fault::throttle(), retries.throttle_attempts),
        ("connection dropped", Fault::DropBeforeForward, retries.transient_attempts),
    ];
    for (name, fault, times) in cases {
        // A fresh engine: a verified identity is remembered for the pass.
        let engine = engine().await;
        s.proxy.inject("GetCallerIdentity", fault, times as usize);
        let error = engine.verify_account(&account_behind(&s.proxy)).await.unwrap_err();
        assert!(error.is_transient(), "{name}: {error:?}");
        assert!(matches!(error, EngineError::Unverified { .. }), "{name}: {error:?}");
        assert!(error.to_string().starts_with("AwsAccount test: could not confirm"), "{error}");
        assert_eq!(s.proxy.pending_faults(), 0, "{name}: every attempt met its fault");
        let identity = engine.verify_account(&account_behind(&s.proxy)).await.expect("the retry succeeds");
        assert!(identity.caller.as_deref().is_some_and(|c| c.contains(ACCOUNT_ID)), "{name}: {:?}", identity.caller);
    }
}

#[tokio::test]
async fn refused_credentials_are_a_verdict_and_are_not_retried() {
    let s = setup(&[]).await;
    let engine = engine().await;
    s.proxy.inject("GetCallerIdentity", Fault::invalid_token(), 1);
    let error = engine.verify_account(&account_behind(&s.proxy)).await.unwrap_err();
    assert!(matches!(error, EngineError::Credentials { .. }), "{error:?}");
    assert!(!error.is_transient());
    assert!(error.to_string().contains("InvalidClientTokenId") && error.to_string().contains("AWS_PROFILE"), "{error}");
    assert_eq!(s.proxy.injected("GetCallerIdentity"), 1, "asked once");
    assert_eq!(s.proxy.forwarded("GetCallerIdentity"), 0);
}

#[tokio::test]
async fn a_run_whose_identity_check_failed_for_now_succeeds_when_run_again() {
    let s = setup(&[("app", SPEC)]).await;
    s.proxy.inject("GetCallerIdentity", Fault::unavailable(), RetryPolicy::fast().transient_attempts as usize);
    let output = run(&engine().await, s.ws.path(), Command::Apply).await;
    let account = output.results.iter().find(|r| r.object.name == "test").unwrap();
    let Outcome::Failed(error) = &account.outcome else {
        panic!("expected a failed account, got {:?}", account.outcome)
    };
    assert!(error.is_transient(), "{error:?}");
    let app = output.results.iter().find(|r| r.object.name == "app").unwrap();
    let Outcome::Failed(EngineError::Unresolved(reason)) = &app.outcome else { panic!("{:?}", app.outcome) };
    assert_eq!(reason, "AwsAccount test could not be verified: see above");
    assert!(kms::key_ids(&s.kms).await.is_empty(), "nothing written for an unverified account");

    let output = run(&engine().await, s.ws.path(), Command::Apply).await;
    assert_ok(&output);
    assert_eq!(kms::key_ids(&s.kms).await.len(), 1);
}

#[tokio::test]
async fn a_principal_deleted_from_iam_is_reported_and_not_retried_for_minutes() {
    let s = setup(&[("app", SPEC)]).await;
    let engine = engine().await;
    assert_ok(&run(&engine, s.ws.path(), Command::Apply).await);
    let id = kms::key_ids(&s.kms).await.remove(0);
    // The role is deleted from IAM: KMS shows its unique id where the policy named it.
    let live = kms::policy(&s.kms, &id).await.to_string();
    let rewritten = live.replace("arn:aws:iam::123456789012:role/just-created", "AROAEXAMPLEDELETED1234");
    s.kms.put_key_policy().key_id(&id).policy_name("default").policy(rewritten).send().await.unwrap();

    let plan = run(&engine, s.ws.path(), Command::Plan).await;
    let planned = plan.results.iter().find(|r| r.object.name == "app").unwrap();
    let notice =
        planned.notices.iter().find(|n| n.reason == Reason::PrincipalNotFound).expect("PrincipalNotFound notice");
    for part in ["AllowKeyUse", "AROAEXAMPLEDELETED1234", "recreate the role or user", "remove it from the manifest"] {
        assert!(notice.message.contains(part), "{part}: {}", notice.message);
    }

    // KMS refuses the ARN of a role that no longer exists: reported at once, not waited on.
    s.proxy.inject("PutKeyPolicy", Fault::invalid_principal(), 1000);
    let mut settings = fast_settings();
    settings.policy_propagation_timeout = std::time::Duration::from_secs(600);
    let patient = engine_with(settings, kms_operator::aws::RateLimits::unlimited()).await;
    let output = run(&patient, s.ws.path(), Command::Apply).await;
    let result = output.results.iter().find(|r| r.object.name == "app").unwrap();
    assert!(matches!(&result.outcome, Outcome::Failed(EngineError::PrincipalNotFound { .. })), "{:?}", result.outcome);
    assert_eq!(result.synced.reason, Reason::PrincipalNotFound);
    assert_eq!(s.proxy.injected("PutKeyPolicy"), 1, "one attempt, no propagation wait");

    // The fix the message names: the principal leaves the manifest.
    s.proxy.clear_faults();
    s.ws.write(
        "app.yaml",
        &key("app", "description: resilient\ntags: {Team: data}\nrotation: {enabled: true}\npolicy: {}"),
    );
    assert_ok(&run(&engine, s.ws.path(), Command::Apply).await);
    assert!(!kms::policy(&s.kms, &id).await.to_string().contains("AROA"));
}
