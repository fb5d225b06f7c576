//! An object this binary cannot decode (a field or value of a newer CRD, after a rollback),
//! said in its own status where it can be: `Synced=False`, reason `InvalidObject`, a message
//! naming the field. The watch keeps only such an object's metadata, so it is read raw, one GET
//! on this failing path only, for the field's path and for the conditions to keep.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta};
use kube::Resource;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::context::now;
use super::status::{FIELD_MANAGER, fenced};
use crate::api::conditions::{self, ConditionUpdate, SYNCED};
use crate::api::{Reason, decoding};

/// What cannot be read in `raw` as a `K`, in the words local mode uses for the same mistake
/// (`api::decoding`): the field's path, the problem and the fix, such as
/// `spec.keyAgreement: unknown field `keyAgreement` (remove it; expected one of: ...)`. `None`
/// when it reads.
pub fn unreadable_field<K: DeserializeOwned>(raw: Value) -> Option<String> {
    let issue = decoding::decode::<K, _>(raw, None).err()?;
    Some(format!("{}: {} ({})", issue.field, issue.problem, issue.fix))
}

/// The `Synced` condition of an object that cannot be read, with `problem` as its cause.
pub fn invalid_condition(problem: &str) -> ConditionUpdate {
    ConditionUpdate::new(
        SYNCED,
        false,
        Reason::InvalidObject,
        format!(
            "this kms-operator cannot read the object: {problem}. A field or value of a newer CRD than this kms-operator knows (after a rollback?): remove or fix it (kubectl edit), or run the kms-operator that knows it"
        ),
    )
}

/// Reads the object `meta` names raw, writes `Synced=False` (reason `InvalidObject`) into its
/// status when that is not already there, and returns what cannot be read. `fallback` (the
/// watch's words) stands in when the object has no name to read it by, or reads after all.
pub async fn mark_unreadable<K>(client: &kube::Client, meta: &ObjectMeta, fallback: &str) -> Result<String, kube::Error>
where
    K: Resource<DynamicType = ()> + DeserializeOwned,
{
    let resource = ApiResource::erase::<K>(&());
    let api: Api<DynamicObject> = match meta.namespace.as_deref() {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let Some(name) = meta.name.as_deref() else {
        return Ok(fallback.to_owned());
    };
    let raw = api.get(name).await?;
    let value = serde_json::to_value(&raw).unwrap_or_default();
    let problem = unreadable_field::<K>(value.clone()).unwrap_or_else(|| fallback.to_owned());
    let existing: Vec<Condition> = serde_json::from_value(value["status"]["conditions"].clone()).unwrap_or_default();
    let merged = conditions::merge(&existing, &[invalid_condition(&problem)], raw.metadata.generation, &now());
    if merged != existing {
        let patch = fenced(json!({"status": {"conditions": merged}}), raw.metadata.resource_version.as_deref());
        api.patch_status(name, &PatchParams::apply(FIELD_MANAGER), &Patch::Merge(patch)).await?;
    }
    Ok(problem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::KmsKey;

    fn key(spec: Value) -> Value {
        json!({"apiVersion": "kmsoperator.dev/v1alpha1", "kind": "KmsKey", "metadata": {"name": "k", "namespace": "apps"}, "spec": spec})
    }

    #[test]
    fn the_field_that_cannot_be_read_is_named_by_its_path() {
        let unknown = unreadable_field::<KmsKey>(key(json!({"accountRef": "a", "keyAgreement": "ECDH"}))).unwrap();
        assert!(unknown.starts_with("spec.keyAgreement: unknown field `keyAgreement`"), "{unknown}");
        let value =
            unreadable_field::<KmsKey>(key(json!({"accountRef": "a", "deletion": {"policy": "Shred"}}))).unwrap();
        assert!(value.starts_with("spec.deletion.policy: unknown variant `Shred`"), "{value}");
        assert_eq!(unreadable_field::<KmsKey>(key(json!({"accountRef": "a"}))), None);
    }

    #[test]
    fn the_condition_says_what_to_do() {
        let update = invalid_condition("spec.keyAgreement: unknown field `keyAgreement`");
        assert_eq!((update.type_, update.status, update.reason), (SYNCED, false, Reason::InvalidObject));
        assert!(update.message.contains("spec.keyAgreement") && update.message.contains("kubectl edit"));
    }
}
