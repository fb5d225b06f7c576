//! A change to an alarm or a metric filter, as `plan` prints it and `apply` makes it.

use std::collections::BTreeMap;

use crate::aws::Op;
use crate::aws::model::{MetricAlarm, MetricFilter};

#[derive(Clone, Debug, PartialEq)]
pub enum MonitoringAction {
    /// PutMetricAlarm: creates the alarm (`was` none) or replaces its definition.
    PutAlarm {
        alarm: Box<MetricAlarm>,
        tags: BTreeMap<String, String>,
        was: Option<Box<MetricAlarm>>,
    },
    DeleteAlarms {
        names: Vec<String>,
    },
    /// PutMetricFilter: creates the filter (`was` none) or replaces it.
    PutFilter {
        filter: Box<MetricFilter>,
        was: Option<Box<MetricFilter>>,
    },
    DeleteFilter {
        log_group: String,
        name: String,
    },
}

impl MonitoringAction {
    pub fn operation(&self) -> Op {
        match self {
            MonitoringAction::PutAlarm { .. } => Op::PutMetricAlarm,
            MonitoringAction::DeleteAlarms { .. } => Op::DeleteAlarms,
            MonitoringAction::PutFilter { .. } => Op::PutMetricFilter,
            MonitoringAction::DeleteFilter { .. } => Op::DeleteMetricFilter,
        }
    }

    pub fn symbol(&self) -> char {
        match self {
            MonitoringAction::PutAlarm { was: None, .. } | MonitoringAction::PutFilter { was: None, .. } => '+',
            MonitoringAction::DeleteAlarms { .. } | MonitoringAction::DeleteFilter { .. } => '-',
            _ => '~',
        }
    }

    pub fn summary(&self, region: &str) -> String {
        match self {
            MonitoringAction::PutAlarm { alarm, was: None, .. } => {
                format!("create alarm {} in {region}: {}", alarm.name, condition(alarm))
            }
            MonitoringAction::PutAlarm { alarm, was: Some(was), .. } => {
                format!("update alarm {} in {region}: {}", alarm.name, alarm_differences(was, alarm).join(", "))
            }
            MonitoringAction::DeleteAlarms { names } => format!("delete alarm {} in {region}", names.join(", ")),
            MonitoringAction::PutFilter { filter, was: None } => {
                format!("create metric filter {} on log group {} in {region}", filter.name, filter.log_group)
            }
            MonitoringAction::PutFilter { filter, was: Some(was) } => format!(
                "update metric filter {} on log group {} in {region}: {}",
                filter.name,
                filter.log_group,
                filter_differences(was, filter).join(", ")
            ),
            MonitoringAction::DeleteFilter { log_group, name } => {
                format!("delete metric filter {name} on log group {log_group} in {region}")
            }
        }
    }

    pub fn details(&self) -> Vec<String> {
        match self {
            MonitoringAction::PutAlarm { alarm, was: None, .. } => vec![
                format!("metric: {} {} {}", alarm.namespace, alarm.metric, pairs(&alarm.dimensions)),
                format!("actions: {}", list(&alarm.alarm_actions)),
            ],
            MonitoringAction::PutFilter { filter, .. } => vec![format!("pattern: {}", filter.pattern)],
            _ => Vec::new(),
        }
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() { "(none)".to_owned() } else { items.join(", ") }
}

fn pairs(map: &BTreeMap<String, String>) -> String {
    map.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

fn comparison_sign(comparison: &str) -> &str {
    match comparison {
        "GreaterThanThreshold" => ">",
        "GreaterThanOrEqualToThreshold" => ">=",
        "LessThanThreshold" => "<",
        "LessThanOrEqualToThreshold" => "<=",
        other => other,
    }
}

fn condition(alarm: &MetricAlarm) -> String {
    format!(
        "{} {} {} {} over {} s, {} of {} periods",
        alarm.statistic,
        alarm.metric,
        comparison_sign(&alarm.comparison),
        alarm.threshold,
        alarm.period,
        alarm.datapoints_to_alarm,
        alarm.evaluation_periods
    )
}

fn alarm_differences(was: &MetricAlarm, now: &MetricAlarm) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = |name: &str, from: String, to: String| {
        if from != to {
            out.push(format!("{name} {from} -> {to}"));
        }
    };
    field("condition", condition(was), condition(now));
    field(
        "metric",
        format!("{} {}", was.namespace, pairs(&was.dimensions)),
        format!("{} {}", now.namespace, pairs(&now.dimensions)),
    );
    field("alarm actions", list(&was.alarm_actions), list(&now.alarm_actions));
    field("OK actions", list(&was.ok_actions), list(&now.ok_actions));
    field("missing data", was.treat_missing_data.clone(), now.treat_missing_data.clone());
    field("actions enabled", was.actions_enabled.to_string(), now.actions_enabled.to_string());
    field("description", format!("{:?}", was.description), format!("{:?}", now.description));
    out
}

fn filter_differences(was: &MetricFilter, now: &MetricFilter) -> Vec<String> {
    let mut out = Vec::new();
    if was.pattern != now.pattern {
        out.push("pattern".to_owned());
    }
    if (&was.namespace, &was.metric, &was.value, &was.dimensions)
        != (&now.namespace, &now.metric, &now.value, &now.dimensions)
    {
        out.push(format!(
            "metric {} {} {} -> {} {} {}",
            was.namespace,
            was.metric,
            pairs(&was.dimensions),
            now.namespace,
            now.metric,
            pairs(&now.dimensions)
        ));
    }
    out
}
