//! A KmsKey's exported ConfigMaps come from the controllers' watch of them, through the running
//! controllers on the in-memory API: a pass lists none, a hand edit, deletion or removed label
//! is put back because the watch wakes the key, and a ConfigMap the KmsKey does not own is
//! never written, even when the watch's store is behind the API server.

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kms_operator::api::{AwsAccount, KmsAlias, KmsKey};
use kms_operator::controller::{ControllerOptions, run_controllers};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::cluster::{Cluster, condition, key_object, object_in};
use support::moto::Moto;
use support::wait::wait_for;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The cluster-wide list and watch of ConfigMaps (the controllers watch every namespace here).
const CONFIG_MAP_WATCH: &str = "/api/v1/configmaps";

struct Running {
    _moto: Moto,
    cluster: Cluster,
    stop: watch::Sender<bool>,
    controllers: JoinHandle<()>,
}

impl Running {
    /// A local KMS, the namespace `apps`, the account `test`, and the controllers running.
    async fn start() -> Running {
        let moto = Moto::start();
        let cluster = Cluster::new().await;
        cluster.namespace("apps", json!({})).await;
        cluster.account(&moto.endpoint(), json!({})).await;
        let (stop, shutdown) = watch::channel(false);
        let ctx = cluster.ctx.clone();
        let controllers =
            tokio::spawn(async move { run_controllers(ctx, &ControllerOptions::new(None, 4), shutdown).await });
        Running { _moto: moto, cluster, stop, controllers }
    }

    async fn stop(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(20), self.controllers).await.expect("graceful shutdown").unwrap();
    }

    fn config_maps(&self) -> Api<ConfigMap> {
        Api::namespaced(self.cluster.client(), "apps")
    }

    async fn config_map(&self, name: &str) -> Option<ConfigMap> {
        self.config_maps().get_opt(name).await.expect("get")
    }

    /// The KmsKey `logs` exporting to `name`, once the ConfigMap holds its key id.
    async fn exporting_key(&self, name: &str) -> ConfigMap {
        let spec = json!({"export": {"configMapName": name}});
        self.cluster.create::<KmsKey>("apps", key_object("logs", spec)).await;
        wait_for(|| async {
            let key_id = self.key().await.status?.key_id?;
            self.config_map(name).await.filter(|c| c.data.as_ref().is_some_and(|d| d.get("keyId") == Some(&key_id)))
        })
        .await
    }

    /// Renames the KmsKey `logs`'s export to `name`.
    async fn export_to(&self, name: &str) {
        let rename = json!({"spec": {"export": {"configMapName": name}}});
        Api::<KmsKey>::namespaced(self.cluster.client(), "apps")
            .patch("logs", &PatchParams::default(), &Patch::Merge(rename))
            .await
            .expect("the export renamed");
    }

    async fn key(&self) -> KmsKey {
        self.cluster.get::<KmsKey>("apps", "logs").await.expect("the KmsKey")
    }

    /// The reason of the key's Synced condition, once it has one.
    async fn synced(&self) -> Option<(String, String)> {
        let status = self.key().await.status?;
        let synced = status.conditions.iter().find(|c| c.type_ == "Synced")?;
        Some((synced.status.clone(), synced.reason.clone()))
    }

    async fn create_config_map(&self, value: Value) -> ConfigMap {
        let config_map: ConfigMap = serde_json::from_value(value).expect("a ConfigMap");
        self.config_maps().create(&PostParams::default(), &config_map).await.expect("create")
    }

    /// LISTs of ConfigMaps the controller sent (a watch's first list among them).
    fn config_map_lists(&self) -> usize {
        self.cluster
            .fake
            .requests()
            .iter()
            .filter(|r| r.client == "controller" && r.method == "GET" && r.path.ends_with("/configmaps"))
            .filter(|r| !r.query.split('&').any(|p| p == "watch=true" || p == "watch=1"))
            .count()
    }

    /// Requests other than GET the controller sent to the ConfigMap `name`.
    fn writes_to(&self, name: &str) -> usize {
        let path = format!("/configmaps/{name}");
        self.cluster
            .fake
            .requests()
            .iter()
            .filter(|r| r.client == "controller" && r.method != "GET" && r.path.ends_with(&path))
            .count()
    }

    /// From here on the controllers' store of ConfigMaps keeps what it has: their watch ends
    /// (a compaction ends every watch) and every list and watch of ConfigMaps after it fails.
    fn freeze_config_map_store(&self) {
        self.cluster.fake.fail_next("GET", CONFIG_MAP_WATCH, 500, 100_000);
        self.cluster.fake.compact();
    }
}

