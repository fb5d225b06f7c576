//! The controller's reconcile paths against an in-memory Kubernetes API and a real local KMS
//! server: create, update, resync, drift, deletion both ways, finalizers that cannot stick,
//! tenancy, crash recovery, throttling, references between kinds, and the full controllers
//! running with watches.

mod support;

use std::time::Duration;

use kms_operator::api::{AwsAccount, KmsAlias, KmsGrant, KmsKey};
use kms_operator::controller::{ControllerOptions, FINALIZER, run_controllers};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use serde_json::json;
use support::cluster::{Cluster, condition, key_object, object_in};
use support::kms;
use support::manifests::REGION;
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy, Gate};
use support::wait::wait_for;

async fn setup() -> (Moto, Cluster, aws_sdk_kms::Client) {
    let moto = Moto::start();
    let cluster = Cluster::new().await;
    cluster.namespace("apps", json!({})).await;
    cluster.account(&moto.endpoint(), json!({})).await;
    let kms = kms::client(&moto.endpoint(), REGION).await;
    (moto, cluster, kms)
}

async fn key_status(cluster: &Cluster, name: &str) -> kms_operator::api::KmsKeyStatus {
    cluster.get::<KmsKey>("apps", name).await.expect("key").status.expect("status written")
}

/// A new key's first pass adds the finalizer and goes on to do the work; the second, which the
/// finalizer's watch event starts in a cluster, finds it done.
async fn reconcile_twice(cluster: &Cluster, name: &str) {
    cluster.reconcile_key(name).await.expect("finalizer added and reconciled");
    let key: KmsKey = cluster.get("apps", name).await.unwrap();
    assert!(key.metadata.finalizers.unwrap_or_default().contains(&FINALIZER.to_owned()), "finalizer added");
    cluster.reconcile_key(name).await.expect("reconciled again");
}

