//! A multi-Region key's replicas: the ones to create, converge like their primary, restore,
//! schedule for deletion when the spec drops them, or leave alone when they are someone else's.

use serde_json::Value;

use super::{Live, Shape, plan_shape};
use crate::api::{DeletionPolicy, Reason};
use crate::engine::change::{Action, Change, Finding, KeyHandle, NewReplicaPlan};
use crate::engine::desired::{DesiredKey, DesiredReplica};
use crate::engine::key::material::pending_import_notice;
use crate::engine::key::observed::{ObservedKey, ObservedReplica};
use crate::engine::plan::Plan;

pub(super) fn replica_plan(
    desired: &DesiredKey,
    replica: &DesiredReplica,
    primary: Option<&ObservedKey>,
) -> NewReplicaPlan {
    let observed_policy = primary.and_then(|p| p.policy.clone());
    NewReplicaPlan {
        region: replica.region.clone(),
        description: replica
            .description
            .clone()
            .or_else(|| primary.map(|p| p.key.description.clone()))
            .unwrap_or_default(),
        policy: replica.policy.clone().or(observed_policy).unwrap_or(Value::Null),
        // Even on an adopted key: the tag is how a later pass knows this replica is one the
        // operator may remove.
        tags: desired.with_owner(&replica.tags),
        bypass_lockout_check: desired.bypass_lockout_check,
    }
}

pub(super) fn plan_replicas(desired: &DesiredKey, observed: &ObservedKey, plan: &mut Plan) {
    let primary_id = &observed.key.key_id;
    for replica in &desired.replicas {
        match observed.replica(&replica.region) {
            None => plan.changes.push(Change {
                region: desired.region.clone(),
                key: KeyHandle::Existing(primary_id.clone()),
                action: Action::ReplicateKey(replica_plan(desired, replica, Some(observed))),
            }),
            Some(live) => plan_replica(desired, replica, live, plan),
        }
    }
    for live in &observed.replicas {
        if desired.replica(&live.region).is_some() || live.key.is_pending_deletion() {
            continue;
        }
        if !live.created_here {
            plan.notices.push(foreign_replica(primary_id, live));
        } else if desired.deletion == DeletionPolicy::Delete {
            plan.changes.push(Change {
                region: live.region.clone(),
                key: KeyHandle::Existing(live.key.key_id.clone()),
                action: Action::ScheduleDeletion { pending_window_days: desired.pending_window_days },
            });
        } else {
            plan.notices.push(Finding::new(
                Reason::UndeclaredReplica,
                format!(
                    "replica of {} in {} is not in spec.replicas; it is left in place because deletion.policy is Retain (set Delete to have removed replicas scheduled for deletion)",
                    primary_id, live.region
                ),
            ));
        }
    }
}

/// A replica that exists but that the operator did not create for this object, nor does the
/// manifest declare: someone else's, left exactly as it is.
pub(super) fn foreign_replica(primary_id: &str, live: &ObservedReplica) -> Finding {
    Finding::new(
        Reason::ForeignReplica,
        format!(
            "replica of {primary_id} in {} was not created by kms-operator for this object and is not in spec.replicas; it is left as it is (declare it in spec.replicas to manage it)",
            live.region
        ),
    )
}

fn plan_replica(desired: &DesiredKey, replica: &DesiredReplica, live: &ObservedReplica, plan: &mut Plan) {
    if live.key.is_pending_deletion() && desired.mandate.restore && live.created_here {
        let on_replica = |action: Action| Change {
            region: live.region.clone(),
            key: KeyHandle::Existing(live.key.key_id.clone()),
            action,
        };
        plan.changes.push(on_replica(Action::CancelDeletion));
        if desired.enabled {
            plan.changes.push(on_replica(Action::EnableKey));
        }
        return;
    }
    if live.key.is_pending_deletion() {
        plan.blockers.push(Finding::new(
            Reason::ReplicaPendingDeletion,
            format!(
                "replica of {} in {} is scheduled for deletion but spec.replicas still lists it: cancel the deletion in KMS or remove the replica from the spec",
                live.key.key_id, live.region
            ),
        ));
        return;
    }
    let on_replica = |action: Action| Change {
        region: live.region.clone(),
        key: KeyHandle::Existing(live.key.key_id.clone()),
        action,
    };
    if live.key.is_pending_import() {
        plan.notices.push(pending_import_notice(&live.key, &live.region));
    } else if desired.enabled && !live.key.enabled {
        plan.changes.push(on_replica(Action::EnableKey));
    }
    // The ownership tag stays on the replicas that carry it and is never put on one that
    // does not: it marks what the operator created.
    let tags = if live.created_here { desired.with_owner(&replica.tags) } else { replica.tags.clone() };
    let shape = Shape {
        enabled: desired.enabled,
        description: replica.description.as_deref(),
        policy: replica.policy.as_ref(),
        tags,
        exact_tags: desired.owns_key(),
    };
    let view = Live { key: &live.key, policy: live.policy.as_ref(), tags: &live.tags };
    plan.changes.extend(plan_shape(&live.region, &shape, &view, desired.bypass_lockout_check));
    if !shape.enabled && live.key.enabled {
        plan.changes.push(on_replica(Action::DisableKey));
    }
}
