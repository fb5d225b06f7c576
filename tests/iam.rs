//! The IAM policy in deploy/iam allows exactly the KMS actions the operator calls, no more.

use std::collections::BTreeSet;

use kms_operator::aws::Op;
use serde_json::Value;

#[test]
fn the_policy_allows_exactly_the_kms_actions_the_operator_calls() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/iam/kms-operator-policy.json");
    let policy: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("policy")).expect("JSON");
    let mut allowed = BTreeSet::new();
    for statement in policy["Statement"].as_array().expect("statements") {
        assert_eq!(statement["Effect"], "Allow");
        for action in statement["Action"].as_array().expect("action lists") {
            let action = action.as_str().expect("string");
            assert!(!action.contains('*'), "no wildcards: {action}");
            allowed.insert(action.to_owned());
        }
    }
    // GetCallerIdentity needs no permission; every other operation is a KMS call.
    let called: BTreeSet<String> =
        Op::ALL.iter().filter(|op| **op != Op::GetCallerIdentity).map(|op| format!("kms:{op}")).collect();
    assert_eq!(allowed, called);
}

#[test]
fn writes_are_limited_to_keys_carrying_the_ownership_tag() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/iam/kms-operator-policy.json");
    let policy: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("policy")).expect("JSON");
    for statement in policy["Statement"].as_array().expect("statements") {
        let actions: Vec<&str> = statement["Action"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        let writes: Vec<&&str> = actions
            .iter()
            .filter(|a| Op::parse(a.trim_start_matches("kms:")).is_some_and(|op| op.is_write()))
            .collect();
        let on_keys = statement["Resource"].as_str().is_some_and(|r| r.contains(":key/") || r == "*");
        if writes.is_empty() || !on_keys {
            continue;
        }
        let condition =
            statement["Condition"]["StringLike"].as_object().expect("write statements on keys are conditioned");
        assert!(
            condition.contains_key("aws:ResourceTag/kmsoperator.dev/owner")
                || condition.contains_key("aws:RequestTag/kmsoperator.dev/owner"),
            "{statement}"
        );
    }
}
