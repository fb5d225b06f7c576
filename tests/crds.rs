//! The CRDs: `crds/` matches the Rust types, and their CEL rules compile, fit the apiserver's
//! cost budget and accept and reject what they should (evaluated with kube's CEL engine, the
//! closest thing to an apiserver these machines can run).

use std::path::PathBuf;

use kms_operator::api::crds;
use kube::core::cel::{Validator, compile_schema};
use serde_json::{Value, json};

fn crds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crds")
}

#[test]
fn crds_directory_is_up_to_date() {
    for crd in crds::all() {
        let path = crds_dir().join(crds::file_name(&crd));
        let stored = std::fs::read_to_string(&path).unwrap_or_default();
        let generated = crds::to_yaml(&crd).expect("render CRD");
        assert!(stored == generated, "{} is stale or missing: run `just crds` and commit the result", path.display());
    }
    let expected: Vec<String> = crds::all().iter().map(crds::file_name).collect();
    for entry in std::fs::read_dir(crds_dir()).expect("crds/") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        assert!(expected.contains(&name), "crds/{name} is not generated from any type: remove it");
    }
}

fn schema(kind: &str) -> Value {
    let crd = crds::all().into_iter().find(|c| c.spec.names.kind == kind).expect("kind");
    let schema = crd.spec.versions[0].schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref()).expect("schema");
    serde_json::to_value(schema).expect("schema JSON")
}

#[test]
fn every_cel_rule_compiles_and_fits_the_cost_budget() {
    for kind in ["AwsAccount", "KmsKey", "KmsAlias", "KmsGrant"] {
        let compiled = compile_schema(&schema(kind));
        assert!(!compiled.has_errors(), "{kind}: {:?}", compiled.compilation_errors());
    }
}

fn check(kind: &str, spec: Value, old: Option<Value>) -> Result<(), String> {
    let object = |spec: Value| json!({"apiVersion": "kmsoperator.dev/v1alpha1", "kind": kind, "metadata": {"name": "x"}, "spec": spec});
    let old = old.map(object);
    Validator::new()
        .validate(&schema(kind), &object(spec), old.as_ref())
        .map_err(|errors| errors.into_vec().into_iter().map(|e| e.message).collect::<Vec<_>>().join("; "))
}

fn rejects(kind: &str, spec: Value, old: Option<Value>, message: &str) {
    match check(kind, spec.clone(), old) {
        Ok(()) => panic!("{kind} {spec} should be rejected ({message})"),
        Err(errors) => assert!(errors.contains(message), "{kind} {spec}: expected `{message}` in `{errors}`"),
    }
}

#[test]
fn key_rules_accept_a_full_key() {
    let spec = json!({
        "accountRef": "core", "keySpec": "SYMMETRIC_DEFAULT", "keyUsage": "ENCRYPT_DECRYPT", "multiRegion": true,
        "rotation": {"enabled": true, "periodDays": 365}, "tags": {"Env": "prod"},
        "policy": {"administrators": ["arn:aws:iam::123456789012:role/a"]}, "replicas": [{"region": "us-west-2"}]
    });
    check("KmsKey", spec.clone(), None).expect("valid on create");
    check("KmsKey", spec.clone(), Some(spec)).expect("valid on an unchanged update");
}

#[test]
fn key_rules_reject_what_the_schema_can_check() {
    rejects("KmsKey", json!({"accountRef": "a", "policy": {}, "policyDocument": "{}"}), None, "mutually exclusive");
    rejects(
        "KmsKey",
        json!({"accountRef": "a", "replicas": [{"region": "us-west-2"}]}),
        None,
        "needs spec.multiRegion: true",
    );
    rejects(
        "KmsKey",
        json!({"accountRef": "a", "keySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY", "rotation": {"enabled": true}}),
        None,
        "only for keySpec SYMMETRIC_DEFAULT",
    );
    rejects(
        "KmsKey",
        json!({"accountRef": "a", "keySpec": "HMAC_256"}),
        None,
        "keyUsage is not valid for this keySpec",
    );
    check("KmsKey", json!({"accountRef": "a", "keySpec": "HMAC_256", "keyUsage": "GENERATE_VERIFY_MAC"}), None)
        .expect("HMAC with MAC usage");
    rejects("KmsKey", json!({"accountRef": "a", "tags": {"aws:createdBy": "x"}}), None, "reserved prefixes");
}

#[test]
fn key_rules_make_identity_fields_immutable() {
    let old = json!({"accountRef": "a", "keySpec": "SYMMETRIC_DEFAULT", "keyUsage": "ENCRYPT_DECRYPT"});
    rejects(
        "KmsKey",
        json!({"accountRef": "a", "keySpec": "RSA_2048", "keyUsage": "ENCRYPT_DECRYPT"}),
        Some(old.clone()),
        "keySpec is immutable",
    );
    rejects(
        "KmsKey",
        json!({"accountRef": "a", "keySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"}),
        Some(json!({"accountRef": "a", "keySpec": "RSA_2048", "keyUsage": "ENCRYPT_DECRYPT"})),
        "keyUsage is immutable",
    );
    rejects("KmsKey", json!({"accountRef": "a", "multiRegion": true}), Some(old.clone()), "multiRegion is immutable");
    rejects("KmsKey", json!({"accountRef": "b"}), Some(old), "accountRef is immutable");
}

