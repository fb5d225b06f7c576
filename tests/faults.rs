//! Faults in the middle of `apply`, injected between the operator and a real local KMS server:
//! throttling on every write class, server errors, connections dropped before and after a
//! request reached KMS, and timeouts. Every scenario ends with everything converged, no
//! duplicate key, alias or grant, and nothing written twice that should not be.

mod support;

use std::time::Duration;

use kms_operator::aws::{RateLimits, Timeouts};
use kms_operator::local::runner::{Command, RunOutput};
use support::engine::{assert_ok, engine_with_timeouts, fast_settings, run};
use support::kms;
use support::manifests::{REGION, Workspace, account, alias, grant, key};
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy};

const REPLICA_REGION: &str = "us-west-2";

struct Fleet {
    _moto: Moto,
    proxy: FaultProxy,
    ws: Workspace,
    primary: aws_sdk_kms::Client,
    replica: aws_sdk_kms::Client,
}

/// Two keys (one multi-Region with a replica), an alias and a grant on each.
async fn fleet() -> Fleet {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&proxy.endpoint()));
    ws.write(
        "plain.yaml",
        &key(
            "plain",
            "description: plain\ntags: {Team: data}\npolicy:\n  users: [\"arn:aws:iam::123456789012:role/app\"]",
        ),
    );
    ws.write(
        "global.yaml",
        &key("global", &format!("description: global\nmultiRegion: true\nreplicas:\n  - region: {REPLICA_REGION}\ndeletion: {{policy: Delete, pendingWindowDays: 7}}")),
    );
    for name in ["plain", "global"] {
        ws.write(&format!("alias-{name}.yaml"), &alias(name, &format!("name: alias/{name}\nkeyRef: {{name: {name}}}")));
        ws.write(
            &format!("grant-{name}.yaml"),
            &grant(name, &format!("keyRef: {{name: {name}}}\nname: reader\ngranteePrincipal: arn:aws:iam::123456789012:role/reader\noperations: [Decrypt]")),
        );
    }
    Fleet {
        primary: kms::client(&moto.endpoint(), REGION).await,
        replica: kms::client(&moto.endpoint(), REPLICA_REGION).await,
        _moto: moto,
        proxy,
        ws,
    }
}

async fn apply(fleet: &Fleet) -> RunOutput {
    // Short attempt timeouts so that injected delays become timeouts.
    let timeouts = Timeouts { connect: Duration::from_secs(2), attempt: Duration::from_secs(2) };
    let engine = engine_with_timeouts(fast_settings(), RateLimits::unlimited(), timeouts).await;
    run(&engine, fleet.ws.path(), Command::Apply).await
}

/// Converged, exactly two keys (one replica), one alias each, one grant per key, and a second
/// apply that writes nothing.
async fn assert_converged_once(fleet: &Fleet) {
    let keys = kms::key_ids(&fleet.primary).await;
    assert_eq!(keys.len(), 2, "no duplicate key: {keys:?}");
    let replicas = kms::key_ids(&fleet.replica).await;
    assert_eq!(replicas.len(), 1, "one replica: {replicas:?}");
    let aliases = fleet.primary.list_aliases().send().await.unwrap();
    let ours: Vec<_> = aliases
        .aliases()
        .iter()
        .filter(|a| a.alias_name().is_some_and(|n| n == "alias/plain" || n == "alias/global"))
        .collect();
    assert_eq!(ours.len(), 2);
    for key_id in &keys {
        let grants = fleet.primary.list_grants().key_id(key_id).send().await.unwrap();
        assert_eq!(grants.grants().len(), 1, "one grant on {key_id}");
    }
    let again = apply(fleet).await;
    assert_ok(&again);
    assert_eq!(again.calls.writes, 0, "a second apply writes nothing: {:?}", again.calls);
}

/// An apply that meets every injected fault, creates each object once and converges.
async fn apply_through_every_fault(fleet: &Fleet) {
    let output = apply(fleet).await;
    assert_ok(&output);
    assert_eq!(fleet.proxy.pending_faults(), 0, "every injected fault was met");
    assert_created_once(fleet);
    assert_converged_once(fleet).await;
}

/// Writes that create must reach KMS exactly once each.
fn assert_created_once(fleet: &Fleet) {
    for (operation, times) in [("CreateKey", 2), ("ReplicateKey", 1), ("CreateAlias", 2), ("CreateGrant", 2)] {
        assert_eq!(
            fleet.proxy.forwarded(operation),
            times,
            "{operation} reached KMS {} times",
            fleet.proxy.forwarded(operation)
        );
    }
}

/// Throttles each of `operations` three times, applies, and checks that every one of those
/// throttles was met (a write class the apply never makes proves nothing) and ridden out.
async fn apply_throttled(fleet: &Fleet, operations: &[&str]) {
    let before: Vec<usize> = operations.iter().map(|operation| fleet.proxy.injected(operation)).collect();
    for operation in operations {
        fleet.proxy.inject(operation, Fault::throttle(), 3);
    }
    let output = apply(fleet).await;
    assert_ok(&output);
    for (operation, before) in operations.iter().zip(before) {
        assert_eq!(fleet.proxy.injected(operation) - before, 3, "{operation} met its three throttles");
    }
    assert_eq!(fleet.proxy.pending_faults(), 0);
    let throttles = 3 * operations.len() as u64;
    assert!(output.calls.throttles >= throttles, "throttles were met and retried: {:?}", output.calls);
}

