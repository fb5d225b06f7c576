//! Planning an alias. Pure.

use crate::api::Reason;
use crate::aws::model::AliasEntry;
use crate::engine::admission::Tenant;
use crate::engine::change::{Action, Change, Finding, KeyHandle};
use crate::engine::ownership::{KeyOwner, describe_foreign, describe_owner};
use crate::engine::plan::Plan;

/// The alias as KMS lists it, and who owns the keys involved, as seen from the alias's namespace.
#[derive(Clone, Debug, PartialEq)]
pub struct AliasObservation {
    pub entry: Option<AliasEntry>,
    /// Who owns the key the alias should point at; `None` while that key is yet to be created
    /// (by a KmsKey of the same namespace).
    pub target_owner: Option<KeyOwner>,
    /// Who owns the key the alias points at now, when that is another key.
    pub current_owner: Option<KeyOwner>,
    /// What the front door's record (the controller's status) says: whether this `KmsAlias`
    /// held the alias, in this account, name and region, at its last pass; `None` where there is
    /// no record (local mode).
    pub held_before: Option<bool>,
    /// The spec takes over an alias on a key nobody owns (`spec.adopt`; admission lets only
    /// adoption namespaces ask).
    pub adopt: bool,
}

fn conflict(name: &str, region: &str, current: &str, owner: Option<&KeyOwner>) -> Finding {
    let whose = match owner {
        Some(KeyOwner::Namespace) => {
            "a key of this namespace that this KmsAlias's status does not show it held; an alias is moved only from a key of the object's own namespace by the KmsAlias that held it: choose another name, or point that alias at the declared key (or delete it) by hand if it is really this one's"
        }
        _ => {
            "which kms-operator did not create; it takes over an alias on such a key only when asked: choose another name, set spec.adopt: true (from a namespace the account lets adopt) if the alias is really this one's, or delete that alias by hand"
        }
    };
    Finding::new(
        Reason::AliasConflict,
        format!("alias {name} already exists in {region} and points at key {current}, {whose}"),
    )
}

/// Whether the alias may be moved from the key it points at now: that key must be one of the
/// namespace's own (its ownership tag says so), and where the front door keeps a record of
/// what the object held (the controller's status), that record must say this object held the
/// alias in this account, name and region. The record alone proves nothing: a tenant who may
/// write status could forge it. An alias on a key nobody owns is taken over only when the spec
/// asks (`adopt`) from an adoption namespace, whatever the record says.
fn may_take_over(observed: &AliasObservation, tenant: &Tenant) -> bool {
    match observed.current_owner {
        Some(KeyOwner::Namespace) => observed.held_before != Some(false),
        Some(KeyOwner::Unowned) => observed.adopt && tenant.may_adopt,
        _ => false,
    }
}

/// The refusal when the alias or grant of `tenant` may not use the key `key_id` owned so: keys
/// of other namespaces never, keys nobody owns only from adoption namespaces.
pub fn target_refusal(owner: Option<&KeyOwner>, key_id: &str, tenant: &Tenant, account: &str) -> Option<Plan> {
    match owner? {
        KeyOwner::Namespace => None,
        KeyOwner::Foreign(owner) => Some(Plan::refused(
            Reason::ForeignKey,
            format!(
                "key {key_id} belongs to {} (its kmsoperator.dev/owner tag), and a key belongs to the namespace its ownership tag names: objects in namespace {} may not alias it, grant on it or adopt it; point the object at a KmsKey of this namespace",
                describe_foreign(owner.as_deref()),
                tenant.namespace
            ),
        )),
        KeyOwner::Unowned if tenant.may_adopt => None,
        KeyOwner::Unowned => Some(Plan::refused(
            Reason::NotPermitted,
            format!(
                "key {key_id} was not created by kms-operator, and AwsAccount {account} lets only the namespaces of its spec.permissions.adoptionNamespaces adopt or target such keys, which do not include {}: use a KmsKey of this namespace, or ask the platform team to add the namespace there",
                tenant.namespace
            ),
        )),
    }
}

