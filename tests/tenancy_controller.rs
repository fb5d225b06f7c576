//! The tenancy attack table in the cluster, where the paths differ from local mode: the
//! finalizer goes only to admitted objects, deletion is admitted again, a status a tenant could
//! write opens nothing, and a deletion that fails keeps its finalizer. Against an in-memory
//! Kubernetes API and a real local KMS; every test counts the KMS writes an attempt made.

mod support;

use kms_operator::api::{KmsAlias, KmsGrant, KmsKey};
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use support::cluster::{Cluster, condition, key_object_in, object_in};
use support::kms;
use support::manifests::{ACCOUNT_ID, REGION};
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy};

const PARTNER: &str = "339712836516";

struct World {
    _moto: Moto,
    cluster: Cluster,
    kms: aws_sdk_kms::Client,
    team_a_key: String,
}

/// Team A's key and grant converged through the controller, in an account that admits
/// namespaces labelled `tenant: yes` and lets only `adopt: yes` namespaces adopt.
async fn world_at(moto: Moto, endpoint: &str) -> World {
    let cluster = Cluster::new().await;
    for (name, labels) in [
        ("team-a", json!({"tenant": "yes"})),
        ("team-b", json!({"tenant": "yes"})),
        ("platform", json!({"tenant": "yes", "adopt": "yes"})),
        ("outsider", json!({})),
    ] {
        cluster.namespace(name, labels).await;
    }
    let permissions = json!({"allowedNamespaces": {"matchLabels": {"tenant": "yes"}}, "permissions": {"principalAccounts": [PARTNER], "adoptionNamespaces": {"matchLabels": {"adopt": "yes"}}}});
    cluster.account(endpoint, permissions).await;
    cluster.create::<KmsKey>("team-a", key_object_in("team-a", "a-key", json!({"description": "team a"}))).await;
    converge_key(&cluster, "team-a", "a-key").await;
    let team_a_key = key_id(&cluster, "team-a", "a-key").await;
    cluster.create::<KmsGrant>("team-a", grant("team-a", "a-grant", json!({"keyRef": {"name": "a-key"}}))).await;
    for _ in 0..2 {
        cluster.reconcile_on_key::<KmsGrant>("team-a", "a-grant").await.expect("team A's grant");
    }
    let kms = kms::client(&moto.endpoint(), REGION).await;
    World { _moto: moto, cluster, kms, team_a_key }
}

async fn world() -> World {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    world_at(moto, &endpoint).await
}

fn grant(namespace: &str, name: &str, pointer: Value) -> Value {
    let mut spec = json!({"name": name, "granteePrincipal": format!("arn:aws:iam::{ACCOUNT_ID}:role/app"), "operations": ["Decrypt"]});
    json_patch::merge(&mut spec, &pointer);
    object_in("KmsGrant", namespace, name, spec)
}

/// Admission and finalizer, then the pass that does the work.
async fn converge_key(cluster: &Cluster, namespace: &str, name: &str) {
    for _ in 0..2 {
        cluster.reconcile_key_in(namespace, name).await.expect("reconciled");
    }
    assert!(cluster.has_finalizer::<KmsKey>(namespace, name).await, "admitted: {namespace}/{name}");
}

async fn key_id(cluster: &Cluster, namespace: &str, name: &str) -> String {
    let key: KmsKey = cluster.get(namespace, name).await.expect("key");
    key.status.and_then(|s| s.key_id).expect("key id in status")
}

fn reason_of(conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition]) -> (String, String) {
    let ready = condition(conditions, "Ready");
    assert_eq!(ready.status, "False");
    assert_eq!(condition(conditions, "Synced").reason, ready.reason);
    (ready.reason.clone(), ready.message.clone())
}

async fn key_refusal(cluster: &Cluster, namespace: &str, name: &str) -> (String, String) {
    let key: KmsKey = cluster.get(namespace, name).await.expect("key");
    reason_of(&key.status.expect("status written").conditions)
}

impl World {
    async fn team_a_key_state(&self) -> (String, Option<String>) {
        let meta = kms::describe(&self.kms, &self.team_a_key).await;
        (meta.key_state().map(|s| s.as_str().to_owned()).unwrap_or_default(), meta.description().map(str::to_owned))
    }

    async fn team_a_grants(&self) -> Vec<String> {
        let out = self.kms.list_grants().key_id(&self.team_a_key).send().await.expect("ListGrants");
        out.grants().iter().filter_map(|g| g.name().map(str::to_owned)).collect()
    }
}

