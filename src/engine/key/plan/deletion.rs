//! Deleting a `KmsKey`: what happens to its key and replicas under `deletion.policy`.

use std::collections::BTreeMap;

use super::adoption_refusal;
use super::replicas::foreign_replica;
use crate::api::{DeletionPolicy, Reason};
use crate::engine::change::{Action, Change, Finding, KeyHandle};
use crate::engine::desired::DesiredKey;
use crate::engine::key::observed::KeyObservation;
use crate::engine::plan::Plan;

/// What deleting the `KmsKey` does to its key: honours `deletion.policy`, never touches a key
/// the operator does not own.
pub fn plan_key_deletion(desired: &DesiredKey, observation: &KeyObservation) -> Plan {
    let observed = match observation {
        KeyObservation::Found(observed) => {
            if let Some(refused) = adoption_refusal(desired, observed) {
                return refused;
            }
            if !observed.key.is_customer_managed() {
                return Plan::blocked(
                    Reason::AwsManagedKey,
                    format!(
                        "key {} is an AWS managed key; AWS manages its lifecycle and no one can schedule its deletion: remove spec.import, or the KmsKey, from the manifests",
                        observed.key.key_id
                    ),
                );
            }
            observed
        }
        KeyObservation::NotOwned { key, .. } => {
            return Plan {
                notices: vec![Finding::new(
                    Reason::NotOwned,
                    format!("key {} is not owned by {}; left untouched", key.key_id, desired.object),
                )],
                ..Plan::default()
            };
        }
        _ => {
            return Plan {
                notices: vec![Finding::new(
                    Reason::NothingToDelete,
                    format!("no key of {} exists; nothing to delete", desired.object),
                )],
                ..Plan::default()
            };
        }
    };
    let mut plan = Plan::default();
    if desired.observe_only {
        plan.notices.push(Finding::new(
            Reason::ObserveOnly,
            format!("managementPolicy is Observe: key {} is left untouched", observed.key.key_id),
        ));
        return plan;
    }
    let key_id = &observed.key.key_id;
    let on = |region: &str, action: Action| Change {
        region: region.to_owned(),
        key: KeyHandle::Existing(key_id.clone()),
        action,
    };
    match desired.deletion {
        DeletionPolicy::Delete => {
            // KMS keeps a primary with live replicas in PendingReplicaDeletion; replicas go first,
            // those the operator created for this object or the manifest declares. Others stay.
            for replica in observed.replicas.iter().filter(|r| !r.key.is_pending_deletion()) {
                if !replica.created_here && desired.replica(&replica.region).is_none() {
                    plan.notices.push(foreign_replica(key_id, replica));
                    continue;
                }
                plan.changes.push(on(
                    &replica.region,
                    Action::ScheduleDeletion { pending_window_days: desired.pending_window_days },
                ));
            }
            if !observed.key.is_pending_deletion() {
                plan.changes.push(on(
                    &desired.region,
                    Action::ScheduleDeletion { pending_window_days: desired.pending_window_days },
                ));
            }
        }
        // KMS cannot untag a key pending deletion; the tag stays, so re-creating this KmsKey
        // restores the key.
        DeletionPolicy::Retain if desired.owns_key() && observed.key.is_pending_deletion() => {
            plan.notices.push(Finding::new(
                Reason::Retained,
                format!("key {key_id} is already scheduled for deletion; it keeps its ownership tag, so re-creating {} restores it", desired.object),
            ));
        }
        DeletionPolicy::Retain if desired.owns_key() => {
            let owner_key = &desired.owner.0;
            let untag = |tags: &BTreeMap<String, String>| {
                tags.get(owner_key).map(|value| Action::Untag(vec![(owner_key.clone(), value.clone())]))
            };
            for replica in &observed.replicas {
                if let Some(action) = untag(&replica.tags) {
                    plan.changes.push(on(&replica.region, action));
                }
            }
            if let Some(action) = untag(&observed.tags) {
                plan.changes.push(on(&desired.region, action));
            }
            plan.notices.push(Finding::new(
                Reason::Retained,
                format!("deletion.policy is Retain: key {key_id} stays in KMS without its ownership tag"),
            ));
        }
        DeletionPolicy::Retain => plan.notices.push(Finding::new(
            Reason::Retained,
            format!("deletion.policy is Retain: imported key {key_id} stays in KMS as it is"),
        )),
    }
    plan
}