/// The key an alias points at, as a message to the alias's namespace may name it: a key of
/// another namespace is named only where its owner may be (`--show-owners`).
fn key_pointed_at(current: &str, owner: Option<&KeyOwner>) -> String {
    match owner {
        Some(KeyOwner::Foreign(Some(owner))) => format!("key {current}, which belongs to {}", describe_owner(owner)),
        Some(KeyOwner::Foreign(None)) => format!("a key of {}", describe_foreign(None)),
        _ => format!("key {current}"),
    }
}

/// The refusal when the alias points at a key of another namespace now: moving an alias away
/// from a key would redirect that key's users to another one.
fn repoint_refusal(name: &str, current: &str, owner: Option<&KeyOwner>, tenant: &Tenant) -> Option<Plan> {
    let Some(KeyOwner::Foreign(_)) = owner else {
        return None;
    };
    let whose = key_pointed_at(current, owner);
    Some(Plan::refused(
        Reason::ForeignKey,
        format!(
            "alias {name} points at {whose}: an alias on a key of another namespace is that namespace's, and objects in namespace {} may not repoint or delete it; choose another alias name",
            tenant.namespace
        ),
    ))
}

pub fn plan_alias(
    name: &str,
    region: &str,
    target: &KeyHandle,
    observed: &AliasObservation,
    tenant: &Tenant,
    account: &str,
) -> Plan {
    if let Some(refused) =
        target.id().and_then(|id| target_refusal(observed.target_owner.as_ref(), id, tenant, account))
    {
        return refused;
    }
    let change = |action: Action| Change { region: region.to_owned(), key: target.clone(), action };
    let mut plan = Plan::default();
    let Some(current) = observed.entry.as_ref().and_then(|e| e.target_key_id.as_deref()) else {
        plan.changes.push(change(Action::CreateAlias { name: name.to_owned() }));
        return plan;
    };
    if target.id() == Some(current) {
        return plan;
    }
    if let Some(refused) = repoint_refusal(name, current, observed.current_owner.as_ref(), tenant) {
        return refused;
    }
    if !may_take_over(observed, tenant) {
        plan.blockers.push(conflict(name, region, current, observed.current_owner.as_ref()));
        return plan;
    }
    plan.changes.push(change(Action::UpdateAlias { name: name.to_owned(), from: current.to_owned() }));
    plan
}

