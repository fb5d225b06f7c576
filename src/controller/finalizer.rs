//! The finalizer around a pass, as kube-runtime's `finalizer` helper does it (a JSON patch that
//! tests the list it read, so another writer's finalizer is never lost or doubled), with one
//! difference: once the finalizer is added, the same pass goes on to apply, with the object
//! the patch returned. kube-runtime's helper ends the pass there and lets the patch's watch
//! event start the next one; here that next pass queues for a worker of its (account, region)
//! lane behind every other object's first pass, so with 1,000 new objects in one lane no
//! CreateKey was sent for the first 6 s (`controller_fleet`, 2 x 1 x 250), and each new object
//! paid a second admission pass. The watch event of the patch starts no pass either: the
//! object as the patch leaves it is handed to `before_patch` to be seen (`seen.rs`) before the
//! patch is sent. (Kubernetes leaves a custom object's generation as it is on a change to
//! metadata, so what is seen ahead is what the API server stores.)

use std::fmt::Debug;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::context::ControllerError;

/// What a pass is asked to do with the object.
pub enum Finalized<K> {
    /// Converge it: it is live and carries the finalizer.
    Apply(Arc<K>),
    /// Let go of what it holds: it is being deleted and still carries the finalizer, which goes
    /// once this succeeds.
    Cleanup(Arc<K>),
}

/// Runs `reconcile` with the finalizer in place: adds it first to a live object that lacks it,
/// removes it after a cleanup that succeeded; an object being deleted without it is left alone.
/// `before_patch` is given the object's metadata as adding the finalizer will leave it, before
/// the patch is sent.
pub async fn finalized<K, F, Fut>(
    api: &Api<K>,
    finalizer: &str,
    object: Arc<K>,
    before_patch: impl FnOnce(&ObjectMeta),
    reconcile: F,
) -> Result<Action, ControllerError>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
    F: FnOnce(Finalized<K>) -> Fut,
    Fut: Future<Output = Result<Action, ControllerError>>,
{
    let held_at = object.finalizers().iter().position(|f| f == finalizer);
    let deleting = object.meta().deletion_timestamp.is_some();
    match (held_at, deleting) {
        (Some(_), false) => reconcile(Finalized::Apply(object)).await,
        (Some(index), true) => {
            let action = reconcile(Finalized::Cleanup(object.clone())).await?;
            // Tested by index and name: a list that changed since it was read fails the patch
            // rather than removing another controller's finalizer.
            let path = format!("/metadata/finalizers/{index}");
            let remove = json!([{"op": "test", "path": path, "value": finalizer}, {"op": "remove", "path": path}]);
            patch(api, &object, remove).await?;
            Ok(action)
        }
        (None, false) => {
            let add = if object.finalizers().is_empty() {
                // Absent (as the API server stores an empty list) or empty, as it was read.
                let read = object.meta().finalizers.as_ref().map(|_| json!([]));
                json!([{"op": "test", "path": "/metadata/finalizers", "value": read},
                       {"op": "add", "path": "/metadata/finalizers", "value": [finalizer]}])
            } else {
                // The API server does not deduplicate finalizers: a list another writer changed
                // since it was read fails the test, and the next pass reads it again.
                json!([{"op": "test", "path": "/metadata/finalizers", "value": object.finalizers()},
                       {"op": "add", "path": "/metadata/finalizers/-", "value": finalizer}])
            };
            let mut finalized_meta = object.meta().clone();
            finalized_meta.finalizers.get_or_insert_default().push(finalizer.to_owned());
            before_patch(&finalized_meta);
            let admitted = patch(api, &object, add).await?;
            reconcile(Finalized::Apply(Arc::new(admitted))).await
        }
        (None, true) => Ok(Action::await_change()),
    }
}

/// A JSON patch of the object's finalizers; a failed test (422) or a conflict (409) means the
/// pass read an old version.
async fn patch<K>(api: &Api<K>, object: &K, operations: Value) -> Result<K, ControllerError>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    let name =
        object.meta().name.as_deref().ok_or_else(|| ControllerError::Finalizer("the object has no name".into()))?;
    let operations: json_patch::Patch =
        serde_json::from_value(operations).map_err(|e| ControllerError::Finalizer(format!("patch: {e}")))?;
    match api.patch(name, &PatchParams::default(), &Patch::Json::<()>(operations)).await {
        Ok(patched) => Ok(patched),
        Err(kube::Error::Api(status)) if status.code == 409 || status.code == 422 => {
            Err(ControllerError::Stale(kube::Error::Api(status)))
        }
        Err(other) => Err(ControllerError::Kube(other)),
    }
}
