//! The key planner, case by case.

use std::collections::BTreeMap;

use serde_json::json;

use super::fixtures::{OWNER, desired, live};
use super::observed::{KeyObservation, ObservedKey, ObservedReplica};
use super::plan::{plan_key, plan_key_deletion};
use crate::api::{DeletionPolicy, Reason};
use crate::aws::model::{KeyDescription, RegionalArn, RotationState};
use crate::engine::change::{Action, KeyHandle};
use crate::engine::desired::{DesiredKey, DesiredReplica, DesiredRotation, Mandate, Origin};
use crate::engine::ownership::OWNER_TAG;
use crate::engine::plan::Plan;

fn found(observed: ObservedKey) -> KeyObservation {
    KeyObservation::Found(Box::new(observed))
}

fn operations(plan: &Plan) -> Vec<String> {
    plan.changes.iter().map(|c| format!("{}@{}", c.operation(), c.region)).collect()
}

fn reasons(findings: &[crate::engine::Finding]) -> Vec<Reason> {
    findings.iter().map(|f| f.reason).collect()
}

#[test]
fn a_converged_key_plans_nothing() {
    let desired = desired();
    assert_eq!(plan_key(&desired, &found(live(&desired))), Plan::default());
}

#[test]
fn a_missing_key_is_created_with_everything_in_one_call_then_rotation() {
    let desired = desired();
    let plan = plan_key(&desired, &KeyObservation::Missing);
    assert_eq!(operations(&plan), vec!["CreateKey@eu-west-1", "EnableKeyRotation@eu-west-1"]);
    let Action::CreateKey(new) = &plan.changes[0].action else { panic!("create first") };
    assert_eq!(new.tags.get(OWNER_TAG).map(String::as_str), Some(OWNER), "created keys carry the ownership tag");
    assert_eq!(new.tags.get("Env").map(String::as_str), Some("prod"));
    assert_eq!(Some(&new.policy), desired.policy.as_ref());
    assert!(plan.changes.iter().all(|c| c.key == KeyHandle::New));
}

#[test]
fn a_disabled_new_key_with_replicas_is_replicated_then_disabled_last() {
    let mut desired = desired();
    desired.multi_region = true;
    desired.enabled = false;
    desired.replicas = vec![DesiredReplica {
        region: "us-west-2".into(),
        description: Some("r".into()),
        tags: BTreeMap::new(),
        policy: desired.policy.clone(),
    }];
    let plan = plan_key(&desired, &KeyObservation::Missing);
    assert_eq!(
        operations(&plan),
        vec![
            "CreateKey@eu-west-1",
            "EnableKeyRotation@eu-west-1",
            "ReplicateKey@eu-west-1",
            "DisableKey@us-west-2",
            "DisableKey@eu-west-1"
        ]
    );
}

#[test]
fn observe_only_never_creates() {
    let mut desired = desired();
    desired.observe_only = true;
    let plan = plan_key(&desired, &KeyObservation::Missing);
    assert!(plan.changes.is_empty());
    assert_eq!(reasons(&plan.blockers), vec![Reason::KeyNotFound]);
}

#[test]
fn each_kind_of_drift_plans_one_change() {
    let desired = desired();
    type Drift = Box<dyn Fn(&mut ObservedKey)>;
    let cases: Vec<(&str, Drift)> = vec![
        ("UpdateKeyDescription", Box::new(|o| o.key.description = "edited".into())),
        ("PutKeyPolicy", Box::new(|o| o.policy = Some(json!({"Version": "2012-10-17", "Statement": []})))),
        ("EnableKeyRotation", Box::new(|o| o.rotation = Some(RotationState::default()))),
        ("EnableKeyRotation", Box::new(|o| o.rotation.as_mut().unwrap().period_days = Some(90))),
        ("TagResource", Box::new(|o| drop(o.tags.insert("Env".into(), "dev".into())))),
        ("UntagResource", Box::new(|o| drop(o.tags.insert("Extra".into(), "x".into())))),
    ];
    for (operation, drift) in cases {
        let mut observed = live(&desired);
        drift(&mut observed);
        let plan = plan_key(&desired, &found(observed));
        assert_eq!(operations(&plan), vec![format!("{operation}@eu-west-1")], "drift repaired by {operation}");
        assert!(plan.blockers.is_empty());
    }
}

