//! The in-memory Kubernetes API behaves like an API server where the controller tests rely on it.

mod support;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher;
use serde_json::json;
use support::fake_kube::FakeKube;

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}}),
    )
    .unwrap()
}

#[tokio::test]
async fn create_get_patch_and_conflicts() {
    let fake = FakeKube::new();
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "apps");
    let created = api.create(&PostParams::default(), &config_map("one")).await.unwrap();
    assert_eq!(created.metadata.namespace.as_deref(), Some("apps"));
    assert!(api.create(&PostParams::default(), &config_map("one")).await.is_err(), "already exists");
    let patched = api.patch("one", &PatchParams::default(), &Patch::Merge(json!({"data": {"b": "2"}}))).await.unwrap();
    assert_eq!(patched.data.unwrap().len(), 2);
    let mut stale = created.clone();
    stale.data = Some([("c".to_string(), "3".to_string())].into());
    let error = api.replace("one", &PostParams::default(), &stale).await.unwrap_err();
    assert!(error.to_string().contains("modified"), "{error}");
    assert!(api.get("missing").await.is_err());
    assert_eq!(api.list(&Default::default()).await.unwrap().items.len(), 1);
}

#[tokio::test]
async fn lists_select_by_label_and_owned_objects_go_with_their_owner() {
    let fake = FakeKube::new();
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "apps");
    let mut owner = config_map("owner");
    owner.metadata.labels = Some([("kmsoperator.dev/export-of".to_owned(), "x".to_owned())].into());
    let owner = api.create(&PostParams::default(), &owner).await.unwrap();
    let mut owned = config_map("owned");
    owned.metadata.owner_references = Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "owner".into(),
        uid: owner.metadata.uid.clone().unwrap(),
        ..Default::default()
    }]);
    api.create(&PostParams::default(), &owned).await.unwrap();
    let selected = |selector: &'static str| {
        let api = api.clone();
        async move {
            let params = kube::api::ListParams::default().labels(selector);
            api.list(&params).await.map(|l| l.items.into_iter().map(|c| c.metadata.name.unwrap()).collect::<Vec<_>>())
        }
    };
    assert_eq!(selected("kmsoperator.dev/export-of=x").await.unwrap(), vec!["owner"]);
    assert_eq!(selected("kmsoperator.dev/export-of==x,!other").await.unwrap(), vec!["owner"]);
    assert_eq!(selected("kmsoperator.dev/export-of!=x").await.unwrap(), vec!["owned"]);
    assert!(selected("kmsoperator.dev/export-of in (x)").await.is_err(), "not modelled, so refused");
    api.delete("owner", &DeleteParams::default()).await.unwrap();
    assert!(api.get_opt("owned").await.unwrap().is_none(), "collected with its owner");
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let fake = FakeKube::new();
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "apps");
    let mut held = config_map("held");
    held.metadata.finalizers = Some(vec!["x/y".into()]);
    api.create(&PostParams::default(), &held).await.unwrap();
    api.delete("held", &DeleteParams::default()).await.unwrap();
    let marked = api.get("held").await.unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());
    api.patch("held", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}}))).await.unwrap();
    assert!(api.get_opt("held").await.unwrap().is_none(), "gone once the last finalizer is removed");
}

#[tokio::test]
async fn apply_conflicts_between_managers_unless_forced() {
    let fake = FakeKube::new();
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "apps");
    let mine = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "lease"}, "data": {"holder": "a"}});
    api.patch("lease", &PatchParams::apply("a"), &Patch::Apply(&mine)).await.unwrap();
    let theirs =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "lease"}, "data": {"holder": "b"}});
    let conflict = api.patch("lease", &PatchParams::apply("b"), &Patch::Apply(&theirs)).await.unwrap_err();
    assert!(conflict.to_string().contains("conflict"), "{conflict}");
    api.patch("lease", &PatchParams::apply("b").force(), &Patch::Apply(&theirs)).await.unwrap();
}

#[tokio::test]
async fn watches_stream_changes_and_the_runtime_watcher_sees_them() {
    let fake = FakeKube::new();
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "apps");
    api.create(&PostParams::default(), &config_map("first")).await.unwrap();
    let version = api.list(&Default::default()).await.unwrap().metadata.resource_version.unwrap();
    let mut stream = api.watch(&WatchParams::default().timeout(5), &version).await.unwrap().boxed();
    api.create(&PostParams::default(), &config_map("second")).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(5), stream.try_next()).await.unwrap().unwrap() {
        Some(WatchEvent::Added(cm)) => assert_eq!(cm.metadata.name.as_deref(), Some("second")),
        other => panic!("expected the second object, got {other:?}"),
    }

    let events = watcher::watcher(api.clone(), watcher::Config::default()).boxed();
    let names: Vec<String> = tokio::time::timeout(Duration::from_secs(5), async {
        let mut names = Vec::new();
        let mut events = events;
        while let Some(event) = events.try_next().await.unwrap() {
            if let watcher::Event::InitApply(cm) = event {
                names.push(cm.metadata.name.unwrap());
            }
            if names.len() == 2 {
                break;
            }
        }
        names
    })
    .await
    .unwrap();
    assert_eq!(names, vec!["first", "second"]);
}

#[tokio::test]
async fn a_patch_naming_an_old_resource_version_is_refused() {
    let fake = FakeKube::new();
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "default");
    let created = api
        .create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "c"}})).unwrap())
        .await
        .unwrap();
    let version = created.metadata.resource_version.clone().unwrap();
    let current = json!({"metadata": {"resourceVersion": version}, "data": {"a": "1"}});
    api.patch("c", &PatchParams::default(), &Patch::Merge(&current)).await.expect("the version read");
    let stale = json!({"metadata": {"resourceVersion": version}, "data": {"a": "2"}});
    let error = api.patch("c", &PatchParams::default(), &Patch::Merge(&stale)).await.unwrap_err();
    assert!(matches!(error, kube::Error::Api(status) if status.code == 409));
    assert_eq!(api.get("c").await.unwrap().data.unwrap()["a"], "1");
}