#[tokio::test]
async fn create_then_resync_costs_no_writes_then_update_and_drift_are_reported() {
    let (_moto, cluster, client) = setup().await;
    cluster.create::<KmsKey>("apps", key_object("logs", json!({"description": "v1", "tags": {"Team": "data"}}))).await;
    reconcile_twice(&cluster, "logs").await;
    let status = key_status(&cluster, "logs").await;
    let key_id = status.key_id.clone().expect("keyId recorded");
    assert_eq!(status.key_state.as_deref(), Some("Enabled"));
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(condition(&status.conditions, "Ready").status, "True");
    assert_eq!(condition(&status.conditions, "Synced").status, "True");
    assert!(status.last_sync_time.is_some());
    assert!(cluster.event_reasons("logs").contains(&"CreateKey".to_owned()), "{:?}", cluster.event_reasons("logs"));

    // A resync of a converged key: no write to KMS, no write to status.
    let (writes, status_writes) = (cluster.writes(), cluster.fake.writes_to("/kmskeys/logs/status"));
    cluster.reconcile_key("logs").await.unwrap();
    assert_eq!(cluster.writes(), writes, "zero KMS writes per resync");
    assert_eq!(cluster.fake.writes_to("/kmskeys/logs/status"), status_writes, "zero status writes per resync");

    // A spec change.
    Api::<KmsKey>::namespaced(cluster.client(), "apps")
        .patch("logs", &PatchParams::default(), &Patch::Merge(json!({"spec": {"description": "v2"}})))
        .await
        .unwrap();
    cluster.reconcile_key("logs").await.unwrap();
    assert_eq!(kms::describe(&client, &key_id).await.description(), Some("v2"));
    assert_eq!(key_status(&cluster, "logs").await.observed_generation, Some(2));
    assert!(!cluster.event_reasons("logs").contains(&"DriftDetected".to_owned()), "a spec change is not drift");

    // Drift made by hand.
    client.update_key_description().key_id(&key_id).description("console edit").send().await.unwrap();
    cluster.reconcile_key("logs").await.unwrap();
    assert_eq!(kms::describe(&client, &key_id).await.description(), Some("v2"));
    assert!(cluster.event_reasons("logs").contains(&"DriftDetected".to_owned()));
    assert!(cluster.ctx.metrics.render().contains(r#"kms_operator_drift_detected_total{kind="KmsKey"} 1"#));
}

#[tokio::test]
async fn deleting_honours_the_policy_and_releases_the_finalizer() {
    let (_moto, cluster, client) = setup().await;
    cluster.create::<KmsKey>("apps", key_object("kept", json!({}))).await;
    cluster
        .create::<KmsKey>("apps", key_object("gone", json!({"deletion": {"policy": "Delete", "pendingWindowDays": 7}})))
        .await;
    for name in ["kept", "gone"] {
        reconcile_twice(&cluster, name).await;
    }
    let kept_id = key_status(&cluster, "kept").await.key_id.unwrap();
    let gone_id = key_status(&cluster, "gone").await.key_id.unwrap();
    let keys = Api::<KmsKey>::namespaced(cluster.client(), "apps");
    for name in ["kept", "gone"] {
        keys.delete(name, &DeleteParams::default()).await.unwrap();
        cluster.reconcile_key(name).await.unwrap();
        assert!(cluster.get::<KmsKey>("apps", name).await.is_none(), "{name}: finalizer released, object gone");
    }
    assert_eq!(kms::describe(&client, &kept_id).await.key_state().map(|s| s.as_str()), Some("Enabled"));
    assert!(!kms::tags(&client, &kept_id).await.contains_key("kmsoperator.dev/owner"));
    assert_eq!(kms::describe(&client, &gone_id).await.key_state().map(|s| s.as_str()), Some("PendingDeletion"));
    assert!(cluster.event_reasons("gone").contains(&"ScheduleKeyDeletion".to_owned()));
}

#[tokio::test]
async fn a_key_whose_account_or_key_is_gone_can_still_be_deleted() {
    let (_moto, cluster, client) = setup().await;
    cluster.create::<KmsKey>("apps", key_object("orphan", json!({}))).await;
    cluster.create::<KmsKey>("apps", key_object("vanished", json!({"deletion": {"policy": "Delete"}}))).await;
    reconcile_twice(&cluster, "orphan").await;
    reconcile_twice(&cluster, "vanished").await;
    // The key disappears behind the operator's back (deleted after its window).
    let vanished_id = key_status(&cluster, "vanished").await.key_id.unwrap();
    client.schedule_key_deletion().key_id(&vanished_id).pending_window_in_days(7).send().await.unwrap();
    let keys = Api::<KmsKey>::namespaced(cluster.client(), "apps");
    keys.delete("vanished", &DeleteParams::default()).await.unwrap();
    cluster.reconcile_key("vanished").await.unwrap();
    assert!(cluster.get::<KmsKey>("apps", "vanished").await.is_none());

    // The account object is deleted first.
    Api::<AwsAccount>::all(cluster.client()).delete("test", &DeleteParams::default()).await.unwrap();
    let calls = cluster.aws_calls();
    keys.delete("orphan", &DeleteParams::default()).await.unwrap();
    cluster.reconcile_key("orphan").await.unwrap();
    assert!(cluster.get::<KmsKey>("apps", "orphan").await.is_none(), "no stuck finalizer");
    assert_eq!(cluster.aws_calls(), calls, "nothing to call without an account");
    assert!(cluster.event_reasons("orphan").contains(&"AccountGone".to_owned()));
}

#[tokio::test]
async fn a_namespace_the_account_does_not_allow_gets_no_aws_call() {
    let moto = Moto::start();
    let cluster = Cluster::new().await;
    cluster.namespace("apps", json!({"team": "apps"})).await;
    cluster
        .account(
            &moto.endpoint(),
            json!({"allowedNamespaces": {"matchLabels": {"kmsoperator.dev/tenant": "platform"}}}),
        )
        .await;
    cluster.create::<KmsKey>("apps", key_object("denied", json!({}))).await;
    for _ in 0..2 {
        cluster.reconcile_key("denied").await.expect("refused, not failed");
    }
    let key: KmsKey = cluster.get("apps", "denied").await.unwrap();
    assert!(key.metadata.finalizers.unwrap_or_default().is_empty(), "a refused object never gets the finalizer");
    let status = key_status(&cluster, "denied").await;
    let ready = condition(&status.conditions, "Ready");
    assert_eq!(ready.status, "False");
    assert_eq!(ready.reason, "NamespaceNotAllowed");
    assert!(ready.message.contains("namespace apps may not use AwsAccount test"), "{}", ready.message);
    assert_eq!(cluster.aws_calls(), 0, "refused before any call to AWS");
    assert!(status.key_id.is_none());
}

#[tokio::test]
async fn a_crash_between_create_key_and_status_finds_the_key_again() {
    let (_moto, cluster, client) = setup().await;
    cluster.create::<KmsKey>("apps", key_object("fragile", json!({}))).await;
    // The status write after CreateKey fails, as if the process died right after CreateKey (the
    // write before it records the intent to create).
    cluster.fake.fail_after("PATCH", "/kmskeys/fragile/status", 1, 500, 1);
    assert!(cluster.reconcile_key("fragile").await.is_err());
    let left = key_status_opt(&cluster, "fragile").await.expect("the intent was recorded");
    assert!(left.key_id.is_none(), "the key id never reached status");
    assert!(left.creating.is_some(), "but the intent to create did");
    assert_eq!(kms::key_ids(&client).await.len(), 1);

    // A new process: a fresh engine with no memory of the first.
    let restarted = Cluster::on(cluster.fake.clone()).await;
    restarted.reconcile_key("fragile").await.unwrap();
    let status = key_status(&restarted, "fragile").await;
    assert_eq!(
        kms::key_ids(&client).await,
        vec![status.key_id.unwrap()],
        "found by its ownership tag, not created twice"
    );
    assert_eq!(restarted.ctx.engine.calls().stats.snapshot().count(kms_operator::aws::Op::CreateKey), 0);
}

async fn key_status_opt(cluster: &Cluster, name: &str) -> Option<kms_operator::api::KmsKeyStatus> {
    cluster.get::<KmsKey>("apps", name).await.and_then(|k| k.status)
}

/// The intent's write meets a newer version of the KmsKey (409 Conflict): the pass read an old
/// view, so it creates nothing and reports nothing, however often that happens (more often than
/// the quiet retries of a failure), and the next pass on the new version creates the key once.
#[tokio::test]
async fn a_stale_intent_write_creates_nothing_and_is_retried_quietly() {
    let (_moto, cluster, client) = setup().await;
    cluster.create::<KmsKey>("apps", key_object("raced", json!({}))).await;
    let passes = cluster.ctx.quiet_retries as usize + 2;
    for pass in 0..passes {
        cluster.fake.fail_next("PATCH", "/kmskeys/raced/status", 409, 1);
        let action = cluster.reconcile_key("raced").await.expect("a stale view is no failure");
        assert_eq!(action, Action::requeue(Duration::from_secs(1)), "pass {pass}: looked at again at once, no backoff");
    }
    assert_eq!(kms::key_ids(&client).await, Vec::<String>::new(), "no CreateKey without its intent on record");
    let conditions = key_status_opt(&cluster, "raced").await.map(|s| s.conditions).unwrap_or_default();
    assert_eq!(conditions, Vec::new(), "nothing reported in status");
    assert_eq!(cluster.event_reasons("raced"), Vec::<String>::new(), "no Event");
    let metrics = cluster.ctx.metrics.render();
    let stale = format!(r#"kms_operator_reconcile_errors_total{{kind="KmsKey",reason="StaleObject"}} {passes}"#);
    assert!(metrics.contains(&stale), "{metrics}");

    cluster.reconcile_key("raced").await.unwrap();
    let status = key_status(&cluster, "raced").await;
    assert_eq!(kms::key_ids(&client).await, vec![status.key_id.clone().expect("created")]);
    assert_eq!(condition(&status.conditions, "Ready").status, "True");
}

/// A fault of the operator itself on the intent's write (an answer it cannot read) is reported
/// at once as `InternalError`, apart from references that are not ready and from the API being
/// away; nothing is created meanwhile.
#[tokio::test]
async fn an_internal_error_on_the_intent_write_is_reported_as_such_at_once() {
    let (_moto, cluster, client) = setup().await;
    cluster.create::<KmsKey>("apps", key_object("garbled", json!({}))).await;
    // A 200 whose body is no KmsKey: the client cannot read the answer.
    cluster.fake.fail_next("PATCH", "/kmskeys/garbled/status", 200, 1);
    cluster.reconcile_key("garbled").await.expect("reported in status");
    assert_eq!(kms::key_ids(&client).await, Vec::<String>::new(), "nothing created");
    let synced = condition(&key_status(&cluster, "garbled").await.conditions, "Synced").clone();
    assert_eq!((synced.status.as_str(), synced.reason.as_str()), ("False", "InternalError"), "{synced:?}");
    assert!(synced.message.contains("could not record the intent to create a key"), "{}", synced.message);
    assert_eq!(cluster.event_reasons("garbled"), vec!["InternalError".to_owned()]);

    // The API answering 500 is the API's trouble, worth another try within the pass: the key is
    // created once, and nothing is reported.
    cluster.create::<KmsKey>("apps", key_object("busy", json!({}))).await;
    cluster.fake.fail_next("PATCH", "/kmskeys/busy/status", 500, 1);
    cluster.reconcile_key("busy").await.expect("retried");
    let status = key_status(&cluster, "busy").await;
    assert_eq!(condition(&status.conditions, "Synced").reason, "InSync");
    assert_eq!(kms::key_ids(&client).await, vec![status.key_id.expect("created once")]);
}

#[tokio::test]
async fn throttling_is_retried_and_never_marks_the_resource_failed() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let cluster = Cluster::new().await;
    cluster.namespace("apps", json!({})).await;
    cluster.account(&proxy.endpoint(), json!({})).await;
    cluster.create::<KmsKey>("apps", key_object("busy", json!({}))).await;
    // More throttles than one pass retries: the pass gives up quietly and the next succeeds.
    proxy.inject("CreateKey", Fault::throttle(), 14);
    cluster.reconcile_key("busy").await.unwrap();
    assert!(proxy.injected("CreateKey") > 0, "the pass met the throttling");
    if let Some(status) = key_status_opt(&cluster, "busy").await {
        assert!(
            status.conditions.iter().all(|c| c.reason != "Throttled"),
            "throttling surfaced: {:?}",
            status.conditions
        );
    }
    cluster.reconcile_key("busy").await.unwrap();
    let status = key_status(&cluster, "busy").await;
    assert_eq!(condition(&status.conditions, "Ready").status, "True");
    assert!(status.conditions.iter().all(|c| c.reason != "Throttled"));
    assert_eq!(proxy.forwarded("CreateKey"), 1, "exactly one key");
}

#[tokio::test]
async fn an_invalid_spec_is_reported_without_calling_aws() {
    let (_moto, cluster, _client) = setup().await;
    // The CRD admits it; the rules beyond the schema do not: nobody could administer the key.
    cluster.create::<KmsKey>("apps", key_object("bad", json!({"policy": {"accountRoot": false}}))).await;
    for _ in 0..2 {
        cluster.reconcile_key("bad").await.expect("refused, not failed");
    }
    assert!(!cluster.has_finalizer::<KmsKey>("apps", "bad").await, "an invalid spec is not admitted");
    let status = key_status(&cluster, "bad").await;
    let synced = condition(&status.conditions, "Synced");
    assert_eq!(synced.reason, "InvalidSpec");
    assert!(synced.message.contains("spec.policy.accountRoot"), "{}", synced.message);
    assert_eq!(cluster.aws_calls(), 0);
}

#[tokio::test]
async fn the_controllers_converge_keys_and_aliases_through_watches() {
    let (_moto, cluster, client) = setup().await;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let options = ControllerOptions::new(None, 4);
    let running = tokio::spawn({
        let ctx = cluster.ctx.clone();
        async move { run_controllers(ctx, &options, shutdown).await }
    });
    // The alias comes first: it waits for its key, and the key's change wakes it.
    cluster
        .create::<KmsAlias>("apps", json!({"apiVersion": "kmsoperator.dev/v1alpha1", "kind": "KmsAlias", "metadata": {"name": "app", "namespace": "apps"}, "spec": {"name": "alias/app", "keyRef": {"name": "app"}}}))
        .await;
    cluster.create::<KmsKey>("apps", key_object("app", json!({"description": "through the controllers"}))).await;
    let alias_ready = wait_for(|| async {
        let alias: KmsAlias = cluster.get("apps", "app").await?;
        let status = alias.status?;
        (condition(&status.conditions, "Ready").status == "True").then_some(status.target_key_id?)
    })
    .await;
    let key_id = key_status(&cluster, "app").await.key_id.unwrap();
    assert_eq!(alias_ready, key_id);
    assert_eq!(kms::describe(&client, &key_id).await.description(), Some("through the controllers"));
    let accounts = wait_for(|| async { Api::<AwsAccount>::all(cluster.client()).get("test").await.ok()?.status }).await;
    assert_eq!(condition(&accounts.conditions, "Ready").status, "True");

    // Deleting the alias through the API removes it from KMS and releases the finalizer.
    Api::<KmsAlias>::namespaced(cluster.client(), "apps").delete("app", &DeleteParams::default()).await.unwrap();
    wait_for(|| async { cluster.get::<KmsAlias>("apps", "app").await.is_none().then_some(()) }).await;
    let aliases = client.list_aliases().send().await.unwrap();
    assert!(aliases.aliases().iter().all(|a| a.alias_name() != Some("alias/app")));

    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(20), running).await.expect("graceful shutdown").unwrap();
}

#[tokio::test]
async fn an_alias_it_held_is_taken_back_from_its_namespace_s_keys_never_from_a_key_nobody_owns() {
    let moto = Moto::start();
    let cluster = Cluster::listing_every_pass().await;
    cluster.namespace("apps", json!({})).await;
    cluster.account(&moto.endpoint(), json!({})).await;
    let client = kms::client(&moto.endpoint(), REGION).await;
    for name in ["app", "other"] {
        cluster.create::<KmsKey>("apps", key_object(name, json!({}))).await;
        reconcile_twice(&cluster, name).await;
    }
    let key_id = key_status(&cluster, "app").await.key_id.unwrap();
    let other_id = key_status(&cluster, "other").await.key_id.unwrap();
    cluster
        .create::<KmsAlias>("apps", json!({"apiVersion": "kmsoperator.dev/v1alpha1", "kind": "KmsAlias", "metadata": {"name": "app", "namespace": "apps"}, "spec": {"name": "alias/app", "keyRef": {"name": "app"}}}))
        .await;
    cluster.reconcile_alias("app").await.expect("finalizer added and alias created");
    let live = || async {
        let aliases = client.list_aliases().send().await.unwrap();
        aliases
            .aliases()
            .iter()
            .find(|a| a.alias_name() == Some("alias/app"))
            .and_then(|a| a.target_key_id().map(str::to_owned))
    };

    // Someone repoints the alias in the console at another key of the namespace: repaired.
    client.update_alias().alias_name("alias/app").target_key_id(&other_id).send().await.unwrap();
    cluster.reconcile_alias("app").await.expect("repaired");
    assert_eq!(live().await.as_deref(), Some(key_id.as_str()), "held, and on a key of the namespace");
    assert!(cluster.event_reasons("app").contains(&"UpdateAlias".to_owned()), "{:?}", cluster.event_reasons("app"));

    // At a key nobody owns: status cannot prove the alias is this object's (a tenant may be able
    // to write it), so it is reported, not taken.
    let foreign = client.create_key().send().await.unwrap().key_metadata().unwrap().key_id().to_owned();
    client.update_alias().alias_name("alias/app").target_key_id(&foreign).send().await.unwrap();
    let writes = cluster.writes();
    cluster.reconcile_alias("app").await.expect("blocked, not failed");
    assert_eq!(cluster.writes(), writes);
    assert_eq!(live().await, Some(foreign));
    let alias: KmsAlias = cluster.get("apps", "app").await.unwrap();
    assert_eq!(condition(&alias.status.unwrap().conditions, "Synced").reason, "AliasConflict");
}

#[tokio::test]
async fn only_one_replica_leads_and_a_standby_takes_over_when_it_leaves() {
    use kms_operator::controller::leader::{Leadership, LeaseName, LeaseTiming};
    let cluster = Cluster::new().await;
    cluster.namespace("apps", json!({})).await;
    // Renewed every 2 s, expired after 4 s: a renewal may run 2 s late before b may lead.
    let timing = LeaseTiming { duration_seconds: 4, renew_grace_seconds: 2 };
    let (stop_a, shutdown_a) = tokio::sync::watch::channel(false);
    let name = |identity| LeaseName { name: "kms-operator-leader", namespace: "apps", identity };
    let leader_a =
        Leadership::acquire(cluster.client(), name("a"), timing, stop_a, shutdown_a).await.unwrap().expect("a leads");

    let (stop_b, shutdown_b) = tokio::sync::watch::channel(false);
    let client = cluster.client();
    let waiting_since = jiff::Timestamp::now();
    let standby = tokio::spawn(async move { Leadership::acquire(client, name("b"), timing, stop_b, shutdown_b).await });
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> = Api::namespaced(cluster.client(), "apps");
    let holder = || async { leases.get("kms-operator-leader").await.ok()?.spec?.holder_identity };
    // Watched for more than a whole lease: until a renewed the Lease later than one lease
    // duration after b began to wait. Any lease b saw when it began would have expired by then
    // had a not renewed it, so a standby that ignored renewals would have taken it.
    let watched_until = waiting_since + jiff::SignedDuration::from_secs(timing.duration_seconds as i64);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        assert_eq!(holder().await.as_deref(), Some("a"), "the standby never takes a held lease");
        assert!(!standby.is_finished(), "the standby does not lead while a holds the lease");
        let lease = leases.get("kms-operator-leader").await.expect("the Lease");
        let renewed = lease.spec.and_then(|s| s.renew_time).map(|t| t.0);
        if renewed.is_some_and(|renewed| renewed > watched_until) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "a did not renew its lease within 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    leader_a.release().await;
    let leader_b = tokio::time::timeout(Duration::from_secs(30), standby)
        .await
        .expect("b takes over")
        .unwrap()
        .unwrap()
        .expect("b leads");
    assert_eq!(holder().await.as_deref(), Some("b"));
    leader_b.release().await;
}

/// A deletion whose identity check meets a passing STS failure (5xx, timeout, throttling) keeps
/// its finalizer and is retried; it never reads that as bad credentials and lets the key go.
#[tokio::test]
async fn a_transient_sts_failure_during_deletion_keeps_the_finalizer_until_the_key_is_scheduled() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let cluster = Cluster::new().await;
    cluster.namespace("apps", json!({})).await;
    cluster.account(&proxy.endpoint(), json!({})).await;
    cluster.create::<KmsKey>("apps", key_object("gone", json!({"deletion": {"policy": "Delete"}}))).await;
    reconcile_twice(&cluster, "gone").await;
    let key_id = key_status(&cluster, "gone").await.key_id.unwrap();
    cluster.delete::<KmsKey>("apps", "gone").await;

    // A new process, whose identity is not cached yet, meets STS failing for a while.
    let restarted = Cluster::on(cluster.fake.clone()).await;
    proxy.inject("GetCallerIdentity", Fault::unavailable(), 100);
    assert!(restarted.reconcile_key("gone").await.is_err(), "the deletion fails for now");
    assert!(restarted.has_finalizer::<KmsKey>("apps", "gone").await, "and keeps its finalizer");
    let client = kms::client(&moto.endpoint(), REGION).await;
    assert_eq!(kms::describe(&client, &key_id).await.key_state().map(|s| s.as_str()), Some("Enabled"));

    proxy.clear_faults();
    restarted.reconcile_key("gone").await.expect("deleted once STS answers");
    assert!(restarted.get::<KmsKey>("apps", "gone").await.is_none(), "finalizer released");
    assert_eq!(kms::describe(&client, &key_id).await.key_state().map(|s| s.as_str()), Some("PendingDeletion"));
}

