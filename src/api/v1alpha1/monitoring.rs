//! Key usage alarms (docs/monitoring.md): where an account's alarms live, what each key asks
//! for, and what status shows. The numbers' bounds are CloudWatch's, so the CRD refuses what
//! PutMetricAlarm would.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Sum over a period is compared with the threshold as a double, which holds every integer up
/// to 2^53 exactly.
pub const MAX_THRESHOLD: i64 = (1 << 53) - 1;
/// CloudWatch's longest period; metric filters publish one-minute data, so periods are whole
/// minutes.
pub const MAX_PERIOD_SECONDS: i32 = 86_400;
/// `evaluationPeriods × periodSeconds` may reach 7 days, or 1 day for periods under an hour.
pub const MAX_EVALUATION_SECONDS: i64 = 604_800;
pub const MAX_SHORT_EVALUATION_SECONDS: i64 = 86_400;
pub const MAX_EVALUATION_PERIODS: i32 = 10_080;
/// CloudWatch allows 5 actions of each kind per alarm.
pub const MAX_ALARM_ACTIONS: usize = 5;

pub const DEFAULT_DECRYPT_THRESHOLD: i64 = 100;
pub const DEFAULT_PERIOD_SECONDS: i32 = 300;
pub const DEFAULT_EVALUATION_PERIODS: i32 = 3;
pub const DEFAULT_DATAPOINTS_TO_ALARM: i32 = 2;

/// `AwsAccount.spec.monitoring`: the log group that receives the account's CloudTrail, and what
/// its tenants' alarms may notify.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountMonitoring {
    /// The CloudWatch Logs group a trail delivers this account's CloudTrail events to.
    #[schemars(length(min = 1, max = 512), regex(pattern = r"^[.\-_/#A-Za-z0-9]+$"))]
    pub cloud_trail_log_group: String,

    /// Region of the log group, and of the alarms; default: the account's `spec.region`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::api::serde_helpers::empty_as_none"
    )]
    #[schemars(regex(pattern = r"^[a-z]{2}(-[a-z]+)+-\d+$"))]
    pub region: Option<String>,

    /// SNS topics (ARNs, in the alarms' region) that keys of this account may notify.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = r"^arn:[^:]+:sns:[^:]+:\d{12}:.+$")))]
    pub alarm_topics: Vec<String>,

    /// One alarm when any key of the account is disabled or scheduled for deletion (CIS AWS
    /// Foundations), notifying every topic of `alarmTopics`.
    #[serde(default, skip_serializing_if = "crate::api::serde_helpers::is_false")]
    pub key_deletion_alarm: bool,

    /// `PerKey` (default): two metric filters per monitored key. `Shared`: 33 filters for the
    /// whole account, for fleets past what 100 filters per log group allow (docs/monitoring.md).
    #[serde(default)]
    pub metric_filters: MetricFilterMode,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum MetricFilterMode {
    #[default]
    PerKey,
    Shared,
}

impl AccountMonitoring {
    /// The region of the log group and the alarms.
    pub fn region_or<'a>(&'a self, account_region: &'a str) -> &'a str {
        self.region.as_deref().unwrap_or(account_region)
    }
}

/// `KmsKey.spec.monitoring`: alarms on the key's use.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyMonitoring {
    /// SNS topics notified when an alarm enters ALARM and when it is OK again; each must be in
    /// the account's `alarmTopics`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 5), inner(regex(pattern = r"^arn:[^:]+:sns:[^:]+:\d{12}:.+$")))]
    pub notify: Vec<String>,

    /// Decrypt calls over a threshold (keys with usage ENCRYPT_DECRYPT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decrypt: Option<DecryptAlarm>,

    /// Any AccessDenied on the key within 5 minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_denied: Option<AccessDeniedAlarm>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, KubeSchema)]
#[x_kube(validation = Rule::new("!has(self.datapointsToAlarm) || self.datapointsToAlarm <= (has(self.evaluationPeriods) ? self.evaluationPeriods : 3)").message("decrypt.datapointsToAlarm must not exceed decrypt.evaluationPeriods"))]
#[x_kube(validation = Rule::new("(has(self.evaluationPeriods) ? self.evaluationPeriods : 3) * (has(self.periodSeconds) ? self.periodSeconds : 300) <= ((has(self.periodSeconds) ? self.periodSeconds : 300) < 3600 ? 86400 : 604800)").message("decrypt.evaluationPeriods × periodSeconds may be at most 1 day (7 days for periods of an hour or more)"))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecryptAlarm {
    /// Decrypt calls per period above which the period breaches; default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 9_007_199_254_740_991i64))]
    pub threshold: Option<i64>,
    /// Length of a period in seconds, a multiple of 60 up to 86400; default 300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self % 60 == 0").message("decrypt.periodSeconds must be a multiple of 60: metric filters publish one-minute data"))]
    #[schemars(range(min = 60, max = 86_400))]
    pub period_seconds: Option<i32>,
    /// Periods evaluated; default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10_080))]
    pub evaluation_periods: Option<i32>,
    /// Breaching periods among them that make an ALARM; default 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10_080))]
    pub datapoints_to_alarm: Option<i32>,
}

impl DecryptAlarm {
    pub fn threshold(&self) -> i64 {
        self.threshold.unwrap_or(DEFAULT_DECRYPT_THRESHOLD)
    }

    pub fn period_seconds(&self) -> i32 {
        self.period_seconds.unwrap_or(DEFAULT_PERIOD_SECONDS)
    }

    pub fn evaluation_periods(&self) -> i32 {
        self.evaluation_periods.unwrap_or(DEFAULT_EVALUATION_PERIODS)
    }

    pub fn datapoints_to_alarm(&self) -> i32 {
        self.datapoints_to_alarm.unwrap_or(DEFAULT_DATAPOINTS_TO_ALARM)
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessDeniedAlarm {
    /// Default true.
    #[serde(default = "enabled")]
    pub enabled: bool,
}

impl Default for AccessDeniedAlarm {
    fn default() -> Self {
        AccessDeniedAlarm { enabled: true }
    }
}

fn enabled() -> bool {
    true
}

impl KeyMonitoring {
    pub fn decrypt(&self) -> DecryptAlarm {
        self.decrypt.clone().unwrap_or_default()
    }

    pub fn access_denied(&self) -> bool {
        self.access_denied.as_ref().is_none_or(|a| a.enabled)
    }
}

/// `KmsKey.status.monitoring`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<AlarmStatus>,
}

/// One alarm of the key, as CloudWatch reported it in the last pass.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlarmStatus {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// `Decrypt` or `AccessDenied`.
    pub signal: String,
    /// Region of the key copy it watches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    /// When the alarm entered its state (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}
