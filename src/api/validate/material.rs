//! Rules on where a `KmsKey`'s material comes from: `origin`, `customKeyStoreId` and
//! `xksKeyId` go together, and what KMS allows of keys whose material it does not make
//! (KMS API reference, CreateKey: `CustomKeyStoreId`, `XksKeyId`, `Origin`; Developer Guide,
//! "Custom key stores" and "Importing key material").

use super::issue::{Issues, quote, suggest};
use crate::api::KmsKeySpec;
use crate::api::catalog::{
    self, MAX_CUSTOM_KEY_STORE_ID_CHARS, MAX_XKS_KEY_ID_CHARS, ORIGIN_EXTERNAL_KEY_STORE, ORIGINS, ROTATABLE_KEY_SPEC,
};

pub(crate) fn check_material(issues: &mut Issues, spec: &KmsKeySpec) {
    let origin = spec.origin.as_str();
    if !ORIGINS.contains(&origin) {
        issues.add("spec.origin", format!("{} is not a KMS key origin", quote(origin)), suggest(origin, ORIGINS));
        return;
    }
    check_key_store(issues, spec, origin);
    check_external_key(issues, spec, origin);
    if catalog::in_custom_key_store(origin) {
        check_custom_key_store_shape(issues, spec, origin);
    }
    if !spec.material_from_kms() {
        check_no_rotation(issues, spec, origin);
    }
}

fn check_key_store(issues: &mut Issues, spec: &KmsKeySpec, origin: &str) {
    let field = "spec.customKeyStoreId";
    match (&spec.custom_key_store_id, catalog::in_custom_key_store(origin)) {
        (None, true) => issues.add(
            field,
            format!("is missing, and origin {origin} keys live in a custom key store"),
            "name the custom key store (its id, cks-...), as `aws kms describe-custom-key-stores` lists it",
        ),
        (Some(_), false) => issues.add(
            field,
            format!("is set, but origin {origin} keys are not in a custom key store"),
            "remove spec.customKeyStoreId, or set spec.origin: AWS_CLOUDHSM or EXTERNAL_KEY_STORE",
        ),
        (Some(id), true) if id.chars().count() > MAX_CUSTOM_KEY_STORE_ID_CHARS => issues.add(
            field,
            format!("is {} characters, over the KMS limit of {MAX_CUSTOM_KEY_STORE_ID_CHARS}", id.chars().count()),
            "use the custom key store's id (cks-...)",
        ),
        _ => {}
    }
}

fn check_external_key(issues: &mut Issues, spec: &KmsKeySpec, origin: &str) {
    let field = "spec.xksKeyId";
    let external = origin == ORIGIN_EXTERNAL_KEY_STORE;
    match &spec.xks_key_id {
        None if external => issues.add(
            field,
            "is missing, and an EXTERNAL_KEY_STORE key is backed by a key in the external key manager",
            "name that external key's id, as the external key store proxy knows it",
        ),
        Some(_) if !external => issues.add(
            field,
            format!("is set, but only EXTERNAL_KEY_STORE keys have an external key, and this key's origin is {origin}"),
            "remove spec.xksKeyId, or set spec.origin: EXTERNAL_KEY_STORE with its spec.customKeyStoreId",
        ),
        Some(id) => {
            let chars = id.chars().count();
            let bad = id.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')));
            if chars > MAX_XKS_KEY_ID_CHARS || bad.is_some() {
                issues.add(
                    field,
                    format!("{} is not an external key id", quote(id)),
                    format!("use 1 to {MAX_XKS_KEY_ID_CHARS} letters, digits, '-', '_' or '.'"),
                );
            }
        }
        None => {}
    }
}

/// Custom key stores hold single-Region symmetric encryption keys only.
fn check_custom_key_store_shape(issues: &mut Issues, spec: &KmsKeySpec, origin: &str) {
    if spec.key_spec != ROTATABLE_KEY_SPEC {
        issues.add(
            "spec.keySpec",
            format!(
                "is {}, but KMS keys in a custom key store (origin {origin}) are SYMMETRIC_DEFAULT only",
                quote(&spec.key_spec)
            ),
            "set keySpec: SYMMETRIC_DEFAULT, or use origin AWS_KMS for this key spec",
        );
    }
    if spec.multi_region {
        issues.add(
            "spec.multiRegion",
            format!("is true, but KMS keys in a custom key store (origin {origin}) cannot be multi-Region"),
            "set multiRegion: false and remove spec.replicas, or use origin AWS_KMS or EXTERNAL",
        );
    }
}