#[test]
fn key_material_fields_go_together_and_never_change() {
    // As API.md writes the fields it leaves empty.
    let written_empty = json!({"accountRef": "a", "origin": "AWS_KMS", "customKeyStoreId": "", "xksKeyId": "", "export": {"configMapName": ""}});
    check("KmsKey", written_empty.clone(), Some(written_empty)).expect("empty means not set");
    let cloudhsm = json!({"accountRef": "a", "origin": "AWS_CLOUDHSM", "customKeyStoreId": "cks-1234567890abcdef0"});
    check("KmsKey", cloudhsm.clone(), None).expect("a CloudHSM key with its key store");
    let xks = json!({"accountRef": "a", "origin": "EXTERNAL_KEY_STORE", "customKeyStoreId": "cks-1234567890abcdef1", "xksKeyId": "bb8562717f809024"});
    check("KmsKey", xks.clone(), Some(xks.clone())).expect("an external key store key, unchanged");
    check("KmsKey", json!({"accountRef": "a", "origin": "EXTERNAL", "multiRegion": true}), None)
        .expect("imported material, multi-Region");
    rejects("KmsKey", json!({"accountRef": "a", "origin": "AWS_CLOUDHSM"}), None, "customKeyStoreId goes with origin");
    rejects(
        "KmsKey",
        json!({"accountRef": "a", "customKeyStoreId": "cks-1"}),
        None,
        "customKeyStoreId goes with origin",
    );
    rejects(
        "KmsKey",
        json!({"accountRef": "a", "origin": "EXTERNAL_KEY_STORE", "customKeyStoreId": "cks-1"}),
        None,
        "xksKeyId goes with origin EXTERNAL_KEY_STORE",
    );
    rejects(
        "KmsKey",
        json!({"accountRef": "a", "origin": "AWS_CLOUDHSM", "customKeyStoreId": "cks-1", "multiRegion": true}),
        None,
        "single-Region SYMMETRIC_DEFAULT keys",
    );
    rejects(
        "KmsKey",
        json!({"accountRef": "a", "origin": "EXTERNAL", "rotation": {"enabled": true}}),
        None,
        "only key material it made",
    );
    rejects(
        "KmsKey",
        json!({"accountRef": "a", "origin": "EXTERNAL"}),
        Some(json!({"accountRef": "a", "origin": "AWS_KMS"})),
        "origin is immutable",
    );
    let mut moved = cloudhsm.clone();
    moved["customKeyStoreId"] = json!("cks-1234567890abcdef9");
    rejects("KmsKey", moved, Some(cloudhsm), "customKeyStoreId and xksKeyId are immutable");
    let mut rekeyed = xks.clone();
    rekeyed["xksKeyId"] = json!("another");
    rejects("KmsKey", rekeyed, Some(xks), "customKeyStoreId and xksKeyId are immutable");
}

#[test]
fn alias_and_grant_rules_check_references() {
    rejects("KmsAlias", json!({"name": "alias/a"}), None, "exactly one of spec.keyRef and spec.targetKeyId");
    rejects(
        "KmsAlias",
        json!({"name": "alias/a", "keyRef": {"name": "k"}, "targetKeyId": "abc", "accountRef": "x"}),
        None,
        "exactly one",
    );
    rejects("KmsAlias", json!({"name": "alias/a", "targetKeyId": "abc"}), None, "needs spec.accountRef");
    rejects(
        "KmsAlias",
        json!({"name": "alias/aws/ebs", "keyRef": {"name": "k"}}),
        None,
        "reserved for AWS managed keys",
    );
    rejects(
        "KmsAlias",
        json!({"name": "alias/b", "keyRef": {"name": "k"}}),
        Some(json!({"name": "alias/a", "keyRef": {"name": "k"}})),
        "name is immutable",
    );
    check("KmsAlias", json!({"name": "alias/a", "targetKeyId": "abc", "accountRef": "x"}), None)
        .expect("explicit target");
    let grant = json!({"keyRef": {"name": "k"}, "name": "g", "granteePrincipal": "arn:aws:iam::123456789012:role/r", "operations": ["Decrypt"],
        "constraints": {"encryptionContextEquals": {"a": "b"}, "encryptionContextSubset": {"c": "d"}}});
    rejects("KmsGrant", grant, None, "only one of encryptionContextEquals and encryptionContextSubset");
}

#[test]
fn account_rules_tie_external_id_to_a_role() {
    rejects(
        "AwsAccount",
        json!({"accountId": "123456789012", "region": "eu-west-1", "externalId": "x"}),
        None,
        "only used with spec.assumeRoleArn",
    );
    check("AwsAccount", json!({"accountId": "123456789012", "region": "eu-west-1", "assumeRoleArn": "arn:aws:iam::123456789012:role/r", "externalId": "x"}), None)
        .expect("role with external id");
}
