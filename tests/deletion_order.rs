//! Grants and aliases never outlive their objects: deleting a namespace's objects in the order a
//! namespace deletion may (keys first), deleting a grant or alias whose KmsKey object is gone or
//! shows no key, and narrowing an account's `principalAccounts`, each leaves no grant or alias
//! in KMS. Against the in-memory Kubernetes API and a real local KMS.

mod support;

use kms_operator::api::{KmsAlias, KmsGrant, KmsKey};
use kms_operator::controller::ControllerError;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use support::cluster::{Cluster, condition, key_object, object_in};
use support::kms;
use support::manifests::{ACCOUNT_ID, REGION};
use support::moto::Moto;

const PARTNER: &str = "339712836516";

struct World {
    _moto: Moto,
    cluster: Cluster,
    kms: aws_sdk_kms::Client,
}

async fn world(account: Value) -> World {
    let moto = Moto::start();
    let cluster = Cluster::listing_every_pass().await;
    cluster.namespace("apps", json!({})).await;
    cluster.account(&moto.endpoint(), account).await;
    let kms = kms::client(&moto.endpoint(), REGION).await;
    World { _moto: moto, cluster, kms }
}

fn grant(name: &str, key: &str, grantee_account: &str) -> Value {
    let spec = json!({"keyRef": {"name": key}, "name": name, "granteePrincipal": format!("arn:aws:iam::{grantee_account}:role/reader"), "operations": ["Decrypt"]});
    object_in("KmsGrant", "apps", name, spec)
}

fn alias(name: &str, key: &str) -> Value {
    object_in("KmsAlias", "apps", name, json!({"name": format!("alias/{name}"), "keyRef": {"name": key}}))
}

impl World {
    async fn key(&self, name: &str, spec: Value) -> String {
        self.cluster.create::<KmsKey>("apps", key_object(name, spec)).await;
        for _ in 0..2 {
            self.cluster.reconcile_key(name).await.expect("reconciled");
        }
        let key: KmsKey = self.cluster.get("apps", name).await.expect("key");
        key.status.and_then(|s| s.key_id).expect("key id")
    }

    async fn on_key<T: kms_operator::controller::on_key::OnKeyResource>(&self, object: Value) {
        let name = object["metadata"]["name"].as_str().expect("a name").to_owned();
        self.cluster.create::<T>("apps", object).await;
        for _ in 0..2 {
            self.cluster.reconcile_on_key::<T>("apps", &name).await.expect("reconciled");
        }
    }

    async fn grants_on(&self, key_id: &str) -> usize {
        self.kms.list_grants().key_id(key_id).send().await.expect("ListGrants").grants().len()
    }

    async fn aliases(&self) -> Vec<String> {
        let listed = self.kms.list_aliases().send().await.expect("ListAliases");
        listed
            .aliases()
            .iter()
            .filter_map(|a| a.alias_name())
            .filter(|n| !n.starts_with("alias/aws/"))
            .map(str::to_owned)
            .collect()
    }

    /// Deletes an alias or grant and runs its deletion to the end.
    async fn delete_on_key<T: kms_operator::controller::on_key::OnKeyResource>(&self, name: &str) {
        self.cluster.delete::<T>("apps", name).await;
        self.cluster.reconcile_on_key::<T>("apps", name).await.expect("deleted");
        assert!(self.cluster.get::<T>("apps", name).await.is_none(), "{name}: the finalizer went");
    }
}

