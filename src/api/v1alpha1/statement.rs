//! One IAM statement of `spec.policy.statements`: the elements a key policy statement has, each
//! in the shapes IAM accepts (a string or a list of strings; `Principal` also `"*"` or a map of
//! them; `Condition` operators of keys of values) and nothing deeper. The CRD schema
//! (`schema::statements`) bounds the same shapes, so that no statement a tenant can store is
//! nested deeper than a client can read back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A key policy statement, written as IAM writes it (`Effect`, `Principal`, ...). Elements are
/// optional here so that validation can say which one is missing and how to add it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct PolicyStatement {
    #[serde(rename = "Sid", default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(rename = "Effect", default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
    #[serde(rename = "Principal", default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    #[serde(rename = "NotPrincipal", default, skip_serializing_if = "Option::is_none")]
    pub not_principal: Option<Principal>,
    #[serde(rename = "Action", default, skip_serializing_if = "Option::is_none")]
    pub action: Option<OneOrMany>,
    #[serde(rename = "NotAction", default, skip_serializing_if = "Option::is_none")]
    pub not_action: Option<OneOrMany>,
    #[serde(rename = "Resource", default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<OneOrMany>,
    #[serde(rename = "NotResource", default, skip_serializing_if = "Option::is_none")]
    pub not_resource: Option<OneOrMany>,
    /// Operator (`StringEquals`, `Bool`, ...) to condition key to value(s).
    #[serde(rename = "Condition", default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<BTreeMap<String, BTreeMap<String, ConditionValues>>>,
}

/// IAM's "a string or a list of strings".
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// `"*"` (every principal), or principals by type (`AWS`, `Service`, `Federated`,
/// `CanonicalUser`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(untagged)]
pub enum Principal {
    Everyone(String),
    ByType(BTreeMap<String, OneOrMany>),
}

/// One condition value or a list of them.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(untagged)]
pub enum ConditionValues {
    One(ConditionValue),
    Many(Vec<ConditionValue>),
}

/// IAM's condition values: strings, and for the numeric and boolean operators, numbers and
/// booleans written bare.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(untagged)]
pub enum ConditionValue {
    Text(String),
    Flag(bool),
    Number(serde_json::Number),
}

impl PolicyStatement {
    /// The statement as JSON, as it goes into the key policy document.
    pub fn to_json(&self) -> Value {
        // Strings, lists and maps of them: nothing here can fail to serialize.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statements_go_into_the_policy_as_written() {
        let written = json!({
            "Sid": "AllowLogs", "Effect": "Allow",
            "Principal": {"Service": "logs.ap-southeast-2.amazonaws.com", "AWS": ["arn:aws:iam::111122223333:root"]},
            "Action": ["kms:Encrypt*", "kms:Decrypt*"], "Resource": "*",
            "Condition": {
                "ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:ap-southeast-2:111122223333:*"},
                "Bool": {"kms:GrantIsForAWSResource": true},
                "NumericLessThan": {"aws:MultiFactorAuthAge": 3600},
                "StringEquals": {"kms:CallerAccount": ["111122223333", "222233334444"]}
            }
        });
        let statement: PolicyStatement = serde_json::from_value(written.clone()).expect("an IAM statement");
        assert_eq!(statement.to_json(), written);
        let everyone = json!({"Effect": "Deny", "Principal": "*", "NotAction": "kms:Decrypt", "NotResource": ["*"]});
        let statement: PolicyStatement = serde_json::from_value(everyone.clone()).unwrap();
        assert_eq!(statement.to_json(), everyone);
    }

    #[test]
    fn unknown_elements_and_nested_values_are_refused() {
        let refused = [
            json!({"Effect": "Allow", "Conditon": {}}),
            json!({"Action": [["kms:Decrypt"]]}),
            json!({"Principal": {"AWS": [{"nested": "x"}]}}),
            json!({"Condition": {"StringEquals": {"k": [["v"]]}}}),
            json!({"Resource": 7}),
        ];
        for statement in refused {
            assert!(serde_json::from_value::<PolicyStatement>(statement.clone()).is_err(), "{statement}");
        }
    }
}
