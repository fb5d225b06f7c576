//! Planning a key: `plan(desired, observed) -> changes`. Pure: no I/O, no clock.

use std::collections::BTreeMap;

use serde_json::Value;

use super::duplicates::plan_duplicates;
use super::material::{material_mismatches, pending_import_notice, starts_pending_import};
use super::observed::{KeyObservation, ObservedKey};
use super::rotate_now::{is_rotation_tag, plan_rotate_now};
use crate::api::Reason;
use crate::aws::model::KeyDescription;
use crate::engine::change::{Action, Change, Finding, KeyHandle, NewKeyPlan, TagChange};
use crate::engine::desired::{DesiredKey, Origin};
use crate::engine::monitoring::{KeyCopy, ObservedMonitoring, plan_key_monitoring};
use crate::engine::ownership::{KeyOwner, describe_foreign, describe_owner};
use crate::engine::plan::Plan;
use crate::policy;

mod deletion;
mod replicas;

pub use deletion::plan_key_deletion;
use replicas::{plan_replicas, replica_plan};

/// The changes that make the live key match `desired`.
pub fn plan_key(desired: &DesiredKey, observation: &KeyObservation) -> Plan {
    let where_ = format!("account {} region {}", desired.account.account_id, desired.region);
    match observation {
        KeyObservation::Missing if desired.observe_only => Plan::blocked(
            Reason::KeyNotFound,
            format!(
                "no key owned by {} exists in {where_}, and managementPolicy Observe never creates one",
                desired.object
            ),
        ),
        KeyObservation::Missing => plan_creation(desired),
        KeyObservation::Found(observed) => {
            adoption_refusal(desired, observed).unwrap_or_else(|| plan_existing(desired, observed))
        }
        KeyObservation::NotOwned { key, owner } => Plan::blocked(
            Reason::NotOwned,
            format!(
                "key {} {}; the operator never changes a key it does not own: set spec.import.keyId to adopt it",
                key.key_id,
                match owner {
                    Some(owner) if desired.show_owners => format!("is owned by {}", describe_owner(owner)),
                    Some(_) => "carries the ownership tag of another object".to_owned(),
                    None => "carries no ownership tag".to_owned(),
                }
            ),
        ),
        KeyObservation::Duplicates(duplicates) => plan_duplicates(desired, duplicates),
        KeyObservation::ImportNotFound { key_id } => Plan::blocked(
            Reason::ImportNotFound,
            format!("spec.import.keyId {key_id} names no key in {where_}: check the id, the account and the region"),
        ),
        KeyObservation::Gone { key_id } => Plan::blocked(
            Reason::KeyDeleted,
            format!(
                "key {key_id} recorded in status no longer exists in {where_}; the operator does not silently replace a key: delete and re-create the {} to create a new one",
                desired.object
            ),
        ),
    }
}

/// An imported key must be the namespace's own, or one nobody owns adopted from a namespace
/// the account lets adopt: a key of another namespace or cluster is never touched. Whose it is
/// comes from its ownership tag, or its multi-Region primary's. A key of the namespace that
/// another KmsKey created is that object's: two objects managing one key undo each other, and
/// either one's `Delete` would destroy the other's data.
fn adoption_refusal(desired: &DesiredKey, observed: &ObservedKey) -> Option<Plan> {
    if desired.origin == Origin::Create {
        return None;
    }
    let key_id = &observed.key.key_id;
    let namespace = desired.object.namespace.as_deref().unwrap_or("default");
    let owner = observed.owner_tag();
    match desired.owner_of(owner) {
        KeyOwner::Namespace => owner.filter(|value| *value != desired.owner_value()).map(|other| {
            Plan::blocked(
                Reason::ClaimConflict,
                format!(
                    "spec.import.keyId {key_id} is the key {} created and manages; two objects managing one key undo each other's changes, and a Delete on either would destroy the other's data: manage it from that object only (to move it here, delete that KmsKey with deletion.policy Retain first, which removes its ownership tag), or remove spec.import",
                    describe_owner(other)
                ),
            )
        }),
        KeyOwner::Unowned if desired.may_adopt => None,
        KeyOwner::Foreign(owner) => Some(Plan::refused(
            Reason::ForeignKey,
            format!(
                "spec.import.keyId {key_id} belongs to {} (its kmsoperator.dev/owner tag), and a key belongs to the namespace its ownership tag names: objects in namespace {namespace} may not adopt, change or delete it; import a key of this namespace, or one nobody owns",
                describe_foreign(owner.as_deref())
            ),
        )),
        KeyOwner::Unowned => Some(Plan::refused(
            Reason::NotPermitted,
            format!(
                "spec.import.keyId {key_id} was not created by kms-operator, and AwsAccount {} lets only the namespaces of its spec.permissions.adoptionNamespaces adopt such keys, which do not include {namespace}: ask the platform team to add the namespace there",
                desired.account.name
            ),
        )),
    }
}

