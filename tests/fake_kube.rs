//! The in-memory Kubernetes API behaves like an API server where the controller tests rely on
//! it: each rule a real API server enforces is tried here, and what it refuses is refused.

mod support;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kms_operator::api::{AwsAccount, KmsKey};
use kube::ResourceExt;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams, Preconditions,
    WatchEvent, WatchParams,
};
use kube::runtime::watcher;
use serde_json::json;
use support::fake_kube::FakeKube;

/// A server with the namespace `apps`, which objects of namespaced kinds need.
async fn server() -> FakeKube {
    let fake = FakeKube::new();
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}});
    Api::<Namespace>::all(fake.client())
        .create(&PostParams::default(), &serde_json::from_value(namespace).unwrap())
        .await
        .unwrap();
    fake
}

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}}),
    )
    .unwrap()
}

#[tokio::test]
async fn create_get_patch_and_conflicts() {
    let fake = server().await;
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

/// An ownerReference to `owner` (by kind, name and uid).
fn owned_by(owner: &ConfigMap) -> OwnerReference {
    OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: owner.metadata.name.clone().unwrap(),
        uid: owner.metadata.uid.clone().unwrap(),
        ..OwnerReference::default()
    }
}

fn with_owners(name: &str, owners: Vec<OwnerReference>) -> ConfigMap {
    let mut map = config_map(name);
    map.metadata.owner_references = Some(owners);
    map
}

#[tokio::test]
async fn owned_objects_go_with_their_owners_and_a_reference_across_namespaces_leads_nowhere() {
    let fake = server().await;
    Api::<Namespace>::all(fake.client())
        .create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "other"}})).unwrap())
        .await
        .unwrap();
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "apps");
    let names = || async {
        api.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|c| c.metadata.name.unwrap())
            .collect::<Vec<_>>()
    };
    let first = api.create(&PostParams::default(), &config_map("first")).await.unwrap();
    let second = api.create(&PostParams::default(), &config_map("second")).await.unwrap();
    api.create(&PostParams::default(), &with_owners("only-first", vec![owned_by(&first)])).await.unwrap();
    api.create(&PostParams::default(), &with_owners("both", vec![owned_by(&first), owned_by(&second)])).await.unwrap();
    let mut held = with_owners("held", vec![owned_by(&first)]);
    held.metadata.finalizers = Some(vec!["x/y".into()]);
    api.create(&PostParams::default(), &held).await.unwrap();

    api.delete("first", &DeleteParams::default()).await.unwrap();
    assert_eq!(names().await, ["both", "held", "second"], "only-first collected with its owner");
    let both = api.get("both").await.unwrap();
    assert_eq!(
        both.metadata.owner_references.unwrap(),
        vec![owned_by(&second)],
        "the absent owner's reference dropped"
    );
    assert!(api.get("held").await.unwrap().metadata.deletion_timestamp.is_some(), "deleted, held by its finalizer");

    // A real collector finds an owner in the dependent's own namespace only, and by uid.
    let elsewhere: Api<ConfigMap> = Api::namespaced(fake.client(), "other");
    elsewhere.create(&PostParams::default(), &with_owners("across", vec![owned_by(&second)])).await.unwrap();
    assert!(elsewhere.get_opt("across").await.unwrap().is_none(), "an owner in another namespace is no owner");
    let stale = OwnerReference { uid: "uid-of-an-older-second".into(), ..owned_by(&second) };
    api.create(&PostParams::default(), &with_owners("stale", vec![stale])).await.unwrap();
    assert!(api.get_opt("stale").await.unwrap().is_none(), "an owner of another uid is no owner");

    let nameless = OwnerReference { name: String::new(), ..owned_by(&second) };
    assert!(api.create(&PostParams::default(), &with_owners("bad", vec![nameless])).await.is_err());
    let two_controllers = vec![
        OwnerReference { controller: Some(true), ..owned_by(&second) },
        OwnerReference { controller: Some(true), ..owned_by(&both_as_owner(&api).await) },
    ];
    assert!(api.create(&PostParams::default(), &with_owners("bad", two_controllers)).await.is_err());
    let orphaning =
        DeleteParams { propagation_policy: Some(kube::api::PropagationPolicy::Orphan), ..DeleteParams::default() };
    assert!(api.delete("second", &orphaning).await.is_err(), "orphaning is not modelled, so refused");
}

