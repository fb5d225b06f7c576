//! Two controllers, one Lease: a leader that loses the Lease, or cannot renew it, stops issuing
//! KMS writes before another replica may lead, and says why; the replica that takes over
//! finishes the job without a second key.

mod support;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kms_operator::api::KmsKey;
use kms_operator::controller::leader::{Leadership, LeaseName, LeaseTiming};
use kms_operator::controller::{ControllerOptions, run_controllers};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::cluster::{Cluster, condition, key_object};
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy, Gate};
use tokio::sync::watch;

const LEASE: &str = "kms-operator-leader";

/// Renewed every 4 s, expired for the others after 6 s.
const TIMING: LeaseTiming = LeaseTiming { duration_seconds: 6, renew_grace_seconds: 2 };

fn lease_name(identity: &str) -> LeaseName<'_> {
    LeaseName { name: LEASE, namespace: "apps", identity }
}

/// A replica: its Leadership and its controllers, stopped by the same shutdown flag.
struct Replica {
    leadership: Leadership,
    controllers: tokio::task::JoinHandle<()>,
}

async fn lead(cluster: &Cluster, identity: &str) -> Replica {
    let (shutdown_tx, shutdown) = watch::channel(false);
    let leadership =
        Leadership::acquire(cluster.ctx.client.clone(), lease_name(identity), TIMING, shutdown_tx, shutdown.clone())
            .await
            .expect("lease manager")
            .expect("leads");
    let ctx = cluster.ctx.clone();
    let controllers = tokio::spawn(async move {
        let options = ControllerOptions::new(Some("apps".into()), 4);
        run_controllers(ctx, &options, shutdown).await;
    });
    Replica { leadership, controllers }
}

