//! The finalizer around a pass (`controller::finalizer`), against the in-memory API server: a new
//! object's first pass adds the finalizer and applies in the same pass, with the object the
//! patch returned; a list read before another writer changed it adds or removes nothing; a
//! cleanup that fails keeps the finalizer.

mod support;

use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kms_operator::controller::context::ControllerError;
use kms_operator::controller::finalizer::{Finalized, finalized};
use kms_operator::controller::watched::meta_inputs;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use serde_json::json;
use support::fake_kube::FakeKube;

const OURS: &str = "kmsoperator.dev/finalizer";

async fn server_with(finalizers: &[&str]) -> (FakeKube, Api<ConfigMap>, ConfigMap) {
    let fake = FakeKube::new();
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}});
    Api::<Namespace>::all(fake.client())
        .create(&PostParams::default(), &serde_json::from_value(namespace).expect("namespace"))
        .await
        .expect("create namespace");
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "apps");
    let object = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "k", "finalizers": finalizers}, "data": {"a": "1"}});
    let created = api.create(&PostParams::default(), &serde_json::from_value(object).expect("object")).await;
    (fake, api, created.expect("create"))
}

/// What the pass was asked to do, and with which finalizers on the object it was given.
type Seen = Arc<Mutex<Vec<(&'static str, Vec<String>)>>>;

async fn pass(
    api: &Api<ConfigMap>,
    object: ConfigMap,
    seen: &Seen,
    cleanup_fails: bool,
) -> Result<Action, ControllerError> {
    let ahead = |meta: &ObjectMeta| seen.lock().expect("seen").push(("ahead", meta_finalizers(meta)));
    finalized(api, OURS, Arc::new(object), ahead, |event| async move {
        let (what, object) = match event {
            Finalized::Apply(object) => ("apply", object),
            Finalized::Cleanup(object) => ("cleanup", object),
        };
        seen.lock().expect("seen").push((what, object.finalizers().to_vec()));
        if what == "cleanup" && cleanup_fails {
            return Err(ControllerError::Finalizer("KMS did not answer".into()));
        }
        Ok(Action::await_change())
    })
    .await
}

fn meta_finalizers(meta: &ObjectMeta) -> Vec<String> {
    meta.finalizers.clone().unwrap_or_default()
}

fn patches(fake: &FakeKube) -> usize {
    fake.requests().iter().filter(|r| r.method == "PATCH").count()
}

#[tokio::test]
async fn a_new_object_gets_the_finalizer_and_is_applied_in_the_same_pass() {
    let (fake, api, object) = server_with(&[]).await;
    let seen = Seen::default();
    pass(&api, object, &seen, false).await.expect("pass");
    assert_eq!(
        *seen.lock().unwrap(),
        vec![("ahead", vec![OURS.to_owned()]), ("apply", vec![OURS.to_owned()])],
        "seen ahead as the patch leaves it, then applied with the patched object"
    );
    assert_eq!(api.get("k").await.expect("get").finalizers(), [OURS]);
    assert_eq!(patches(&fake), 1);

    // The pass its own patch starts finds the finalizer there: no write.
    let again = api.get("k").await.expect("get");
    pass(&api, again, &seen, false).await.expect("pass");
    assert_eq!(patches(&fake), 1, "a second pass writes nothing");
    assert_eq!(seen.lock().unwrap().len(), 3, "and sees nothing ahead");
}

#[tokio::test]
async fn a_list_that_changed_since_it_was_read_is_neither_doubled_nor_lost() {
    let (fake, api, read_before) = server_with(&["other.example/keep"]).await;
    let replaced = json!({"metadata": {"finalizers": ["other.example/keep", "third.example/x"]}});
    api.patch("k", &PatchParams::default(), &Patch::Merge(&replaced)).await.expect("another writer");
    let seen = Seen::default();
    let error = pass(&api, read_before, &seen, false).await.expect_err("the list it tested changed");
    assert!(error.is_stale_write(), "{error}");
    let seen = seen.lock().unwrap().iter().map(|(what, _)| *what).collect::<Vec<_>>();
    assert_eq!(seen, ["ahead"], "nothing is applied without the finalizer");
    assert_eq!(api.get("k").await.expect("get").finalizers(), ["other.example/keep", "third.example/x"]);
    assert_eq!(patches(&fake), 2, "the other writer's patch and the refused one");
}

#[tokio::test]
async fn a_deleted_object_keeps_the_finalizer_until_its_cleanup_succeeds_and_only_ours_goes() {
    let (_fake, api, _) = server_with(&[OURS, "other.example/keep"]).await;
    api.delete("k", &DeleteParams::default()).await.expect("delete");
    let deleting = api.get("k").await.expect("still there, held by finalizers");
    let seen = Seen::default();

    pass(&api, deleting.clone(), &seen, true).await.expect_err("cleanup failed");
    assert_eq!(api.get("k").await.expect("get").finalizers(), [OURS, "other.example/keep"], "kept");

    pass(&api, deleting, &seen, false).await.expect("cleanup");
    assert_eq!(api.get("k").await.expect("get").finalizers(), ["other.example/keep"], "only ours removed");
    assert_eq!(seen.lock().unwrap().iter().map(|(what, _)| *what).collect::<Vec<_>>(), ["cleanup", "cleanup"]);
}

#[tokio::test]
async fn a_deleted_object_without_the_finalizer_is_left_alone() {
    let (fake, api, _) = server_with(&["other.example/keep"]).await;
    api.delete("k", &DeleteParams::default()).await.expect("delete");
    let deleting = api.get("k").await.expect("held by the other finalizer");
    let before = patches(&fake);
    let seen = Seen::default();
    pass(&api, deleting, &seen, false).await.expect("pass");
    assert!(seen.lock().unwrap().is_empty());
    assert_eq!(patches(&fake), before, "no finalizer is added to an object being deleted");
}

/// The watch event of the finalizer patch starts no pass only if what was seen ahead of it has
/// the pass inputs of what the API server stored.
#[tokio::test]
async fn what_is_seen_ahead_of_the_patch_has_the_pass_inputs_of_what_it_stores() {
    for finalizers in [&[][..], &["other.example/keep"][..]] {
        let (_fake, api, object) = server_with(finalizers).await;
        let ahead = Mutex::new(None);
        let stored = Mutex::new(None);
        let expect = |meta: &ObjectMeta| *ahead.lock().expect("ahead") = Some(meta_inputs(meta));
        finalized(&api, OURS, Arc::new(object), expect, |event| async {
            if let Finalized::Apply(object) = event {
                *stored.lock().expect("stored") = Some(meta_inputs(&object.metadata));
            }
            Ok(Action::await_change())
        })
        .await
        .expect("pass");
        let stored = stored.into_inner().expect("stored").expect("applied");
        assert_eq!(ahead.into_inner().expect("ahead"), Some(stored), "finalizers {finalizers:?}");
        assert_eq!(stored, meta_inputs(&api.get("k").await.expect("get").metadata));
    }
}
