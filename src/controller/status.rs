//! Writing status only when it changed: a resync that finds nothing new writes nothing.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use kube::core::NamespaceResourceScope;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use futures::FutureExt;
use futures::future::BoxFuture;

use crate::api::CreateIntent;
use crate::api::conditions::{self, ConditionUpdate};
use crate::api::status::CommonStatus;
use crate::engine::key::{IntentError, IntentRecorder};

pub const FIELD_MANAGER: &str = "kms-operator";

/// How old `lastSyncTime` may grow on a resource whose status does not otherwise change.
pub const SYNC_TIME_REFRESH: Duration = Duration::from_secs(3600);

/// The status to write: `fresh` (from the engine) with conditions merged into `previous`
/// (keeping transition times), or `None` when nothing worth a write changed.
pub fn next_status<S: CommonStatus>(
    previous: Option<&S>,
    mut fresh: S,
    updates: &[ConditionUpdate],
    generation: Option<i64>,
    now: &Time,
) -> Option<S> {
    let old_conditions = previous.map(CommonStatus::conditions).unwrap_or_default();
    fresh.set_conditions(conditions::merge(old_conditions, updates, generation, now));
    fresh.set_observed_generation(generation);
    let Some(previous) = previous else {
        fresh.set_last_sync_time(Some(now.clone()));
        return Some(fresh);
    };
    fresh.set_last_sync_time(previous.last_sync_time().cloned());
    let stale = previous.last_sync_time().is_none_or(|t| now.0.duration_since(t.0).unsigned_abs() >= SYNC_TIME_REFRESH);
    if &fresh == previous && !stale {
        return None;
    }
    fresh.set_last_sync_time(Some(now.clone()));
    Some(fresh)
}

/// The merge patch that turns `previous` into `status`. A merge patch leaves alone what it does
/// not name, so every field `status` no longer has (a deletion date once a key is restored, an
/// intent once its key is on record) is named as null.
pub fn status_patch<S: CommonStatus>(previous: Option<&S>, status: &S) -> serde_json::Value {
    let mut patch = serde_json::to_value(status).unwrap_or_else(|_| json!({}));
    let old = previous.and_then(|p| serde_json::to_value(p).ok());
    let old_fields = old.as_ref().and_then(|o| o.as_object()).into_iter().flat_map(|o| o.keys().map(String::as_str));
    let gone: Vec<String> = old_fields
        .chain(S::written_mid_pass().iter().copied())
        .filter(|f| patch.get(*f).is_none())
        .map(str::to_owned)
        .collect();
    if let Some(fields) = patch.as_object_mut() {
        for field in gone {
            fields.insert(field, serde_json::Value::Null);
        }
    }
    json!({ "status": patch })
}

/// `patch` made conditional on the object still being at `resource_version`: the API server
/// refuses it (409 Conflict) when anyone wrote the object since it was read, so a writer acting
/// on a stale view (a replica that lost its lease, a pass that raced another) fails instead of
/// overwriting newer status.
pub fn fenced(mut patch: serde_json::Value, resource_version: Option<&str>) -> serde_json::Value {
    if let (Some(version), Some(fields)) = (resource_version, patch.as_object_mut()) {
        fields.insert("metadata".to_owned(), json!({ "resourceVersion": version }));
    }
    patch
}

/// Merge-patches `.status` of a namespaced or cluster-scoped object from `previous` to `status`,
/// only if the object is still at the version `object` was read at.
pub async fn patch_status<K, S>(api: &Api<K>, object: &K, previous: Option<&S>, status: &S) -> Result<(), kube::Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
    S: CommonStatus,
{
    // Named, not temporaries: a temporary borrowed across the await makes the future's Send
    // bound depend on a higher-ranked lifetime the compiler cannot prove.
    let name = object.name_any();
    let params = PatchParams::apply(FIELD_MANAGER);
    let version = object.resource_version();
    let patch: Patch<serde_json::Value> = Patch::Merge(fenced(status_patch(previous, status), version.as_deref()));
    api.patch_status(&name, &params, &patch).await?;
    Ok(())
}

/// Records the intent to create a key in the KmsKey's status before CreateKey leaves, so that
/// a crash between the request and its answer leaves a trace the next process finds.
pub struct StatusIntent<'a> {
    pub api: &'a Api<crate::api::KmsKey>,
    pub name: String,
    /// The object's version as read, then as this recorder left it.
    version: Mutex<Option<String>>,
    /// The intent this recorder wrote, if it wrote one.
    written: Mutex<Option<CreateIntent>>,
}

impl<'a> StatusIntent<'a> {
    pub fn new(api: &'a Api<crate::api::KmsKey>, key: &crate::api::KmsKey) -> Self {
        StatusIntent {
            api,
            name: key.name_any(),
            version: Mutex::new(key.resource_version()),
            written: Mutex::new(None),
        }
    }

    /// `key` as the rest of the pass must write it: at the version the intent's write left,
    /// with the intent in its status, so that a pass whose create KMS refused clears it.
    pub fn latest(&self, key: &crate::api::KmsKey) -> crate::api::KmsKey {
        let mut key = key.clone();
        key.metadata.resource_version = self.version.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some(intent) = self.written.lock().unwrap_or_else(PoisonError::into_inner).clone() {
            key.status.get_or_insert_with(Default::default).creating = Some(intent);
        }
        key
    }
}

