use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::statement::PolicyStatement;
use crate::api::catalog::{
    self, DEFAULT_KEY_SPEC, DEFAULT_KEY_USAGE, DEFAULT_PENDING_WINDOW_DAYS, DEFAULT_ROTATION_PERIOD_DAYS,
    ROTATABLE_KEY_SPEC,
};
use crate::api::schema;
use crate::api::serde_helpers::{default_true, empty_as_none, is_false};

/// One customer managed KMS key, its policy, rotation, tags and multi-Region replicas.
// kube-derive's printcolumn(...) repeats its keys (type_, json_path) once per column by design.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "kmsoperator.dev",
    version = "v1alpha1",
    kind = "KmsKey",
    namespaced,
    status = "KmsKeyStatus",
    shortname = "kmskey",
    category = "kms",
    derive = "PartialEq",
    doc = "A customer managed AWS KMS key: description, spec, usage, enabled, rotation, deletion, tags, key policy and multi-Region replicas.",
    printcolumn(name = "Key ID", type_ = "string", json_path = ".status.keyId"),
    printcolumn(name = "Region", type_ = "string", json_path = ".status.region", priority = "1"),
    printcolumn(name = "State", type_ = "string", json_path = ".status.keyState"),
    printcolumn(name = "Rotation", type_ = "boolean", json_path = ".status.rotation.enabled"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Synced", type_ = "string", json_path = ".status.conditions[?(@.type==\"Synced\")].status"),
    printcolumn(
        name = "Alarm",
        type_ = "string",
        json_path = ".status.monitoring.alarms[?(@.state==\"ALARM\")].signal"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = Rule::new("!has(self.policy) || !has(self.policyDocument) || self.policyDocument == ''").message("spec.policy and spec.policyDocument are mutually exclusive: keep one of them"))]
#[x_kube(validation = Rule::new("!has(self.replicas) || size(self.replicas) == 0 || (has(self.multiRegion) && self.multiRegion)").message("spec.replicas needs spec.multiRegion: true"))]
#[x_kube(validation = Rule::new("!has(self.rotation) || !has(self.rotation.enabled) || !self.rotation.enabled || !has(self.keySpec) || self.keySpec == 'SYMMETRIC_DEFAULT'").message("spec.rotation.enabled: automatic rotation exists only for keySpec SYMMETRIC_DEFAULT; set rotation.enabled: false"))]
#[x_kube(validation = schema::key_usage_rule())]
#[x_kube(validation = Rule::new("(has(self.customKeyStoreId) && self.customKeyStoreId != '') == (has(self.origin) && (self.origin == 'AWS_CLOUDHSM' || self.origin == 'EXTERNAL_KEY_STORE'))").message("spec.customKeyStoreId goes with origin AWS_CLOUDHSM or EXTERNAL_KEY_STORE, and only with them"))]
#[x_kube(validation = Rule::new("(has(self.xksKeyId) && self.xksKeyId != '') == (has(self.origin) && self.origin == 'EXTERNAL_KEY_STORE')").message("spec.xksKeyId goes with origin EXTERNAL_KEY_STORE, and only with it"))]
#[x_kube(validation = Rule::new("!has(self.origin) || (self.origin != 'AWS_CLOUDHSM' && self.origin != 'EXTERNAL_KEY_STORE') || ((!has(self.keySpec) || self.keySpec == 'SYMMETRIC_DEFAULT') && (!has(self.multiRegion) || !self.multiRegion))").message("keys in a custom key store (origin AWS_CLOUDHSM or EXTERNAL_KEY_STORE) are single-Region SYMMETRIC_DEFAULT keys"))]
#[x_kube(validation = Rule::new("!has(self.rotation) || !has(self.rotation.enabled) || !self.rotation.enabled || !has(self.origin) || self.origin == 'AWS_KMS'").message("spec.rotation.enabled: KMS rotates automatically only key material it made (origin AWS_KMS); set rotation.enabled: false"))]
#[x_kube(validation = Rule::new("(has(self.customKeyStoreId) ? self.customKeyStoreId : '') == (has(oldSelf.customKeyStoreId) ? oldSelf.customKeyStoreId : '') && (has(self.xksKeyId) ? self.xksKeyId : '') == (has(oldSelf.xksKeyId) ? oldSelf.xksKeyId : '')").message("customKeyStoreId and xksKeyId are immutable: create a new KmsKey for another key store or external key"))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KmsKeySpec {
    /// Name of the `AwsAccount` the key lives in.
    #[x_kube(validation = Rule::new("self == oldSelf").message("accountRef is immutable: a key cannot move between accounts"))]
    #[schemars(length(min = 1))]
    pub account_ref: String,

    /// Region of the key; defaults to the account's region. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("region is immutable: a key cannot move between regions"))]
    #[schemars(regex(pattern = r"^[a-z]{2}(-[a-z]+)+-\d+$"))]
    pub region: Option<String>,

    /// Description of the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 8192))]
    pub description: Option<String>,

    /// Key spec; immutable after creation.
    #[serde(default = "default_key_spec")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("keySpec is immutable after creation"))]
    #[schemars(schema_with = "schema::key_spec")]
    pub key_spec: String,

    /// Key usage; immutable after creation.
    #[serde(default = "default_key_usage")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("keyUsage is immutable after creation"))]
    #[schemars(schema_with = "schema::key_usage")]
    pub key_usage: String,

    /// A multi-Region primary key; immutable after creation.
    #[serde(default, skip_serializing_if = "is_false")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("multiRegion is immutable after creation"))]
    #[schemars(schema_with = "schema::immutable_bool")]
    pub multi_region: bool,

    /// Where the key material comes from: `AWS_KMS` (default), `EXTERNAL` (imported by its
    /// owner), `AWS_CLOUDHSM` or `EXTERNAL_KEY_STORE` (a custom key store). Immutable.
    #[serde(default = "default_origin")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("origin is immutable: create a new KmsKey for another origin"))]
    #[schemars(schema_with = "schema::origin")]
    pub origin: String,

    /// The custom key store of an `AWS_CLOUDHSM` or `EXTERNAL_KEY_STORE` key. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    #[schemars(length(max = 64))]
    pub custom_key_store_id: Option<String>,

    /// The key's id in the external key manager of an `EXTERNAL_KEY_STORE` key. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    #[schemars(regex(pattern = r"^[a-zA-Z0-9._-]*$"), length(max = 128))]
    pub xks_key_id: Option<String>,

    /// Whether the key is enabled.
    #[serde(default = "default_true")]
    pub enabled: bool,

    /// Automatic key material rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<RotationSpec>,

    /// What happens to the key when this object is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion: Option<DeletionSpec>,

    /// Tags on the key (and, by default, on its replicas).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[x_kube(validation = Rule::new("self.all(k, !k.startsWith('aws:') && !k.startsWith('kmsoperator.dev/'))").message("tag keys must not start with the reserved prefixes aws: or kmsoperator.dev/"))]
    #[x_kube(validation = Rule::new("self.all(k, size(k) >= 1 && size(k) <= 128 && size(self[k]) <= 256)").message("tag keys must be 1 to 128 characters and values at most 256"))]
    #[schemars(schema_with = "schema::tags")]
    pub tags: BTreeMap<String, String>,

    /// A key policy built from intent. Mutually exclusive with `policyDocument`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicySpec>,

    /// A raw key policy document (JSON text). Mutually exclusive with `policy`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    #[schemars(length(max = 32768))]
    pub policy_document: Option<String>,

    /// Skips KMS's check that the caller can still change the policy afterwards.
    #[serde(default, skip_serializing_if = "is_false")]
    pub bypass_policy_lockout_safety_check: bool,

    /// Replica keys of a multi-Region key, one per region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["region".into()]))]
    #[schemars(length(max = 32))]
    pub replicas: Vec<ReplicaSpec>,

    /// Adopt an existing key instead of creating one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("import is immutable: create a new KmsKey to adopt another key"))]
    pub import: Option<ImportSpec>,

    /// `Manage` converges the key; `Observe` only reads and reports.
    #[serde(default)]
    pub management_policy: ManagementPolicy,

    /// Alarms on the key's use (decrypt volume, AccessDenied); needs the account's
    /// `spec.monitoring`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<super::monitoring::KeyMonitoring>,

    /// A ConfigMap the controller keeps with the key's id, ARN, aliases and replica ARNs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<ExportSpec>,
}

