//! Where a key's material comes from (`origin`, `customKeyStoreId`, `xksKeyId`): fixed when the
//! key is created, so a difference is a blocker, never a change; and a key whose imported
//! material is missing (`PendingImport`) is waiting for its owner, not drifting. Pure.

use crate::api::Reason;
use crate::api::catalog::ORIGIN_EXTERNAL;
use crate::aws::model::KeyDescription;
use crate::engine::change::Finding;
use crate::engine::desired::DesiredKey;

/// Differences between the key's material as declared and as KMS describes it. A field the
/// server leaves out cannot contradict the spec.
pub fn material_mismatches(desired: &DesiredKey, key: &KeyDescription) -> Vec<Finding> {
    let want = &desired.material;
    let mut findings = Vec::new();
    let mut check = |field: &str, want: Option<&str>, have: Option<&str>| {
        if have.is_none() || want == have {
            return;
        }
        let have = have.unwrap_or_default();
        findings.push(Finding::new(
            Reason::ImmutableFieldMismatch,
            format!(
                "key {} has {field} {have} but the spec says {}; {field} cannot change after creation: set spec.{field}: {have} or create a new KmsKey",
                key.key_id,
                want.unwrap_or("none")
            ),
        ));
    };
    check("origin", Some(want.origin.as_str()), Some(key.origin.as_str()).filter(|o| !o.is_empty()));
    check("customKeyStoreId", want.custom_key_store_id.as_deref(), key.custom_key_store_id.as_deref());
    check("xksKeyId", want.xks_key_id.as_deref(), key.xks_key_id.as_deref());
    findings
}

/// What a key waiting for its imported material is told: KMS refuses to enable, disable or use
/// it until the material is there, and only its owner can import it.
pub fn pending_import_notice(key: &KeyDescription, region: &str) -> Finding {
    Finding::new(
        Reason::PendingImport,
        format!(
            "key {} in {region} waits for its key material (origin EXTERNAL): import it with `aws kms get-parameters-for-import` and `aws kms import-key-material --key-id {}`; until then it cannot be used, enabled or disabled, and the operator leaves its state alone",
            key.key_id, key.key_id
        ),
    )
}

/// A key created with imported material starts in `PendingImport`, where KMS refuses to
/// disable it: the new key's `enabled: false` waits for the material.
pub fn starts_pending_import(desired: &DesiredKey) -> bool {
    desired.material.origin == ORIGIN_EXTERNAL
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::key::fixtures::{desired, live};

    #[test]
    fn a_different_origin_or_key_store_is_named_with_the_fix() {
        let want = desired();
        let mut key = live(&want).key;
        assert!(material_mismatches(&want, &key).is_empty());
        key.origin = "EXTERNAL".into();
        key.custom_key_store_id = Some("cks-1234567890abcdef0".into());
        let found = material_mismatches(&want, &key);
        assert_eq!(found.len(), 2);
        assert!(found[0].message.contains("has origin EXTERNAL but the spec says AWS_KMS"), "{}", found[0].message);
        assert!(found[0].message.contains("set spec.origin: EXTERNAL"), "{}", found[0].message);
        assert!(found[1].message.contains("customKeyStoreId cks-1234567890abcdef0 but the spec says none"));
    }

    #[test]
    fn a_server_that_leaves_the_origin_out_contradicts_nothing() {
        let want = desired();
        let key = KeyDescription { origin: String::new(), ..live(&want).key };
        assert!(material_mismatches(&want, &key).is_empty());
    }
}
