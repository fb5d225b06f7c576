//! Whose an imported key is, as the planner decides it: a multi-Region family's owner is its
//! primary's, a key another object of the namespace created is that object's, and an AWS
//! managed key is nobody's to delete.

use super::fixtures::{desired, live};
use super::observed::{KeyObservation, ObservedKey};
use super::plan::{plan_key, plan_key_deletion};
use crate::api::{DeletionPolicy, Reason};
use crate::engine::desired::{DesiredKey, Origin};
use crate::engine::ownership::OWNER_TAG;
use crate::engine::plan::Plan;

fn found(observed: ObservedKey) -> KeyObservation {
    KeyObservation::Found(Box::new(observed))
}

/// `apps/importer` importing `k1` with `deletion: Delete`, from an adoption namespace.
fn importer() -> DesiredKey {
    let mut desired = desired();
    desired.origin = Origin::Import("k1".into());
    desired.owner.1 = "c/apps/importer".into();
    desired.deletion = DeletionPolicy::Delete;
    desired.may_adopt = true;
    desired
}

/// Planning and deleting both, so that neither path can write.
fn both(desired: &DesiredKey, observed: &ObservedKey) -> [Plan; 2] {
    [plan_key(desired, &found(observed.clone())), plan_key_deletion(desired, &found(observed.clone()))]
}

#[test]
fn an_untagged_replica_belongs_to_its_primary_s_owner() {
    let desired = importer();
    let mut replica = live(&desired);
    replica.key.multi_region = true;
    replica.key.description = "made by hand".into();
    replica.primary_owner = Some("c/team-a/logs".into());
    for plan in both(&desired, &replica) {
        assert!(plan.changes.is_empty(), "{plan:?}");
        assert_eq!(plan.refusals[0].reason, Reason::ForeignKey, "{plan:?}");
        assert!(plan.refusals[0].message.contains("belongs to another namespace or cluster"), "{plan:?}");
        assert!(!plan.refusals[0].message.contains("team-a"), "no other tenant is named: {plan:?}");
    }
    // The platform may let the operator name the owner (--show-owners).
    let told = DesiredKey { show_owners: true, ..desired.clone() };
    for plan in both(&told, &replica) {
        assert!(plan.refusals[0].message.contains("belongs to KmsKey team-a/logs (cluster c)"), "{plan:?}");
    }
    // Without an owned primary the replica is a key nobody owns, adopted as before.
    replica.primary_owner = None;
    assert_eq!(plan_key(&desired, &found(replica.clone())).changes.len(), 1, "description");
    assert!(plan_key_deletion(&desired, &found(replica)).refusals.is_empty());
}

#[test]
fn a_key_another_object_of_the_namespace_created_is_a_claim_conflict() {
    let desired = importer();
    let mut observed = live(&desired);
    observed.tags.insert(OWNER_TAG.into(), "c/apps/creator".into());
    for plan in both(&desired, &observed) {
        assert!(plan.changes.is_empty(), "{plan:?}");
        assert_eq!(plan.blockers[0].reason, Reason::ClaimConflict, "{plan:?}");
        let message = &plan.blockers[0].message;
        assert!(message.contains("KmsKey apps/creator (cluster c) created and manages"), "{message}");
        assert!(message.contains("deletion.policy Retain"), "{message}");
    }
    // Through the family, too: an untagged replica of the creator's primary.
    observed.tags.remove(OWNER_TAG);
    observed.primary_owner = Some("c/apps/creator".into());
    assert_eq!(plan_key_deletion(&desired, &found(observed.clone())).blockers[0].reason, Reason::ClaimConflict);
    // The object's own tag (it created the key before it imported it) is no conflict.
    observed.primary_owner = None;
    observed.tags.insert(OWNER_TAG.into(), "c/apps/importer".into());
    assert!(plan_key(&desired, &found(observed)).blockers.is_empty());
}

#[test]
fn an_aws_managed_key_is_never_scheduled_for_deletion() {
    let desired = importer();
    let mut observed = live(&desired);
    observed.key.key_manager = "AWS".into();
    let plan = plan_key_deletion(&desired, &found(observed.clone()));
    assert!(plan.changes.is_empty(), "{plan:?}");
    assert_eq!(plan.blockers[0].reason, Reason::AwsManagedKey);
    observed.key.key_manager = "CUSTOMER".into();
    assert_eq!(plan_key_deletion(&desired, &found(observed)).changes.len(), 1, "a customer managed key is");
}