#[test]
fn a_semantically_equal_policy_is_not_drift() {
    let desired = desired();
    let mut observed = live(&desired);
    observed.policy = Some(
        json!({"Statement": {"Resource": ["*"], "Action": ["kms:*"], "Principal": {"AWS": ["111122223333"]}, "Effect": "Allow", "Sid": "A"}, "Version": "2012-10-17"}),
    );
    assert_eq!(plan_key(&desired, &found(observed)), Plan::default());
}

#[test]
fn an_unreported_rotation_period_is_not_drift() {
    let desired = desired();
    let mut observed = live(&desired);
    observed.rotation = Some(RotationState {
        enabled: true,
        period_days: None,
        next_rotation_date: None,
        on_demand_rotation_started: None,
    });
    assert_eq!(plan_key(&desired, &found(observed)), Plan::default());
}

#[test]
fn enabling_comes_first_and_disabling_last() {
    let mut desired = desired();
    desired.mandate.reenable = true;
    let mut observed = live(&desired);
    observed.key.enabled = false;
    observed.rotation = Some(RotationState::default());
    observed.key.description = "old".into();
    let plan = plan_key(&desired, &found(observed.clone()));
    assert_eq!(
        operations(&plan),
        vec!["EnableKey@eu-west-1", "UpdateKeyDescription@eu-west-1", "EnableKeyRotation@eu-west-1"]
    );

    desired.enabled = false;
    desired.rotation = Some(DesiredRotation { enabled: false, period_days: 365, rotate_now: None });
    let plan = plan_key(&desired, &found(live(&DesiredKey { enabled: true, ..desired.clone() })));
    assert_eq!(operations(&plan), vec!["DisableKeyRotation@eu-west-1", "DisableKey@eu-west-1"]);
}

#[test]
fn rotation_cannot_change_on_a_key_that_stays_disabled() {
    let mut desired = desired();
    desired.enabled = false;
    let mut observed = live(&desired);
    observed.key.enabled = false;
    observed.key.state = "Disabled".into();
    observed.rotation = Some(RotationState::default());
    let plan = plan_key(&desired, &found(observed));
    assert!(plan.changes.is_empty());
    assert_eq!(reasons(&plan.blockers), vec![Reason::RotationBlockedByDisabledKey]);
}

#[test]
fn imported_keys_keep_their_undeclared_tags_and_unmanaged_policy() {
    let mut desired = desired();
    desired.origin = Origin::Import("k1".into());
    desired.policy = None;
    let mut observed = live(&desired);
    observed.tags.insert("Owner".into(), "someone".into());
    observed.policy = Some(json!({"Statement": []}));
    assert_eq!(plan_key(&desired, &found(observed)), Plan::default());
}

#[test]
fn keys_the_operator_cannot_touch_are_blocked_with_a_reason() {
    let desired = desired();
    let key = KeyDescription { key_id: "k9".into(), ..KeyDescription::default() };
    let cases = vec![
        (KeyObservation::NotOwned { key: Box::new(key), owner: Some("other/ns/x".into()) }, Reason::NotOwned),
        (KeyObservation::ImportNotFound { key_id: "k9".into() }, Reason::ImportNotFound),
        (KeyObservation::Gone { key_id: "k9".into() }, Reason::KeyDeleted),
    ];
    for (observation, reason) in cases {
        let plan = plan_key(&desired, &observation);
        assert!(plan.changes.is_empty(), "{reason}");
        assert_eq!(reasons(&plan.blockers), vec![reason]);
        assert!(plan.blockers[0].message.contains(':'), "every blocker says what to do: {}", plan.blockers[0].message);
    }
}

