//! Keys deleted, scheduled for deletion or disabled outside the operator (the console, another
//! tool), in the cluster: each is reported with its reason, an Event and a metric, and nothing
//! is created in its place or undone on a resync; only the user's explicit signal brings a key
//! back (a re-created KmsKey restores its key pending deletion, a changed spec re-enables, an
//! annotation naming a deleted key allows a new one).

mod support;

use kms_operator::api::{KmsAlias, KmsGrant, KmsKey};
use kms_operator::aws::Op;
use kms_operator::engine::key::REPLACE_DELETED_KEY;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::cluster::{Cluster, condition, key_object, object_in, with_changes_outside};

/// Admission and finalizer, then the pass that creates the key; its id.
async fn created(cluster: &Cluster, name: &str, spec: serde_json::Value) -> String {
    cluster.create::<KmsKey>("apps", key_object(name, spec)).await;
    for _ in 0..2 {
        cluster.reconcile_key(name).await.expect("reconciled");
    }
    status(cluster, name).await.key_id.expect("key id")
}

async fn status(cluster: &Cluster, name: &str) -> kms_operator::api::KmsKeyStatus {
    cluster.get::<KmsKey>("apps", name).await.expect("key").status.expect("status")
}

async fn state(client: &aws_sdk_kms::Client, key_id: &str) -> String {
    support::kms::describe(client, key_id).await.key_state().map(|s| s.as_str().to_owned()).unwrap_or_default()
}

