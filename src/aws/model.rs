//! Plain views of what KMS returns and what it is asked to create: the engine works with these,
//! never with SDK types.

use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct KeyDescription {
    pub key_id: String,
    pub arn: String,
    pub account_id: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`, `PendingReplicaDeletion`, `Creating`, ...
    pub state: String,
    pub enabled: bool,
    pub description: String,
    pub key_spec: String,
    pub key_usage: String,
    /// `CUSTOMER` or `AWS`.
    pub key_manager: String,
    /// Where the key material comes from: `AWS_KMS`, `EXTERNAL` (imported), `AWS_CLOUDHSM`,
    /// `EXTERNAL_KEY_STORE`.
    pub origin: String,
    pub multi_region: bool,
    /// Region of the primary key, for multi-Region keys.
    pub primary_region: Option<String>,
    /// Replica keys as the primary reports them.
    pub replicas: Vec<RegionalArn>,
    pub deletion_date: Option<String>,
    /// RFC 3339, so that the oldest of several keys sorts first.
    pub creation_date: Option<String>,
    pub encryption_algorithms: Vec<String>,
    pub signing_algorithms: Vec<String>,
    pub mac_algorithms: Vec<String>,
    /// `PRIMARY` or `REPLICA`, for multi-Region keys.
    pub multi_region_key_type: Option<String>,
    /// ARN of the primary key, for multi-Region keys.
    pub primary_arn: Option<String>,
    /// The custom key store of an `AWS_CLOUDHSM` or `EXTERNAL_KEY_STORE` key.
    pub custom_key_store_id: Option<String>,
    /// The external key's id, for an `EXTERNAL_KEY_STORE` key.
    pub xks_key_id: Option<String>,
}

impl KeyDescription {
    pub fn is_pending_deletion(&self) -> bool {
        self.state == "PendingDeletion" || self.state == "PendingReplicaDeletion"
    }

    pub fn is_customer_managed(&self) -> bool {
        self.key_manager != "AWS"
    }

    /// Imported key material not imported yet (or deleted, or expired): the key cannot be
    /// enabled, disabled or used until its owner imports it.
    pub fn is_pending_import(&self) -> bool {
        self.state == "PendingImport"
    }

    /// The region of its multi-Region primary when this key is a replica elsewhere: a
    /// multi-Region key family has one owner, read from the primary.
    pub fn primary_elsewhere(&self) -> Option<&str> {
        let own_region = self.arn.split(':').nth(3)?;
        self.primary_region.as_deref().filter(|primary| self.multi_region && *primary != own_region)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RegionalArn {
    pub region: String,
    pub arn: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RotationState {
    pub enabled: bool,
    /// Absent when rotation is off, and from servers that do not report it.
    pub period_days: Option<i32>,
    pub next_rotation_date: Option<String>,
    /// When an on-demand rotation that has not finished started; KMS reports it only then.
    pub on_demand_rotation_started: Option<String>,
}

/// One rotation of a key's material, as ListKeyRotations reports it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RotationEntry {
    pub date: Option<String>,
    /// `AUTOMATIC` or `ON_DEMAND`.
    pub kind: String,
}

impl RotationEntry {
    pub fn is_on_demand(&self) -> bool {
        self.kind == "ON_DEMAND"
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasEntry {
    pub name: String,
    pub arn: Option<String>,
    /// Absent for predefined `alias/aws/...` aliases that point at nothing yet.
    pub target_key_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct GrantConstraintsView {
    pub encryption_context_equals: BTreeMap<String, String>,
    pub encryption_context_subset: BTreeMap<String, String>,
}

impl GrantConstraintsView {
    pub fn is_empty(&self) -> bool {
        self.encryption_context_equals.is_empty() && self.encryption_context_subset.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct GrantEntry {
    pub grant_id: String,
    pub name: Option<String>,
    pub grantee_principal: Option<String>,
    pub retiring_principal: Option<String>,
    pub operations: Vec<String>,
    pub constraints: GrantConstraintsView,
}

/// What CreateGrant returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedGrant {
    pub grant_id: String,
    pub token: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewKey {
    pub description: String,
    pub key_spec: String,
    pub key_usage: String,
    pub multi_region: bool,
    pub material: KeyMaterial,
    pub policy: String,
    pub tags: BTreeMap<String, String>,
    pub bypass_policy_lockout_safety_check: bool,
}

/// Where a key's material comes from: its origin, and the custom key store (and external key)
/// that hold it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct KeyMaterial {
    /// `AWS_KMS`, `EXTERNAL`, `AWS_CLOUDHSM` or `EXTERNAL_KEY_STORE`.
    pub origin: String,
    pub custom_key_store_id: Option<String>,
    pub xks_key_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewReplica {
    pub region: String,
    pub description: String,
    pub policy: String,
    pub tags: BTreeMap<String, String>,
    pub bypass_policy_lockout_safety_check: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewGrant {
    pub name: String,
    pub grantee_principal: String,
    pub retiring_principal: Option<String>,
    pub operations: Vec<String>,
    pub constraints: GrantConstraintsView,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerIdentity {
    pub account_id: String,
    pub arn: String,
}

/// A CloudWatch metric alarm as the operator writes it and reads it back: every field that
/// PutMetricAlarm sets and the plan compares (actions sorted).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct MetricAlarm {
    pub name: String,
    pub description: String,
    pub namespace: String,
    pub metric: String,
    pub dimensions: BTreeMap<String, String>,
    /// `Sum`.
    pub statistic: String,
    pub period: i32,
    pub evaluation_periods: i32,
    pub datapoints_to_alarm: i32,
    pub threshold: f64,
    /// `GreaterThanThreshold`, `GreaterThanOrEqualToThreshold`, ...
    pub comparison: String,
    /// `notBreaching`, `breaching`, `ignore` or `missing`.
    pub treat_missing_data: String,
    pub alarm_actions: Vec<String>,
    pub ok_actions: Vec<String>,
    pub actions_enabled: bool,
}

/// A live alarm: its definition, ARN and state.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct AlarmEntry {
    pub alarm: MetricAlarm,
    pub arn: Option<String>,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    /// When the alarm entered its state (RFC 3339).
    pub since: Option<String>,
}

/// A CloudWatch Logs metric filter with its one metric transformation.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MetricFilter {
    pub log_group: String,
    pub name: String,
    pub pattern: String,
    pub namespace: String,
    pub metric: String,
    /// What one matching event adds: `1`.
    pub value: String,
    /// Dimension name to JSON selector, e.g. `KeyArn` → `$.resources[0].ARN`.
    pub dimensions: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(arn_region: &str, multi_region: bool, primary: Option<&str>) -> KeyDescription {
        KeyDescription {
            arn: format!("arn:aws:kms:{arn_region}:111122223333:key/mrk-1"),
            multi_region,
            primary_region: primary.map(str::to_owned),
            ..KeyDescription::default()
        }
    }

    #[test]
    fn only_a_replica_names_a_primary_elsewhere() {
        assert_eq!(key("us-west-2", true, Some("eu-west-1")).primary_elsewhere(), Some("eu-west-1"));
        assert_eq!(key("eu-west-1", true, Some("eu-west-1")).primary_elsewhere(), None, "the primary itself");
        assert_eq!(key("eu-west-1", false, None).primary_elsewhere(), None);
    }
}
