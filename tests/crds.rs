//! The CRDs: `crds/` matches the Rust types, and their CEL rules compile, fit the apiserver's
//! cost budget and accept and reject what they should (evaluated with kube's CEL engine, the
//! closest thing to an apiserver these machines can run).

mod support;

use std::path::PathBuf;

use kms_operator::api::crds;
use kube::core::cel::{Validator, compile_schema};
use serde_json::{Value, json};
use support::fake_kube::structural::{depth_bound, unknown_keywords, validate};

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

// What a real API server does beyond CEL: the OpenAPI value validation of tests/support (the
// same the in-memory API applies to every write).

fn spec_schema(kind: &str) -> Value {
    schema(kind)["properties"]["spec"].clone()
}

/// The schema of one element of `spec.policy.statements`.
fn statement_schema() -> Value {
    spec_schema("KmsKey")["properties"]["policy"]["properties"]["statements"]["items"].clone()
}

/// `[[[... leaf ...]]]`, `levels` lists deep.
fn nested(levels: usize, leaf: Value) -> Value {
    (0..levels).fold(leaf, |inner, _| json!([inner]))
}

#[test]
fn the_fake_api_server_enforces_every_keyword_the_crds_use() {
    for kind in ["AwsAccount", "KmsKey", "KmsAlias", "KmsGrant"] {
        assert_eq!(unknown_keywords(&schema(kind)), Vec::<String>::new(), "{kind}");
    }
}

#[test]
fn no_object_a_tenant_can_store_is_deeper_than_a_client_reads() {
    for kind in ["AwsAccount", "KmsKey", "KmsAlias", "KmsGrant"] {
        let depth = depth_bound(&schema(kind)).unwrap_or_else(|| panic!("{kind}: some field is unbounded in depth"));
        // A list response wraps the object twice (the list, its items); metadata.managedFields
        // mirrors the object's field paths three levels down. kube's client (serde_json) stops
        // at 128 levels for every response, lists included.
        let in_a_list = 2 + depth.max(1 + 3 + depth);
        assert!(in_a_list < 32, "{kind}: {depth} levels deep, {in_a_list} in a list: far from 128 it must be");
    }
}

#[test]
fn statements_are_iam_objects_and_nothing_nested_deeper() {
    let schema = statement_schema();
    let accepted = [
        json!({"Sid": "A", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
               "Condition": {"StringEquals": {"kms:CallerAccount": "111122223333"}}}),
        json!({"Effect": "Deny", "NotPrincipal": {"AWS": ["arn:aws:iam::111122223333:root"], "Service": "logs.amazonaws.com"},
               "NotAction": ["kms:Decrypt", "kms:Encrypt"], "NotResource": ["*"],
               "Condition": {"Bool": {"kms:GrantIsForAWSResource": true}, "NumericLessThan": {"aws:MultiFactorAuthAge": 3600},
                             "StringLike": {"kms:ViaService": ["rds.*.amazonaws.com", "s3.*.amazonaws.com"]}}}),
    ];
    for statement in accepted {
        assert_eq!(validate(&schema, &statement), vec![], "{statement}");
    }
    let deep = |leaf: Value| nested(125, leaf);
    let refused = [
        json!({"Action": deep(json!("kms:Decrypt"))}),
        json!({"Action": [["kms:Decrypt"]]}),
        json!({"Action": {"kms": "Decrypt"}}),
        json!({"Resource": [{"nested": "x"}]}),
        json!({"Principal": {"AWS": deep(json!("arn:aws:iam::111122223333:root"))}}),
        json!({"Principal": [{"AWS": "x"}]}),
        json!({"Principal": {"AWS": "a", "Service": "b", "Federated": "c", "CanonicalUser": "d", "Fifth": "e"}}),
        json!({"Condition": {"StringEquals": {"k": deep(json!("v"))}}}),
        json!({"Condition": {"StringEquals": {"k": [["v"]]}}}),
        json!({"Condition": {"StringEquals": {"k": {"nested": "v"}}}}),
        json!({"Condition": {"StringEquals": "v"}}),
        json!({"Effect": "Maybe"}),
        json!({"Sid": "x".repeat(2049)}),
    ];
    for statement in refused {
        assert!(
            !validate(&schema, &statement).is_empty(),
            "admitted: {}",
            &statement.to_string()[..80.min(statement.to_string().len())]
        );
    }
    let policy = &spec_schema("KmsKey")["properties"]["policy"];
    let too_many = json!({"statements": vec![json!({"Effect": "Allow"}); 101]});
    assert!(!validate(policy, &too_many).is_empty(), "at most 100 statements");
}