#[test]
fn a_key_disabled_outside_is_reported_on_resync_and_enabled_only_when_asked() {
    let mut desired = desired();
    let mut observed = live(&desired);
    observed.key.enabled = false;
    observed.key.state = "Disabled".into();
    observed.key.description = "edited too".into();
    let plan = plan_key(&desired, &found(observed.clone()));
    assert!(plan.changes.is_empty(), "a key taken out of service is left alone: {plan:?}");
    assert_eq!(reasons(&plan.blockers), vec![Reason::KeyDisabledOutside]);
    assert!(plan.blockers[0].message.contains("aws kms enable-key"), "{}", plan.blockers[0].message);

    desired.mandate.reenable = true;
    let plan = plan_key(&desired, &found(observed));
    assert_eq!(operations(&plan), vec!["EnableKey@eu-west-1", "UpdateKeyDescription@eu-west-1"]);
}

#[test]
fn a_re_created_key_object_restores_its_key_pending_deletion() {
    let mut desired = multi_region(&["us-west-2"]);
    desired.mandate = Mandate { restore: true, reenable: true };
    let mut observed = live(&desired);
    observed.key.state = "PendingDeletion".into();
    observed.key.enabled = false;
    let plan = plan_key(&desired, &found(observed.clone()));
    assert_eq!(operations(&plan), vec!["CancelKeyDeletion@eu-west-1", "EnableKey@eu-west-1"]);
    assert_eq!(plan.changes[0].event_reason(), Reason::Restored.as_str());

    let mut replica_pending = observed_with_replicas(&desired, &["us-west-2"]);
    replica_pending.replicas[0].key.state = "PendingDeletion".into();
    assert_eq!(
        operations(&plan_key(&desired, &found(replica_pending.clone()))),
        vec!["CancelKeyDeletion@us-west-2", "EnableKey@us-west-2"]
    );

    // Not an adopted key, and not on a resync of a KmsKey that has its key on record.
    desired.origin = Origin::Import("k1".into());
    assert_eq!(reasons(&plan_key(&desired, &found(observed.clone())).blockers), vec![Reason::KeyPendingDeletion]);
    desired.origin = Origin::Create;
    desired.mandate.restore = false;
    assert_eq!(reasons(&plan_key(&desired, &found(observed)).blockers), vec![Reason::KeyPendingDeletion]);
    assert_eq!(reasons(&plan_key(&desired, &found(replica_pending)).blockers), vec![Reason::ReplicaPendingDeletion]);
}

#[test]
fn retaining_a_key_pending_deletion_keeps_its_tag_for_a_restore() {
    let desired = desired();
    let mut observed = live(&desired);
    observed.key.state = "PendingDeletion".into();
    let plan = plan_key_deletion(&desired, &found(observed));
    assert!(plan.changes.is_empty(), "KMS cannot untag a key pending deletion: {plan:?}");
    assert!(plan.notices[0].message.contains("restores it"), "{plan:?}");
}

#[test]
fn a_key_pending_deletion_is_reported_not_replaced() {
    let desired = desired();
    let mut observed = live(&desired);
    observed.key.state = "PendingDeletion".into();
    observed.key.deletion_date = Some("2026-12-30T00:00:00Z".into());
    let plan = plan_key(&desired, &found(observed));
    assert!(plan.changes.is_empty());
    assert_eq!(reasons(&plan.blockers), vec![Reason::KeyPendingDeletion]);
    assert!(plan.blockers[0].message.contains("cancel-key-deletion"));
}

#[test]
fn each_immutable_field_that_differs_blocks() {
    let mut desired = desired();
    desired.origin = Origin::Import("k1".into());
    type Differ = fn(&mut KeyDescription);
    let cases: [(&str, Differ); 3] = [
        ("keySpec", |key| key.key_spec = "RSA_2048".into()),
        ("keyUsage", |key| key.key_usage = "SIGN_VERIFY".into()),
        ("multiRegion", |key| key.multi_region = true),
    ];
    for (field, differ) in cases {
        let mut observed = live(&desired);
        differ(&mut observed.key);
        // A blocker stops the pass before any change is made (converge), whatever else differs.
        let plan = plan_key(&desired, &found(observed));
        assert_eq!(reasons(&plan.blockers), vec![Reason::ImmutableFieldMismatch], "{field}");
        assert!(plan.blockers[0].message.contains(&format!("set spec.{field}")), "{}", plan.blockers[0].message);
    }
}

