//! Reading an object's alarms and filters from the pass's listings: no call of its own once the
//! listings are loaded.

use std::collections::{BTreeMap, BTreeSet};

use super::desired::MonitoringSetup;
use super::names::{KEY_ARN_DIMENSION, key_id_of, shard_of};
use crate::api::monitoring::AlarmStatus;
use crate::aws::model::{AlarmEntry, MetricFilter};
use crate::aws::{AccountConfig, AwsError};
use crate::engine::Engine;

/// The alarms and filters under one object's prefix, and what the limits need to know.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ObservedMonitoring {
    pub alarms: Vec<AlarmEntry>,
    pub filters: Vec<MetricFilter>,
    /// Every metric filter on the log group, anyone's.
    pub filters_in_group: usize,
    /// The key ARNs the cluster's alarms watch, by shard: what the shared filters' dimension
    /// takes at least.
    pub watched: BTreeMap<char, BTreeSet<String>>,
}

impl ObservedMonitoring {
    /// `status.monitoring.alarms`, in name order.
    pub fn statuses(&self) -> Vec<AlarmStatus> {
        let mut statuses: Vec<AlarmStatus> = self
            .alarms
            .iter()
            .map(|entry| {
                let arn = entry.alarm.dimensions.get(KEY_ARN_DIMENSION);
                AlarmStatus {
                    name: entry.alarm.name.clone(),
                    arn: entry.arn.clone(),
                    signal: entry.alarm.metric.clone(),
                    region: arn.and_then(|a| a.split(':').nth(3)).filter(|r| !r.is_empty()).map(str::to_owned),
                    state: entry.state.clone(),
                    since: entry.since.clone(),
                }
            })
            .collect();
        statuses.sort_by(|a, b| a.name.cmp(&b.name));
        statuses
    }
}

impl Engine {
    /// The alarms and filters starting with `prefix` in the account's monitoring region.
    pub(crate) async fn observe_monitoring(
        &self,
        account: &AccountConfig,
        setup: &MonitoringSetup,
        prefix: &str,
    ) -> Result<ObservedMonitoring, AwsError> {
        let alarms_client = self.pool.alarms(account, &setup.region).await;
        let logs_client = self.pool.logs(account, &setup.region).await;
        let cluster = setup.naming.cluster_prefix();
        let (alarms, filters) = futures::try_join!(
            self.listings.monitoring.alarms(&alarms_client, &cluster),
            self.listings.monitoring.filters(&logs_client, &setup.log_group),
        )?;
        let namespace = setup.naming.namespace();
        let mut watched: BTreeMap<char, BTreeSet<String>> = BTreeMap::new();
        for entry in alarms.iter().filter(|a| a.alarm.namespace == namespace) {
            if let Some(arn) = entry.alarm.dimensions.get(KEY_ARN_DIMENSION) {
                watched.entry(shard_of(key_id_of(arn))).or_default().insert(arn.clone());
            }
        }
        Ok(ObservedMonitoring {
            filters_in_group: filters.len(),
            alarms: alarms.into_iter().filter(|a| a.alarm.name.starts_with(prefix)).collect(),
            filters: filters.into_iter().filter(|f| f.name.starts_with(prefix)).collect(),
            watched,
        })
    }
}