async fn both_as_owner(api: &Api<ConfigMap>) -> ConfigMap {
    api.get("both").await.unwrap()
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed_and_none_is_added_meanwhile() {
    let fake = server().await;
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "apps");
    let mut held = config_map("held");
    held.metadata.finalizers = Some(vec!["x/y".into()]);
    api.create(&PostParams::default(), &held).await.unwrap();
    api.delete("held", &DeleteParams::default()).await.unwrap();
    let marked = api.get("held").await.unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());
    // Once deletion began, no finalizer may be added.
    let more = json!({"metadata": {"finalizers": ["x/y", "kmsoperator.dev/finalizer"]}});
    let error = api.patch("held", &PatchParams::default(), &Patch::Merge(&more)).await.unwrap_err();
    assert!(matches!(&error, kube::Error::Api(status) if status.code == 422), "{error}");
    assert!(error.to_string().contains("no new finalizers"), "{error}");
    api.patch("held", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}}))).await.unwrap();
    assert!(api.get_opt("held").await.unwrap().is_none(), "gone once the last finalizer is removed");
}

#[tokio::test]
async fn apply_conflicts_between_managers_unless_forced() {
    let fake = server().await;
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
    let fake = server().await;
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

#[tokio::test]
async fn a_delete_whose_preconditions_no_longer_hold_is_refused() {
    let fake = FakeKube::new();
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "default");
    let first = api.create(&PostParams::default(), &config_map_in_default("c")).await.unwrap();
    api.patch("c", &PatchParams::default(), &Patch::Merge(json!({"data": {"a": "1"}}))).await.unwrap();
    let on = |uid: Option<String>, version: Option<String>| DeleteParams {
        preconditions: Some(Preconditions { uid, resource_version: version }),
        ..DeleteParams::default()
    };
    let conflict =
        |result: Result<_, kube::Error>| matches!(result, Err(kube::Error::Api(status)) if status.code == 409);
    assert!(conflict(api.delete("c", &on(None, first.resource_version())).await.map(drop)), "changed since");
    api.delete("c", &on(first.uid(), None)).await.expect("the same object");
    api.create(&PostParams::default(), &config_map_in_default("c")).await.unwrap();
    assert!(conflict(api.delete("c", &on(first.uid(), None)).await.map(drop)), "made again under the name");
    assert!(api.get_opt("c").await.unwrap().is_some());
}

fn config_map_in_default(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}})).unwrap()
}

fn key(name: &str, extra: serde_json::Value) -> KmsKey {
    let mut object = json!({"apiVersion": "kmsoperator.dev/v1alpha1", "kind": "KmsKey", "metadata": {"name": name, "namespace": "apps"}, "spec": {"accountRef": "test"}});
    json_patch::merge(&mut object, &extra);
    serde_json::from_value(object).unwrap()
}