#[tokio::test]
async fn rotate_now_rotates_once_across_a_restart_and_records_the_history() {
    let (_moto, cluster, client) = setup().await;
    let spec = json!({"rotation": {"enabled": true, "rotateNow": "CHG-42"}});
    cluster.create::<KmsKey>("apps", key_object("rotating", spec)).await;
    reconcile_twice(&cluster, "rotating").await;
    let status = key_status(&cluster, "rotating").await;
    let key_id = status.key_id.clone().expect("keyId");
    let rotation = status.rotation.expect("status.rotation");
    assert_eq!(rotation.rotate_now_applied.as_deref(), Some("CHG-42"));
    assert_eq!(rotation.on_demand_rotations, Some(1));
    assert_eq!(rotation.recent.len(), 1);
    assert_eq!(rotation.recent[0].kind, "ON_DEMAND");
    assert!(cluster.event_reasons("rotating").contains(&"RotateKeyOnDemand".to_owned()));
    let rotations = || async {
        let out = client.list_key_rotations().key_id(&key_id).send().await.expect("ListKeyRotations");
        out.rotations().len()
    };
    assert_eq!(rotations().await, 1);

    // A new process resyncs: the key says it is done; status keeps the history without reading it.
    let restarted = Cluster::on(cluster.fake.clone()).await;
    let status_writes = cluster.fake.writes_to("/kmskeys/rotating/status");
    restarted.reconcile_key("rotating").await.unwrap();
    restarted.reconcile_key("rotating").await.unwrap();
    let calls = restarted.ctx.engine.calls().stats.snapshot();
    assert_eq!(calls.count(kms_operator::aws::Op::RotateKeyOnDemand), 0);
    assert_eq!(calls.count(kms_operator::aws::Op::ListKeyRotations), 0);
    assert_eq!(calls.writes, 0);
    assert_eq!(cluster.fake.writes_to("/kmskeys/rotating/status"), status_writes, "nothing new to record");
    assert_eq!(rotations().await, 1);
    let rotation = key_status(&restarted, "rotating").await.rotation.expect("status.rotation");
    assert_eq!(rotation.on_demand_rotations, Some(1), "carried from the last pass that read it");
}

