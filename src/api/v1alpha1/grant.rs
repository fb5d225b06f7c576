use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::shared::KeyReference;
use crate::api::schema;
use crate::api::serde_helpers::empty_as_none;

/// One grant on a key. Grants are immutable in KMS: a changed spec replaces the grant.
// kube-derive's printcolumn(...) repeats its keys (type_, json_path) once per column by design.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "kmsoperator.dev",
    version = "v1alpha1",
    kind = "KmsGrant",
    namespaced,
    status = "KmsGrantStatus",
    shortname = "kmsgrant",
    category = "kms",
    derive = "PartialEq",
    doc = "A KMS grant on a key, for one grantee principal and a set of operations.",
    printcolumn(name = "Grant", type_ = "string", json_path = ".spec.name"),
    printcolumn(name = "Grant ID", type_ = "string", json_path = ".status.grantId"),
    printcolumn(name = "Grantee", type_ = "string", json_path = ".spec.granteePrincipal", priority = "1"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Synced", type_ = "string", json_path = ".status.conditions[?(@.type==\"Synced\")].status"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = Rule::new("has(self.keyRef) != (has(self.targetKeyId) && self.targetKeyId != '')").message("set exactly one of spec.keyRef and spec.targetKeyId"))]
#[x_kube(validation = Rule::new("!has(self.targetKeyId) || self.targetKeyId == '' || (has(self.accountRef) && self.accountRef != '')").message("spec.targetKeyId needs spec.accountRef"))]
#[x_kube(validation = Rule::new("!has(self.keyRef) || !has(self.accountRef) || self.accountRef == ''").message("spec.accountRef is only used with spec.targetKeyId: a keyRef uses the KmsKey's account"))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KmsGrantSpec {
    /// A `KmsKey` in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ref: Option<KeyReference>,

    /// An existing key's id or ARN (then `accountRef` is required).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    pub target_key_id: Option<String>,

    /// The `AwsAccount` of `targetKeyId`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    pub account_ref: Option<String>,

    /// Region of the key the grant is on; default: the key's primary region. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("region is immutable: create a new KmsGrant for another region"))]
    #[schemars(regex(pattern = r"^[a-z]{2}(-[a-z]+)+-\d+$"))]
    pub region: Option<String>,

    /// The grant's name in KMS. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("name is immutable: create a new KmsGrant for another name"))]
    #[schemars(regex(pattern = r"^[a-zA-Z0-9:/_-]+$"), length(min = 1, max = 256))]
    pub name: String,

    /// The principal (ARN) receiving the permissions.
    #[schemars(regex(pattern = r"^arn:[^:]+:[^:]+:[^:]*:[^:]*:.+$"))]
    pub grantee_principal: String,

    /// A principal (ARN) that may retire the grant.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    pub retiring_principal: Option<String>,

    /// KMS operations the grant allows.
    #[schemars(schema_with = "schema::grant_operations")]
    pub operations: Vec<String>,

    /// Encryption context constraints, one of `encryptionContextEquals` or `encryptionContextSubset`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<GrantConstraints>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[x_kube(validation = Rule::new("!(has(self.encryptionContextEquals) && size(self.encryptionContextEquals) > 0 && has(self.encryptionContextSubset) && size(self.encryptionContextSubset) > 0)").message("set only one of encryptionContextEquals and encryptionContextSubset"))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrantConstraints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::encryption_context")]
    pub encryption_context_equals: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::encryption_context")]
    pub encryption_context_subset: Option<BTreeMap<String, String>>,
}

/// Where one grant is: enough to retire it later, from any process.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantRecord {
    pub account_ref: String,
    pub region: String,
    pub key_id: String,
    pub grant_id: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KmsGrantStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// The token CreateGrant returned, for using the grant before it is visible everywhere in
    /// KMS; kept while that grant lives (KMS returns it only when the grant is created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_token: Option<String>,
    /// The key the grant is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The `AwsAccount` of the key the grant is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_ref: Option<String>,
    /// Grants this object held on other keys (before `keyRef`, `targetKeyId`, `accountRef` or
    /// `region` changed) that are not retired yet: retired on the next pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<GrantRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::generation")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "schema::conditions")]
    pub conditions: Vec<Condition>,
}