fn plan_creation(desired: &DesiredKey) -> Plan {
    let mut changes = Vec::new();
    let on_new = |region: &str, action: Action| Change { region: region.to_owned(), key: KeyHandle::New, action };
    let policy = desired.policy.clone().unwrap_or(Value::Null);
    changes.push(on_new(
        &desired.region,
        Action::CreateKey(NewKeyPlan {
            description: desired.description.clone().unwrap_or_default(),
            key_spec: desired.key_spec.clone(),
            key_usage: desired.key_usage.clone(),
            multi_region: desired.multi_region,
            material: desired.material.clone(),
            policy: policy.clone(),
            tags: desired.full_tags(&desired.tags),
            bypass_lockout_check: desired.bypass_lockout_check,
        }),
    ));
    if let Some(rotation) = desired.rotation.as_ref().filter(|r| r.enabled) {
        changes.push(on_new(&desired.region, Action::EnableRotation { period_days: rotation.period_days, was: None }));
    }
    for replica in &desired.replicas {
        changes.push(on_new(&desired.region, Action::ReplicateKey(replica_plan(desired, replica, None))));
    }
    if !desired.enabled && !starts_pending_import(desired) {
        for replica in &desired.replicas {
            changes.push(on_new(&replica.region, Action::DisableKey));
        }
        changes.push(on_new(&desired.region, Action::DisableKey));
    }
    // Shown now, made in the pass's next round, once the key and its ARN exist.
    if let Some(monitoring) = &desired.monitoring {
        let copies = [KeyCopy { region: desired.region.clone(), arn: NEW_KEY.to_owned() }];
        let empty = ObservedMonitoring::default();
        changes.extend(plan_key_monitoring(monitoring, &KeyHandle::New, NEW_KEY, &copies, &empty).changes);
    }
    Plan { changes, ..Plan::default() }
}

/// How a plan names the ARN and id of a key it creates.
const NEW_KEY: &str = "(new key)";

/// The key's alarms and filters: one pair of alarms per copy of the key (primary and live
/// replicas), each with its own ARN.
fn plan_monitoring(desired: &DesiredKey, observed: &ObservedKey, plan: &mut Plan) {
    let (Some(wanted), Some(live)) = (&desired.monitoring, &observed.monitoring) else {
        return;
    };
    let key = &observed.key;
    let mut copies = vec![KeyCopy { region: desired.region.clone(), arn: key.arn.clone() }];
    copies.extend(
        observed
            .replicas
            .iter()
            .filter(|r| !r.key.is_pending_deletion())
            .map(|r| KeyCopy { region: r.region.clone(), arn: r.key.arn.clone() }),
    );
    let monitoring = plan_key_monitoring(wanted, &KeyHandle::Existing(key.key_id.clone()), &key.key_id, &copies, live);
    plan.changes.extend(monitoring.changes);
    plan.blockers.extend(monitoring.blockers);
}