/// The account guard in the controller: credentials of another account make the AwsAccount
/// Ready=False (WrongAccount) and its keys write nothing. With `verifyAccount: false` (a local
/// emulator) the account's status says nothing was checked, and so does each key's Synced.
#[tokio::test]
async fn the_account_guard_holds_in_the_controller_and_an_unverified_account_says_so() {
    let moto = Moto::start();
    let cluster = Cluster::new().await;
    cluster.namespace("apps", json!({})).await;
    cluster.account(&moto.endpoint(), json!({"accountId": "210987654321"})).await;
    let accounts: Api<AwsAccount> = Api::all(cluster.client());
    let reconcile_account = || async {
        let account = accounts.get("test").await.expect("account");
        let _ = kms_operator::controller::account::reconcile(std::sync::Arc::new(account), cluster.ctx.clone()).await;
        accounts.get("test").await.expect("account").status.expect("status written")
    };
    let refused = reconcile_account().await;
    let ready = condition(&refused.conditions, "Ready");
    assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("False", "WrongAccount"), "{ready:?}");
    cluster.create::<KmsKey>("apps", key_object("app", json!({}))).await;
    let _ = cluster.reconcile_key("app").await;
    let _ = cluster.reconcile_key("app").await;
    assert_eq!(cluster.writes(), 0, "no KMS write for credentials of another account");
    let synced = key_status(&cluster, "app").await;
    assert_eq!(condition(&synced.conditions, "Synced").reason, "WrongAccount");

    let unverified = json!({"spec": {"verifyAccount": false}});
    accounts.patch("test", &PatchParams::default(), &Patch::Merge(&unverified)).await.expect("patch");
    let status = reconcile_account().await;
    assert_eq!(status.account_verified, Some(false));
    let ready = condition(&status.conditions, "Ready");
    assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("True", "AccountNotVerified"), "{ready:?}");
    reconcile_twice(&cluster, "app").await;
    let key = key_status(&cluster, "app").await;
    assert!(key.key_id.is_some(), "created once nothing is checked");
    let synced = condition(&key.conditions, "Synced");
    assert!(synced.message.contains("verifyAccount is false"), "{synced:?}");
}

