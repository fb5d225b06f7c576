use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::shared::KeyReference;
use crate::api::schema;
use crate::api::serde_helpers::{empty_as_none, is_false};

/// One alias in one region, pointing at a `KmsKey` or at an existing key.
// kube-derive's printcolumn(...) repeats its keys (type_, json_path) once per column by design.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "kmsoperator.dev",
    version = "v1alpha1",
    kind = "KmsAlias",
    namespaced,
    status = "KmsAliasStatus",
    shortname = "kmsalias",
    category = "kms",
    derive = "PartialEq",
    doc = "A KMS alias in one region, pointing at a KmsKey (by name) or at an existing key (by id or ARN).",
    printcolumn(name = "Alias", type_ = "string", json_path = ".spec.name"),
    printcolumn(name = "Target", type_ = "string", json_path = ".status.targetKeyId"),
    printcolumn(name = "Region", type_ = "string", json_path = ".status.region", priority = "1"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Synced", type_ = "string", json_path = ".status.conditions[?(@.type==\"Synced\")].status"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = Rule::new("has(self.keyRef) != (has(self.targetKeyId) && self.targetKeyId != '')").message("set exactly one of spec.keyRef and spec.targetKeyId"))]
#[x_kube(validation = Rule::new("!has(self.targetKeyId) || self.targetKeyId == '' || (has(self.accountRef) && self.accountRef != '')").message("spec.targetKeyId needs spec.accountRef"))]
#[x_kube(validation = Rule::new("!has(self.keyRef) || !has(self.accountRef) || self.accountRef == ''").message("spec.accountRef is only used with spec.targetKeyId: a keyRef uses the KmsKey's account"))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KmsAliasSpec {
    /// `alias/` followed by letters, digits, `/`, `_` or `-`; not `alias/aws/...`. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("name is immutable: create a new KmsAlias for another name"))]
    #[x_kube(validation = Rule::new("!self.startsWith('alias/aws/')").message("alias names starting with alias/aws/ are reserved for AWS managed keys"))]
    #[schemars(regex(pattern = r"^alias/[A-Za-z0-9/_-]+$"), length(max = 256))]
    pub name: String,

    /// A `KmsKey` in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ref: Option<KeyReference>,

    /// An existing key's id or ARN (then `accountRef` is required).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    pub target_key_id: Option<String>,

    /// The `AwsAccount` of `targetKeyId`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    pub account_ref: Option<String>,

    /// Region of the alias; default: the key's primary region. A replica's region points the
    /// alias at that replica. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("region is immutable: create a new KmsAlias for another region"))]
    #[schemars(regex(pattern = r"^[a-z]{2}(-[a-z]+)+-\d+$"))]
    pub region: Option<String>,

    /// Take over an existing alias of this name that points at a key nobody owns (allowed only
    /// from the account's `permissions.adoptionNamespaces`); never one on another namespace's key.
    #[serde(default, skip_serializing_if = "is_false")]
    pub adopt: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KmsAliasStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The `AwsAccount` the alias is in, when it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_ref: Option<String>,
    /// The alias's name in KMS, when it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::generation")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "schema::conditions")]
    pub conditions: Vec<Condition>,
}