#[tokio::test]
async fn a_refused_import_gets_no_finalizer_and_its_deletion_reaches_no_kms_write() {
    let w = world().await;
    let before = w.team_a_key_state().await;
    let stolen = json!({"import": {"keyId": w.team_a_key}, "description": "mine", "deletion": {"policy": "Delete", "pendingWindowDays": 7}});
    for (namespace, reason) in [("team-b", "ForeignKey"), ("outsider", "NamespaceNotAllowed")] {
        w.cluster.create::<KmsKey>(namespace, key_object_in(namespace, "stolen", stolen.clone())).await;
        let writes = w.cluster.writes();
        let calls = w.cluster.aws_calls();
        for _ in 0..2 {
            w.cluster.reconcile_key_in(namespace, "stolen").await.expect("refused, not failed");
        }
        assert!(
            !w.cluster.has_finalizer::<KmsKey>(namespace, "stolen").await,
            "{namespace}: never admitted, never finalized"
        );
        assert_eq!(key_refusal(&w.cluster, namespace, "stolen").await.0, reason);
        assert!(
            w.cluster.event_reasons("stolen").contains(&reason.to_owned()),
            "{:?}",
            w.cluster.event_reasons("stolen")
        );
        if namespace == "outsider" {
            assert_eq!(w.cluster.aws_calls(), calls, "a namespace the account does not admit costs no AWS call");
        }
        w.cluster.delete::<KmsKey>(namespace, "stolen").await;
        assert!(
            w.cluster.get::<KmsKey>(namespace, "stolen").await.is_none(),
            "deleted at once: no finalizer to wait for"
        );
        assert_eq!(w.cluster.writes(), writes, "{namespace}: zero KMS writes");
    }
    assert_eq!(w.team_a_key_state().await, before);
}

/// A refusal's Event names the object it is about as `related`: the AwsAccount whose rules
/// refuse (at admission, and in the engine's pass), the AwsAccount or KmsKey that is missing.
#[tokio::test]
async fn a_refusal_s_event_names_the_account_or_key_it_is_about() {
    let w = world().await;
    let stolen = json!({"import": {"keyId": w.team_a_key}});
    let nowhere = json!({"accountRef": "nowhere"});
    for (namespace, name, spec) in
        [("team-b", "stolen", &stolen), ("outsider", "stolen", &stolen), ("team-b", "lost", &nowhere)]
    {
        w.cluster.create::<KmsKey>(namespace, key_object_in(namespace, name, spec.clone())).await;
        w.cluster.reconcile_key_in(namespace, name).await.expect("refused, not failed");
    }
    let missing_key = json!({"name": "alias/team-b/x", "keyRef": {"name": "missing"}});
    w.cluster.create::<KmsAlias>("team-b", object_in("KmsAlias", "team-b", "dangling", missing_key)).await;
    w.cluster.reconcile_on_key::<KmsAlias>("team-b", "dangling").await.expect("refused, not failed");

    let account = vec!["AwsAccount test".to_owned()];
    assert_eq!(w.cluster.event_related("stolen", "ForeignKey"), account, "refused by the engine's pass");
    assert_eq!(w.cluster.event_related("stolen", "NamespaceNotAllowed"), account, "refused at admission");
    assert_eq!(w.cluster.event_related("lost", "AccountNotFound"), vec!["AwsAccount nowhere".to_owned()]);
    assert_eq!(w.cluster.event_related("dangling", "KeyNotFound"), vec!["KmsKey team-b/missing".to_owned()]);
}

#[tokio::test]
async fn a_key_id_written_into_status_by_hand_opens_nothing() {
    let w = world().await;
    w.cluster.create::<KmsKey>("team-b", key_object_in("team-b", "b-key", json!({}))).await;
    converge_key(&w.cluster, "team-b", "b-key").await;
    let alias = object_in("KmsAlias", "team-b", "b-alias", json!({"name": "alias/b", "keyRef": {"name": "b-key"}}));
    w.cluster.create::<KmsAlias>("team-b", alias).await;
    // A tenant allowed to write status points its KmsKey at team A's key.
    Api::<KmsKey>::namespaced(w.cluster.client(), "team-b")
        .patch_status("b-key", &PatchParams::default(), &Patch::Merge(json!({"status": {"keyId": w.team_a_key}})))
        .await
        .expect("status patched");
    let writes = w.cluster.writes();
    for _ in 0..2 {
        w.cluster.reconcile_on_key::<KmsAlias>("team-b", "b-alias").await.expect("refused");
        w.cluster.reconcile_key_in("team-b", "b-key").await.expect("blocked");
    }
    let alias: KmsAlias = w.cluster.get("team-b", "b-alias").await.unwrap();
    assert_eq!(reason_of(&alias.status.expect("status").conditions).0, "ForeignKey");
    assert!(!w.cluster.has_finalizer::<KmsAlias>("team-b", "b-alias").await);
    let key: KmsKey = w.cluster.get("team-b", "b-key").await.unwrap();
    assert_eq!(
        condition(&key.status.unwrap().conditions, "Synced").reason,
        "NotOwned",
        "the key behind the status is not this object's"
    );
    assert_eq!(w.cluster.writes(), writes, "zero KMS writes");
    let aliases = w.kms.list_aliases().send().await.unwrap();
    assert!(aliases.aliases().iter().all(|a| a.alias_name() != Some("alias/b")));
}