/// What the controller publishes about the key for the workloads of its namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportSpec {
    /// A ConfigMap in the key's namespace, owned by the KmsKey; empty: none.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    #[schemars(
        regex(pattern = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$"),
        length(max = 253)
    )]
    pub config_map_name: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotationSpec {
    /// Defaults to true for SYMMETRIC_DEFAULT keys and false otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Days between automatic rotations, 90 to 2560; default 365.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 90, max = 2560))]
    pub period_days: Option<i32>,
    /// Any text; each new value rotates the key's material once, now (RotateKeyOnDemand). The
    /// value applied is kept in a tag on the key, so a restart or another run never rotates
    /// for it again. KMS allows 10 on-demand rotations per key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate_now: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeletionSpec {
    /// `Retain` (default) leaves the key in KMS; `Delete` schedules its deletion.
    #[serde(default)]
    pub policy: DeletionPolicy,
    /// Days KMS waits before deleting, 7 to 30; default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 7, max = 30))]
    pub pending_window_days: Option<i32>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum DeletionPolicy {
    #[default]
    Retain,
    Delete,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum ManagementPolicy {
    #[default]
    Manage,
    Observe,
}

/// Intent compiled into a key policy document.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicySpec {
    /// The owner account's root may administer the key (`kms:*`).
    #[serde(default = "default_true")]
    pub account_root: bool,
    /// IAM principals (ARNs) that administer the key but cannot use it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = r"^arn:[^:]+:[^:]+:[^:]*:[^:]*:.+$")))]
    pub administrators: Vec<String>,
    /// IAM principals (ARNs) that use the key for cryptographic operations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = r"^arn:[^:]+:[^:]+:[^:]*:[^:]*:.+$")))]
    pub users: Vec<String>,
    /// Account ids whose root may use the key and create grants for AWS resources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = r"^\d{12}$")))]
    pub trusted_accounts: Vec<String>,
    /// AWS services that may use the key on behalf of the caller accounts (`kms:ViaService`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceAccess>,
    /// Extra IAM policy statements, appended as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "schema::statements")]
    pub statements: Vec<PolicyStatement>,
}

impl Default for PolicySpec {
    fn default() -> Self {
        PolicySpec {
            account_root: true,
            administrators: Vec::new(),
            users: Vec::new(),
            trusted_accounts: Vec::new(),
            services: Vec::new(),
            statements: Vec::new(),
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceAccess {
    /// Service name as in `<name>.<region>.amazonaws.com`, e.g. `rds`, `logs`, `secretsmanager`.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]*$"))]
    pub name: String,
    /// `kms:CallerAccount` values; default: the owner account and `trustedAccounts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(inner(regex(pattern = r"^\d{12}$")))]
    pub caller_accounts: Option<Vec<String>>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplicaSpec {
    /// Region of the replica key.
    #[schemars(regex(pattern = r"^[a-z]{2}(-[a-z]+)+-\d+$"))]
    pub region: String,
    /// Description of the replica; default: the primary's.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    pub description: Option<String>,
    /// Tags of the replica; default (absent or empty): the primary's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::optional_tags")]
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportSpec {
    /// Id or ARN of an existing key to adopt.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    pub key_id: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KmsKeyStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// As KMS reports it: Enabled, Disabled, PendingDeletion, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<String>,
    /// When KMS created the key (RFC 3339); this and the fields below as DescribeKey gives them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_date: Option<String>,
    /// `CUSTOMER` or `AWS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_manager: Option<String>,
    /// `AWS_KMS`, `EXTERNAL`, `AWS_CLOUDHSM` or `EXTERNAL_KEY_STORE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub encryption_algorithms: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signing_algorithms: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mac_algorithms: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_region_configuration: Option<MultiRegionConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<RotationStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<ReplicaStatus>,
    /// The key's alarms and their states.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<super::monitoring::MonitoringStatus>,
    /// A CreateKey that was about to leave when this was written and whose key is not on record
    /// yet: a pass that finds it waits for that key to appear before creating another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creating: Option<CreateIntent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::generation")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "schema::conditions")]
    pub conditions: Vec<Condition>,
}

/// The record of a CreateKey about to be sent.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateIntent {
    /// Identifies the attempt in Events and logs.
    pub token: String,
    /// When the attempt was recorded (RFC 3339).
    pub since: Time,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotationStatus {
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 2_147_483_647))]
    pub period_days: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_rotation_date: Option<String>,
    /// The latest rotation, automatic or on demand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rotation_date: Option<String>,
    /// The `rotation.rotateNow` value the key was last rotated for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate_now_applied: Option<String>,
    /// On-demand rotations so far, of KMS's limit of 10 per key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 4_294_967_295_u32))]
    pub on_demand_rotations: Option<u32>,
    /// The last 5 rotations, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent: Vec<RotationRecord>,
}

/// One rotation of the key's material.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotationRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// `AUTOMATIC` or `ON_DEMAND`.
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaStatus {
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_state: Option<String>,
}

/// A multi-Region key's family, as DescribeKey reports it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MultiRegionConfiguration {
    /// `PRIMARY` or `REPLICA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_region_key_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<RegionalKey>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replica_keys: Vec<RegionalKey>,
}

/// One copy of a multi-Region key.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegionalKey {
    pub arn: String,
    pub region: String,
}

fn default_key_spec() -> String {
    DEFAULT_KEY_SPEC.to_owned()
}

fn default_key_usage() -> String {
    DEFAULT_KEY_USAGE.to_owned()
}

fn default_origin() -> String {
    catalog::ORIGIN_AWS_KMS.to_owned()
}

impl KmsKeySpec {
    /// Rotation is on unless the spec turns it off, for the keys KMS can rotate.
    pub fn rotation_enabled(&self) -> bool {
        let rotatable = self.key_spec == ROTATABLE_KEY_SPEC && self.material_from_kms();
        self.rotation.as_ref().and_then(|r| r.enabled).unwrap_or(rotatable)
    }

    /// The `rotation.rotateNow` value, when set and not empty.
    pub fn rotate_now(&self) -> Option<&str> {
        self.rotation.as_ref().and_then(|r| r.rotate_now.as_deref()).filter(|v| !v.is_empty())
    }

    pub fn rotation_period_days(&self) -> i32 {
        self.rotation.as_ref().and_then(|r| r.period_days).unwrap_or(DEFAULT_ROTATION_PERIOD_DAYS)
    }

    pub fn deletion_policy(&self) -> DeletionPolicy {
        self.deletion.as_ref().map(|d| d.policy).unwrap_or_default()
    }

    pub fn pending_window_days(&self) -> i32 {
        self.deletion.as_ref().and_then(|d| d.pending_window_days).unwrap_or(DEFAULT_PENDING_WINDOW_DAYS)
    }

    pub fn import_key_id(&self) -> Option<&str> {
        self.import.as_ref().and_then(|i| i.key_id.as_deref())
    }

    pub fn is_observe_only(&self) -> bool {
        self.management_policy == ManagementPolicy::Observe
    }

    /// Whether KMS generates the key's material (and so can rotate it).
    pub fn material_from_kms(&self) -> bool {
        self.origin == catalog::ORIGIN_AWS_KMS
    }

    /// `spec.export.configMapName`, when set.
    pub fn export_config_map(&self) -> Option<&str> {
        self.export.as_ref().and_then(|e| e.config_map_name.as_deref())
    }

    pub fn key_usage_is_valid(&self) -> bool {
        catalog::key_usages_for(&self.key_spec).is_some_and(|usages| usages.contains(&self.key_usage.as_str()))
    }
}
