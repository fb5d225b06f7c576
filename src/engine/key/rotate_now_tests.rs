//! `rotation.rotateNow` planning and bookkeeping, case by case.

use std::collections::BTreeMap;

use super::fixtures::{desired, live};
use super::observed::{KeyObservation, ObservedKey};
use super::plan::plan_key;
use super::rotate_now::{RotateNow, applied_value, needs_history, record_history, tag_value};
use crate::api::catalog::{ROTATE_NOW_BASE_TAG, ROTATE_NOW_TAG};
use crate::api::{Reason, RotationStatus};
use crate::aws::model::{RotationEntry, RotationState};
use crate::engine::change::Action;
use crate::engine::desired::DesiredKey;
use crate::engine::plan::Plan;

fn wanting(value: &str) -> DesiredKey {
    let mut desired = desired();
    if let Some(rotation) = desired.rotation.as_mut() {
        rotation.rotate_now = Some(value.to_owned());
    }
    desired
}

fn on_demand(n: usize) -> Vec<RotationEntry> {
    (0..n)
        .map(|i| RotationEntry { date: Some(format!("2026-01-{:02}T00:00:00Z", i + 1)), kind: "ON_DEMAND".into() })
        .collect()
}

fn observed(desired: &DesiredKey, tags: &[(&str, &str)], history: Vec<RotationEntry>) -> ObservedKey {
    let mut observed = live(desired);
    for (k, v) in tags {
        observed.tags.insert((*k).to_owned(), (*v).to_owned());
    }
    observed.rotation_history = Some(history);
    observed
}

fn plan(desired: &DesiredKey, observed: ObservedKey) -> Plan {
    plan_key(desired, &KeyObservation::Found(Box::new(observed)))
}

#[test]
fn a_new_value_rotates_once_counting_the_rotations_so_far() {
    let desired = wanting("CHG-1");
    let plan = plan(&desired, observed(&desired, &[], on_demand(3)));
    assert_eq!(plan.changes.len(), 1, "{plan:?}");
    assert_eq!(
        plan.changes[0].action,
        Action::RotateOnDemand { value: "CHG-1".into(), on_demand_before: 3, recorded: false }
    );
    assert!(plan.changes[0].summary().contains("on-demand rotation 4 of 10"));
}

#[test]
fn a_value_the_key_records_as_done_plans_nothing() {
    let desired = wanting("CHG-1");
    assert!(plan(&desired, observed(&desired, &[(ROTATE_NOW_TAG, "CHG-1")], on_demand(1))).is_empty());
    // Nor is the tag undeclared drift on a key the operator owns.
    let mut no_value = desired.clone();
    if let Some(rotation) = no_value.rotation.as_mut() {
        rotation.rotate_now = None;
    }
    assert!(plan(&no_value, observed(&no_value, &[(ROTATE_NOW_TAG, "CHG-1")], Vec::new())).is_empty());
}

#[test]
fn a_rotation_started_and_made_only_clears_its_record() {
    let desired = wanting("CHG-2");
    let tags = [(ROTATE_NOW_TAG, "CHG-2"), (ROTATE_NOW_BASE_TAG, "1")];
    let plan = plan(&desired, observed(&desired, &tags, on_demand(2)));
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].action, Action::Untag(vec![(ROTATE_NOW_BASE_TAG.into(), "1".into())]));
}

#[test]
fn a_rotation_under_way_in_kms_counts_as_made() {
    let desired = wanting("CHG-2");
    let tags = [(ROTATE_NOW_TAG, "CHG-2"), (ROTATE_NOW_BASE_TAG, "1")];
    let mut key = observed(&desired, &tags, on_demand(1));
    key.rotation = Some(RotationState {
        enabled: true,
        period_days: Some(365),
        on_demand_rotation_started: Some("2026-11-25T00:00:00Z".into()),
        ..RotationState::default()
    });
    let plan = plan(&desired, key);
    assert!(matches!(plan.changes[0].action, Action::Untag(_)), "{plan:?}");
}

#[test]
fn a_rotation_started_and_not_made_rotates_without_recording_again() {
    let desired = wanting("CHG-2");
    let tags = [(ROTATE_NOW_TAG, "CHG-2"), (ROTATE_NOW_BASE_TAG, "1")];
    let plan = plan(&desired, observed(&desired, &tags, on_demand(1)));
    assert_eq!(
        plan.changes[0].action,
        Action::RotateOnDemand { value: "CHG-2".into(), on_demand_before: 1, recorded: true }
    );
}