#[tokio::test]
async fn a_grant_named_like_another_team_s_is_refused_and_deleting_it_retires_nothing() {
    let w = world().await;
    let pointer = json!({"targetKeyId": w.team_a_key, "accountRef": "test"});
    w.cluster.create::<KmsGrant>("team-b", grant("team-b", "a-grant", pointer)).await;
    let writes = w.cluster.writes();
    w.cluster.reconcile_on_key::<KmsGrant>("team-b", "a-grant").await.expect("refused");
    let refused: KmsGrant = w.cluster.get("team-b", "a-grant").await.unwrap();
    let (reason, message) = reason_of(&refused.status.expect("status").conditions);
    assert_eq!(reason, "ForeignKey");
    assert!(message.contains("belongs to another namespace or cluster"), "{message}");
    assert!(!message.contains("team-a"), "a refusal tells nothing of other tenants' objects: {message}");
    assert!(!w.cluster.has_finalizer::<KmsGrant>("team-b", "a-grant").await);
    w.cluster.delete::<KmsGrant>("team-b", "a-grant").await;
    assert!(w.cluster.get::<KmsGrant>("team-b", "a-grant").await.is_none());
    assert_eq!(w.cluster.writes(), writes);
    assert_eq!(w.team_a_grants().await, vec!["a-grant".to_owned()], "team A's grant is live");
}

#[tokio::test]
async fn another_team_s_alias_is_not_taken_and_its_namesake_is_deleted_without_touching_it() {
    let w = world().await;
    w.cluster
        .create::<KmsAlias>(
            "team-a",
            object_in("KmsAlias", "team-a", "a-alias", json!({"name": "alias/app", "keyRef": {"name": "a-key"}})),
        )
        .await;
    for _ in 0..2 {
        w.cluster.reconcile_on_key::<KmsAlias>("team-a", "a-alias").await.expect("team A's alias");
    }
    w.cluster.create::<KmsKey>("team-b", key_object_in("team-b", "b-key", json!({}))).await;
    converge_key(&w.cluster, "team-b", "b-key").await;
    w.cluster
        .create::<KmsAlias>(
            "team-b",
            object_in("KmsAlias", "team-b", "hijack", json!({"name": "alias/app", "keyRef": {"name": "b-key"}})),
        )
        .await;
    let writes = w.cluster.writes();
    w.cluster.reconcile_on_key::<KmsAlias>("team-b", "hijack").await.expect("refused");
    let hijack: KmsAlias = w.cluster.get("team-b", "hijack").await.unwrap();
    assert_eq!(reason_of(&hijack.status.expect("status").conditions).0, "ForeignKey");
    w.cluster.delete::<KmsAlias>("team-b", "hijack").await;
    assert!(w.cluster.get::<KmsAlias>("team-b", "hijack").await.is_none());
    assert_eq!(w.cluster.writes(), writes);
    let aliases = w.kms.list_aliases().send().await.unwrap();
    let live = aliases.aliases().iter().find(|a| a.alias_name() == Some("alias/app")).expect("still there");
    assert_eq!(live.target_key_id(), Some(w.team_a_key.as_str()));
}

