//! Independent resources are reconciled concurrently: one slow or failing resource never holds
//! up the others.

mod support;

use std::time::Duration;

use kms_operator::local::runner::Command;
use support::engine::{engine, run};
use support::kms;
use support::manifests::{REGION, Workspace, account, key};
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy, Gate};

async fn three_keys() -> (Moto, FaultProxy, Workspace, aws_sdk_kms::Client) {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&proxy.endpoint()));
    for name in ["one", "two", "three"] {
        ws.write(&format!("{name}.yaml"), &key(name, "description: concurrent"));
    }
    let client = kms::client(&moto.endpoint(), REGION).await;
    (moto, proxy, ws, client)
}

#[tokio::test]
async fn a_slow_key_does_not_hold_up_the_others() {
    let (_moto, proxy, ws, client) = three_keys().await;
    let gate = Gate::new();
    proxy.inject("CreateKey", Fault::Hold(gate.clone()), 1);
    let engine = engine().await;
    let apply = run(&engine, ws.path(), Command::Apply);
    // The other two keys are created while the first one's CreateKey is stuck at the proxy.
    let watch = async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while kms::key_ids(&client).await.len() < 2 {
            assert!(tokio::time::Instant::now() < deadline, "the other keys were held up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let forwarded = proxy.forwarded("CreateKey");
        gate.open();
        forwarded
    };
    let (output, forwarded_while_held) = futures::join!(apply, watch);
    assert_eq!(forwarded_while_held, 2, "two keys created while the third was held");
    assert!(!output.any_failed());
    assert_eq!(kms::key_ids(&client).await.len(), 3);
}

#[tokio::test]
async fn a_failing_key_does_not_stop_the_others() {
    let (_moto, proxy, ws, client) = three_keys().await;
    proxy.inject("CreateKey", Fault::access_denied(), 1);
    let output = run(&engine().await, ws.path(), Command::Apply).await;
    assert_eq!(output.exit_code(), 1);
    let failed: Vec<_> = output.results.iter().filter(|r| r.failed()).collect();
    assert_eq!(failed.len(), 1, "exactly one resource failed");
    assert_eq!(failed[0].synced.reason, "AccessDenied");
    assert_eq!(kms::key_ids(&client).await.len(), 2, "the other two converged");
}

/// The race that once hung a whole CI run: the test opens the gate before the held request has
/// reached it (the proxy counts a request as injected before it waits). An opened gate stays
/// open, so the request passes instead of waiting forever.
#[tokio::test]
async fn a_gate_opened_before_the_held_request_reaches_it_lets_the_request_through() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let gate = Gate::new();
    proxy.inject("CreateKey", Fault::Hold(gate.clone()), 1);
    gate.open();
    let client = kms::client(&proxy.endpoint(), REGION).await;
    let created = tokio::time::timeout(Duration::from_secs(30), client.create_key().send())
        .await
        .expect("the held request was let through")
        .expect("CreateKey");
    assert_eq!(proxy.injected("CreateKey"), 1, "the request did meet the gate");
    assert!(created.key_metadata().is_some());
}