/// The controllers survive a compaction of the API server's history: their watches are cut,
/// resume from a version that is gone, are answered 410 Gone, list again, and act on what
/// changed meanwhile.
#[tokio::test]
async fn the_controllers_list_again_after_a_compaction_and_act_on_what_changed() {
    let (_moto, cluster, _client) = setup().await;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let options = ControllerOptions::new(None, 4);
    let running = tokio::spawn({
        let ctx = cluster.ctx.clone();
        async move { run_controllers(ctx, &options, shutdown).await }
    });
    cluster.create::<KmsKey>("apps", key_object("before", json!({}))).await;
    ready::<KmsKey>(&cluster, "before").await;

    cluster.fake.compact();
    cluster.create::<KmsKey>("apps", key_object("after", json!({}))).await;
    ready::<KmsKey>(&cluster, "after").await;
    assert!(cluster.fake.expired_watches() > 0, "the watches resumed from a compacted version and were told so");

    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(20), running).await.expect("graceful shutdown").unwrap();
}

/// Every status field the controller writes is one the CRDs declare, so a real API server keeps
/// it: crash safety's `status.creating` (the intent recorded before CreateKey leaves) among them,
/// and the rotation, replica, alias and grant records.
#[tokio::test]
async fn the_status_the_controller_writes_survives_pruning_by_the_crd_schema() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    proxy.report_rotation_periods();
    let gate = Gate::new();
    proxy.inject("CreateKey", Fault::Hold(gate.clone()), 1);
    let cluster = Cluster::new().await;
    cluster.namespace("apps", json!({})).await;
    cluster.account(&proxy.endpoint(), json!({})).await;
    let spec = json!({
        "description": "everything",
        "tags": {"Team": "data"},
        "rotation": {"enabled": true, "periodDays": 180, "rotateNow": "first"},
        "multiRegion": true,
        "replicas": [{"region": "us-west-2"}],
    });
    cluster.create::<KmsKey>("apps", key_object("full", spec)).await;
    cluster
        .create::<KmsAlias>(
            "apps",
            object_in("KmsAlias", "apps", "full", json!({"name": "alias/full", "keyRef": {"name": "full"}})),
        )
        .await;
    let grant = json!({"keyRef": {"name": "full"}, "name": "reader", "granteePrincipal": "arn:aws:iam::123456789012:role/reader", "operations": ["Decrypt"]});
    cluster.create::<KmsGrant>("apps", object_in("KmsGrant", "apps", "full", grant)).await;
    // The first pass admits the key, adds the finalizer and goes on to create it.
    let pass = tokio::spawn({
        let ctx = cluster.ctx.clone();
        let key: KmsKey = cluster.get("apps", "full").await.unwrap();
        async move { kms_operator::controller::key::reconcile(std::sync::Arc::new(key), ctx).await }
    });
    wait_for(|| async { (proxy.injected("CreateKey") == 1).then_some(()) }).await;
    let intent = key_status(&cluster, "full").await.creating;
    assert!(intent.is_some(), "the intent to create, read back from the API");
    gate.open();
    pass.await.unwrap().expect("created");
    for _ in 0..3 {
        cluster.reconcile_key("full").await.expect("reconciled");
    }
    for _ in 0..2 {
        cluster.reconcile_alias("full").await.expect("alias");
        cluster.reconcile_on_key::<KmsGrant>("apps", "full").await.expect("grant");
    }
    let accounts: Api<AwsAccount> = Api::all(cluster.client());
    let account = accounts.get("test").await.unwrap();
    kms_operator::controller::account::reconcile(std::sync::Arc::new(account), cluster.ctx.clone()).await.unwrap();

    assert_eq!(cluster.fake.pruned("controller"), Vec::<String>::new(), "nothing the controller wrote was pruned");
    let key = key_status(&cluster, "full").await;
    assert_eq!(condition(&key.conditions, "Ready").status, "True", "{key:?}");
    let rotation = key.rotation.expect("status.rotation");
    assert_eq!((rotation.period_days, rotation.rotate_now_applied.as_deref()), (Some(180), Some("first")));
    assert_eq!(key.replicas.len(), 1, "status.replicas");
    let alias = cluster.get::<KmsAlias>("apps", "full").await.unwrap().status.expect("alias status");
    assert_eq!(alias.target_key_id, key.key_id);
    let grant = cluster.get::<KmsGrant>("apps", "full").await.unwrap().status.expect("grant status");
    assert!(grant.grant_id.is_some());
    assert_eq!(accounts.get("test").await.unwrap().status.and_then(|s| s.account_verified), Some(true));
}