#[tokio::test]
async fn a_key_scheduled_for_deletion_outside_is_reported_and_restored_when_the_kms_key_is_re_created() {
    let (_moto, cluster, client) = with_changes_outside().await;
    let id = created(&cluster, "logs", json!({"deletion": {"policy": "Delete"}})).await;
    client.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send().await.unwrap();

    let writes = cluster.writes();
    for _ in 0..2 {
        cluster.reconcile_key("logs").await.unwrap();
    }
    let reported = status(&cluster, "logs").await;
    assert_eq!(condition(&reported.conditions, "Ready").reason, "KeyPendingDeletion");
    assert_eq!(condition(&reported.conditions, "Synced").reason, "KeyPendingDeletion");
    assert_eq!(cluster.writes(), writes, "a resync undoes nothing and creates nothing");
    assert!(cluster.event_reasons("logs").contains(&"KeyPendingDeletion".to_owned()));
    assert!(cluster.ctx.metrics.render().contains(r#"reason="KeyPendingDeletion""#));

    // An accidental prune and re-sync: the object goes (its key is already pending deletion)
    // and comes back with no status. It restores the same key instead of creating one.
    cluster.delete::<KmsKey>("apps", "logs").await;
    cluster.reconcile_key("logs").await.unwrap();
    assert!(cluster.get::<KmsKey>("apps", "logs").await.is_none());
    let again = created(&cluster, "logs", json!({"deletion": {"policy": "Delete"}})).await;
    assert_eq!(again, id, "the same key, restored");
    assert_eq!(state(&client, &id).await, "Enabled");
    assert_eq!(
        cluster.ctx.engine.calls().stats.snapshot().count(Op::CreateKey),
        1,
        "only the first key was ever created"
    );
    assert!(cluster.event_reasons("logs").contains(&"Restored".to_owned()), "{:?}", cluster.event_reasons("logs"));
}

#[tokio::test]
async fn retaining_a_key_pending_deletion_keeps_it_restorable() {
    let (_moto, cluster, client) = with_changes_outside().await;
    let id = created(&cluster, "kept", json!({})).await;
    client.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send().await.unwrap();
    cluster.delete::<KmsKey>("apps", "kept").await;
    cluster.reconcile_key("kept").await.expect("released: KMS cannot untag a key pending deletion, and need not");
    assert!(cluster.get::<KmsKey>("apps", "kept").await.is_none());
    assert_eq!(created(&cluster, "kept", json!({})).await, id);
    assert_eq!(state(&client, &id).await, "Enabled");
}

/// An id that never existed in KMS.
const DELETED: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

/// Makes the key of `name` gone: moto cannot delete one for real, so its recorded id is replaced
/// by one that never existed, and the original loses its ownership tag, as a deleted key would.
async fn delete_outside(cluster: &Cluster, client: &aws_sdk_kms::Client, name: &str, key_id: &str) {
    client.untag_resource().key_id(key_id).tag_keys("kmsoperator.dev/owner").send().await.unwrap();
    let keys = Api::<KmsKey>::namespaced(cluster.client(), "apps");
    keys.patch_status(name, &PatchParams::default(), &Patch::Merge(json!({"status": {"keyId": DELETED}})))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_deleted_key_is_never_replaced_without_the_annotation_naming_it() {
    let (_moto, cluster, client) = with_changes_outside().await;
    let original = created(&cluster, "gone", json!({})).await;
    delete_outside(&cluster, &client, "gone", &original).await;
    let deleted = DELETED;
    let keys = Api::<KmsKey>::namespaced(cluster.client(), "apps");
    let creates = || cluster.ctx.engine.calls().stats.snapshot().count(Op::CreateKey);
    for _ in 0..3 {
        cluster.reconcile_key("gone").await.unwrap();
    }
    let reported = status(&cluster, "gone").await;
    assert_eq!(condition(&reported.conditions, "Ready").reason, "KeyDeleted");
    assert_eq!(reported.key_id.as_deref(), Some(deleted), "the deleted key stays on record");
    assert_eq!(creates(), 1, "no replacement on resync");

    // An annotation naming another key id does nothing; naming the deleted one allows a new key.
    let annotate = |value: &str| json!({"metadata": {"annotations": {REPLACE_DELETED_KEY: value}}});
    keys.patch("gone", &PatchParams::default(), &Patch::Merge(annotate("abcd1234-12ab-34cd-56ef-1234567890ab")))
        .await
        .unwrap();
    cluster.reconcile_key("gone").await.unwrap();
    assert_eq!(creates(), 1);
    keys.patch("gone", &PatchParams::default(), &Patch::Merge(annotate(deleted))).await.unwrap();
    cluster.reconcile_key("gone").await.unwrap();
    assert_eq!(creates(), 2);
    let replaced = status(&cluster, "gone").await;
    let new_id = replaced.key_id.expect("a new key");
    assert_ne!(new_id, deleted);
    assert_eq!(state(&client, &new_id).await, "Enabled");
    assert_eq!(condition(&replaced.conditions, "Ready").status, "True");
}

#[tokio::test]
async fn a_key_disabled_outside_stays_disabled_until_the_kms_key_changes() {
    let (_moto, cluster, client) = with_changes_outside().await;
    let id = created(&cluster, "paused", json!({"description": "v1"})).await;
    client.disable_key().key_id(&id).send().await.unwrap();
    let writes = cluster.writes();
    for _ in 0..2 {
        cluster.reconcile_key("paused").await.unwrap();
    }
    let reported = status(&cluster, "paused").await;
    assert_eq!(condition(&reported.conditions, "Ready").reason, "KeyDisabledOutside");
    assert_eq!(cluster.writes(), writes, "not re-enabled on a resync");
    assert_eq!(state(&client, &id).await, "Disabled");
    assert!(cluster.event_reasons("paused").contains(&"KeyDisabledOutside".to_owned()));

    // The user changes the KmsKey: that is the request to bring it back.
    Api::<KmsKey>::namespaced(cluster.client(), "apps")
        .patch("paused", &PatchParams::default(), &Patch::Merge(json!({"spec": {"description": "v2"}})))
        .await
        .unwrap();
    cluster.reconcile_key("paused").await.unwrap();
    assert_eq!(state(&client, &id).await, "Enabled");
    assert_eq!(condition(&status(&cluster, "paused").await.conditions, "Ready").status, "True");
}

/// A key deleted outside gets no write of any kind, on any path: not a replacement, not the
/// spec's new description, tags, rotation or policy, not an alias or a grant on it, and its
/// deletion (policy Delete) has nothing to schedule.
#[tokio::test]
async fn a_deleted_key_gets_no_write_on_any_path() {
    let (_moto, cluster, client) = with_changes_outside().await;
    let original = created(&cluster, "gone", json!({"description": "v1", "deletion": {"policy": "Delete"}})).await;
    delete_outside(&cluster, &client, "gone", &original).await;
    let writes = cluster.writes();

    let keys = Api::<KmsKey>::namespaced(cluster.client(), "apps");
    let changed = json!({"spec": {
        "description": "v2",
        "tags": {"Team": "data"},
        "rotation": {"enabled": true, "periodDays": 180, "rotateNow": "now"},
        "policy": {"users": ["arn:aws:iam::123456789012:role/app"]},
    }});
    keys.patch("gone", &PatchParams::default(), &Patch::Merge(&changed)).await.unwrap();
    for _ in 0..2 {
        cluster.reconcile_key("gone").await.unwrap();
    }
    let reported = status(&cluster, "gone").await;
    assert_eq!(condition(&reported.conditions, "Ready").reason, "KeyDeleted");
    assert_eq!(condition(&reported.conditions, "Synced").reason, "KeyDeleted");

    let on_key = json!({"keyRef": {"name": "gone"}});
    let mut alias = on_key.clone();
    json_patch::merge(&mut alias, &json!({"name": "alias/gone"}));
    let mut grant = on_key;
    json_patch::merge(
        &mut grant,
        &json!({"name": "reader", "granteePrincipal": "arn:aws:iam::123456789012:role/reader", "operations": ["Decrypt"]}),
    );
    cluster.create::<KmsAlias>("apps", object_in("KmsAlias", "apps", "gone", alias)).await;
    cluster.create::<KmsGrant>("apps", object_in("KmsGrant", "apps", "gone", grant)).await;
    for _ in 0..2 {
        let _ = cluster.reconcile_on_key::<KmsAlias>("apps", "gone").await;
        let _ = cluster.reconcile_on_key::<KmsGrant>("apps", "gone").await;
    }
    for ready in [
        cluster.get::<KmsAlias>("apps", "gone").await.and_then(|a| a.status).map(|s| s.conditions),
        cluster.get::<KmsGrant>("apps", "gone").await.and_then(|g| g.status).map(|s| s.conditions),
    ] {
        let conditions = ready.expect("status written");
        assert_eq!(condition(&conditions, "Ready").status, "False", "{conditions:?}");
    }

    // Deleted: an alias or grant that holds a finalizer is released without a KMS call.
    cluster.delete::<KmsAlias>("apps", "gone").await;
    cluster.delete::<KmsGrant>("apps", "gone").await;
    cluster.delete::<KmsKey>("apps", "gone").await;
    if cluster.get::<KmsAlias>("apps", "gone").await.is_some() {
        cluster.reconcile_on_key::<KmsAlias>("apps", "gone").await.unwrap();
    }
    if cluster.get::<KmsGrant>("apps", "gone").await.is_some() {
        cluster.reconcile_on_key::<KmsGrant>("apps", "gone").await.unwrap();
    }
    cluster.reconcile_key("gone").await.unwrap();
    let left = (cluster.get::<KmsAlias>("apps", "gone").await, cluster.get::<KmsGrant>("apps", "gone").await);
    assert!(left.0.is_none() && left.1.is_none(), "released: {left:?}");
    assert!(cluster.get::<KmsKey>("apps", "gone").await.is_none(), "released: nothing to delete");
    assert_eq!(cluster.writes(), writes, "no KMS write on any path");
}
