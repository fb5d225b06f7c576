//! The monitoring planner, case by case: creation, drift, removal, the two limits.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::api::monitoring::{AccountMonitoring, DecryptAlarm, KeyMonitoring};
use crate::api::{Kind, ObjectName};
use crate::aws::AccountConfig;
use crate::aws::model::AlarmEntry;
use crate::engine::monitoring::{DesiredMonitoring, KeyAlarms, MonitoringAction};

const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
const ARN: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const TOPIC: &str = "arn:aws:sns:eu-west-1:111122223333:kms-alarms";

fn account_spec(mode: MetricFilterMode) -> AccountMonitoring {
    AccountMonitoring {
        cloud_trail_log_group: "trail".into(),
        region: None,
        alarm_topics: vec![TOPIC.into()],
        key_deletion_alarm: true,
        metric_filters: mode,
    }
}

fn setup(mode: MetricFilterMode) -> MonitoringSetup {
    let account = AccountConfig {
        name: "sec".into(),
        account_id: "111122223333".into(),
        region: "eu-west-1".into(),
        assume_role_arn: None,
        external_id: None,
        endpoint_url: None,
        sts_endpoint_url: None,
        verify_account: true,
    };
    MonitoringSetup::new(&account, &account_spec(mode), "c")
}

fn desired(mode: MetricFilterMode) -> DesiredMonitoring {
    let setup = setup(mode);
    let object = ObjectName::new(Kind::KmsKey, Some("apps"), "logs");
    let spec = KeyMonitoring { notify: vec![TOPIC.into()], ..KeyMonitoring::default() };
    DesiredMonitoring {
        prefix: setup.naming.key_prefix(&object),
        owner: ("kmsoperator.dev/owner".into(), "c/apps/logs".into()),
        object,
        alarms: Some(KeyAlarms::new(&spec, true)),
        setup,
    }
}

fn copies(regions: &[&str]) -> Vec<KeyCopy> {
    regions
        .iter()
        .map(|r| KeyCopy { region: (*r).into(), arn: format!("arn:aws:kms:{r}:111122223333:key/{KEY_ID}") })
        .collect()
}

fn handle() -> KeyHandle {
    KeyHandle::Existing(KEY_ID.into())
}

/// The live state exactly as `desired` wants it.
fn live(desired: &DesiredMonitoring, copies: &[KeyCopy]) -> ObservedMonitoring {
    let filters = desired.filters(KEY_ID);
    ObservedMonitoring {
        filters_in_group: filters.len(),
        filters,
        alarms: desired
            .alarms(copies)
            .into_iter()
            .map(|w| AlarmEntry { alarm: w.alarm, arn: None, state: "OK".into(), since: None })
            .collect(),
        watched: BTreeMap::new(),
    }
}

fn operations(plan: &Plan) -> Vec<String> {
    plan.changes.iter().map(|c| c.operation().to_string()).collect()
}

#[test]
fn a_new_monitored_key_gets_two_filters_then_two_alarms_per_copy() {
    let desired = desired(MetricFilterMode::PerKey);
    let plan = plan_key_monitoring(
        &desired,
        &handle(),
        KEY_ID,
        &copies(&["eu-west-1", "us-west-2"]),
        &ObservedMonitoring::default(),
    );
    assert_eq!(
        operations(&plan),
        ["PutMetricFilter", "PutMetricFilter", "PutMetricAlarm", "PutMetricAlarm", "PutMetricAlarm", "PutMetricAlarm"]
    );
    let Action::Monitoring(MonitoringAction::PutAlarm { alarm, tags, was: None }) = &plan.changes[2].action else {
        panic!("an alarm to create: {:?}", plan.changes[2]);
    };
    assert_eq!(alarm.name, "kms-operator/c/key/apps/logs/eu-west-1/decrypt");
    assert_eq!(alarm.dimensions.get("KeyArn").map(String::as_str), Some(ARN));
    assert_eq!(
        (alarm.threshold, alarm.period, alarm.evaluation_periods, alarm.datapoints_to_alarm),
        (100.0, 300, 3, 2)
    );
    assert_eq!(alarm.comparison, "GreaterThanThreshold");
    assert_eq!(alarm.treat_missing_data, "notBreaching");
    assert_eq!(
        (alarm.alarm_actions.as_slice(), alarm.ok_actions.as_slice()),
        ([TOPIC.to_owned()].as_slice(), [TOPIC.to_owned()].as_slice())
    );
    assert_eq!(tags.get("kmsoperator.dev/owner").map(String::as_str), Some("c/apps/logs"));
    assert!(plan.changes.iter().all(|c| c.region == "eu-west-1"), "alarms live in the monitoring region");
}