#[tokio::test]
async fn throttling_on_every_write_class_is_ridden_out() {
    let fleet = fleet().await;
    // Creating the fleet: keys, the replica (tagged afterwards: moto drops ReplicateKey's tags),
    // rotation, aliases, grants.
    let creating = ["CreateKey", "EnableKeyRotation", "ReplicateKey", "CreateAlias", "CreateGrant", "TagResource"];
    apply_throttled(&fleet, &creating).await;
    assert_created_once(&fleet);
    // Changing a key: its description, its policy and its tags.
    fleet.ws.write(
        "plain.yaml",
        &key(
            "plain",
            "description: plain, changed\ntags: {Team: data, Tier: gold}\npolicy:\n  users: [\"arn:aws:iam::123456789012:role/app\", \"arn:aws:iam::123456789012:role/other\"]",
        ),
    );
    apply_throttled(&fleet, &["UpdateKeyDescription", "PutKeyPolicy", "TagResource"]).await;
    assert_created_once(&fleet);
    assert_converged_once(&fleet).await;
}

#[tokio::test]
async fn server_errors_are_retried_without_double_creation() {
    let fleet = fleet().await;
    fleet.proxy.inject("CreateKey", Fault::server_error(), 1);
    fleet.proxy.inject("CreateAlias", Fault::unavailable(), 1);
    fleet.proxy.inject("CreateGrant", Fault::server_error(), 1);
    fleet.proxy.inject("ReplicateKey", Fault::unavailable(), 1);
    fleet.proxy.inject("DescribeKey", Fault::server_error(), 2);
    fleet.proxy.inject("ListAliases", Fault::unavailable(), 1);
    apply_through_every_fault(&fleet).await;
}

#[tokio::test]
async fn connections_dropped_after_the_write_reached_kms_create_nothing_twice() {
    let fleet = fleet().await;
    // KMS did the work; the answer never arrived.
    for operation in ["CreateKey", "ReplicateKey", "CreateAlias", "CreateGrant", "EnableKeyRotation", "TagResource"] {
        fleet.proxy.inject(operation, Fault::DropAfterForward, 1);
    }
    apply_through_every_fault(&fleet).await;
}

#[tokio::test]
async fn connections_dropped_before_the_request_arrived_are_retried() {
    let fleet = fleet().await;
    // STS's identity check, then the KMS calls that follow it (the listing first): fewer drops
    // than a call's 5 attempts, so each call gets through in the end.
    fleet.proxy.inject("GetCallerIdentity", Fault::DropBeforeForward, 1);
    fleet.proxy.inject("*", Fault::DropBeforeForward, 4);
    apply_through_every_fault(&fleet).await;
}

#[tokio::test]
async fn timeouts_mid_apply_end_converged() {
    let fleet = fleet().await;
    // Longer than the 2 s attempt timeout: the client gives up, KMS still does the work.
    fleet.proxy.inject("CreateKey", Fault::Delay(Duration::from_secs(3)), 1);
    fleet.proxy.inject("DescribeKey", Fault::Delay(Duration::from_secs(3)), 1);
    fleet.proxy.inject("CreateGrant", Fault::Delay(Duration::from_secs(3)), 1);
    apply_through_every_fault(&fleet).await;
}

#[tokio::test]
async fn deletion_survives_faults_too() {
    let fleet = fleet().await;
    assert_ok(&apply(&fleet).await);
    for operation in ["ScheduleKeyDeletion", "DeleteAlias", "RetireGrant", "UntagResource"] {
        fleet.proxy.inject(operation, Fault::DropAfterForward, 1);
        fleet.proxy.inject(operation, Fault::throttle(), 1);
    }
    let timeouts = Timeouts { connect: Duration::from_secs(2), attempt: Duration::from_secs(2) };
    let engine = engine_with_timeouts(fast_settings(), RateLimits::unlimited(), timeouts).await;
    let output = run(&engine, fleet.ws.path(), Command::Delete).await;
    assert_ok(&output);
    assert_eq!(fleet.proxy.pending_faults(), 0, "every injected fault was met");
    let aliases = fleet.primary.list_aliases().send().await.unwrap();
    assert!(aliases.aliases().iter().all(|a| a.alias_name() != Some("alias/plain")));
    let states: Vec<String> = {
        let mut states = Vec::new();
        for id in kms::key_ids(&fleet.primary).await {
            states.push(
                kms::describe(&fleet.primary, &id).await.key_state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            );
        }
        states.sort();
        states
    };
    assert_eq!(states, vec!["Enabled", "PendingDeletion"], "Retain keeps one, Delete schedules the other");
}
