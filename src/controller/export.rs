//! `KmsKey.spec.export.configMapName`: a ConfigMap in the key's namespace with what
//! `engine::export` publishes, owned by the KmsKey (an ownerReference, so Kubernetes' garbage
//! collector deletes it with the KmsKey) and labelled with the KmsKey's uid, so that every pass
//! finds the ConfigMaps it exported (in the store of the controllers' watch of them,
//! `exported.rs`; a pass run on its own lists them): the one the spec names is created or
//! brought back to what it must hold, any other (a renamed or removed export) is deleted.
//!
//! A ConfigMap the KmsKey does not own is never written or deleted. What the store had may be
//! behind: a patch names the resourceVersion it read and a delete the uid and resourceVersion,
//! so a ConfigMap changed or made again since (by someone else, perhaps) is refused by the API
//! server, read afresh, and written only if the KmsKey still owns it; a create refused because
//! the name is taken reads what holds it, which may be the KmsKey's own.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::context::Context;
use super::exported::Exports;
use super::status::FIELD_MANAGER;
use crate::api::{KmsKey, KmsKeyStatus, Reason};
use crate::aws::AccountConfig;
use crate::engine::Finding;
use crate::engine::export::export_data;

/// The label that ties an exported ConfigMap to its KmsKey (by uid: names can outgrow a label).
pub const EXPORT_OF: &str = "kmsoperator.dev/export-of";

const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "kms-operator");

/// The ownerReference a KmsKey puts on its ConfigMap. `blockOwnerDeletion` is left out: setting
/// it needs the right to update the KmsKey's finalizers, and background deletion needs no block.
fn owner_reference(key: &KmsKey, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: KmsKey::api_version(&()).into_owned(),
        kind: KmsKey::kind(&()).into_owned(),
        name: key.name_any(),
        uid: uid.to_owned(),
        controller: Some(true),
        block_owner_deletion: None,
    }
}

pub(super) fn owned_by(config_map: &ConfigMap, uid: &str) -> bool {
    config_map.owner_references().iter().any(|r| r.uid == uid)
}

/// The ConfigMap the KmsKey must have.
fn desired(key: &KmsKey, uid: &str, name: &str, data: BTreeMap<String, String>) -> ConfigMap {
    let mut config_map = ConfigMap { data: Some(data), ..ConfigMap::default() };
    let meta = &mut config_map.metadata;
    meta.name = Some(name.to_owned());
    meta.namespace = key.namespace();
    meta.labels = Some(BTreeMap::from([
        (EXPORT_OF.to_owned(), uid.to_owned()),
        (MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned()),
    ]));
    meta.owner_references = Some(vec![owner_reference(key, uid)]);
    config_map
}

/// Whether `live` already holds what `want` says (other labels and fields may be anyone's).
fn holds(live: &ConfigMap, want: &ConfigMap) -> bool {
    let labels = live.labels();
    live.data == want.data
        && want.labels().iter().all(|(k, v)| labels.get(k) == Some(v))
        && want.owner_references().iter().all(|w| live.owner_references().contains(w))
}

#[derive(Debug, thiserror::Error)]
enum ExportError {
    #[error("writing the ConfigMap of spec.export failed: {0}")]
    Kube(#[from] kube::Error),
    #[error(
        "ConfigMap {0} exists and is not this KmsKey's export; it is left as it is: choose another spec.export.configMapName, or delete that ConfigMap"
    )]
    Taken(String),
    #[error("the key's aliases could not be listed for spec.export: {0}")]
    Aliases(String),
    #[error("ConfigMap {0} changed while it was written; it is written again on the next pass")]
    Moving(String),
    #[error("the controllers stopped before the exported ConfigMaps were listed")]
    Stopped,
}

/// Writes to one more version than the store had are plenty: each one read afresh.
const ATTEMPTS: usize = 3;

impl Context {
    /// Brings the KmsKey's exported ConfigMaps in line with its spec and `status` (the pass's);
    /// what stops it is returned for the pass to report like a blocker.
    pub async fn keep_export(&self, key: &KmsKey, account: &AccountConfig, status: &KmsKeyStatus) -> Option<Finding> {
        let uid = key.uid()?;
        let error = self.sync_export(key, &uid, account, status).await.err()?;
        let reason = if matches!(error, ExportError::Taken(_)) { Reason::ExportConflict } else { Reason::ExportFailed };
        Some(Finding::new(reason, error.to_string()))
    }

    async fn sync_export(
        &self,
        key: &KmsKey,
        uid: &str,
        account: &AccountConfig,
        status: &KmsKeyStatus,
    ) -> Result<(), ExportError> {
        let namespace = key.namespace().unwrap_or_else(|| "default".to_owned());
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &namespace);
        let wanted = key.spec.export_config_map();
        let exports = self.caches.exports();
        let mine: Vec<ConfigMap> = match &exports {
            Some(exports) => exports
                .of_key(&namespace, uid, wanted)
                .await
                .map_err(|_| ExportError::Stopped)?
                .iter()
                .map(|c| c.as_ref().clone())
                .collect(),
            // A pass run on its own (a test driving one reconcile) has no watch: it lists them.
            None => {
                let listed = api.list(&ListParams::default().labels(&format!("{EXPORT_OF}={uid}"))).await?;
                listed.items.into_iter().filter(|c| owned_by(c, uid)).collect()
            }
        };
        let exporter = Exporter { api: &api, uid, exports: exports.as_ref() };
        if let Some(name) = wanted {
            let aliases =
                self.engine.key_aliases(account, status).await.map_err(|e| ExportError::Aliases(e.to_string()))?;
            match export_data(status, &aliases) {
                Some(data) => {
                    let live = mine.iter().find(|c| c.name_any() == name).cloned();
                    exporter.write(live, &desired(key, uid, name, data)).await?
                }
                // No key yet: nothing to publish, and what was published stays.
                None => return Ok(()),
            }
        }
        // The old ConfigMap of a renamed export goes once the new one is in place.
        for stale in mine.into_iter().filter(|c| Some(c.name_any().as_str()) != wanted) {
            exporter.remove(stale).await?;
        }
        Ok(())
    }
}