async fn wait_until(what: &str, mut probe: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !probe().await {
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn setup() -> (Moto, FaultProxy, Cluster) {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let cluster = Cluster::new().await;
    cluster.namespace("apps", json!({})).await;
    cluster.account(&proxy.endpoint(), json!({})).await;
    (moto, proxy, cluster)
}

#[tokio::test]
async fn a_leader_whose_lease_is_taken_mid_reconcile_makes_no_write_after_and_the_new_leader_finishes() {
    let (_moto, proxy, a) = setup().await;
    let gate = Gate::new();
    proxy.inject("CreateKey", Fault::Hold(gate.clone()), 1);
    let replica_a = lead(&a, "a").await;
    a.create::<KmsKey>("apps", key_object("logs", json!({"rotation": {"enabled": true}}))).await;
    wait_until("a sends CreateKey", async || proxy.injected("CreateKey") == 1).await;

    // Another replica holds the Lease now (as after a partition in which it expired).
    let leases: Api<Lease> = Api::namespaced(a.client(), "apps");
    let stolen = json!({"spec": {"holderIdentity": "b", "renewTime": jiff::Timestamp::now().to_string()}});
    leases.patch(LEASE, &PatchParams::default(), &Patch::Merge(&stolen)).await.expect("take the lease");
    wait_until("a is fenced", async || a.ctx.engine.is_stopping()).await;
    let writes_when_fenced = a.writes();

    // The write that had left is answered; nothing new starts.
    gate.open();
    tokio::time::timeout(Duration::from_secs(60), replica_a.controllers).await.expect("a drains").unwrap();
    let fenced = replica_a.leadership.release().await.expect("a says why it stopped");
    assert!(fenced.to_string().contains("held by b") || fenced.to_string().contains("another replica"), "{fenced}");
    assert_eq!(a.writes(), writes_when_fenced, "no KMS write from a after it was fenced");
    assert_eq!(proxy.forwarded("EnableKeyRotation"), 0);
    let recorded = a.get::<KmsKey>("apps", "logs").await.unwrap().status.and_then(|s| s.key_id);
    assert_eq!(recorded, proxy.created_keys().first().cloned(), "the key a created is on record");

    // b leads and finishes the key a started: one key, rotation on.
    let b = Cluster::on(a.fake.clone()).await;
    let replica_b = lead(&b, "b").await;
    wait_until("b converges the key", async || {
        let status = b.get::<KmsKey>("apps", "logs").await.and_then(|k| k.status);
        status.is_some_and(|s| condition(&s.conditions, "Ready").status == "True")
    })
    .await;
    assert_eq!(proxy.forwarded("CreateKey"), 1, "one key");
    assert_eq!(proxy.forwarded("EnableKeyRotation"), 1, "finished by b");
    replica_b.leadership.release().await;
    replica_b.controllers.abort();
}

#[tokio::test]
async fn a_leader_that_cannot_renew_stops_writing_before_its_lease_expires() {
    let (_moto, proxy, a) = setup().await;
    let replica_a = lead(&a, "a").await;
    a.create::<KmsKey>("apps", key_object("logs", json!({}))).await;
    wait_until("a creates the key", async || proxy.forwarded("CreateKey") == 1).await;

    // The API server is unreachable for the Lease: no renewal, no read.
    for method in ["GET", "PUT", "PATCH"] {
        a.fake.fail_next(method, "leases", 503, 10_000);
    }
    wait_until("a is fenced", async || a.ctx.engine.is_stopping()).await;
    let fenced_at = jiff::Timestamp::now();
    // When the others may take over: the last renewal that reached the API server, as the Lease
    // records it (read from the store: the API refuses every Lease request now), plus its
    // duration. A renewal under way at the cut-off counts only if it landed.
    let lease = a.fake.objects("coordination.k8s.io/v1", "leases").into_iter().find(|l| l["metadata"]["name"] == LEASE);
    let lease = lease.expect("the Lease");
    let renewed: jiff::Timestamp = lease["spec"]["renewTime"].as_str().expect("renewTime").parse().expect("a time");
    let seconds = lease["spec"]["leaseDurationSeconds"].as_i64().expect("leaseDurationSeconds");
    assert_eq!(seconds, TIMING.duration_seconds as i64);
    let expires_for_others = renewed + jiff::SignedDuration::from_secs(seconds);
    assert!(
        fenced_at < expires_for_others,
        "fenced at {fenced_at}, after the lease renewed at {renewed} could expire ({expires_for_others})"
    );
    let writes_when_fenced = a.writes();

    // A spec change now is not acted on.
    let keys: Api<KmsKey> = Api::namespaced(a.client(), "apps");
    let change = json!({"spec": {"description": "changed while fenced"}});
    keys.patch("logs", &PatchParams::default(), &Patch::Merge(&change)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(60), replica_a.controllers).await.expect("a stops").unwrap();
    let fenced = replica_a.leadership.release().await.expect("a says why it stopped");
    assert!(fenced.to_string().contains("not renewed"), "{fenced}");
    assert_eq!(a.writes(), writes_when_fenced, "no KMS write after the fence");
    assert_eq!(proxy.forwarded("UpdateKeyDescription"), 0);
}

/// A status write carries the version the pass read: a writer acting on a stale view (here, a
/// pass that read the object before another replica wrote it) fails instead of overwriting.
#[tokio::test]
async fn a_status_write_from_a_stale_view_fails_instead_of_overwriting() {
    let (_moto, _proxy, cluster) = setup().await;
    cluster.create::<KmsKey>("apps", key_object("logs", json!({}))).await;
    cluster.reconcile_key("logs").await.expect("finalizer");
    cluster.reconcile_key("logs").await.expect("created");
    let mut stale: KmsKey = cluster.get("apps", "logs").await.unwrap();

    // Another writer records newer status meanwhile.
    let keys: Api<KmsKey> = Api::namespaced(cluster.client(), "apps");
    let newer = json!({"status": {"keyState": "Enabled", "arn": "written-by-the-new-leader"}});
    keys.patch_status("logs", &PatchParams::default(), &Patch::Merge(&newer)).await.unwrap();

    // The stale pass has something to write (its view of status is out of date).
    if let Some(status) = stale.status.as_mut() {
        status.arn = Some("stale".into());
    }
    let error = kms_operator::controller::key::reconcile(Arc::new(stale), cluster.ctx.clone())
        .await
        .expect_err("the stale write is refused");
    assert!(error.is_stale_write(), "{error}");
    let kept = cluster.get::<KmsKey>("apps", "logs").await.unwrap().status.unwrap();
    assert_eq!(kept.arn.as_deref(), Some("written-by-the-new-leader"));
}
