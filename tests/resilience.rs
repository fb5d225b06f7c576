//! What real KMS and real networks do that a local server does not, injected by a proxy:
//! IAM propagation delays, keys not yet visible, throttling, server errors and dropped
//! connections. Every scenario must end converged, with no duplicate and no double write.

mod support;

use kms_operator::engine::{EngineError, Outcome};
use kms_operator::local::runner::Command;
use support::engine::{assert_ok, engine, engine_with, fast_settings, run};
use support::kms;
use support::manifests::{REGION, Workspace, account, key};
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
    assert_eq!(result.synced.reason, "PolicyRefused");
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