/// Deleting a `KmsAlias` deletes the alias when it points at the alias's own key or at another
/// key of its namespace; an alias on any other key is left where it is.
pub fn plan_alias_deletion(
    name: &str,
    region: &str,
    target: Option<&KeyHandle>,
    observed: &AliasObservation,
    tenant: &Tenant,
    account: &str,
) -> Plan {
    if let Some(refused) = target
        .and_then(KeyHandle::id)
        .and_then(|id| target_refusal(observed.target_owner.as_ref(), id, tenant, account))
    {
        return refused;
    }
    let mut plan = Plan::default();
    let Some(current) = observed.entry.as_ref().and_then(|e| e.target_key_id.as_deref()) else {
        plan.notices.push(Finding::new(Reason::NothingToDelete, format!("alias {name} does not exist in {region}")));
        return plan;
    };
    let ours = target.and_then(KeyHandle::id) == Some(current) || observed.current_owner == Some(KeyOwner::Namespace);
    if !ours {
        let whose = match observed.current_owner {
            Some(KeyOwner::Foreign(_)) => key_pointed_at(current, observed.current_owner.as_ref()),
            _ => format!("key {current}, which is not a key of namespace {}", tenant.namespace),
        };
        plan.notices
            .push(Finding::new(Reason::NotOwned, format!("alias {name} in {region} points at {whose}; left in place")));
        return plan;
    }
    plan.changes.push(Change {
        region: region.to_owned(),
        key: KeyHandle::Existing(current.to_owned()),
        action: Action::DeleteAlias { name: name.to_owned() },
    });
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "sec";

    fn tenant(may_adopt: bool) -> Tenant {
        Tenant { namespace: "team-b".into(), may_adopt }
    }

    fn seen(current: Option<&str>, current_owner: KeyOwner) -> AliasObservation {
        AliasObservation {
            held_before: None,
            adopt: false,
            entry: current.map(|t| AliasEntry { name: "alias/app".into(), arn: None, target_key_id: Some(t.into()) }),
            target_owner: Some(KeyOwner::Namespace),
            current_owner: current.map(|_| current_owner),
        }
    }

    fn foreign() -> KeyOwner {
        KeyOwner::Foreign(Some("prod/team-a/app".into()))
    }

    fn key(id: &str) -> KeyHandle {
        KeyHandle::Existing(id.into())
    }

    fn plan(observed: &AliasObservation) -> Plan {
        plan_alias("alias/app", "eu-west-1", &key("k1"), observed, &tenant(false), ACCOUNT)
    }

    fn refusal(plan: &Plan) -> &Finding {
        assert!(plan.changes.is_empty(), "{plan:?}");
        plan.refusals.first().unwrap_or_else(|| panic!("not refused: {plan:?}"))
    }

    #[test]
    fn a_missing_alias_is_created() {
        let plan = plan(&seen(None, KeyOwner::Unowned));
        assert_eq!(plan.changes.len(), 1);
        assert_eq!(plan.changes[0].action, Action::CreateAlias { name: "alias/app".into() });
    }

    #[test]
    fn an_alias_on_the_right_key_needs_nothing() {
        assert_eq!(plan(&seen(Some("k1"), KeyOwner::Namespace)), Plan::default());
    }

    #[test]
    fn an_alias_on_another_key_of_the_namespace_is_repointed() {
        let plan = plan(&seen(Some("k2"), KeyOwner::Namespace));
        assert_eq!(plan.changes[0].action, Action::UpdateAlias { name: "alias/app".into(), from: "k2".into() });
        assert_eq!(plan.changes[0].key, key("k1"));
    }

    #[test]
    fn an_alias_on_a_key_of_another_namespace_is_never_taken_even_if_held_before() {
        for held_before in [None, Some(false), Some(true)] {
            let observed = AliasObservation { held_before, ..seen(Some("theirs"), foreign()) };
            let plan = plan(&observed);
            let refused = refusal(&plan);
            assert_eq!(refused.reason, Reason::ForeignKey);
            assert!(refused.message.contains("belongs to KmsKey team-a/app (cluster prod)"), "{}", refused.message);
        }
        let untold = plan(&seen(Some("theirs"), KeyOwner::Foreign(None)));
        let message = &refusal(&untold).message;
        assert!(message.contains("a key of another namespace or cluster"), "{message}");
        assert!(!message.contains("theirs") && !message.contains("team-a"), "nothing of the other tenant: {message}");
        assert!(message.contains("choose another alias name"), "the fix: {message}");
    }

    #[test]
    fn a_record_of_holding_the_alias_is_needed_but_never_enough() {
        // The key it points at now is the namespace's: the record decides.
        let held = |held_before| AliasObservation { held_before, ..seen(Some("k2"), KeyOwner::Namespace) };
        assert_eq!(plan(&held(Some(true))).changes.len(), 1, "held here: repointed");
        let refused = plan(&held(Some(false)));
        assert!(refused.changes.is_empty());
        assert_eq!(refused.blockers[0].reason, Reason::AliasConflict);
        // A key nobody owns: a record (perhaps forged) does not make the alias this object's.
        let legacy = AliasObservation { held_before: Some(true), ..seen(Some("legacy"), KeyOwner::Unowned) };
        let plan = plan(&legacy);
        assert!(plan.changes.is_empty(), "{plan:?}");
        assert_eq!(plan.blockers[0].reason, Reason::AliasConflict);
    }

    #[test]
    fn an_alias_on_a_key_nobody_owns_is_a_conflict_never_stolen() {
        let plan = plan(&seen(Some("legacy"), KeyOwner::Unowned));
        assert!(plan.changes.is_empty());
        assert_eq!(plan.blockers[0].reason, Reason::AliasConflict);
        assert!(plan.blockers[0].message.contains("points at key legacy"));
    }

    #[test]
    fn adopt_takes_over_an_alias_on_a_key_nobody_owns_from_an_adoption_namespace_only() {
        let observed = AliasObservation { adopt: true, ..seen(Some("legacy"), KeyOwner::Unowned) };
        let adopting = plan_alias("alias/app", "eu-west-1", &key("k1"), &observed, &tenant(true), ACCOUNT);
        assert!(adopting.blockers.is_empty() && adopting.refusals.is_empty(), "{adopting:?}");
        assert_eq!(adopting.changes[0].action, Action::UpdateAlias { name: "alias/app".into(), from: "legacy".into() });
        // Admission refuses adopt outside adoption namespaces; the planner does not rely on it.
        assert_eq!(plan(&observed).blockers[0].reason, Reason::AliasConflict);
    }

    #[test]
    fn adopt_never_takes_an_alias_on_a_key_of_another_namespace() {
        let observed = AliasObservation { adopt: true, ..seen(Some("theirs"), foreign()) };
        let plan = plan_alias("alias/app", "eu-west-1", &key("k1"), &observed, &tenant(true), ACCOUNT);
        assert_eq!(refusal(&plan).reason, Reason::ForeignKey);
    }

    #[test]
    fn the_target_must_be_the_namespace_s_or_adoptable() {
        let mut observed = seen(None, KeyOwner::Unowned);
        observed.target_owner = Some(foreign());
        assert_eq!(refusal(&plan(&observed)).reason, Reason::ForeignKey);
        observed.target_owner = Some(KeyOwner::Unowned);
        let refused = plan(&observed);
        assert_eq!(refusal(&refused).reason, Reason::NotPermitted);
        assert!(refusal(&refused).message.contains("spec.permissions.adoptionNamespaces"));
        let adopting = plan_alias("alias/app", "eu-west-1", &key("k1"), &observed, &tenant(true), ACCOUNT);
        assert_eq!(adopting.changes[0].action, Action::CreateAlias { name: "alias/app".into() });
    }

    #[test]
    fn a_pending_key_plans_a_create_without_an_id() {
        let pending = KeyHandle::Pending(crate::api::ObjectName::new(crate::api::Kind::KmsKey, Some("ns"), "k"));
        let mut observed = seen(None, KeyOwner::Unowned);
        observed.target_owner = None;
        let plan = plan_alias("alias/app", "eu-west-1", &pending, &observed, &tenant(false), ACCOUNT);
        assert_eq!(plan.changes[0].key, pending);
    }

    #[test]
    fn deletion_removes_only_aliases_on_the_namespace_s_keys() {
        let delete = |observed: &AliasObservation| {
            plan_alias_deletion("alias/app", "eu-west-1", Some(&key("k1")), observed, &tenant(false), ACCOUNT)
        };
        assert_eq!(
            delete(&seen(Some("k1"), KeyOwner::Namespace)).changes[0].action,
            Action::DeleteAlias { name: "alias/app".into() }
        );
        assert_eq!(delete(&seen(Some("k2"), KeyOwner::Namespace)).changes.len(), 1, "another key of the namespace");
        for other in [foreign(), KeyOwner::Unowned, KeyOwner::Foreign(None)] {
            let plan = delete(&seen(Some("other"), other));
            assert!(plan.changes.is_empty());
            assert_eq!(plan.notices[0].reason, Reason::NotOwned);
        }
        let untold = delete(&seen(Some("theirs"), KeyOwner::Foreign(None)));
        let message = &untold.notices[0].message;
        assert!(message.contains("a key of another namespace or cluster"), "{message}");
        assert!(!message.contains("theirs"), "another tenant's key is not named: {message}");
        assert!(delete(&seen(None, KeyOwner::Unowned)).changes.is_empty());
        let mut theirs = seen(Some("k1"), KeyOwner::Namespace);
        theirs.target_owner = Some(foreign());
        assert_eq!(
            refusal(&delete(&theirs)).reason,
            Reason::ForeignKey,
            "a target of another namespace is refused first"
        );
    }
}