fn data_of(config_map: &ConfigMap, field: &str) -> Option<String> {
    config_map.data.as_ref()?.get(field).cloned()
}

/// How many passes of KmsKeys ended with `result`, from the controller's metrics.
fn key_passes(cluster: &Cluster, result: &str) -> u64 {
    let series = format!("kms_operator_reconciles_total{{kind=\"KmsKey\",result=\"{result}\"}} ");
    let metrics = cluster.ctx.metrics.render();
    metrics.lines().find_map(|line| line.strip_prefix(&series)).map_or(0, |n| n.trim().parse().expect("a count"))
}

/// A converged exporting key's pass lists no ConfigMap (the old pass listed its key's every
/// time), and the ConfigMap its first pass writes starts no second pass through the watch.
#[tokio::test]
async fn a_pass_of_a_converged_exporting_key_lists_no_config_map() {
    let running = Running::start().await;
    // The account's status write wakes its keys: counted from once it is written, and after a
    // first key has gone through its passes.
    wait_for(|| async { Api::<AwsAccount>::all(running.cluster.client()).get("test").await.ok()?.status }).await;
    let warm = json!({"export": {"configMapName": "warm-kms"}});
    running.cluster.create::<KmsKey>("apps", key_object("warm", warm)).await;
    wait_for(|| async {
        let warm = running.cluster.get::<KmsKey>("apps", "warm").await?.status?;
        warm.conditions.iter().any(|c| c.type_ == "Synced" && c.status == "True").then_some(())
    })
    .await;
    let in_sync = key_passes(&running.cluster, "in_sync");
    running.exporting_key("logs-kms").await;
    wait_for(|| async { (running.synced().await? == ("True".into(), "InSync".into())).then_some(()) }).await;
    let (lists, writes) = (running.config_map_lists(), running.writes_to("logs-kms"));
    assert_eq!(lists, 1, "the watch's own first list only");

    // A further pass (as a resync starts it), while the controllers' stores are served.
    running.cluster.reconcile_key("logs").await.expect("a pass");
    assert_eq!(running.config_map_lists(), lists, "a pass reads the key's ConfigMaps from the watch");
    assert_eq!(running.writes_to("logs-kms"), writes, "and writes nothing to one in place");
    let cluster_passes = key_passes(&running.cluster, "in_sync") - in_sync;
    running.stop().await;
    assert_eq!(cluster_passes, 1, "the pass above only: the export's own watch event started none");
}

#[tokio::test]
async fn a_config_map_edited_deleted_or_unlabelled_by_hand_is_put_back_through_the_watch() {
    let running = Running::start().await;
    let exported = running.exporting_key("logs-kms").await;
    let key_id = data_of(&exported, "keyId").expect("keyId");

    // Edited: the key's pass is woken by the watch (no resync comes within the test).
    let edit = json!({"data": {"keyId": "edited"}});
    running.config_maps().patch("logs-kms", &PatchParams::default(), &Patch::Merge(edit)).await.unwrap();
    wait_for(|| async { running.config_map("logs-kms").await.filter(|c| data_of(c, "keyId") == Some(key_id.clone())) })
        .await;

    // Deleted.
    running.config_maps().delete("logs-kms", &Default::default()).await.unwrap();
    let recreated = wait_for(|| async { running.config_map("logs-kms").await }).await;
    assert_eq!(data_of(&recreated, "keyId"), Some(key_id.clone()));

    // Its label removed: it leaves the watch, the create that follows finds the name taken, by
    // the KmsKey's own ConfigMap, which gets its label back: no ExportConflict.
    let unlabel = json!({"metadata": {"labels": {"kmsoperator.dev/export-of": null}}});
    running.config_maps().patch("logs-kms", &PatchParams::default(), &Patch::Merge(unlabel)).await.unwrap();
    let uid = running.key().await.uid().expect("uid");
    wait_for(|| async {
        let config_map = running.config_map("logs-kms").await?;
        (config_map.labels().get("kmsoperator.dev/export-of") == Some(&uid)).then_some(())
    })
    .await;
    assert_eq!(running.synced().await, Some(("True".into(), "InSync".into())));
    assert!(!running.cluster.event_reasons("logs").contains(&"ExportConflict".to_owned()));
    assert_eq!(running.config_map_lists(), 1, "the watch's own first list only");
    running.stop().await;
}