/// Differences in what can never change on a key.
fn immutable_mismatches(desired: &DesiredKey, key: &KeyDescription) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut check = |field: &str, want: &str, have: &str| {
        // A server that leaves the field out cannot contradict the spec.
        if !have.is_empty() && want != have {
            findings.push(Finding::new(
                Reason::ImmutableFieldMismatch,
                format!(
                    "key {} has {field} {have} but the spec says {want}; {field} cannot change after creation: set spec.{field}: {have} or create a new KmsKey",
                    key.key_id
                ),
            ));
        }
    };
    check("keySpec", &desired.key_spec, &key.key_spec);
    check("keyUsage", &desired.key_usage, &key.key_usage);
    check("multiRegion", &desired.multi_region.to_string(), &key.multi_region.to_string());
    findings.extend(material_mismatches(desired, key));
    findings
}

/// Settings a key and each of its replicas converge alike.
struct Shape<'a> {
    enabled: bool,
    description: Option<&'a str>,
    policy: Option<&'a Value>,
    tags: BTreeMap<String, String>,
    exact_tags: bool,
}

struct Live<'a> {
    key: &'a KeyDescription,
    policy: Option<&'a Value>,
    tags: &'a BTreeMap<String, String>,
}

/// Description, policy and tag changes for one key or replica, in that order.
fn plan_shape(region: &str, shape: &Shape, live: &Live, bypass: bool) -> Vec<Change> {
    let handle = KeyHandle::Existing(live.key.key_id.clone());
    let change = |action: Action| Change { region: region.to_owned(), key: handle.clone(), action };
    let mut changes = Vec::new();
    if let Some(description) = shape.description.filter(|d| *d != live.key.description) {
        changes
            .push(change(Action::UpdateDescription { from: live.key.description.clone(), to: description.to_owned() }));
    }
    if let (Some(want), Some(have)) = (shape.policy, live.policy)
        && !policy::equivalent(want, have)
    {
        changes.push(change(Action::PutPolicy {
            from: Some(have.clone()),
            to: want.clone(),
            bypass_lockout_check: bypass,
        }));
    }
    let set: Vec<TagChange> = shape
        .tags
        .iter()
        .filter(|(k, v)| live.tags.get(*k) != Some(*v))
        .map(|(k, v)| TagChange { key: k.clone(), from: live.tags.get(k).cloned(), to: v.clone() })
        .collect();
    if !set.is_empty() {
        changes.push(change(Action::Tag(set)));
    }
    if shape.exact_tags {
        let removed: Vec<(String, String)> = live
            .tags
            .iter()
            .filter(|(k, _)| !shape.tags.contains_key(*k) && !is_rotation_tag(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !removed.is_empty() {
            changes.push(change(Action::Untag(removed)));
        }
    }
    changes
}

fn plan_existing(desired: &DesiredKey, observed: &ObservedKey) -> Plan {
    let key = &observed.key;
    let mut plan = Plan { blockers: immutable_mismatches(desired, key), ..Plan::default() };
    if !key.is_customer_managed() {
        plan.blockers.push(Finding::new(
            Reason::AwsManagedKey,
            format!(
                "key {} is an AWS managed key; only customer managed keys can be managed: remove spec.import",
                key.key_id
            ),
        ));
        return plan;
    }
    let region = desired.region.as_str();
    let on_primary =
        |action: Action| Change { region: region.to_owned(), key: KeyHandle::Existing(key.key_id.clone()), action };
    if key.is_pending_deletion() {
        if desired.mandate.restore && desired.owns_key() {
            // A re-created KmsKey finds its key pending deletion: an accidental prune must not
            // cost the data. KMS leaves a restored key disabled.
            plan.changes.push(on_primary(Action::CancelDeletion));
            if desired.enabled {
                plan.changes.push(on_primary(Action::EnableKey));
            }
            return plan;
        }
        plan.blockers.push(Finding::new(
            Reason::KeyPendingDeletion,
            format!(
                "key {} is scheduled for deletion{} but the spec still wants it; the operator does not cancel a deletion it did not make, nor create a replacement (a new key cannot decrypt the old data): cancel it with `aws kms cancel-key-deletion --key-id {} --region {}` and the operator converges it, or delete and re-create this {} to have the operator restore it",
                key.key_id,
                key.deletion_date.as_ref().map(|d| format!(" on {d}")).unwrap_or_default(),
                key.key_id,
                desired.region,
                desired.object,
            ),
        ));
        return plan;
    }
    if key.is_pending_import() {
        plan.notices.push(pending_import_notice(key, region));
    } else if desired.enabled && !key.enabled {
        if !desired.mandate.reenable {
            plan.blockers.push(Finding::new(
                Reason::KeyDisabledOutside,
                format!(
                    "key {} was disabled outside kms-operator while spec.enabled is true; it is left disabled and unchanged (someone may have taken it out of service on purpose): enable it with `aws kms enable-key --key-id {} --region {}`, change the {} to have the operator enable it, or set spec.enabled: false",
                    key.key_id, key.key_id, desired.region, desired.object
                ),
            ));
            return plan;
        }
        plan.changes.push(on_primary(Action::EnableKey));
    }
    let shape = Shape {
        enabled: desired.enabled,
        description: desired.description.as_deref(),
        policy: desired.policy.as_ref(),
        tags: desired.full_tags(&desired.tags),
        exact_tags: desired.owns_key(),
    };
    let live = Live { key, policy: observed.policy.as_ref(), tags: &observed.tags };
    plan.changes.extend(plan_shape(region, &shape, &live, desired.bypass_lockout_check));
    plan.notices.extend(deleted_principal_notices(key, region, observed.policy.as_ref()));
    for replica in &observed.replicas {
        plan.notices.extend(deleted_principal_notices(&replica.key, &replica.region, replica.policy.as_ref()));
    }
    plan_rotation(desired, observed, &mut plan, &on_primary);
    plan_rotate_now(desired, observed, &mut plan, &on_primary);
    plan_replicas(desired, observed, &mut plan);
    if !desired.enabled && key.enabled {
        plan.changes.push(on_primary(Action::DisableKey));
    }
    plan_monitoring(desired, observed, &mut plan);
    plan
}

/// `PrincipalNotFound` for each deleted role or user the live policy names by its unique id.
fn deleted_principal_notices(key: &KeyDescription, region: &str, live: Option<&Value>) -> Vec<Finding> {
    live.map(policy::deleted_principals)
        .unwrap_or_default()
        .into_iter()
        .map(|deleted| {
            Finding::new(
                Reason::PrincipalNotFound,
                format!(
                    "the key policy of {} in {region}, statement {}, names {}: the id KMS shows for an IAM role or user that was deleted. KMS refuses a policy naming a principal that does not exist: recreate the role or user, or remove it from the manifest",
                    key.key_id, deleted.statement, deleted.unique_id
                ),
            )
        })
        .collect()
}

fn plan_rotation(desired: &DesiredKey, observed: &ObservedKey, plan: &mut Plan, on_primary: &dyn Fn(Action) -> Change) {
    let (Some(want), Some(have)) = (&desired.rotation, &observed.rotation) else {
        return;
    };
    let action = match (want.enabled, have.enabled) {
        (true, false) => Some(Action::EnableRotation { period_days: want.period_days, was: Some(have.clone()) }),
        // A server that does not report the period cannot show drift in it.
        (true, true) if have.period_days.is_some_and(|days| days != want.period_days) => {
            Some(Action::EnableRotation { period_days: want.period_days, was: Some(have.clone()) })
        }
        (false, true) => Some(Action::DisableRotation),
        _ => None,
    };
    let Some(action) = action else {
        return;
    };
    // KMS refuses rotation changes on a disabled key; a key that stays disabled blocks them.
    if !desired.enabled && !observed.key.enabled {
        plan.blockers.push(Finding::new(
            Reason::RotationBlockedByDisabledKey,
            format!(
                "rotation of key {} must change but KMS cannot change rotation on a disabled key, and the spec keeps it disabled: set spec.enabled: true, or leave rotation as it is",
                observed.key.key_id
            ),
        ));
        return;
    }
    plan.changes.push(on_primary(action));
}
