//! `KmsKey.spec.export.configMapName`: a ConfigMap in the key's namespace with what
//! `engine::export` publishes, owned by the KmsKey (an ownerReference, so Kubernetes' garbage
//! collector deletes it with the KmsKey) and labelled with the KmsKey's uid, so that every pass
//! finds the ConfigMaps it exported with one LIST: the one the spec names is created or brought
//! back to what it must hold, any other (a renamed or removed export) is deleted. A ConfigMap of
//! that name that the KmsKey does not own is never taken over.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::context::Context;
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

fn owned_by(config_map: &ConfigMap, uid: &str) -> bool {
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
}

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
        let listed = api.list(&ListParams::default().labels(&format!("{EXPORT_OF}={uid}"))).await?;
        let mine: Vec<&ConfigMap> = listed.items.iter().filter(|c| owned_by(c, uid)).collect();
        let wanted = key.spec.export_config_map();
        if let Some(name) = wanted {
            let aliases =
                self.engine.key_aliases(account, status).await.map_err(|e| ExportError::Aliases(e.to_string()))?;
            match export_data(status, &aliases) {
                Some(data) => {
                    write(&api, mine.iter().find(|c| c.name_any() == name), desired(key, uid, name, data)).await?
                }
                // No key yet: nothing to publish, and what was published stays.
                None => return Ok(()),
            }
        }
        // The old ConfigMap of a renamed export goes once the new one is in place.
        for stale in mine.iter().filter(|c| Some(c.name_any().as_str()) != wanted) {
            api.delete(&stale.name_any(), &DeleteParams::default()).await?;
        }
        Ok(())
    }
}

/// Creates `want`, or brings `live` (the KmsKey's own) back to it.
async fn write(api: &Api<ConfigMap>, live: Option<&&ConfigMap>, want: ConfigMap) -> Result<(), ExportError> {
    let name = want.name_any();
    match live {
        Some(live) if holds(live, &want) => Ok(()),
        Some(_) => {
            let params = PatchParams::apply(FIELD_MANAGER).force();
            let mut applied = serde_json::to_value(&want).unwrap_or_default();
            applied["apiVersion"] = json!("v1");
            applied["kind"] = json!("ConfigMap");
            api.patch(&name, &params, &Patch::Apply(applied)).await?;
            Ok(())
        }
        None => {
            let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..PostParams::default() };
            match api.create(&params, &want).await {
                Ok(_) => Ok(()),
                // Someone else's ConfigMap of that name.
                Err(kube::Error::Api(status)) if status.code == 409 => Err(ExportError::Taken(name)),
                Err(error) => Err(error.into()),
            }
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