#[test]
fn a_converged_key_plans_nothing() {
    let desired = desired(MetricFilterMode::PerKey);
    let copies = copies(&["eu-west-1"]);
    assert_eq!(plan_key_monitoring(&desired, &handle(), KEY_ID, &copies, &live(&desired, &copies)), Plan::default());
}

#[test]
fn a_threshold_or_action_changed_in_the_console_is_put_back() {
    let desired = desired(MetricFilterMode::PerKey);
    let copies = copies(&["eu-west-1"]);
    let mut observed = live(&desired, &copies);
    observed.alarms[0].alarm.threshold = 5000.0;
    observed.alarms[1].alarm.alarm_actions.clear();
    let plan = plan_key_monitoring(&desired, &handle(), KEY_ID, &copies, &observed);
    assert_eq!(operations(&plan), ["PutMetricAlarm", "PutMetricAlarm"]);
    let summaries: Vec<String> = plan.changes.iter().map(Change::summary).collect();
    assert!(summaries[0].contains("5000 over 300 s") && summaries[0].contains("-> Sum Decrypt > 100"), "{summaries:?}");
    assert!(summaries[1].contains("alarm actions (none) -> arn:aws:sns"), "{summaries:?}");
}

#[test]
fn a_deleted_or_edited_filter_is_put_back() {
    let desired = desired(MetricFilterMode::PerKey);
    let copies = copies(&["eu-west-1"]);
    let mut observed = live(&desired, &copies);
    observed.filters.remove(0);
    observed.filters[0].pattern = "{ $.eventName = \"Nothing\" }".into();
    let plan = plan_key_monitoring(&desired, &handle(), KEY_ID, &copies, &observed);
    assert_eq!(operations(&plan), ["PutMetricFilter", "PutMetricFilter"]);
    assert_eq!(plan.changes[0].symbol(), '+');
    assert_eq!(plan.changes[1].symbol(), '~');
}

#[test]
fn turning_monitoring_off_or_deleting_the_key_removes_everything_under_its_prefix() {
    let mut desired = desired(MetricFilterMode::PerKey);
    let copies = copies(&["eu-west-1", "us-west-2"]);
    let observed = live(&desired, &copies);
    desired.alarms = None;
    let plan = plan_key_monitoring(&desired, &handle(), KEY_ID, &copies, &observed);
    assert_eq!(operations(&plan), ["DeleteAlarms", "DeleteMetricFilter", "DeleteMetricFilter"]);
    let Action::Monitoring(MonitoringAction::DeleteAlarms { names }) = &plan.changes[0].action else { panic!() };
    assert_eq!(names.len(), 4, "one call for all of them");
    let removal = plan_monitoring_removal(&desired.setup, &handle(), &observed);
    assert_eq!(removal.changes, plan.changes);
}

#[test]
fn a_replica_that_goes_loses_its_alarms() {
    let desired = desired(MetricFilterMode::PerKey);
    let observed = live(&desired, &copies(&["eu-west-1", "us-west-2"]));
    let plan = plan_key_monitoring(&desired, &handle(), KEY_ID, &copies(&["eu-west-1"]), &observed);
    let Action::Monitoring(MonitoringAction::DeleteAlarms { names }) = &plan.changes[0].action else { panic!() };
    assert!(names.iter().all(|n| n.contains("/us-west-2/")), "{names:?}");
}