#[test]
fn an_aws_managed_key_is_blocked_whatever_else_differs() {
    let mut desired = desired();
    desired.origin = Origin::Import("k1".into());
    let mut observed = live(&desired);
    observed.key.key_manager = "AWS".into();
    observed.key.description = "Default key that protects my EBS volumes when no other key is defined".into();
    observed.tags.clear();
    observed.rotation = Some(RotationState { enabled: false, ..RotationState::default() });
    let plan = plan_key(&desired, &found(observed.clone()));
    assert!(plan.changes.is_empty(), "{plan:?}");
    assert_eq!(reasons(&plan.blockers), vec![Reason::AwsManagedKey]);
    assert!(plan_key_deletion(&desired, &found(observed)).changes.is_empty(), "nor deleted");
}

fn with_replica(desired: &DesiredKey, region: &str) -> ObservedReplica {
    let primary = live(desired);
    ObservedReplica {
        region: region.into(),
        key: KeyDescription { state: "Enabled".into(), ..primary.key.clone() },
        policy: desired.replica(region).and_then(|r| r.policy.clone()),
        tags: desired.full_tags(&desired.replica(region).map(|r| r.tags.clone()).unwrap_or_default()),
        created_here: desired.owns_key(),
    }
}

fn multi_region(regions: &[&str]) -> DesiredKey {
    let mut desired = desired();
    desired.multi_region = true;
    desired.replicas = regions
        .iter()
        .map(|r| DesiredReplica {
            region: (*r).into(),
            description: Some("logs".into()),
            tags: desired.tags.clone(),
            policy: desired.policy.clone(),
        })
        .collect();
    desired
}

fn observed_with_replicas(desired: &DesiredKey, regions: &[&str]) -> ObservedKey {
    let mut observed = live(desired);
    for region in regions {
        observed
            .key
            .replicas
            .push(RegionalArn { region: (*region).into(), arn: format!("arn:aws:kms:{region}:111122223333:key/k1") });
        observed.replicas.push(with_replica(desired, region));
    }
    observed
}

#[test]
fn a_declared_replica_is_created_and_converged_like_a_key() {
    let desired = multi_region(&["us-west-2", "eu-central-1"]);
    let observed = observed_with_replicas(&desired, &["us-west-2"]);
    assert_eq!(operations(&plan_key(&desired, &found(observed.clone()))), vec!["ReplicateKey@eu-west-1"]);

    let mut drifted = observed_with_replicas(&desired, &["us-west-2", "eu-central-1"]);
    drifted.replicas[1].key.description = "edited".into();
    drifted.replicas[1].tags.remove("Env");
    assert_eq!(
        operations(&plan_key(&desired, &found(drifted))),
        vec!["UpdateKeyDescription@eu-central-1", "TagResource@eu-central-1"]
    );
}

#[test]
fn a_removed_replica_is_deleted_only_under_the_delete_policy() {
    let mut desired = multi_region(&[]);
    let observed = observed_with_replicas(&multi_region(&["us-west-2"]), &["us-west-2"]);
    let plan = plan_key(&desired, &found(observed.clone()));
    assert!(plan.changes.is_empty());
    assert_eq!(reasons(&plan.notices), vec![Reason::UndeclaredReplica]);

    desired.deletion = DeletionPolicy::Delete;
    desired.pending_window_days = 7;
    let plan = plan_key(&desired, &found(observed));
    assert_eq!(operations(&plan), vec!["ScheduleKeyDeletion@us-west-2"]);
    assert_eq!(plan.changes[0].action, Action::ScheduleDeletion { pending_window_days: 7 });
}