#[tokio::test]
async fn a_namespace_no_longer_admitted_is_released_without_deleting_its_key() {
    let w = world().await;
    w.cluster
        .create::<KmsKey>("team-b", key_object_in("team-b", "doomed", json!({"deletion": {"policy": "Delete"}})))
        .await;
    converge_key(&w.cluster, "team-b", "doomed").await;
    let doomed = key_id(&w.cluster, "team-b", "doomed").await;
    // The platform team withdraws the namespace from the account.
    Api::<k8s_openapi::api::core::v1::Namespace>::all(w.cluster.client())
        .patch("team-b", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"tenant": "no"}}})))
        .await
        .unwrap();
    w.cluster.delete::<KmsKey>("team-b", "doomed").await;
    let calls = w.cluster.aws_calls();
    w.cluster.reconcile_key_in("team-b", "doomed").await.expect("released");
    assert!(w.cluster.get::<KmsKey>("team-b", "doomed").await.is_none(), "released");
    assert_eq!(w.cluster.aws_calls(), calls, "deletion is a write like any other: refused without a call");
    assert_eq!(kms::describe(&w.kms, &doomed).await.key_state().map(|s| s.as_str()), Some("Enabled"));
    assert!(w.cluster.event_reasons("doomed").contains(&"NamespaceNotAllowed".to_owned()));
}

#[tokio::test]
async fn a_deletion_that_fails_keeps_its_finalizer_until_it_succeeds() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let w = world_at(moto, &proxy.endpoint()).await;
    w.cluster
        .create::<KmsKey>("team-b", key_object_in("team-b", "going", json!({"deletion": {"policy": "Delete"}})))
        .await;
    converge_key(&w.cluster, "team-b", "going").await;
    let going = key_id(&w.cluster, "team-b", "going").await;
    w.cluster.delete::<KmsKey>("team-b", "going").await;
    // More server errors than one pass retries.
    proxy.inject("ScheduleKeyDeletion", Fault::unavailable(), 5);
    assert!(w.cluster.reconcile_key_in("team-b", "going").await.is_err(), "the failure is retried with backoff");
    assert!(
        w.cluster.has_finalizer::<KmsKey>("team-b", "going").await,
        "the finalizer stays while the deletion is owed"
    );
    assert!(w.cluster.event_reasons("going").contains(&"DeletionRetrying".to_owned()));
    w.cluster.reconcile_key_in("team-b", "going").await.expect("deleted on retry");
    assert!(w.cluster.get::<KmsKey>("team-b", "going").await.is_none());
    assert_eq!(kms::describe(&w.kms, &going).await.key_state().map(|s| s.as_str()), Some("PendingDeletion"));
}

#[tokio::test]
async fn an_adoption_namespace_adopts_a_key_nobody_created() {
    let w = world().await;
    let legacy =
        w.kms.create_key().description("legacy").send().await.unwrap().key_metadata().unwrap().key_id().to_owned();
    let adopt = json!({"import": {"keyId": legacy}, "description": "adopted"});
    w.cluster.create::<KmsKey>("team-b", key_object_in("team-b", "adopt", adopt.clone())).await;
    w.cluster.reconcile_key_in("team-b", "adopt").await.unwrap();
    assert_eq!(key_refusal(&w.cluster, "team-b", "adopt").await.0, "NotPermitted");
    w.cluster.create::<KmsKey>("platform", key_object_in("platform", "adopt", adopt)).await;
    converge_key(&w.cluster, "platform", "adopt").await;
    assert_eq!(kms::describe(&w.kms, &legacy).await.description(), Some("adopted"));
}

/// An object refused at admission: no finalizer, both conditions false with `reason`, an Event;
/// returns the message.
async fn refused_at_admission<K: support::cluster::Namespaced>(
    w: &World,
    namespace: &str,
    name: &str,
    reason: &str,
) -> String {
    assert!(!w.cluster.has_finalizer::<K>(namespace, name).await, "{namespace}/{name}: never admitted");
    let object: K = w.cluster.get(namespace, name).await.expect("object");
    let value = serde_json::to_value(&object).expect("JSON");
    let conditions: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> =
        serde_json::from_value(value["status"]["conditions"].clone()).expect("conditions");
    let (found, message) = reason_of(&conditions);
    assert_eq!(found, reason, "{message}");
    assert!(w.cluster.event_reasons(name).contains(&reason.to_owned()), "{:?}", w.cluster.event_reasons(name));
    message
}

#[tokio::test]
async fn a_key_policy_that_hands_create_grant_to_another_account_is_refused_and_released() {
    let w = world().await;
    let statement = json!({"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{PARTNER}:root")}, "Action": "kms:Create*", "Resource": "*"});
    let spec =
        json!({"policy": {"trustedAccounts": [PARTNER], "statements": [statement]}, "deletion": {"policy": "Delete"}});
    w.cluster.create::<KmsKey>("team-b", key_object_in("team-b", "delegating", spec)).await;
    let calls = w.cluster.aws_calls();
    for _ in 0..2 {
        w.cluster.reconcile_key_in("team-b", "delegating").await.expect("refused, not failed");
    }
    let message = refused_at_admission::<KmsKey>(&w, "team-b", "delegating", "NotPermitted").await;
    assert!(message.contains("spec.policy.statements[0]") && message.contains("GrantIsForAWSResource"), "{message}");
    assert_eq!(w.cluster.aws_calls(), calls, "refused before any AWS call");
    w.cluster.delete::<KmsKey>("team-b", "delegating").await;
    assert!(w.cluster.get::<KmsKey>("team-b", "delegating").await.is_none(), "released: no finalizer to wait for");
    assert_eq!(w.cluster.aws_calls(), calls);
}

