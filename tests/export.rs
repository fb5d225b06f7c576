//! `KmsKey.spec.export.configMapName`: the controller keeps a ConfigMap with the key's id, ARN,
//! aliases and replica ARNs in the key's namespace, owned by the KmsKey. Followed here through
//! the key's life on the in-memory API against a local KMS: created with the key, a replica
//! added, an alias created and replaced, a hand edit repaired, renamed, and deleted with the
//! KmsKey by the garbage collector; a ConfigMap of that name the key does not own is never
//! taken. Local mode prints what the ConfigMap would hold.

mod support;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kms_operator::api::{KmsAlias, KmsKey};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::cli::run_json;
use support::cluster::{Cluster, condition, key_object, object_in, with_changes_outside};
use support::manifests::{REGION, Workspace, account, alias, key};
use support::moto::Moto;

const REPLICA: &str = "us-west-2";

async fn reconcile(cluster: &Cluster) {
    cluster.reconcile_key("logs").await.expect("reconcile");
}

async fn config_map(cluster: &Cluster, name: &str) -> Option<ConfigMap> {
    Api::<ConfigMap>::namespaced(cluster.client(), "apps").get_opt(name).await.expect("get")
}

async fn data(cluster: &Cluster, name: &str) -> BTreeMap<String, String> {
    config_map(cluster, name).await.and_then(|c| c.data).unwrap_or_else(|| panic!("no ConfigMap {name}"))
}

async fn stored_key(cluster: &Cluster) -> KmsKey {
    cluster.get::<KmsKey>("apps", "logs").await.expect("the KmsKey")
}

async fn patch_key(cluster: &Cluster, spec: serde_json::Value) {
    Api::<KmsKey>::namespaced(cluster.client(), "apps")
        .patch("logs", &PatchParams::default(), &Patch::Merge(json!({ "spec": spec })))
        .await
        .expect("patch");
}

/// ConfigMap writes the controller made so far.
fn config_map_writes(cluster: &Cluster) -> usize {
    cluster
        .fake
        .requests()
        .iter()
        .filter(|r| r.client == "controller" && r.method != "GET" && r.path.contains("/configmaps"))
        .count()
}

async fn alias_ready(cluster: &Cluster, name: &str, alias_name: &str) {
    let spec = json!({"name": alias_name, "keyRef": {"name": "logs"}});
    cluster.create::<KmsAlias>("apps", object_in("KmsAlias", "apps", name, spec)).await;
    for _ in 0..2 {
        cluster.reconcile_on_key::<KmsAlias>("apps", name).await.expect("alias");
    }
}

#[tokio::test]
async fn the_config_map_follows_the_key_through_its_life() {
    let (_moto, cluster, _) = with_changes_outside().await;
    let spec = json!({"multiRegion": true, "deletion": {"policy": "Delete", "pendingWindowDays": 7}, "export": {"configMapName": "logs-kms"}});
    cluster.create::<KmsKey>("apps", key_object("logs", spec)).await;
    for _ in 0..2 {
        reconcile(&cluster).await;
    }

    // Created with the key, owned by the KmsKey.
    let status = stored_key(&cluster).await.status.expect("status");
    let created = config_map(&cluster, "logs-kms").await.expect("the ConfigMap");
    let data = created.data.clone().expect("data");
    assert_eq!(data["keyId"], status.key_id.clone().unwrap());
    assert_eq!(data["arn"], status.arn.clone().unwrap());
    assert_eq!(data[&format!("arn.{REGION}")], data["arn"]);
    assert_eq!((data["region"].as_str(), data["aliases"].as_str(), data["replicaArns"].as_str()), (REGION, "", ""));
    let owner = &created.metadata.owner_references.as_ref().expect("owner")[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("KmsKey", "logs"));
    assert_eq!(Some(&owner.uid), stored_key(&cluster).await.metadata.uid.as_ref());
    assert_eq!(owner.controller, Some(true));
    let writes = config_map_writes(&cluster);
    reconcile(&cluster).await;
    assert_eq!(config_map_writes(&cluster), writes, "a resync of the same key writes nothing");

    // A replica added.
    patch_key(&cluster, json!({"replicas": [{"region": REPLICA}]})).await;
    reconcile(&cluster).await;
    let data = self::data(&cluster, "logs-kms").await;
    let replica_arn = data[&format!("arn.{REPLICA}")].clone();
    assert!(replica_arn.contains(&format!(":{REPLICA}:")), "{data:?}");
    assert_eq!(data["replicaArns"], replica_arn);

    // An alias created, then replaced by another.
    alias_ready(&cluster, "current", "alias/logs-v1").await;
    reconcile(&cluster).await;
    assert_eq!(self::data(&cluster, "logs-kms").await["aliases"], "alias/logs-v1");
    cluster.delete::<KmsAlias>("apps", "current").await;
    cluster.reconcile_on_key::<KmsAlias>("apps", "current").await.expect("alias deletion");
    alias_ready(&cluster, "next", "alias/logs-v2").await;
    reconcile(&cluster).await;
    assert_eq!(self::data(&cluster, "logs-kms").await["aliases"], "alias/logs-v2");

    // Edited by hand: put back; labels someone added stay.
    Api::<ConfigMap>::namespaced(cluster.client(), "apps")
        .patch(
            "logs-kms",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"labels": {"team": "a"}}, "data": {"arn": "arn:aws:kms:eu-west-1:1:key/wrong"}}),
            ),
        )
        .await
        .unwrap();
    reconcile(&cluster).await;
    let repaired = config_map(&cluster, "logs-kms").await.unwrap();
    assert_eq!(repaired.data.unwrap()["arn"], status.arn.clone().unwrap());
    assert_eq!(repaired.metadata.labels.unwrap()["team"], "a");

    // Renamed: the new one made, the old one removed.
    patch_key(&cluster, json!({"export": {"configMapName": "logs-arn"}})).await;
    reconcile(&cluster).await;
    assert!(config_map(&cluster, "logs-kms").await.is_none());
    assert_eq!(self::data(&cluster, "logs-arn").await["keyId"], status.key_id.clone().unwrap());

    // Deleted with the KmsKey, by the garbage collector. The KmsKey's deletion waits for its
    // alias's first, and the ConfigMap stays meanwhile.
    cluster.delete::<KmsKey>("apps", "logs").await;
    let waiting = cluster.reconcile_key("logs").await.expect_err("waits for its alias");
    assert!(format!("{waiting:?}").contains("WaitingForDependents"), "{waiting:?}");
    assert_eq!(self::data(&cluster, "logs-arn").await["aliases"], "alias/logs-v2");
    cluster.delete::<KmsAlias>("apps", "next").await;
    cluster.reconcile_on_key::<KmsAlias>("apps", "next").await.expect("alias deletion");
    reconcile(&cluster).await;
    assert!(cluster.get::<KmsKey>("apps", "logs").await.is_none(), "the finalizer is done");
    assert!(config_map(&cluster, "logs-arn").await.is_none(), "collected with its owner");
}