#[test]
fn kms_limits_block_with_the_field_and_the_fix() {
    let desired = wanting("CHG-3");
    let at_limit = plan(&desired, observed(&desired, &[(ROTATE_NOW_TAG, "CHG-2")], on_demand(10)));
    assert!(at_limit.changes.is_empty());
    assert_eq!(at_limit.blockers[0].reason, Reason::RotateNowLimitReached);
    assert!(at_limit.blockers[0].message.contains("spec.rotation.rotateNow \"CHG-3\""));
    assert!(at_limit.blockers[0].message.contains("back to \"CHG-2\""), "{}", at_limit.blockers[0].message);

    let mut external = desired.clone();
    external.material.origin = "EXTERNAL".into();
    let mut imported = observed(&external, &[], Vec::new());
    imported.key.origin = "EXTERNAL".into();
    assert_eq!(plan(&external, imported).blockers[0].reason, Reason::RotateNowUnsupported);

    let mut off = desired.clone();
    off.enabled = false;
    let mut disabled = observed(&off, &[], Vec::new());
    disabled.key.enabled = false;
    disabled.key.state = "Disabled".into();
    assert_eq!(plan(&off, disabled).blockers[0].reason, Reason::RotateNowBlockedByDisabledKey);
}

#[test]
fn a_disabled_key_the_spec_enables_is_enabled_then_rotated() {
    let mut desired = wanting("CHG-4");
    desired.mandate.reenable = true;
    let mut disabled = observed(&desired, &[], Vec::new());
    disabled.key.enabled = false;
    disabled.key.state = "Disabled".into();
    let ops: Vec<String> = plan(&desired, disabled).changes.iter().map(|c| c.operation().to_string()).collect();
    assert_eq!(ops, ["EnableKey", "RotateKeyOnDemand"]);
}

#[test]
fn values_a_tag_cannot_hold_are_kept_hashed() {
    assert_eq!(tag_value("2026-11-25 CHG:42/a=b+c@d_e.f"), "2026-11-25 CHG:42/a=b+c@d_e.f");
    let odd = tag_value("ticket #42, urgent!");
    assert!(odd.starts_with("sha256:") && odd.len() == 7 + 64, "{odd}");
    assert_eq!(odd, tag_value("ticket #42, urgent!"), "stable");
    assert_ne!(odd, tag_value("ticket #43, urgent!"));
    let long = "x".repeat(300);
    assert!(tag_value(&long).starts_with("sha256:"));
    assert!(tag_value("sha256:abc").starts_with("sha256:") && tag_value("sha256:abc") != "sha256:abc");
    assert_eq!(applied_value(&odd, Some("ticket #42, urgent!")), "ticket #42, urgent!");
    assert_eq!(applied_value(&odd, Some("other")), odd);
    let desired = wanting("ticket #42, urgent!");
    assert_eq!(RotateNow::of(&desired, &BTreeMap::from([(ROTATE_NOW_TAG.to_owned(), odd)])), RotateNow::Done);
}

#[test]
fn history_is_read_only_when_something_rotated_or_is_to() {
    let live =
        RotationState { enabled: true, next_rotation_date: Some("2027-01-01".into()), ..RotationState::default() };
    let recorded = RotationStatus { next_rotation_date: Some("2027-01-01".into()), ..RotationStatus::default() };
    assert!(!needs_history(&RotateNow::Done, &live, None, false), "local mode, nothing to do");
    assert!(!needs_history(&RotateNow::Done, &live, Some(&recorded), false), "in sync");
    assert!(needs_history(&RotateNow::Done, &live, Some(&recorded), true), "this pass rotated");
    assert!(needs_history(&RotateNow::Due, &live, None, false));
    assert!(needs_history(&RotateNow::Started { base: 0 }, &live, None, false));
    let moved = RotationStatus { next_rotation_date: Some("2026-01-01".into()), ..RotationStatus::default() };
    assert!(needs_history(&RotateNow::Done, &live, Some(&moved), false), "an automatic rotation happened");
}

#[test]
fn status_shows_the_newest_five_and_the_on_demand_count() {
    let mut history = on_demand(4);
    history.extend(
        (1..=3).map(|m| RotationEntry { date: Some(format!("2025-{m:02}-01T00:00:00Z")), kind: "AUTOMATIC".into() }),
    );
    let mut status = RotationStatus::default();
    record_history(&mut status, &history);
    assert_eq!(status.on_demand_rotations, Some(4));
    assert_eq!(status.last_rotation_date.as_deref(), Some("2026-01-04T00:00:00Z"));
    assert_eq!(status.recent.len(), 5);
    assert_eq!(status.recent[0].date.as_deref(), Some("2026-01-04T00:00:00Z"));
    assert_eq!(status.recent[4].kind, "AUTOMATIC");
    assert_eq!(status.recent[4].date.as_deref(), Some("2025-03-01T00:00:00Z"));
}