/// The controller's requests from index `since` on, as `VERB path`, without its lists and
/// watches (which feed the stores passes read from).
fn requests_beyond_watches(cluster: &Cluster, since: usize) -> Vec<String> {
    let requests = cluster.fake.requests();
    requests[since..]
        .iter()
        .filter(|r| r.client == "controller")
        .filter(|r| !(r.method == "GET" && support::fake_kube::Path::parse(&r.path).is_some_and(|p| p.name.is_none())))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// The controllers run until the returned sender says stop.
fn start(cluster: &Cluster) -> (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let ctx = cluster.ctx.clone();
    let running = tokio::spawn(async move { run_controllers(ctx, &ControllerOptions::new(None, 4), shutdown).await });
    (stop, running)
}

#[tokio::test]
async fn passes_read_accounts_namespaces_and_keys_from_the_watches_and_an_in_sync_pass_makes_no_request() {
    let (_moto, cluster, _client) = setup().await;
    let (stop, running) = start(&cluster);
    let alias = object_in("KmsAlias", "apps", "app", json!({"name": "alias/app", "keyRef": {"name": "app"}}));
    cluster.create::<KmsAlias>("apps", alias).await;
    cluster.create::<KmsKey>("apps", key_object("app", json!({}))).await;
    wait_for(|| async {
        let alias: KmsAlias = cluster.get("apps", "app").await?;
        (condition(&alias.status?.conditions, "Ready").status == "True").then_some(())
    })
    .await;
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(20), running).await.expect("graceful shutdown").unwrap();
    let gets: Vec<String> =
        requests_beyond_watches(&cluster, 0).into_iter().filter(|r| r.starts_with("GET ")).collect();
    assert_eq!(gets, Vec::<String>::new(), "the account, the namespace and the key come from the watches");

    // A new process: every object is reconciled once, as on a resync, and finds all in sync.
    let restarted = Cluster::on(cluster.fake.clone()).await;
    let since = cluster.fake.requests().len();
    let (stop, running) = start(&restarted);
    wait_for(|| async {
        let metrics = restarted.ctx.metrics.render();
        ["KmsKey", "KmsAlias", "AwsAccount"]
            .iter()
            .all(|kind| {
                metrics.contains(&format!("kms_operator_reconciles_total{{kind=\"{kind}\",result=\"in_sync\"}} 1"))
            })
            .then_some(())
    })
    .await;
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(20), running).await.expect("graceful shutdown").unwrap();
    assert_eq!(requests_beyond_watches(&restarted, since), Vec::<String>::new(), "no get, no write, no Event");
}