/// What a failed write of the intent means: a 409 is a stale view, the API's other refusals and
/// a lost connection are worth a retry, anything else (a request that could not be built, an
/// answer that could not be read) is kms-operator's own fault.
pub fn intent_error(error: kube::Error) -> IntentError {
    match error {
        kube::Error::Api(status) if status.code == 409 => IntentError::Stale(status.message),
        kube::Error::Api(status) => IntentError::Unavailable(format!("{} ({})", status.message, status.code)),
        error @ (kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::Auth(_)) => {
            IntentError::Unavailable(error.to_string())
        }
        error => IntentError::Internal(error.to_string()),
    }
}

impl IntentRecorder for StatusIntent<'_> {
    fn record<'a>(&'a self, intent: &'a CreateIntent) -> BoxFuture<'a, Result<(), IntentError>> {
        async move {
            let version = self.version.lock().unwrap_or_else(PoisonError::into_inner).clone();
            let patch = fenced(json!({ "status": { "creating": intent } }), version.as_deref());
            let written = self
                .api
                .patch_status(&self.name, &PatchParams::apply(FIELD_MANAGER), &Patch::Merge(patch))
                .await
                .map_err(intent_error)?;
            *self.version.lock().unwrap_or_else(PoisonError::into_inner) = written.resource_version();
            *self.written.lock().unwrap_or_else(PoisonError::into_inner) = Some(intent.clone());
            Ok(())
        }
        .boxed()
    }
}

/// Namespaced API for an object's own namespace.
pub fn api_for<K>(client: &kube::Client, object: &K) -> Api<K>
where
    K: Resource<Scope = NamespaceResourceScope>,
    K::DynamicType: Default,
{
    Api::namespaced(client.clone(), &object.namespace().unwrap_or_else(|| "default".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::conditions::{READY, SYNCED};
    use crate::api::{KmsKeyStatus, Reason};

    fn at(seconds: i64) -> Time {
        Time(jiff::Timestamp::from_second(1_800_000_000 + seconds).unwrap())
    }

    fn updates(ready: bool) -> Vec<ConditionUpdate> {
        vec![
            ConditionUpdate::new(READY, ready, Reason::Available, "ok"),
            ConditionUpdate::new(SYNCED, true, Reason::InSync, "ok"),
        ]
    }

    fn status() -> KmsKeyStatus {
        KmsKeyStatus { key_id: Some("k1".into()), key_state: Some("Enabled".into()), ..KmsKeyStatus::default() }
    }

    #[test]
    fn an_unchanged_status_is_not_written_again() {
        let first = next_status(None, status(), &updates(true), Some(1), &at(0)).expect("first write");
        assert_eq!(first.last_sync_time, Some(at(0)));
        assert_eq!(next_status(Some(&first), status(), &updates(true), Some(1), &at(600)), None);
    }

    #[test]
    fn a_change_is_written_and_keeps_unchanged_transition_times() {
        let first = next_status(None, status(), &updates(true), Some(1), &at(0)).unwrap();
        let changed = KmsKeyStatus { key_state: Some("Disabled".into()), ..status() };
        let second = next_status(Some(&first), changed, &updates(false), Some(2), &at(60)).expect("changed");
        let ready = second.conditions.iter().find(|c| c.type_ == READY).unwrap();
        let synced = second.conditions.iter().find(|c| c.type_ == SYNCED).unwrap();
        assert_eq!(ready.last_transition_time, at(60));
        assert_eq!(synced.last_transition_time, at(0), "Synced did not change status");
        assert_eq!(second.observed_generation, Some(2));
        assert_eq!(second.last_sync_time, Some(at(60)));
    }

    #[test]
    fn the_sync_time_is_refreshed_hourly_even_without_changes() {
        let first = next_status(None, status(), &updates(true), Some(1), &at(0)).unwrap();
        let later = next_status(Some(&first), status(), &updates(true), Some(1), &at(3600)).expect("refresh");
        assert_eq!(later.last_sync_time, Some(at(3600)));
    }

    #[test]
    fn an_intent_write_that_fails_is_stale_unavailable_or_internal() {
        use crate::engine::EngineError;
        let api =
            |code: u16| kube::Error::Api(kube::core::Status::failure("refused", "Reason").with_code(code).boxed());
        let unreadable = kube::Error::SerdeError(serde_json::from_str::<u8>("{").unwrap_err());
        let cases = [
            (api(409), "Stale", Reason::StaleObject, false),
            (api(500), "Unavailable", Reason::KubernetesApi, true),
            (api(429), "Unavailable", Reason::KubernetesApi, true),
            (unreadable, "Internal", Reason::InternalError, false),
        ];
        for (error, kind, reason, transient) in cases {
            let intent = intent_error(error);
            assert!(format!("{intent:?}").starts_with(kind), "{intent:?}");
            let failed = EngineError::Intent(intent);
            assert_eq!((failed.reason(), failed.is_transient()), (reason, transient), "{failed}");
            assert_eq!(failed.is_stale(), kind == "Stale");
        }
    }
}