#[tokio::test]
async fn status_is_written_only_through_its_subresource() {
    let fake = server().await;
    let keys: Api<KmsKey> = Api::namespaced(fake.client(), "apps");
    let claimed = json!({"status": {"keyId": "claimed-on-create"}});
    let created = keys.create(&PostParams::default(), &key("k", claimed)).await.unwrap();
    assert_eq!(created.status, None, "status sent with a create is dropped");
    assert_eq!(created.metadata.generation, Some(1));

    let status = json!({"status": {"keyId": "k-1", "keyState": "Enabled"}});
    keys.patch_status("k", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
    // A write to the object changes its spec, never its status.
    let spec_and_status = json!({"spec": {"description": "v2"}, "status": {"keyId": "overwritten"}});
    let updated = keys.patch("k", &PatchParams::default(), &Patch::Merge(&spec_and_status)).await.unwrap();
    assert_eq!(updated.spec.description.as_deref(), Some("v2"));
    assert_eq!(updated.status.as_ref().and_then(|s| s.key_id.as_deref()), Some("k-1"));
    assert_eq!(updated.metadata.generation, Some(2));
    let mut replaced = updated.clone();
    replaced.status.as_mut().unwrap().key_id = Some("replaced".into());
    let replaced = keys.replace("k", &PostParams::default(), &replaced).await.unwrap();
    assert_eq!(replaced.status.unwrap().key_id.as_deref(), Some("k-1"));
    // A write to /status changes its status, never its spec or metadata.
    let everything =
        json!({"metadata": {"labels": {"a": "b"}}, "spec": {"description": "v3"}, "status": {"keyState": "Disabled"}});
    let status_written = keys.patch_status("k", &PatchParams::default(), &Patch::Merge(&everything)).await.unwrap();
    assert_eq!(status_written.spec.description.as_deref(), Some("v2"));
    assert_eq!(status_written.metadata.labels, None);
    assert_eq!(status_written.metadata.generation, Some(2), "a status write is no new generation");
    assert_eq!(status_written.status.unwrap().key_state.as_deref(), Some("Disabled"));
    // Kinds without a status subresource have no /status.
    let maps: Api<ConfigMap> = Api::namespaced(fake.client(), "apps");
    maps.create(&PostParams::default(), &config_map("m")).await.unwrap();
    let error =
        maps.patch_status("m", &PatchParams::default(), &Patch::Merge(json!({"status": {}}))).await.unwrap_err();
    assert!(matches!(error, kube::Error::Api(status) if status.code == 404));
}

#[tokio::test]
async fn objects_live_in_namespaces_that_exist_and_kinds_at_their_scope() {
    let fake = server().await;
    let missing: Api<ConfigMap> = Api::namespaced(fake.client(), "nowhere");
    let error = missing.create(&PostParams::default(), &config_map("c")).await.unwrap_err();
    assert!(error.to_string().contains("namespaces \"nowhere\" not found"), "{error}");
    // The namespaces every cluster has exist from the start.
    for namespace in ["default", "kube-system"] {
        Api::<ConfigMap>::namespaced(fake.client(), namespace)
            .create(&PostParams::default(), &config_map("c"))
            .await
            .unwrap();
    }
    // A cluster-scoped kind has no namespaced path.
    let account = json!({"apiVersion": "kmsoperator.dev/v1alpha1", "kind": "AwsAccount", "metadata": {"name": "a"}, "spec": {"accountId": "111122223333", "region": "eu-west-1"}});
    let resource = ApiResource::erase::<AwsAccount>(&());
    let namespaced: Api<DynamicObject> = Api::namespaced_with(fake.client(), "apps", &resource);
    let dynamic: DynamicObject = serde_json::from_value(account.clone()).unwrap();
    let error = namespaced.create(&PostParams::default(), &dynamic).await.unwrap_err();
    assert!(matches!(error, kube::Error::Api(status) if status.code == 404));
    let account: AwsAccount = serde_json::from_value(account).unwrap();
    Api::<AwsAccount>::all(fake.client()).create(&PostParams::default(), &account).await.expect("at cluster scope");
}

#[tokio::test]
async fn fields_the_crd_schema_lacks_are_pruned_and_reported() {
    let fake = server().await;
    let keys: Api<KmsKey> = Api::namespaced(fake.client(), "apps");
    keys.create(&PostParams::default(), &key("k", json!({}))).await.unwrap();
    let status =
        json!({"status": {"keyId": "k-1", "unknownField": 1, "rotation": {"enabled": true, "notInSchema": "x"}}});
    let written = keys.patch_status("k", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
    let raw: serde_json::Value = serde_json::to_value(&written).unwrap();
    assert_eq!(raw["status"]["keyId"], "k-1");
    assert!(raw["status"].get("unknownField").is_none() && raw["status"]["rotation"].get("notInSchema").is_none());
    let mut pruned = fake.pruned("default");
    pruned.sort();
    assert_eq!(pruned, vec!["kmskeys/apps/k: .status.rotation.notInSchema", "kmskeys/apps/k: .status.unknownField"]);
    // Maps declared by the schema (tags) keep every key; a field under spec it lacks goes.
    let spec = json!({"spec": {"tags": {"Any": "thing"}, "bogus": true}});
    let written = keys.patch("k", &PatchParams::default(), &Patch::Merge(&spec)).await.unwrap();
    assert_eq!(written.spec.tags.get("Any").map(String::as_str), Some("thing"));
    assert!(fake.pruned("default").iter().any(|p| p.ends_with(".spec.bogus")));
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists_and_watches() {
    let fake = server().await;
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "apps");
    for (name, labels) in [("a", json!({"team": "x", "tier": "1"})), ("b", json!({"team": "y"})), ("c", json!({}))] {
        let mut map = config_map(name);
        map.metadata.labels = serde_json::from_value(labels).unwrap();
        api.create(&PostParams::default(), &map).await.unwrap();
    }
    let names = |selector: &str, fields: Option<&str>| {
        let api = api.clone();
        let mut params = ListParams::default().labels(selector);
        if let Some(fields) = fields {
            params = params.fields(fields);
        }
        async move {
            let listed = api.list(&params).await.unwrap();
            listed.items.into_iter().filter_map(|m| m.metadata.name).collect::<Vec<_>>()
        }
    };
    assert_eq!(names("team=x", None).await, ["a"]);
    assert_eq!(names("team==x,tier", None).await, ["a"]);
    assert_eq!(names("team!=x", None).await, ["b", "c"], "!= holds where the label is absent");
    assert_eq!(names("team in (x,y)", None).await, ["a", "b"]);
    assert_eq!(names("team notin (x)", None).await, ["b", "c"]);
    assert_eq!(names("!team", None).await, ["c"]);
    assert_eq!(names("", Some("metadata.name=b")).await, ["b"]);
    assert_eq!(names("team", Some("metadata.name!=a")).await, ["b"]);
    assert!(api.list(&ListParams::default().labels("bad key!")).await.is_err(), "a malformed selector is refused");

    // A watch sees an object enter and leave its selection.
    let version = api.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    let mut watch = api.watch(&WatchParams::default().labels("team=x").timeout(5), &version).await.unwrap().boxed();
    api.patch("c", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"team": "x"}}})))
        .await
        .unwrap();
    api.patch("b", &PatchParams::default(), &Patch::Merge(json!({"data": {"z": "1"}}))).await.unwrap();
    api.patch("a", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"team": "z"}}})))
        .await
        .unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(5), watch.try_next()).await.unwrap().unwrap() {
            Some(WatchEvent::Added(m)) => seen.push(format!("added {}", m.metadata.name.unwrap())),
            Some(WatchEvent::Deleted(m)) => seen.push(format!("deleted {}", m.metadata.name.unwrap())),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seen, ["added c", "deleted a"]);
}