/// Writes one KmsKey's ConfigMaps, noting each write for the watch (`exported.rs`).
struct Exporter<'a> {
    api: &'a Api<ConfigMap>,
    uid: &'a str,
    exports: Option<&'a Exports>,
}

/// A write refused because what it was made from is no longer there as it was read.
fn stale(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409 || status.code == 404)
}

impl Exporter<'_> {
    /// Creates `want`, or brings `live` (the ConfigMap of that name as last read) back to it.
    async fn write(&self, mut live: Option<ConfigMap>, want: &ConfigMap) -> Result<(), ExportError> {
        let name = want.name_any();
        for _ in 0..ATTEMPTS {
            let sent = match &live {
                // Someone else's ConfigMap of that name.
                Some(live) if !owned_by(live, self.uid) => return Err(ExportError::Taken(name)),
                Some(live) if holds(live, want) => {
                    self.note(live);
                    return Ok(());
                }
                Some(live) => {
                    self.note(want);
                    self.apply(live, want).await
                }
                None => {
                    self.note(want);
                    let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..PostParams::default() };
                    self.api.create(&params, want).await.map(drop)
                }
            };
            match sent {
                Ok(()) => return Ok(()),
                // Changed, gone or made since it was read (the name taken, perhaps by the KmsKey's
                // own ConfigMap the store does not have yet): read what is there now.
                Err(error) if stale(&error) => live = self.api.get_opt(&name).await?,
                Err(error) => return Err(error.into()),
            }
        }
        Err(ExportError::Moving(name))
    }

    /// Brings `live` to `want`, if it is still the version read: one changed or made again
    /// since is refused (409), not taken over.
    async fn apply(&self, live: &ConfigMap, want: &ConfigMap) -> Result<(), kube::Error> {
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let mut applied = serde_json::to_value(want).unwrap_or_default();
        applied["apiVersion"] = json!("v1");
        applied["kind"] = json!("ConfigMap");
        if let Some(version) = live.resource_version() {
            applied["metadata"]["resourceVersion"] = json!(version);
        }
        self.api.patch(&want.name_any(), &params, &Patch::Apply(applied)).await.map(drop)
    }

    /// Deletes `stale` (the KmsKey's own, as last read) if it is still that object and
    /// version; one changed since is read again and deleted only if the KmsKey still owns it.
    async fn remove(&self, mut stale: ConfigMap) -> Result<(), ExportError> {
        let name = stale.name_any();
        for _ in 0..ATTEMPTS {
            let preconditions = Preconditions { uid: stale.uid(), resource_version: stale.resource_version() };
            let params = DeleteParams { preconditions: Some(preconditions), ..DeleteParams::default() };
            self.note_gone(&stale);
            match self.api.delete(&name, &params).await {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(status)) if status.code == 404 => return Ok(()),
                Err(kube::Error::Api(status)) if status.code == 409 => match self.api.get_opt(&name).await? {
                    Some(now) if owned_by(&now, self.uid) => stale = now,
                    // Gone, or someone else's by now: not the KmsKey's to delete.
                    _ => return Ok(()),
                },
                Err(error) => return Err(error.into()),
            }
        }
        Err(ExportError::Moving(name))
    }

    fn note(&self, config_map: &ConfigMap) {
        if let Some(exports) = self.exports {
            exports.note(config_map);
        }
    }

    fn note_gone(&self, config_map: &ConfigMap) {
        if let Some(exports) = self.exports {
            exports.note_gone(config_map);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> KmsKey {
        let mut key = KmsKey::new("logs", serde_json::from_value(json!({"accountRef": "sec"})).unwrap());
        key.metadata.namespace = Some("apps".into());
        key.metadata.uid = Some("uid-1".into());
        key
    }

    #[test]
    fn the_config_map_is_owned_labelled_and_compared_on_what_the_operator_sets() {
        let data = BTreeMap::from([("keyId".to_owned(), "k1".to_owned())]);
        let want = desired(&key(), "uid-1", "logs-kms", data.clone());
        let owner = &want.owner_references()[0];
        assert_eq!((owner.kind.as_str(), owner.uid.as_str(), owner.controller), ("KmsKey", "uid-1", Some(true)));
        assert_eq!(owner.block_owner_deletion, None);
        assert_eq!(want.labels()[EXPORT_OF], "uid-1");

        let mut live = want.clone();
        live.labels_mut().insert("team".into(), "theirs".into());
        assert!(holds(&live, &want), "labels someone else added are theirs");
        live.data = Some(BTreeMap::from([("keyId".to_owned(), "edited".to_owned())]));
        assert!(!holds(&live, &want), "data edited by hand is repaired");
        assert!(owned_by(&want, "uid-1") && !owned_by(&want, "uid-2"));
    }
}
