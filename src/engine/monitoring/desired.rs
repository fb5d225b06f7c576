//! What an account's and a key's alarms and filters should be (docs/monitoring.md): pure, from
//! the specs, the cluster's names and the key's ARNs.

use std::collections::BTreeMap;

use super::names::{
    self, ACCOUNT_DIMENSION, ACCOUNT_SELECTOR, KEY_ARN_DIMENSION, KEY_ARN_SELECTOR, KEY_DELETION_METRIC, Naming,
    SHARDS, Signal,
};
use crate::api::ObjectName;
use crate::api::monitoring::{AccountMonitoring, DecryptAlarm, KeyMonitoring, MetricFilterMode};
use crate::aws::AccountConfig;
use crate::aws::model::{MetricAlarm, MetricFilter};
use crate::engine::ownership::OWNER_TAG;

/// Every AccessDenied and every key deletion within five minutes alarms.
const EVENT_PERIOD_SECONDS: i32 = 300;

/// Where one account's alarms live and how its filters are laid out.
#[derive(Clone, Debug, PartialEq)]
pub struct MonitoringSetup {
    /// The `AwsAccount`'s name.
    pub account: String,
    pub account_id: String,
    pub region: String,
    pub log_group: String,
    pub mode: MetricFilterMode,
    pub naming: Naming,
    pub alarm_topics: Vec<String>,
    pub key_deletion_alarm: bool,
    /// `<cluster>`: the first part of ownership tag values.
    pub cluster: String,
}

impl MonitoringSetup {
    pub fn new(account: &AccountConfig, spec: &AccountMonitoring, cluster: &str) -> Self {
        let mut alarm_topics = spec.alarm_topics.clone();
        alarm_topics.sort();
        alarm_topics.dedup();
        MonitoringSetup {
            account: account.name.clone(),
            account_id: account.account_id.clone(),
            region: spec.region_or(&account.region).to_owned(),
            log_group: spec.cloud_trail_log_group.clone(),
            mode: spec.metric_filters,
            naming: Naming::new(cluster),
            alarm_topics,
            key_deletion_alarm: spec.key_deletion_alarm,
            cluster: cluster.to_owned(),
        }
    }

    pub fn account_prefix(&self) -> String {
        self.naming.account_prefix(&self.account)
    }

    fn filter(&self, name: String, pattern: String, metric: &str, dimension: (&str, &str)) -> MetricFilter {
        MetricFilter {
            log_group: self.log_group.clone(),
            name,
            pattern,
            namespace: self.naming.namespace(),
            metric: metric.to_owned(),
            value: "1".to_owned(),
            dimensions: BTreeMap::from([(dimension.0.to_owned(), dimension.1.to_owned())]),
        }
    }

    /// The account's own filters: the key deletion filter, and the shared ones in `Shared` mode.
    pub fn account_filters(&self) -> Vec<MetricFilter> {
        let prefix = self.account_prefix();
        let mut filters = Vec::new();
        if self.mode == MetricFilterMode::Shared {
            for signal in Signal::ALL {
                for shard in SHARDS {
                    filters.push(self.filter(
                        names::shard_filter_name(&prefix, signal, shard),
                        names::shard_pattern(signal, &self.account_id, shard),
                        signal.as_str(),
                        (KEY_ARN_DIMENSION, KEY_ARN_SELECTOR),
                    ));
                }
            }
        }
        if self.key_deletion_alarm {
            filters.push(self.filter(
                names::key_deletion_name(&prefix),
                names::key_deletion_pattern(&self.account_id),
                KEY_DELETION_METRIC,
                (ACCOUNT_DIMENSION, ACCOUNT_SELECTOR),
            ));
        }
        filters
    }

    /// The account's own alarm: the key deletion alarm, notifying every topic of `alarmTopics`.
    pub fn account_alarms(&self) -> Vec<WantedAlarm> {
        if !self.key_deletion_alarm {
            return Vec::new();
        }
        let alarm = MetricAlarm {
            name: names::key_deletion_name(&self.account_prefix()),
            description: format!(
                "kms-operator: a KMS key of account {} was disabled or scheduled for deletion (AwsAccount {}); docs/monitoring.md",
                self.account_id, self.account
            ),
            dimensions: BTreeMap::from([(ACCOUNT_DIMENSION.to_owned(), self.account_id.clone())]),
            ..event_alarm(&self.naming, KEY_DELETION_METRIC, &self.alarm_topics)
        };
        let owner = format!("{}/AwsAccount/{}", self.cluster, self.account);
        vec![WantedAlarm { alarm, tags: BTreeMap::from([(OWNER_TAG.to_owned(), owner)]) }]
    }
}

