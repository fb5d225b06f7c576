//! What a KmsKey's `spec.export` ConfigMap would hold after the run, for `--output json`: the
//! key as the run left it (or found it, in a plan), and its aliases as KMS lists them, with the
//! alias changes a plan would make on top.

use serde_json::{Value, json};

use super::result::ResourceResult;
use crate::api::{KmsKey, KmsKeyStatus, ObjectName};
use crate::aws::AccountConfig;
use crate::engine::export::{AliasesByRegion, export_data};
use crate::engine::{Action, Engine, KeyHandle};

/// The aliases after the planned changes of `aliases` (the run's alias results): created or
/// repointed to the key, or deleted or repointed away from it.
fn with_planned(
    mut live: AliasesByRegion,
    aliases: &[ResourceResult],
    key_id: Option<&str>,
    key: &ObjectName,
) -> AliasesByRegion {
    let ours = |handle: &KeyHandle| match handle {
        KeyHandle::Existing(id) => Some(id.as_str()) == key_id,
        KeyHandle::Pending(object) => object == key,
        _ => false,
    };
    for change in aliases.iter().filter(|r| r.pending()).flat_map(|r| r.actions()) {
        let names = live.entry(change.region.clone()).or_default();
        match &change.action {
            Action::CreateAlias { name } | Action::UpdateAlias { name, .. } if ours(&change.key) => {
                names.insert(name.clone());
            }
            Action::UpdateAlias { name, from } if Some(from.as_str()) == key_id => {
                names.remove(name);
            }
            Action::DeleteAlias { name } if ours(&change.key) => {
                names.remove(name);
            }
            _ => {}
        }
    }
    live
}

/// `{configMapName, data}` for a key with an export; `data` is absent until the key exists.
pub async fn exported(
    engine: &Engine,
    account: &AccountConfig,
    key: &KmsKey,
    status: &KmsKeyStatus,
    aliases: &[ResourceResult],
) -> Option<Value> {
    let name = key.spec.export_config_map()?;
    let object = ObjectName::of(crate::api::Kind::KmsKey, &key.metadata);
    let live = engine.key_aliases(account, status).await.unwrap_or_default();
    let aliases = with_planned(live, aliases, status.key_id.as_deref(), &object);
    let mut export = json!({ "configMapName": name });
    if let Some(data) = export_data(status, &aliases) {
        export["data"] = json!(data);
    }
    Some(export)
}
