//! A KmsGrant moved to another key retires its old grant before it reports Ready, also when a
//! fault or a crash comes between creating the new grant and retiring the old one.

mod support;

use kms_operator::api::{KmsGrant, KmsKey};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::cluster::{Cluster, condition, key_object, object_in};
use support::kms;
use support::manifests::REGION;
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy};

struct Setup {
    _moto: Moto,
    proxy: FaultProxy,
    cluster: Cluster,
    kms: aws_sdk_kms::Client,
    old_key: String,
    new_key: String,
}

async fn key_id(cluster: &Cluster, name: &str) -> String {
    let key: KmsKey = cluster.get("apps", name).await.unwrap();
    key.status.and_then(|s| s.key_id).expect("key id")
}

/// Two keys and a grant on the first, converged; then the grant is pointed at the second.
async fn moved_grant() -> Setup {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let cluster = Cluster::listing_every_pass().await;
    cluster.namespace("apps", json!({})).await;
    cluster.account(&proxy.endpoint(), json!({})).await;
    for name in ["old", "new"] {
        cluster.create::<KmsKey>("apps", key_object(name, json!({}))).await;
        for _ in 0..2 {
            cluster.reconcile_key(name).await.unwrap();
        }
    }
    let spec = json!({"keyRef": {"name": "old"}, "name": "reader", "granteePrincipal": "arn:aws:iam::123456789012:role/reader", "operations": ["Decrypt"]});
    cluster.create::<KmsGrant>("apps", object_in("KmsGrant", "apps", "reader", spec)).await;
    for _ in 0..2 {
        cluster.reconcile_on_key::<KmsGrant>("apps", "reader").await.unwrap();
    }
    let (old_key, new_key) = (key_id(&cluster, "old").await, key_id(&cluster, "new").await);
    Api::<KmsGrant>::namespaced(cluster.client(), "apps")
        .patch("reader", &PatchParams::default(), &Patch::Merge(json!({"spec": {"keyRef": {"name": "new"}}})))
        .await
        .unwrap();
    let kms = kms::client(&moto.endpoint(), REGION).await;
    Setup { _moto: moto, proxy, cluster, kms, old_key, new_key }
}

async fn grants_on(client: &aws_sdk_kms::Client, key_id: &str) -> usize {
    client.list_grants().key_id(key_id).send().await.unwrap().grants().len()
}

async fn grant_status(cluster: &Cluster) -> kms_operator::api::KmsGrantStatus {
    cluster.get::<KmsGrant>("apps", "reader").await.unwrap().status.unwrap()
}

#[tokio::test]
async fn a_moved_grant_retires_the_old_one_and_then_reports_ready() {
    let s = moved_grant().await;
    s.cluster.reconcile_on_key::<KmsGrant>("apps", "reader").await.unwrap();
    assert_eq!(grants_on(&s.kms, &s.new_key).await, 1);
    assert_eq!(grants_on(&s.kms, &s.old_key).await, 0, "access on the old key is revoked");
    let status = grant_status(&s.cluster).await;
    assert_eq!(status.key_id.as_deref(), Some(s.new_key.as_str()));
    assert!(status.superseded.is_empty());
    assert_eq!(condition(&status.conditions, "Ready").status, "True");
}

#[tokio::test]
async fn a_retirement_that_fails_is_recorded_and_done_on_the_next_pass() {
    let s = moved_grant().await;
    // Between CreateGrant and RetireGrant, KMS refuses both ways of ending the old grant.
    s.proxy.inject("RetireGrant", Fault::access_denied(), 1);
    s.proxy.inject("RevokeGrant", Fault::access_denied(), 1);
    s.cluster.reconcile_on_key::<KmsGrant>("apps", "reader").await.unwrap();
    assert_eq!(grants_on(&s.kms, &s.new_key).await, 1, "the new grant first");
    assert_eq!(grants_on(&s.kms, &s.old_key).await, 1, "the old one could not be retired yet");
    let status = grant_status(&s.cluster).await;
    assert_eq!(status.superseded.len(), 1, "{status:?}");
    assert_eq!(status.superseded[0].key_id, s.old_key);
    assert_eq!(condition(&status.conditions, "Ready").status, "False", "not Ready while the old grant lives");

    s.cluster.reconcile_on_key::<KmsGrant>("apps", "reader").await.unwrap();
    assert_eq!(grants_on(&s.kms, &s.old_key).await, 0);
    let status = grant_status(&s.cluster).await;
    assert!(status.superseded.is_empty());
    assert_eq!(condition(&status.conditions, "Ready").status, "True");
}

#[tokio::test]
async fn a_crash_between_the_new_grant_and_the_old_one_s_retirement_still_retires_it() {
    let s = moved_grant().await;
    // More dropped connections than one pass retries, between CreateGrant and RetireGrant; the
    // pass ends with nothing recorded, as a process killed there would.
    s.proxy.inject("RetireGrant", Fault::DropBeforeForward, 5);
    s.cluster.reconcile_on_key::<KmsGrant>("apps", "reader").await.unwrap();
    assert_eq!(s.proxy.pending_faults(), 0);
    let status = grant_status(&s.cluster).await;
    assert_eq!(status.key_id.as_deref(), Some(s.old_key.as_str()), "status still names the old grant");
    assert_eq!(grants_on(&s.kms, &s.new_key).await, 1);

    // Another process, with no memory of the first: status is enough.
    let restarted = Cluster::on(s.cluster.fake.clone()).await;
    restarted.reconcile_on_key::<KmsGrant>("apps", "reader").await.unwrap();
    assert_eq!(grants_on(&s.kms, &s.old_key).await, 0, "retired after the restart");
    assert_eq!(grants_on(&s.kms, &s.new_key).await, 1, "and the new grant created once");
    assert_eq!(condition(&grant_status(&restarted).await.conditions, "Ready").status, "True");
}