/// Every pass that starts before a store has listed waits for it, and all of them go on once it
/// has (kube's `Store::wait_until_ready` wakes one waiter only: the others would wait forever,
/// each holding a worker).
#[tokio::test]
async fn passes_that_start_before_the_namespaces_are_listed_all_go_on_once_they_are() {
    let (_moto, cluster, _client) = setup().await;
    let names: Vec<String> = (0..4).map(|i| format!("k{i}")).collect();
    for name in &names {
        cluster.create::<KmsKey>("apps", key_object(name, json!({}))).await;
    }
    // The first lists of Namespaces fail: the keys' passes start and wait for their labels.
    cluster.fake.fail_next("GET", "/api/v1/namespaces", 500, 3);
    let (stop, running) = start(&cluster);
    for name in &names {
        ready::<KmsKey>(&cluster, name).await;
    }
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(20), running).await.expect("graceful shutdown").unwrap();
}

/// How many passes of `kind` ended with `result`, from the controller's metrics.
fn passes(cluster: &Cluster, kind: &str, result: &str) -> u64 {
    let series = format!("kms_operator_reconciles_total{{kind=\"{kind}\",result=\"{result}\"}} ");
    let metrics = cluster.ctx.metrics.render();
    metrics.lines().find_map(|line| line.strip_prefix(&series)).map_or(0, |n| n.trim().parse().expect("a count"))
}