/// Every `type: integer` in `schema`, by path, with its bounds.
fn integers(schema: &Value, path: &str, out: &mut Vec<(String, Option<f64>, Option<f64>)>) {
    if schema["type"] == "integer" {
        out.push((path.to_owned(), schema["minimum"].as_f64(), schema["maximum"].as_f64()));
    }
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        integers(property, &format!("{path}.{name}"), out);
    }
    for keyword in ["items", "additionalProperties"] {
        if schema[keyword].is_object() {
            integers(&schema[keyword], &format!("{path}[]"), out);
        }
    }
}

#[test]
fn every_integer_in_spec_and_status_is_bounded_within_its_rust_type() {
    for kind in ["AwsAccount", "KmsKey", "KmsAlias", "KmsGrant"] {
        let mut found = Vec::new();
        integers(&schema(kind), "", &mut found);
        assert!(!found.is_empty(), "{kind}");
        for (path, minimum, maximum) in found {
            let (Some(minimum), Some(maximum)) = (minimum, maximum) else {
                panic!("{kind}{path}: an integer without both bounds");
            };
            assert!(minimum >= 0.0 && maximum <= 9_007_199_254_740_991.0, "{kind}{path}: [{minimum}, {maximum}]");
        }
    }
    let status = schema("KmsKey")["properties"]["status"].clone();
    for out_of_range in [
        json!({"rotation": {"enabled": true, "periodDays": 2_147_483_648_i64}}),
        json!({"rotation": {"enabled": true, "onDemandRotations": 4_294_967_296_i64}}),
        json!({"observedGeneration": -1}),
        json!({"conditions": [{"type": "Ready", "status": "True", "reason": "R", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 9_007_199_254_740_992_i64}]}),
    ] {
        assert!(!validate(&status, &out_of_range).is_empty(), "admitted {out_of_range}");
    }
    let written = serde_json::to_value(kms_operator::api::KmsKeyStatus {
        observed_generation: Some(3),
        rotation: Some(kms_operator::api::RotationStatus {
            enabled: true,
            period_days: Some(365),
            on_demand_rotations: Some(10),
            ..Default::default()
        }),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(validate(&status, &written), vec![], "what the operator writes");
}

#[test]
fn the_value_validation_checks_types_bounds_and_prunes_nulls() {
    let schema = json!({"type": "object", "required": ["n"], "properties": {
        "n": {"type": "integer", "minimum": 0, "maximum": 10},
        "s": {"type": "string", "maxLength": 3, "pattern": "^a"},
        "l": {"type": "array", "maxItems": 1, "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
        "z": {"type": "string"}
    }});
    assert_eq!(validate(&schema, &json!({"n": 3, "s": "ab", "z": null, "unknown": [[[]]]})), vec![]);
    let found = validate(&schema, &json!({"n": 11, "s": "bcde", "l": ["x", "x"]}));
    let mut paths: Vec<&str> = found.iter().map(|v| v.path.as_str()).collect();
    paths.sort();
    assert_eq!(paths, [".l", ".l", ".n", ".s", ".s"], "{found:?}");
    assert_eq!(validate(&schema, &json!({"n": 1.5}))[0].message, "must be of type integer");
    let flat = json!({"x-kubernetes-preserve-unknown-fields": true, "maxProperties": 0, "items": {"type": "string"}});
    assert_eq!(depth_bound(&flat), Some(1));
    assert_eq!(depth_bound(&json!({"x-kubernetes-preserve-unknown-fields": true})), None);
    assert_eq!(depth_bound(&json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})), None);
    assert_eq!(
        unknown_keywords(&json!({"type": "object", "properties": {"a": {"anyOf": []}}})),
        ["/properties/a/anyOf"]
    );
}