#[tokio::test]
async fn a_config_map_the_key_does_not_own_gets_no_write_whatever_its_name_or_label() {
    let running = Running::start().await;
    // Someone else's ConfigMap under the name the key exports to.
    let taken = running
        .create_config_map(json!({"metadata": {"name": "taken", "namespace": "apps"}, "data": {"owner": "someone"}}))
        .await;
    let spec = json!({"export": {"configMapName": "taken"}});
    running.cluster.create::<KmsKey>("apps", key_object("logs", spec)).await;
    let uid = wait_for(|| async { running.key().await.uid() }).await;
    // One that claims, by its label, to be the key's export, without the key owning it.
    let claimed = json!({"metadata": {"name": "decoy", "namespace": "apps", "labels": {"kmsoperator.dev/export-of": uid}}, "data": {"owner": "someone"}});
    let decoy = running.create_config_map(claimed).await;
    wait_for(|| async { (running.synced().await? == ("False".into(), "ExportConflict".into())).then_some(()) }).await;

    // A rename moves the export, and neither of theirs is touched on the way.
    running.export_to("mine").await;
    wait_for(|| async { running.config_map("mine").await }).await;
    wait_for(|| async { (running.synced().await? == ("True".into(), "InSync".into())).then_some(()) }).await;
    for (name, before) in [("taken", taken), ("decoy", decoy)] {
        assert_eq!(running.writes_to(name), 0, "{name}: no write sent");
        let now = running.config_map(name).await.unwrap_or_else(|| panic!("{name} is still there"));
        assert_eq!(now.resource_version(), before.resource_version(), "{name}: unchanged");
    }
    running.stop().await;
}

#[tokio::test]
async fn a_config_map_made_again_by_someone_else_behind_the_store_is_neither_taken_nor_deleted() {
    let running = Running::start().await;
    running.exporting_key("logs-kms").await;
    wait_for(|| async { (running.synced().await? == ("True".into(), "InSync".into())).then_some(()) }).await;

    // The store still has the KmsKey's ConfigMap; the API server has someone else's by now.
    running.freeze_config_map_store();
    running.config_maps().delete("logs-kms", &Default::default()).await.unwrap();
    let theirs = running
        .create_config_map(json!({"metadata": {"name": "logs-kms", "namespace": "apps"}, "data": {"owner": "someone"}}))
        .await;

    // An alias changes what the ConfigMap must hold: the patch names the version the store had,
    // and the API server refuses it.
    let alias = object_in("KmsAlias", "apps", "logs", json!({"name": "alias/logs", "keyRef": {"name": "logs"}}));
    running.cluster.create::<KmsAlias>("apps", alias).await;
    wait_for(|| async { (running.synced().await? == ("False".into(), "ExportConflict".into())).then_some(()) }).await;

    // A rename: the new one is made, and the old one, someone else's by now, is not deleted.
    running.export_to("logs-arn").await;
    let moved = wait_for(|| async { running.config_map("logs-arn").await }).await;
    assert_eq!(data_of(&moved, "aliases").as_deref(), Some("alias/logs"));
    wait_for(|| async { (running.synced().await? == ("True".into(), "InSync".into())).then_some(()) }).await;
    // Every write sent to it named the KmsKey's old ConfigMap, and was refused.
    let now = running.config_map("logs-kms").await.expect("theirs is still there");
    assert_eq!(now.resource_version(), theirs.resource_version(), "theirs unchanged");
    assert_eq!(now.data, theirs.data);
    let status = running.key().await.status.expect("status");
    assert_eq!(condition(&status.conditions, "Ready").status, "True");
    running.stop().await;
}