#[test]
fn per_key_filters_that_do_not_fit_the_log_group_are_refused_naming_the_limit() {
    let desired = desired(MetricFilterMode::PerKey);
    let observed = ObservedMonitoring { filters_in_group: 99, ..ObservedMonitoring::default() };
    let plan = plan_key_monitoring(&desired, &handle(), KEY_ID, &copies(&["eu-west-1"]), &observed);
    assert!(plan.changes.is_empty());
    assert_eq!(plan.blockers.len(), 1);
    let message = &plan.blockers[0].message;
    assert_eq!(plan.blockers[0].reason, Reason::MetricFilterLimit);
    assert!(message.contains("needs 2 more metric filter(s) on log group trail, which holds 99"), "{message}");
    assert!(message.contains("allows 100 per log group") && message.contains("metricFilters: Shared"), "{message}");
    let room = ObservedMonitoring { filters_in_group: 98, ..ObservedMonitoring::default() };
    assert!(plan_key_monitoring(&desired, &handle(), KEY_ID, &copies(&["eu-west-1"]), &room).blockers.is_empty());
}

#[test]
fn shared_mode_keys_have_alarms_only_and_drop_their_own_filters() {
    let per_key = desired(MetricFilterMode::PerKey);
    let copies = copies(&["eu-west-1"]);
    let observed = live(&per_key, &copies);
    let shared = desired(MetricFilterMode::Shared);
    let plan = plan_key_monitoring(&shared, &handle(), KEY_ID, &copies, &observed);
    assert_eq!(operations(&plan), ["DeleteMetricFilter", "DeleteMetricFilter"], "the alarms stay as they are");
}

#[test]
fn a_shard_that_would_reach_a_thousand_watched_keys_is_refused_naming_the_rule() {
    let desired = desired(MetricFilterMode::Shared);
    let others: BTreeSet<String> =
        (0..999).map(|i| format!("arn:aws:kms:eu-west-1:111122223333:key/1{i:07}")).collect();
    let observed = ObservedMonitoring { watched: BTreeMap::from([('1', others)]), ..ObservedMonitoring::default() };
    let plan = plan_key_monitoring(&desired, &handle(), KEY_ID, &copies(&["eu-west-1"]), &observed);
    assert_eq!(plan.blockers[0].reason, Reason::DimensionValueLimit);
    assert!(plan.blockers[0].message.contains("1000 values within an hour"), "{}", plan.blockers[0].message);
    let elsewhere = plan_key_monitoring(&desired, &handle(), "f000", &copies(&["eu-west-1"]), &observed);
    assert!(elsewhere.blockers.is_empty(), "other shards are not affected");
}

#[test]
fn the_account_has_its_deletion_alarm_and_in_shared_mode_33_filters() {
    let per_key = plan_account_monitoring(&setup(MetricFilterMode::PerKey), &ObservedMonitoring::default());
    assert_eq!(operations(&per_key), ["PutMetricFilter", "PutMetricAlarm"]);
    let Action::Monitoring(MonitoringAction::PutAlarm { alarm, .. }) = &per_key.changes[1].action else { panic!() };
    assert_eq!(alarm.name, "kms-operator/c/account/sec/key-deletion");
    assert_eq!(alarm.alarm_actions, [TOPIC]);
    assert!(per_key.changes.iter().all(|c| c.key == KeyHandle::Account));
    let shared = plan_account_monitoring(&setup(MetricFilterMode::Shared), &ObservedMonitoring::default());
    assert_eq!(shared.changes.iter().filter(|c| c.operation() == crate::aws::Op::PutMetricFilter).count(), 33);
    let full = ObservedMonitoring { filters_in_group: 70, ..ObservedMonitoring::default() };
    let refused = plan_account_monitoring(&setup(MetricFilterMode::Shared), &full);
    assert_eq!(refused.blockers[0].reason, Reason::MetricFilterLimit);
    assert!(refused.blockers[0].message.contains("needs 33 more"), "{}", refused.blockers[0].message);
}

#[test]
fn keys_that_are_never_decrypted_get_the_access_denied_alarm_only() {
    let mut desired = desired(MetricFilterMode::PerKey);
    let spec = KeyMonitoring {
        decrypt: Some(DecryptAlarm { threshold: Some(5), ..DecryptAlarm::default() }),
        ..KeyMonitoring::default()
    };
    desired.alarms = Some(KeyAlarms::new(&spec, false));
    let plan =
        plan_key_monitoring(&desired, &handle(), KEY_ID, &copies(&["eu-west-1"]), &ObservedMonitoring::default());
    assert_eq!(operations(&plan), ["PutMetricFilter", "PutMetricAlarm"]);
    assert!(plan.changes[1].summary().contains("accessdenied"));
}
