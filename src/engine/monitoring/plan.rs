//! Planning alarms and filters: what is wanted against what the listings show, within
//! CloudWatch Logs' limits. Pure.

use super::action::MonitoringAction;
use super::desired::{DesiredMonitoring, KeyCopy, MonitoringSetup, WantedAlarm};
use super::names::shard_of;
use super::observe::ObservedMonitoring;
use crate::api::Reason;
use crate::api::monitoring::MetricFilterMode;
use crate::aws::model::MetricFilter;
use crate::engine::change::{Action, Change, Finding, KeyHandle};
use crate::engine::plan::Plan;

/// CloudWatch Logs allows 100 metric filters on one log group (not adjustable).
pub const MAX_FILTERS_PER_LOG_GROUP: usize = 100;
/// CloudWatch Logs may disable a filter whose dimensions take 1,000 values within an hour.
pub const MAX_DIMENSION_VALUES_PER_HOUR: usize = 1_000;

/// The changes that make `observed` hold exactly `filters` and `alarms`: filters first (an
/// alarm on a metric nobody publishes yet only waits), deletions last.
fn converge_to(
    filters: &[MetricFilter],
    alarms: &[WantedAlarm],
    observed: &ObservedMonitoring,
    region: &str,
    key: &KeyHandle,
) -> Vec<Change> {
    let change = |action: MonitoringAction| Change {
        region: region.to_owned(),
        key: key.clone(),
        action: Action::Monitoring(action),
    };
    let mut changes = Vec::new();
    for filter in filters {
        match observed.filters.iter().find(|f| f.name == filter.name) {
            Some(live) if live == filter => {}
            live => changes.push(change(MonitoringAction::PutFilter {
                filter: Box::new(filter.clone()),
                was: live.map(|l| Box::new(l.clone())),
            })),
        }
    }
    for wanted in alarms {
        match observed.alarms.iter().find(|a| a.alarm.name == wanted.alarm.name) {
            Some(live) if live.alarm == wanted.alarm => {}
            live => changes.push(change(MonitoringAction::PutAlarm {
                alarm: Box::new(wanted.alarm.clone()),
                tags: wanted.tags.clone(),
                was: live.map(|l| Box::new(l.alarm.clone())),
            })),
        }
    }
    let mut unwanted: Vec<String> = observed
        .alarms
        .iter()
        .filter(|a| !alarms.iter().any(|w| w.alarm.name == a.alarm.name))
        .map(|a| a.alarm.name.clone())
        .collect();
    unwanted.sort();
    if !unwanted.is_empty() {
        changes.push(change(MonitoringAction::DeleteAlarms { names: unwanted }));
    }
    for live in observed.filters.iter().filter(|l| !filters.iter().any(|f| f.name == l.name)) {
        changes.push(change(MonitoringAction::DeleteFilter {
            log_group: live.log_group.clone(),
            name: live.name.clone(),
        }));
    }
    changes
}

/// Refuses filters the log group has no room for, naming the limit and what is there.
fn filter_room(
    filters: &[MetricFilter],
    observed: &ObservedMonitoring,
    log_group: &str,
    what: &str,
    fix: &str,
) -> Option<Finding> {
    let new = filters.iter().filter(|f| !observed.filters.iter().any(|l| l.name == f.name)).count();
    let leaving = observed.filters.iter().filter(|l| !filters.iter().any(|f| f.name == l.name)).count();
    let after = observed.filters_in_group + new - leaving.min(observed.filters_in_group + new);
    (new > 0 && after > MAX_FILTERS_PER_LOG_GROUP).then(|| {
        Finding::new(
            Reason::MetricFilterLimit,
            format!(
                "{what} needs {new} more metric filter(s) on log group {log_group}, which holds {}; CloudWatch Logs allows {MAX_FILTERS_PER_LOG_GROUP} per log group: {fix}",
                observed.filters_in_group
            ),
        )
    })
}

/// A KmsKey's alarms and filters. `key_id` and `copies` are the key's (placeholders for a key
/// this plan creates).
pub fn plan_key_monitoring(
    desired: &DesiredMonitoring,
    key: &KeyHandle,
    key_id: &str,
    copies: &[KeyCopy],
    observed: &ObservedMonitoring,
) -> Plan {
    let setup = &desired.setup;
    let filters = desired.filters(key_id);
    let alarms = desired.alarms(copies);
    let mut plan = Plan::default();
    let fix = format!(
        "set spec.monitoring.metricFilters: Shared on AwsAccount {} (33 filters for every key of the account; docs/monitoring.md), or remove filters from the log group",
        setup.account
    );
    if let Some(refusal) = filter_room(&filters, observed, &setup.log_group, &desired.object.to_string(), &fix) {
        plan.blockers.push(refusal);
        return plan;
    }
    if setup.mode == MetricFilterMode::Shared && desired.alarms.is_some() {
        let shard = shard_of(key_id);
        let ours: Vec<&str> = copies.iter().map(|c| c.arn.as_str()).collect();
        let others =
            observed.watched.get(&shard).map_or(0, |arns| arns.iter().filter(|a| !ours.contains(&a.as_str())).count());
        if others + copies.len() >= MAX_DIMENSION_VALUES_PER_HOUR {
            plan.blockers.push(Finding::new(
                Reason::DimensionValueLimit,
                format!(
                    "{} would make {} key copies watched through the shared filter of shard {shard} on log group {}; CloudWatch Logs may disable a metric filter whose dimensions take {MAX_DIMENSION_VALUES_PER_HOUR} values within an hour: move keys to another AwsAccount with its own log group (docs/monitoring.md)",
                    desired.object,
                    others + copies.len(),
                    setup.log_group
                ),
            ));
            return plan;
        }
    }
    plan.changes = converge_to(&filters, &alarms, observed, &setup.region, key);
    plan
}

/// Deleting a KmsKey (or its monitoring): every alarm and filter under its prefix goes.
pub fn plan_monitoring_removal(setup: &MonitoringSetup, key: &KeyHandle, observed: &ObservedMonitoring) -> Plan {
    Plan { changes: converge_to(&[], &[], observed, &setup.region, key), ..Plan::default() }
}

/// An AwsAccount's own filters (key deletion, shared) and its key deletion alarm.
pub fn plan_account_monitoring(setup: &MonitoringSetup, observed: &ObservedMonitoring) -> Plan {
    let filters = setup.account_filters();
    let mut plan = Plan::default();
    let what = format!("AwsAccount {}", setup.account);
    let fix =
        "remove filters from the log group, or set spec.monitoring.metricFilters: PerKey and keyDeletionAlarm: false";
    if let Some(refusal) = filter_room(&filters, observed, &setup.log_group, &what, fix) {
        plan.blockers.push(refusal);
        return plan;
    }
    plan.changes = converge_to(&filters, &setup.account_alarms(), observed, &setup.region, &KeyHandle::Account);
    plan
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