#[test]
fn replicas_the_operator_did_not_create_are_never_changed_or_deleted() {
    // An adopted multi-Region key with two replicas someone else made.
    let mut desired = multi_region(&[]);
    desired.origin = Origin::Import("k1".into());
    desired.deletion = DeletionPolicy::Delete;
    let mut observed = observed_with_replicas(&desired, &["us-west-2", "eu-central-1"]);
    for replica in &mut observed.replicas {
        replica.tags = BTreeMap::from([("Team".into(), "theirs".into())]);
        replica.key.description = "theirs".into();
        replica.created_here = false;
    }
    let plan = plan_key(&desired, &found(observed.clone()));
    assert!(plan.changes.is_empty(), "{plan:?}");
    assert_eq!(reasons(&plan.notices), vec![Reason::ForeignReplica, Reason::ForeignReplica]);
    let delete = plan_key_deletion(&desired, &found(observed.clone()));
    assert_eq!(operations(&delete), vec!["ScheduleKeyDeletion@eu-west-1"], "the adopted primary only");
    assert_eq!(reasons(&delete.notices), vec![Reason::ForeignReplica, Reason::ForeignReplica]);

    // Declaring one makes it the manifest's: converged, and deleted with the key, but its
    // ownership tag is never added after the fact.
    let declared = multi_region(&["us-west-2"]);
    desired.replicas = declared.replicas;
    let plan = plan_key(&desired, &found(observed.clone()));
    assert_eq!(operations(&plan), vec!["UpdateKeyDescription@us-west-2", "TagResource@us-west-2"]);
    let Action::Tag(tags) = &plan.changes[1].action else { panic!("{plan:?}") };
    assert!(tags.iter().all(|t| t.key != OWNER_TAG), "{tags:?}");
    assert_eq!(
        operations(&plan_key_deletion(&desired, &found(observed))),
        vec!["ScheduleKeyDeletion@us-west-2", "ScheduleKeyDeletion@eu-west-1"]
    );
}

#[test]
fn replicas_the_operator_creates_carry_its_tag_even_on_an_adopted_key() {
    let mut desired = multi_region(&["us-west-2"]);
    desired.origin = Origin::Import("k1".into());
    let plan = plan_key(&desired, &found(observed_with_replicas(&desired, &[])));
    let Action::ReplicateKey(replica) = &plan.changes[0].action else { panic!("{plan:?}") };
    assert_eq!(replica.tags.get(OWNER_TAG).map(String::as_str), Some(OWNER));
}

#[test]
fn deletion_follows_the_policy() {
    let mut desired = multi_region(&["us-west-2"]);
    let observed = observed_with_replicas(&desired, &["us-west-2"]);
    let retain = plan_key_deletion(&desired, &found(observed.clone()));
    assert_eq!(operations(&retain), vec!["UntagResource@us-west-2", "UntagResource@eu-west-1"]);
    assert!(retain.changes.iter().all(|c| c.action == Action::Untag(vec![(OWNER_TAG.into(), OWNER.into())])));

    desired.deletion = DeletionPolicy::Delete;
    let delete = plan_key_deletion(&desired, &found(observed));
    assert_eq!(
        operations(&delete),
        vec!["ScheduleKeyDeletion@us-west-2", "ScheduleKeyDeletion@eu-west-1"],
        "replicas first"
    );

    desired.observe_only = true;
    assert!(plan_key_deletion(&desired, &found(live(&desired))).changes.is_empty());
    assert!(plan_key_deletion(&desired, &KeyObservation::Missing).changes.is_empty());
}

#[test]
fn an_imported_key_is_retained_as_it_is() {
    let mut desired = desired();
    desired.origin = Origin::Import("k1".into());
    let plan = plan_key_deletion(&desired, &found(live(&desired)));
    assert!(plan.changes.is_empty());
    assert_eq!(reasons(&plan.notices), vec![Reason::Retained]);
}