/// Waits until the `K` apps/`name` says `Ready=True`.
async fn ready<K: support::cluster::Namespaced>(cluster: &Cluster, name: &str) {
    wait_for(|| async {
        let object = serde_json::to_value(cluster.get::<K>("apps", name).await?).ok()?;
        let conditions = object["status"]["conditions"].as_array()?;
        conditions.iter().any(|c| c["type"] == "Ready" && c["status"] == "True").then_some(())
    })
    .await
}

/// A new object's first pass adds the finalizer and converges; the watch event of that patch
/// brings nothing the pass did not see, so it starts no second pass (kube-runtime's predicate
/// filter let it through: every new key was read again, DescribeKey, GetKeyPolicy and
/// GetKeyRotationStatus, and every new alias listed again).
#[tokio::test]
async fn the_finalizer_patch_of_a_new_object_starts_no_second_pass() {
    let (_moto, cluster, _client) = setup().await;
    let (stop, running) = start(&cluster);
    let counts =
        || ["KmsKey", "KmsAlias"].map(|kind| (passes(&cluster, kind, "changed"), passes(&cluster, kind, "in_sync")));
    // The first pair is made while the account's own first pass (which wakes its keys) may
    // still be under way; the second is counted. A key's alias is made once the key is
    // converged, and the controllers stop once the alias is: a pass that the key's watch event
    // started would have run right after the key's first pass ended.
    let mut before = counts();
    for (key, alias) in [("first", "first-alias"), ("second", "second-alias")] {
        before = counts();
        cluster.create::<KmsKey>("apps", key_object(key, json!({}))).await;
        ready::<KmsKey>(&cluster, key).await;
        let spec = json!({"name": format!("alias/{alias}"), "keyRef": {"name": key}});
        cluster.create::<KmsAlias>("apps", object_in("KmsAlias", "apps", alias, spec)).await;
        ready::<KmsAlias>(&cluster, alias).await;
    }
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(20), running).await.expect("graceful shutdown").unwrap();
    let after = counts();
    for (kind, (before, after)) in ["KmsKey", "KmsAlias"].iter().zip(before.iter().zip(after)) {
        assert_eq!(after.0 - before.0, 1, "{kind}: one pass made it");
        assert_eq!(after.1 - before.1, 0, "{kind}: no pass read it again");
    }
}

/// An account's pass writes its status every time it checks the account; a key reads its
/// account's spec and labels, not that status, so such a write starts no pass of its keys (it
/// did: every key of the account was read again, DescribeKey, GetKeyPolicy and
/// GetKeyRotationStatus). A change to the account's labels (which shards select on) does.
#[tokio::test]
async fn an_account_s_status_write_starts_no_pass_of_its_keys_and_a_relabel_does() {
    let (_moto, cluster, _client) = setup().await;
    let (stop, running) = start(&cluster);
    cluster.create::<KmsKey>("apps", key_object("first", json!({}))).await;
    ready::<KmsKey>(&cluster, "first").await;
    let accounts: Api<AwsAccount> = Api::all(cluster.client());
    // The account's own first pass has written its status by the time it is verified.
    wait_for(|| async { accounts.get("test").await.ok()?.status?.account_verified.map(|_| ()) }).await;
    let before = passes(&cluster, "KmsKey", "in_sync");

    let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Verified",
        "message": "written by hand", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    accounts.patch_status("test", &PatchParams::default(), &Patch::Merge(&status)).await.expect("status written");
    // A second key converges after that write's event: a pass it started would have run first.
    cluster.create::<KmsKey>("apps", key_object("second", json!({}))).await;
    ready::<KmsKey>(&cluster, "second").await;
    assert_eq!(passes(&cluster, "KmsKey", "in_sync") - before, 0, "no key was read again for the account's status");

    let relabel = json!({"metadata": {"labels": {"shard": "blue"}}});
    accounts.patch("test", &PatchParams::default(), &Patch::Merge(&relabel)).await.expect("relabelled");
    wait_for(|| async { (passes(&cluster, "KmsKey", "in_sync") - before == 2).then_some(()) }).await;
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(20), running).await.expect("graceful shutdown").unwrap();
}