#[tokio::test]
async fn a_watch_from_before_a_compaction_is_gone_and_the_runtime_watcher_lists_again() {
    let fake = server().await;
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "apps");
    api.create(&PostParams::default(), &config_map("before")).await.unwrap();
    let version = api.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    fake.compact();
    let mut stream = api.watch(&WatchParams::default().timeout(5), &version).await.unwrap().boxed();
    match tokio::time::timeout(Duration::from_secs(5), stream.try_next()).await.unwrap().unwrap() {
        Some(WatchEvent::Error(status)) => assert_eq!((status.code, status.reason.as_str()), (410, "Expired")),
        other => panic!("expected 410 Gone, got {other:?}"),
    }
    assert_eq!(fake.expired_watches(), 1);

    // The runtime's watcher: listed, then cut off by a compaction; it resumes from a version
    // that is gone, is told so, and lists again, finding what changed meanwhile.
    let mut events = watcher::watcher(api.clone(), watcher::Config::default()).boxed();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(10), events.next()).await.expect("an event").expect("not ended")
    };
    while !matches!(next().await, Ok(watcher::Event::InitDone)) {}
    api.create(&PostParams::default(), &config_map("seen")).await.unwrap();
    while !matches!(next().await, Ok(watcher::Event::Apply(_))) {}
    fake.compact();
    api.create(&PostParams::default(), &config_map("after")).await.unwrap();
    let mut relisted = Vec::new();
    loop {
        match next().await {
            Ok(watcher::Event::InitApply(map)) => relisted.push(map.metadata.name.unwrap()),
            Ok(watcher::Event::InitDone) => break,
            _ => {}
        }
    }
    relisted.sort();
    assert_eq!(relisted, ["after", "before", "seen"]);
    assert_eq!(fake.expired_watches(), 2);
}

#[tokio::test]
async fn a_watch_that_asks_for_bookmarks_ends_with_one_at_the_current_version() {
    let fake = server().await;
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "apps");
    let version = api.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    let mut stream = api.watch(&WatchParams::default().timeout(1), &version).await.unwrap().boxed();
    // Writes elsewhere move the version on; the watch sees none of them but its bookmark.
    let elsewhere: Api<ConfigMap> = Api::namespaced(fake.client(), "default");
    let other = elsewhere.create(&PostParams::default(), &config_map("elsewhere")).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(5), stream.try_next()).await.unwrap().unwrap() {
        Some(WatchEvent::Bookmark(bookmark)) => {
            assert_eq!(Some(bookmark.metadata.resource_version), other.metadata.resource_version);
        }
        other => panic!("expected a bookmark, got {other:?}"),
    }
    let without = api.watch(&WatchParams::default().timeout(1).disable_bookmarks(), &version).await.unwrap().boxed();
    let events: Vec<_> = tokio::time::timeout(Duration::from_secs(5), without.collect::<Vec<_>>()).await.unwrap();
    assert!(events.is_empty(), "no bookmark unless asked: {events:?}");
}
