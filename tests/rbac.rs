//! The chart's RBAC grants exactly what the controller calls: the controllers run through a
//! whole life cycle (every kind created, converged, refused, conflicting, deleted; leader
//! election on) against the in-memory API, every request they make is turned into the
//! permission it needs, and that set must equal the rules the chart renders.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kms_operator::api::{KmsAlias, KmsGrant, KmsKey};
use kms_operator::controller::leader::{Leadership, LeaseName, LeaseTiming};
use kms_operator::controller::{ControllerOptions, run_controllers};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;
use support::chart::{Permission, granted, permission};
use support::cluster::{Cluster, Namespaced, key_object};
use support::kms;
use support::manifests::REGION;
use support::moto::Moto;

async fn wait_for<F, Fut>(what: &str, probe: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !probe().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn ready<K>(cluster: &Cluster, name: &str) -> bool
where
    K: Namespaced,
{
    let Some(object) = cluster.get::<K>("apps", name).await else { return false };
    let value = serde_json::to_value(object).unwrap_or_default();
    value["status"]["conditions"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

async fn delete<K>(cluster: &Cluster, name: &str)
where
    K: Namespaced,
{
    Api::<K>::namespaced(cluster.client(), "apps").delete(name, &DeleteParams::default()).await.unwrap();
    wait_for(name, || async { cluster.get::<K>("apps", name).await.is_none() }).await;
}

#[tokio::test]
async fn the_chart_grants_exactly_what_the_controller_calls() {
    let moto = Moto::start();
    let cluster = Cluster::new().await;
    cluster.namespace("apps", json!({"kmsoperator.dev/tenant": "platform"})).await;
    // Where the chart installs the operator, and its leader Lease lives.
    cluster.namespace("kms-system", json!({})).await;
    cluster
        .account(
            &moto.endpoint(),
            json!({"allowedNamespaces": {"matchLabels": {"kmsoperator.dev/tenant": "platform"}}}),
        )
        .await;
    let client = kms::client(&moto.endpoint(), REGION).await;
    // An alias name held by a key the operator does not own: a conflict reported over and over.
    let foreign = client.create_key().send().await.unwrap().key_metadata().unwrap().key_id().to_owned();
    client.create_alias().alias_name("alias/taken").target_key_id(&foreign).send().await.unwrap();

    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let lease = Leadership::acquire(
        cluster.ctx.client.clone(),
        LeaseName { name: "kms-operator-leader", namespace: "kms-system", identity: "controller" },
        LeaseTiming { duration_seconds: 3, renew_grace_seconds: 1 },
        stop.clone(),
        shutdown.clone(),
    )
    .await
    .unwrap()
    .expect("leading");
    let running = tokio::spawn({
        let ctx = cluster.ctx.clone();
        let options = ControllerOptions::new(None, 4);
        async move { run_controllers(ctx, &options, shutdown).await }
    });

    let exported = json!({"deletion": {"policy": "Delete"}, "export": {"configMapName": "app-kms"}});
    cluster.create::<KmsKey>("apps", key_object("app", exported)).await;
    let alias = |name: &str, alias: &str| json!({"apiVersion": "kmsoperator.dev/v1alpha1", "kind": "KmsAlias", "metadata": {"name": name, "namespace": "apps"}, "spec": {"name": alias, "keyRef": {"name": "app"}}});
    cluster.create::<KmsAlias>("apps", alias("app", "alias/app")).await;
    cluster.create::<KmsAlias>("apps", alias("taken", "alias/taken")).await;
    cluster
        .create::<KmsGrant>("apps", json!({"apiVersion": "kmsoperator.dev/v1alpha1", "kind": "KmsGrant", "metadata": {"name": "reader", "namespace": "apps"}, "spec": {"keyRef": {"name": "app"}, "name": "reader", "granteePrincipal": "arn:aws:iam::123456789012:role/reader", "operations": ["Decrypt"]}}))
        .await;
    wait_for("the key", || ready::<KmsKey>(&cluster, "app")).await;
    wait_for("the alias", || ready::<KmsAlias>(&cluster, "app")).await;
    wait_for("the grant", || ready::<KmsGrant>(&cluster, "reader")).await;
    let repeated = || async {
        cluster
            .fake
            .requests()
            .iter()
            .any(|r| r.client == "controller" && r.method == "PATCH" && r.path.contains("/events/"))
    };
    wait_for("a repeated Event", repeated).await;
    // The alias wakes its key, whose ConfigMap then lists it; renaming the export moves it.
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client(), "apps");
    let lists_alias = || async {
        let exported = config_maps.get_opt("app-kms").await.ok().flatten();
        exported.and_then(|c| c.data).is_some_and(|d| d.get("aliases").is_some_and(|a| a == "alias/app"))
    };
    wait_for("the exported alias", lists_alias).await;
    // Its label removed by hand: it leaves the controller's watch, whose create then finds the
    // name taken and reads (gets) what holds it: its own, which gets the label back.
    let unlabel = json!({"metadata": {"labels": {"kmsoperator.dev/export-of": null}}});
    config_maps.patch("app-kms", &PatchParams::default(), &Patch::Merge(unlabel)).await.unwrap();
    let relabelled = || async {
        let exported = config_maps.get_opt("app-kms").await.ok().flatten();
        exported.is_some_and(|c| c.labels().contains_key("kmsoperator.dev/export-of"))
    };
    wait_for("the export's label back", relabelled).await;
    Api::<KmsKey>::namespaced(cluster.client(), "apps")
        .patch("app", &PatchParams::default(), &Patch::Merge(json!({"spec": {"export": {"configMapName": "app-arn"}}})))
        .await
        .unwrap();
    let moved = || async {
        config_maps.get_opt("app-kms").await.ok().flatten().is_none()
            && config_maps.get_opt("app-arn").await.ok().flatten().is_some()
    };
    wait_for("the renamed export", moved).await;

    delete::<KmsGrant>(&cluster, "reader").await;
    delete::<KmsAlias>(&cluster, "app").await;
    delete::<KmsAlias>(&cluster, "taken").await;
    delete::<KmsKey>(&cluster, "app").await;
    stop.send(true).unwrap();
    running.await.unwrap();
    lease.release().await;

    let needed: BTreeSet<Permission> =
        cluster.fake.requests().iter().filter(|r| r.client == "controller").map(permission).collect();
    let chart = granted(&json!({"leaderElection": {"enabled": true}}));
    let missing: Vec<_> = needed.difference(&chart).collect();
    let unused: Vec<_> = chart.difference(&needed).collect();
    assert!(missing.is_empty(), "the controller calls what the chart does not grant: {missing:?}");
    assert!(unused.is_empty(), "the chart grants what the controller never calls: {unused:?}");
}