#[test]
fn an_import_of_a_key_of_another_namespace_or_cluster_is_refused_with_no_change() {
    let mut desired = desired();
    desired.origin = Origin::Import("k1".into());
    for foreign in ["c/team-a/logs", "other-cluster/apps/logs"] {
        let mut observed = live(&desired);
        observed.tags.insert(OWNER_TAG.into(), foreign.into());
        observed.key.description = "changed by hand".into();
        for plan in [plan_key(&desired, &found(observed.clone())), plan_key_deletion(&desired, &found(observed))] {
            assert!(plan.changes.is_empty(), "{plan:?}");
            assert_eq!(plan.refusals[0].reason, Reason::ForeignKey);
            assert!(plan.refusals[0].message.contains("may not adopt, change or delete it"), "{plan:?}");
        }
    }
}

#[test]
fn a_key_nobody_owns_is_adopted_only_from_an_adoption_namespace() {
    let mut desired = desired();
    desired.origin = Origin::Import("k1".into());
    desired.deletion = DeletionPolicy::Delete;
    let mut observed = live(&desired);
    observed.key.description = "legacy".into();
    desired.may_adopt = false;
    for plan in [plan_key(&desired, &found(observed.clone())), plan_key_deletion(&desired, &found(observed.clone()))] {
        assert!(plan.changes.is_empty(), "{plan:?}");
        assert_eq!(plan.refusals[0].reason, Reason::NotPermitted);
        assert!(plan.refusals[0].message.contains("spec.permissions.adoptionNamespaces"), "{plan:?}");
    }
    desired.may_adopt = true;
    assert!(plan_key(&desired, &found(observed.clone())).refusals.is_empty());
    assert_eq!(plan_key_deletion(&desired, &found(observed)).changes.len(), 1, "adopted, then scheduled for deletion");
}

/// A key for imported material: no rotation applies, as `desired_key` leaves it.
fn external() -> DesiredKey {
    let mut desired = desired();
    desired.material.origin = "EXTERNAL".into();
    desired.rotation = None;
    desired
}

#[test]
fn a_key_for_imported_material_is_created_with_its_origin_and_left_to_its_import() {
    let mut desired = external();
    desired.enabled = false;
    let plan = plan_key(&desired, &KeyObservation::Missing);
    assert_eq!(operations(&plan), vec!["CreateKey@eu-west-1"], "it starts PendingImport: KMS refuses DisableKey");
    let Action::CreateKey(new) = &plan.changes[0].action else { panic!("create") };
    assert_eq!(new.material.origin, "EXTERNAL");
    assert!(plan.changes[0].summary().ends_with("single-Region, origin EXTERNAL)"), "{}", plan.changes[0].summary());
}

#[test]
fn a_key_pending_import_is_reported_not_planned_as_drift() {
    for enabled in [true, false] {
        let mut desired = external();
        desired.enabled = enabled;
        desired.mandate = Mandate { restore: true, reenable: true };
        let mut observed = live(&desired);
        observed.key.origin = "EXTERNAL".into();
        observed.key.state = "PendingImport".into();
        observed.key.enabled = false;
        observed.rotation = None;
        let plan = plan_key(&desired, &found(observed));
        assert!(plan.changes.is_empty() && plan.blockers.is_empty(), "enabled {enabled}: {plan:?}");
        assert_eq!(reasons(&plan.notices), vec![Reason::PendingImport]);
        assert!(
            plan.notices[0].message.contains("aws kms import-key-material --key-id k1"),
            "{}",
            plan.notices[0].message
        );
    }
}

#[test]
fn a_live_key_of_another_origin_or_key_store_blocks() {
    let desired = desired();
    let mut observed = live(&desired);
    observed.key.origin = "AWS_CLOUDHSM".into();
    observed.key.custom_key_store_id = Some("cks-1234567890abcdef0".into());
    let plan = plan_key(&desired, &found(observed));
    assert_eq!(reasons(&plan.blockers), vec![Reason::ImmutableFieldMismatch, Reason::ImmutableFieldMismatch]);
}
