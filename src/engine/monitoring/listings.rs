//! The two listings monitoring reads, shared by a pass like KMS's: the cluster's alarms in an
//! account and region (one DescribeAlarms by name prefix, 100 a page) and a log group's metric
//! filters (one DescribeMetricFilters, 50 a page). The engine's own writes update them in place.

use std::time::Duration;

use crate::aws::model::{AlarmEntry, MetricAlarm, MetricFilter};
use crate::aws::{AlarmClient, AwsError, LogsClient};
use crate::engine::cache::{SharedCache, lock};

/// (account id, region, name prefix or log group).
type Scope = (String, String, String);

pub struct MonitoringListings {
    alarms: SharedCache<Scope, Vec<AlarmEntry>>,
    filters: SharedCache<Scope, Vec<MetricFilter>>,
}

/// A new alarm has no data yet.
const NEW_ALARM_STATE: &str = "INSUFFICIENT_DATA";

impl MonitoringListings {
    pub fn new(ttl: Option<Duration>) -> Self {
        MonitoringListings { alarms: SharedCache::new(ttl), filters: SharedCache::new(ttl) }
    }

    fn alarm_scope(client: &AlarmClient, prefix: &str) -> Scope {
        (client.account_id().to_owned(), client.region().to_owned(), prefix.to_owned())
    }

    fn filter_scope(client: &LogsClient, log_group: &str) -> Scope {
        (client.account_id().to_owned(), client.region().to_owned(), log_group.to_owned())
    }

    /// Every alarm whose name starts with `prefix` (the cluster's).
    pub async fn alarms(&self, client: &AlarmClient, prefix: &str) -> Result<Vec<AlarmEntry>, AwsError> {
        let scope = Self::alarm_scope(client, prefix);
        let alarms = self.alarms.get_or_load(&scope, || client.describe_alarms(prefix)).await?;
        Ok(lock(&alarms).clone())
    }

    /// After PutMetricAlarm: the definition as written; state and ARN as they were, or a new
    /// alarm's.
    pub fn record_alarm(&self, client: &AlarmClient, prefix: &str, alarm: &MetricAlarm) {
        self.alarms.update(&Self::alarm_scope(client, prefix), |alarms| {
            match alarms.iter_mut().find(|a| a.alarm.name == alarm.name) {
                Some(entry) => entry.alarm = alarm.clone(),
                None => alarms.push(AlarmEntry {
                    alarm: alarm.clone(),
                    arn: arn_beside(alarms, &alarm.name),
                    state: NEW_ALARM_STATE.to_owned(),
                    since: None,
                }),
            }
        });
    }

    pub fn remove_alarms(&self, client: &AlarmClient, prefix: &str, names: &[String]) {
        self.alarms.update(&Self::alarm_scope(client, prefix), |alarms| {
            alarms.retain(|a| !names.contains(&a.alarm.name));
        });
    }

    /// After a write whose outcome is unknown: the next read lists again.
    pub fn forget_alarms(&self, client: &AlarmClient, prefix: &str) {
        self.alarms.invalidate(&Self::alarm_scope(client, prefix));
    }

    pub async fn filters(&self, client: &LogsClient, log_group: &str) -> Result<Vec<MetricFilter>, AwsError> {
        let scope = Self::filter_scope(client, log_group);
        let filters = self.filters.get_or_load(&scope, || client.describe_filters(log_group)).await?;
        Ok(lock(&filters).clone())
    }

    pub fn record_filter(&self, client: &LogsClient, filter: &MetricFilter) {
        self.filters.update(&Self::filter_scope(client, &filter.log_group), |filters| {
            filters.retain(|f| f.name != filter.name);
            filters.push(filter.clone());
        });
    }

    pub fn remove_filter(&self, client: &LogsClient, log_group: &str, name: &str) {
        self.filters.update(&Self::filter_scope(client, log_group), |filters| filters.retain(|f| f.name != name));
    }

    pub fn forget_filters(&self, client: &LogsClient, log_group: &str) {
        self.filters.invalidate(&Self::filter_scope(client, log_group));
    }
}

/// PutMetricAlarm returns nothing; every alarm ARN of one account and region shares the part
/// before `:alarm:`.
fn arn_beside(alarms: &[AlarmEntry], name: &str) -> Option<String> {
    alarms.iter().find_map(|a| a.arn.as_deref()?.split_once(":alarm:").map(|(head, _)| format!("{head}:alarm:{name}")))
}