/// KMS rotates only material it made: for imported material and custom key stores the rotation
/// calls answer UnsupportedOperationException.
fn check_no_rotation(issues: &mut Issues, spec: &KmsKeySpec, origin: &str) {
    let Some(rotation) = &spec.rotation else {
        return;
    };
    if rotation.enabled == Some(true) {
        issues.add(
            "spec.rotation.enabled",
            format!(
                "is true, but KMS rotates automatically only key material it made, and this key's origin is {origin}"
            ),
            "set rotation.enabled: false or remove it (it defaults to false for this origin)",
        );
    }
    if spec.rotate_now().is_some() {
        issues.add(
            "spec.rotation.rotateNow",
            format!("is set, but the operator rotates on demand only key material KMS made, and this key's origin is {origin}"),
            "remove rotation.rotateNow; rotate imported material by importing new material yourself",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_clean, assert_issue, key};
    use super::super::validate_key;

    const KEY: &str = "KmsKey platform-kms/datamesh";

    #[test]
    fn each_origin_with_what_it_needs_is_valid() {
        for spec in [
            "{accountRef: core}",
            "{accountRef: core, origin: EXTERNAL, multiRegion: true}",
            "{accountRef: core, origin: AWS_CLOUDHSM, customKeyStoreId: cks-1234567890abcdef0}",
            "{accountRef: core, origin: EXTERNAL_KEY_STORE, customKeyStoreId: cks-1234567890abcdef0, xksKeyId: bb8562717f809024}",
        ] {
            assert_clean(&validate_key(&key(spec), None));
        }
    }

    #[test]
    fn an_unknown_origin_suggests_the_right_one() {
        let issues = validate_key(&key("{accountRef: core, origin: EXTRENAL}"), None);
        assert_issue(&issues, KEY, "spec.origin", &["EXTRENAL", "not a KMS key origin"], "EXTERNAL");
    }

    #[test]
    fn a_key_store_goes_with_its_origins_only() {
        let issues = validate_key(&key("{accountRef: core, origin: AWS_CLOUDHSM}"), None);
        assert_issue(&issues, KEY, "spec.customKeyStoreId", &["is missing", "AWS_CLOUDHSM"], "cks-");
        let issues = validate_key(&key("{accountRef: core, customKeyStoreId: cks-1}"), None);
        assert_issue(&issues, KEY, "spec.customKeyStoreId", &["origin AWS_KMS keys are not"], "remove");
        let issues =
            validate_key(&key("{accountRef: core, origin: EXTERNAL_KEY_STORE, customKeyStoreId: cks-1}"), None);
        assert_issue(&issues, KEY, "spec.xksKeyId", &["is missing"], "external key's id");
        let issues =
            validate_key(&key("{accountRef: core, origin: AWS_CLOUDHSM, customKeyStoreId: cks-1, xksKeyId: k}"), None);
        assert_issue(&issues, KEY, "spec.xksKeyId", &["only EXTERNAL_KEY_STORE", "AWS_CLOUDHSM"], "remove");
        let issues = validate_key(
            &key("{accountRef: core, origin: EXTERNAL_KEY_STORE, customKeyStoreId: cks-1, xksKeyId: 'a b'}"),
            None,
        );
        assert_issue(&issues, KEY, "spec.xksKeyId", &["not an external key id"], "letters");
    }

    #[test]
    fn custom_key_stores_hold_single_region_symmetric_keys_without_rotation() {
        let issues = validate_key(
            &key(
                "{accountRef: core, origin: AWS_CLOUDHSM, customKeyStoreId: cks-1, keySpec: RSA_2048, keyUsage: SIGN_VERIFY, multiRegion: true}",
            ),
            None,
        );
        assert_issue(&issues, KEY, "spec.keySpec", &["SYMMETRIC_DEFAULT only"], "origin AWS_KMS");
        assert_issue(&issues, KEY, "spec.multiRegion", &["cannot be multi-Region"], "multiRegion: false");
        let issues =
            validate_key(&key("{accountRef: core, origin: EXTERNAL, rotation: {enabled: true, rotateNow: '1'}}"), None);
        assert_issue(&issues, KEY, "spec.rotation.enabled", &["origin is EXTERNAL"], "rotation.enabled: false");
        assert_issue(&issues, KEY, "spec.rotation.rotateNow", &["origin is EXTERNAL"], "importing new material");
    }
}