#[tokio::test]
async fn a_namespace_deleted_keys_first_leaves_no_grant_or_alias_in_kms() {
    // No adoption: a key released without its ownership tag is then no key of the namespace.
    let w = world(json!({"permissions": {"adoptionNamespaces": null}})).await;
    let kept = w.key("kept", json!({})).await;
    let gone = w.key("gone", json!({"deletion": {"policy": "Delete", "pendingWindowDays": 7}})).await;
    for key in ["kept", "gone"] {
        w.on_key::<KmsGrant>(grant(&format!("{key}-reader"), key, ACCOUNT_ID)).await;
        w.on_key::<KmsAlias>(alias(&format!("{key}-alias"), key)).await;
    }
    assert_eq!((w.grants_on(&kept).await, w.grants_on(&gone).await), (1, 1));
    assert_eq!(w.aliases().await.len(), 2);

    // The namespace controller deletes every object, in no order: here the keys come first.
    for key in ["kept", "gone"] {
        w.cluster.delete::<KmsKey>("apps", key).await;
        let waiting = w.cluster.reconcile_key(key).await.expect_err("the finalizer stays: an error");
        assert!(matches!(waiting, ControllerError::Waiting { .. }), "{waiting}");
        assert!(w.cluster.has_finalizer::<KmsKey>("apps", key).await, "{key} waits for what uses it");
        assert!(w.cluster.event_reasons(key).contains(&"WaitingForDependents".to_owned()));
    }
    assert_eq!(
        kms::tags(&w.kms, &kept).await.get("kmsoperator.dev/owner").map(String::as_str),
        Some("kms-operator/apps/kept")
    );
    for key in ["kept", "gone"] {
        w.delete_on_key::<KmsGrant>(&format!("{key}-reader")).await;
        w.delete_on_key::<KmsAlias>(&format!("{key}-alias")).await;
    }
    for key in ["kept", "gone"] {
        w.cluster.reconcile_key(key).await.expect("deleted");
        assert!(w.cluster.get::<KmsKey>("apps", key).await.is_none(), "{key} is gone");
    }
    assert_eq!((w.grants_on(&kept).await, w.grants_on(&gone).await), (0, 0), "no grant outlives its object");
    assert_eq!(w.aliases().await, Vec::<String>::new(), "no alias outlives its object");
    assert!(!kms::tags(&w.kms, &kept).await.contains_key("kmsoperator.dev/owner"), "kept: released");
    assert_eq!(kms::describe(&w.kms, &gone).await.key_state().map(|s| s.as_str()), Some("PendingDeletion"));
}

#[tokio::test]
async fn a_grant_or_alias_whose_key_object_is_gone_or_keyless_is_removed_from_its_status() {
    let w = world(json!({})).await;
    let key_id = w.key("app", json!({"deletion": {"policy": "Delete"}})).await;
    w.on_key::<KmsGrant>(grant("reader", "app", ACCOUNT_ID)).await;
    w.on_key::<KmsGrant>(grant("writer", "app", ACCOUNT_ID)).await;
    w.on_key::<KmsAlias>(alias("app", "app")).await;
    assert_eq!(w.grants_on(&key_id).await, 2);

    // The KmsKey shows no key any more (its status lost, or written by hand).
    Api::<KmsKey>::namespaced(w.cluster.client(), "apps")
        .patch_status("app", &PatchParams::default(), &Patch::Merge(json!({"status": {"keyId": null}})))
        .await
        .unwrap();
    w.delete_on_key::<KmsGrant>("reader").await;
    assert_eq!(w.grants_on(&key_id).await, 1, "retired by the id, key and account its status records");

    // The KmsKey object is gone altogether: its finalizer taken off by hand, then deleted.
    Api::<KmsKey>::namespaced(w.cluster.client(), "apps")
        .patch("app", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}})))
        .await
        .unwrap();
    w.cluster.delete::<KmsKey>("apps", "app").await;
    assert!(w.cluster.get::<KmsKey>("apps", "app").await.is_none());
    w.delete_on_key::<KmsGrant>("writer").await;
    w.delete_on_key::<KmsAlias>("app").await;
    assert_eq!(w.grants_on(&key_id).await, 0);
    assert_eq!(w.aliases().await, Vec::<String>::new());
}

#[tokio::test]
async fn a_grant_the_account_no_longer_permits_is_retired_not_kept() {
    let w = world(json!({"permissions": {"principalAccounts": [PARTNER]}})).await;
    let key_id = w.key("app", json!({})).await;
    w.on_key::<KmsGrant>(grant("partner", "app", PARTNER)).await;
    w.on_key::<KmsGrant>(grant("leaving", "app", PARTNER)).await;
    assert_eq!(w.grants_on(&key_id).await, 2);

    // The platform team takes the partner account out of principalAccounts.
    Api::<kms_operator::api::AwsAccount>::all(w.cluster.client())
        .patch(
            "test",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"permissions": {"principalAccounts": []}}})),
        )
        .await
        .unwrap();
    w.cluster.reconcile_on_key::<KmsGrant>("apps", "partner").await.expect("refused");
    let refused: KmsGrant = w.cluster.get("apps", "partner").await.expect("still there");
    let status = refused.status.expect("status");
    assert_eq!(condition(&status.conditions, "Ready").reason, "NotPermitted");
    assert_eq!(status.grant_id, None, "the grant is gone from status too");
    assert!(
        w.cluster.event_reasons("partner").contains(&"RetireGrant".to_owned()),
        "{:?}",
        w.cluster.event_reasons("partner")
    );
    assert_eq!(w.grants_on(&key_id).await, 1, "the refused grant is retired, not kept");

    // Deleted straight after the narrowing: retired all the same.
    w.delete_on_key::<KmsGrant>("leaving").await;
    assert_eq!(w.grants_on(&key_id).await, 0);
    w.delete_on_key::<KmsGrant>("partner").await;
}