#[tokio::test]
async fn a_config_map_the_key_does_not_own_is_never_taken_and_removing_the_export_removes_its_own() {
    let (_moto, cluster, _) = with_changes_outside().await;
    let theirs: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "taken", "namespace": "apps"}, "data": {"owner": "someone"}}),
    )
    .unwrap();
    Api::<ConfigMap>::namespaced(cluster.client(), "apps").create(&PostParams::default(), &theirs).await.unwrap();
    cluster.create::<KmsKey>("apps", key_object("logs", json!({"export": {"configMapName": "taken"}}))).await;
    for _ in 0..2 {
        reconcile(&cluster).await;
    }
    let status = stored_key(&cluster).await.status.expect("status");
    let synced = condition(&status.conditions, "Synced");
    assert_eq!((synced.status.as_str(), synced.reason.as_str()), ("False", "ExportConflict"), "{}", synced.message);
    assert!(status.key_id.is_some(), "the key itself converged");
    assert_eq!(self::data(&cluster, "taken").await, BTreeMap::from([("owner".to_owned(), "someone".to_owned())]));
    assert!(cluster.event_reasons("logs").contains(&"ExportConflict".to_owned()));

    patch_key(&cluster, json!({"export": {"configMapName": "mine"}})).await;
    reconcile(&cluster).await;
    assert!(config_map(&cluster, "mine").await.is_some());
    let synced = condition(&stored_key(&cluster).await.status.unwrap().conditions, "Synced").clone();
    assert_eq!(synced.status, "True", "{}", synced.message);
    patch_key(&cluster, json!({"export": null})).await;
    reconcile(&cluster).await;
    assert!(config_map(&cluster, "mine").await.is_none(), "no export, no ConfigMap");
    assert!(config_map(&cluster, "taken").await.is_some(), "theirs stays");
}

#[test]
fn local_mode_prints_what_the_config_map_would_hold() {
    let moto = Moto::start();
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&moto.endpoint()));
    ws.write("key.yaml", &key("logs", "export: {configMapName: logs-kms}"));
    ws.write("alias.yaml", &alias("logs", "name: alias/logs\nkeyRef: {name: logs}"));

    let planned = run_json("plan", ws.path());
    planned.assert_code(2);
    let export = &planned.resource("KmsKey", "logs")["export"];
    assert_eq!(export["configMapName"], "logs-kms");
    assert!(export.get("data").is_none(), "no key yet, nothing to publish: {export}");

    let applied = run_json("apply", ws.path());
    applied.assert_code(0);
    let resource = applied.resource("KmsKey", "logs");
    let data = &resource["export"]["data"];
    assert_eq!(data["keyId"], resource["status"]["keyId"]);
    assert_eq!(data["arn"], resource["status"]["arn"]);
    assert_eq!(data["aliases"], "alias/logs", "the alias the same run created");

    ws.write("alias2.yaml", &alias("logs-next", "name: alias/logs-next\nkeyRef: {name: logs}"));
    let planned = run_json("plan", ws.path());
    assert_eq!(
        planned.resource("KmsKey", "logs")["export"]["data"]["aliases"],
        "alias/logs,alias/logs-next",
        "with the alias the plan would create"
    );
}