/// An alarm as it should be, and the tags it gets when created.
#[derive(Clone, Debug, PartialEq)]
pub struct WantedAlarm {
    pub alarm: MetricAlarm,
    pub tags: BTreeMap<String, String>,
}

/// An alarm that fires on any one event in five minutes.
fn event_alarm(naming: &Naming, metric: &str, topics: &[String]) -> MetricAlarm {
    MetricAlarm {
        namespace: naming.namespace(),
        metric: metric.to_owned(),
        statistic: "Sum".to_owned(),
        period: EVENT_PERIOD_SECONDS,
        evaluation_periods: 1,
        datapoints_to_alarm: 1,
        threshold: 1.0,
        comparison: "GreaterThanOrEqualToThreshold".to_owned(),
        treat_missing_data: "notBreaching".to_owned(),
        alarm_actions: topics.to_vec(),
        ok_actions: topics.to_vec(),
        actions_enabled: true,
        ..MetricAlarm::default()
    }
}

/// What one KmsKey asks to be watched for.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyAlarms {
    /// Sorted.
    pub notify: Vec<String>,
    /// `None` for keys that are never decrypted (usage other than ENCRYPT_DECRYPT).
    pub decrypt: Option<DecryptAlarm>,
    pub access_denied: bool,
}

impl KeyAlarms {
    pub fn new(spec: &KeyMonitoring, decryptable: bool) -> Self {
        let mut notify = spec.notify.clone();
        notify.sort();
        notify.dedup();
        KeyAlarms { notify, decrypt: decryptable.then(|| spec.decrypt()), access_denied: spec.access_denied() }
    }

    pub fn signals(&self) -> Vec<Signal> {
        let mut signals = Vec::new();
        if self.decrypt.is_some() {
            signals.push(Signal::Decrypt);
        }
        if self.access_denied {
            signals.push(Signal::AccessDenied);
        }
        signals
    }
}

/// A KmsKey's monitoring: its account's setup and what its spec asks.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredMonitoring {
    pub setup: MonitoringSetup,
    pub object: ObjectName,
    /// What the key's alarms and filters start with.
    pub prefix: String,
    /// The key's ownership tag, also on its alarms.
    pub owner: (String, String),
    /// `None`: the spec asks for no monitoring, so whatever the key has goes.
    pub alarms: Option<KeyAlarms>,
}

/// One copy of the key: the primary or a replica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyCopy {
    pub region: String,
    pub arn: String,
}

impl DesiredMonitoring {
    /// The key's own filters: two (or one) in `PerKey` mode, none in `Shared` mode.
    pub fn filters(&self, key_id: &str) -> Vec<MetricFilter> {
        let Some(alarms) = &self.alarms else {
            return Vec::new();
        };
        if self.setup.mode == MetricFilterMode::Shared {
            return Vec::new();
        }
        alarms
            .signals()
            .into_iter()
            .map(|signal| {
                self.setup.filter(
                    names::key_filter_name(&self.prefix, signal),
                    names::key_pattern(signal, &self.setup.account_id, key_id),
                    signal.as_str(),
                    (KEY_ARN_DIMENSION, KEY_ARN_SELECTOR),
                )
            })
            .collect()
    }

    /// One alarm per copy of the key and signal.
    pub fn alarms(&self, copies: &[KeyCopy]) -> Vec<WantedAlarm> {
        let Some(alarms) = &self.alarms else {
            return Vec::new();
        };
        let tags = BTreeMap::from([self.owner.clone()]);
        let mut wanted = Vec::new();
        for copy in copies {
            for signal in alarms.signals() {
                let mut alarm = event_alarm(&self.setup.naming, signal.as_str(), &alarms.notify);
                if let (Signal::Decrypt, Some(decrypt)) = (signal, &alarms.decrypt) {
                    alarm.period = decrypt.period_seconds();
                    alarm.evaluation_periods = decrypt.evaluation_periods();
                    alarm.datapoints_to_alarm = decrypt.datapoints_to_alarm();
                    // Exact: the threshold is at most 2^53 (the CRD's bound).
                    alarm.threshold = decrypt.threshold() as f64;
                    alarm.comparison = "GreaterThanThreshold".to_owned();
                }
                alarm.name = names::key_alarm_name(&self.prefix, &copy.region, signal);
                alarm.description = format!(
                    "kms-operator: {} of KMS key {} ({}, cluster {}); docs/monitoring.md",
                    signal.as_str(),
                    copy.arn,
                    self.object,
                    self.setup.cluster
                );
                alarm.dimensions = BTreeMap::from([(KEY_ARN_DIMENSION.to_owned(), copy.arn.clone())]);
                wanted.push(WantedAlarm { alarm, tags: tags.clone() });
            }
        }
        wanted
    }
}