#[tokio::test]
async fn a_replica_made_by_hand_of_another_team_s_key_is_theirs_in_the_cluster_too() {
    let w = world().await;
    w.cluster.create::<KmsKey>("team-a", key_object_in("team-a", "a-mrk", json!({"multiRegion": true}))).await;
    converge_key(&w.cluster, "team-a", "a-mrk").await;
    let key = key_id(&w.cluster, "team-a", "a-mrk").await;
    w.kms.replicate_key().key_id(&key).replica_region("us-west-2").send().await.expect("ReplicateKey");
    let replica = kms::client(&w._moto.endpoint(), "us-west-2").await;
    let before = kms::policy(&replica, &key).await;
    let writes = w.cluster.writes();

    let import = json!({"region": "us-west-2", "multiRegion": true, "import": {"keyId": key}, "policy": {"trustedAccounts": [PARTNER]}, "deletion": {"policy": "Delete", "pendingWindowDays": 7}});
    w.cluster.create::<KmsKey>("platform", key_object_in("platform", "replica", import)).await;
    w.cluster.reconcile_key_in("platform", "replica").await.expect("refused");
    let message = refused_at_admission::<KmsKey>(&w, "platform", "replica", "ForeignKey").await;
    assert!(message.contains("belongs to another namespace or cluster"), "{message}");
    let pointer = json!({"targetKeyId": key, "accountRef": "test", "region": "us-west-2"});
    w.cluster.create::<KmsGrant>("platform", grant("platform", "on-replica", pointer)).await;
    w.cluster.reconcile_on_key::<KmsGrant>("platform", "on-replica").await.expect("refused");
    refused_at_admission::<KmsGrant>(&w, "platform", "on-replica", "ForeignKey").await;

    w.cluster.delete::<KmsKey>("platform", "replica").await;
    assert!(w.cluster.get::<KmsKey>("platform", "replica").await.is_none());
    assert_eq!(w.cluster.writes(), writes, "zero KMS writes");
    assert_eq!(kms::policy(&replica, &key).await, before);
    assert_eq!(kms::describe(&replica, &key).await.key_state().map(|s| s.as_str()), Some("Enabled"));
}

#[tokio::test]
async fn alias_names_keep_each_namespace_to_its_own_in_the_cluster_too() {
    let w = world().await;
    Api::<kms_operator::api::AwsAccount>::all(w.cluster.client())
        .patch(
            "test",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"permissions": {"aliasNames": ["alias/{namespace}/*"]}}})),
        )
        .await
        .expect("account patched");
    w.cluster.create::<KmsKey>("team-b", key_object_in("team-b", "b-key", json!({}))).await;
    converge_key(&w.cluster, "team-b", "b-key").await;
    let squat = json!({"name": "alias/team-a/logs", "keyRef": {"name": "b-key"}});
    w.cluster.create::<KmsAlias>("team-b", object_in("KmsAlias", "team-b", "squat", squat)).await;
    let writes = w.cluster.writes();
    for _ in 0..2 {
        w.cluster.reconcile_on_key::<KmsAlias>("team-b", "squat").await.expect("refused");
    }
    let message = refused_at_admission::<KmsAlias>(&w, "team-b", "squat", "NotPermitted").await;
    assert!(message.contains("alias/team-b/*"), "{message}");
    assert_eq!(w.cluster.writes(), writes, "zero KMS writes");

    let own = json!({"name": "alias/team-a/logs", "keyRef": {"name": "a-key"}});
    w.cluster.create::<KmsAlias>("team-a", object_in("KmsAlias", "team-a", "logs", own)).await;
    for _ in 0..2 {
        w.cluster.reconcile_on_key::<KmsAlias>("team-a", "logs").await.expect("team A's alias");
    }
    let aliases = w.kms.list_aliases().send().await.expect("ListAliases");
    let logs = aliases.aliases().iter().find(|a| a.alias_name() == Some("alias/team-a/logs")).expect("created");
    assert_eq!(logs.target_key_id(), Some(w.team_a_key.as_str()));
}
