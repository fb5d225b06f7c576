//! Planning an alias. Pure.

use crate::aws::model::AliasEntry;
use crate::engine::change::{Action, Change, Finding, KeyHandle};
use crate::engine::plan::Plan;

/// The alias as KMS lists it, and whether the key it points at belongs to this operator.
#[derive(Clone, Debug, PartialEq)]
pub struct AliasObservation {
    pub entry: Option<AliasEntry>,
    /// Whether the key the alias points at now carries this cluster's ownership tag.
    pub target_owned: bool,
    /// Whether this `KmsAlias` already held the alias (its status said Ready in this region), so
    /// that a hand-made repoint to any key is drift to repair rather than someone else's alias.
    pub held_before: bool,
}

fn conflict(name: &str, region: &str, current: &str) -> Finding {
    Finding::new(
        "AliasConflict",
        format!(
            "alias {name} already exists in {region} and points at key {current}, which kms-operator does not own; it never takes over an alias it did not hold: choose another name, or delete that alias (or point it at the declared key) by hand if it is really this one's"
        ),
    )
}

pub fn plan_alias(name: &str, region: &str, target: &KeyHandle, observed: &AliasObservation) -> Plan {
    let change = |action: Action| Change { region: region.to_owned(), key: target.clone(), action };
    let mut plan = Plan::default();
    let Some(current) = observed.entry.as_ref().and_then(|e| e.target_key_id.as_deref()) else {
        plan.changes.push(change(Action::CreateAlias { name: name.to_owned() }));
        return plan;
    };
    if target.id() == Some(current) {
        return plan;
    }
    if !observed.target_owned && !observed.held_before {
        plan.blockers.push(conflict(name, region, current));
        return plan;
    }
    plan.changes.push(change(Action::UpdateAlias { name: name.to_owned(), from: current.to_owned() }));
    plan
}

/// Deleting a `KmsAlias` deletes the alias, unless it points at a key the operator does not own.
pub fn plan_alias_deletion(name: &str, region: &str, target: Option<&KeyHandle>, observed: &AliasObservation) -> Plan {
    let mut plan = Plan::default();
    let Some(current) = observed.entry.as_ref().and_then(|e| e.target_key_id.as_deref()) else {
        plan.notices.push(Finding::new("NothingToDelete", format!("alias {name} does not exist in {region}")));
        return plan;
    };
    let ours = observed.target_owned || target.and_then(KeyHandle::id) == Some(current);
    if !ours {
        plan.notices.push(Finding::new(
            "NotOwned",
            format!("alias {name} in {region} points at key {current}, which kms-operator does not own; left in place"),
        ));
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

    fn seen(target: Option<&str>, owned: bool) -> AliasObservation {
        AliasObservation {
            held_before: false,
            entry: target.map(|t| AliasEntry { name: "alias/app".into(), arn: None, target_key_id: Some(t.into()) }),
            target_owned: owned,
        }
    }

    fn key(id: &str) -> KeyHandle {
        KeyHandle::Existing(id.into())
    }

    #[test]
    fn a_missing_alias_is_created() {
        let plan = plan_alias("alias/app", "eu-west-1", &key("k1"), &seen(None, false));
        assert_eq!(plan.changes.len(), 1);
        assert_eq!(plan.changes[0].action, Action::CreateAlias { name: "alias/app".into() });
    }

    #[test]
    fn an_alias_on_the_right_key_needs_nothing() {
        assert_eq!(plan_alias("alias/app", "eu-west-1", &key("k1"), &seen(Some("k1"), true)), Plan::default());
    }

    #[test]
    fn an_alias_pointed_elsewhere_at_an_owned_key_is_repointed() {
        let plan = plan_alias("alias/app", "eu-west-1", &key("k1"), &seen(Some("k2"), true));
        assert_eq!(plan.changes[0].action, Action::UpdateAlias { name: "alias/app".into(), from: "k2".into() });
        assert_eq!(plan.changes[0].key, key("k1"));
    }

    #[test]
    fn an_alias_this_object_held_is_repointed_even_from_a_foreign_key() {
        let observed = AliasObservation { held_before: true, ..seen(Some("foreign"), false) };
        let plan = plan_alias("alias/app", "eu-west-1", &key("k1"), &observed);
        assert!(plan.blockers.is_empty(), "{plan:?}");
        assert_eq!(plan.changes[0].action, Action::UpdateAlias { name: "alias/app".into(), from: "foreign".into() });
    }

    #[test]
    fn an_alias_on_a_foreign_key_is_a_conflict_never_stolen() {
        let plan = plan_alias("alias/app", "eu-west-1", &key("k1"), &seen(Some("foreign"), false));
        assert!(plan.changes.is_empty());
        assert_eq!(plan.blockers[0].reason, "AliasConflict");
        assert!(plan.blockers[0].message.contains("points at key foreign"));
    }

    #[test]
    fn a_pending_key_plans_a_create_without_an_id() {
        let pending = KeyHandle::Pending(crate::api::ObjectName::new(crate::api::Kind::KmsKey, Some("ns"), "k"));
        let plan = plan_alias("alias/app", "eu-west-1", &pending, &seen(None, false));
        assert_eq!(plan.changes[0].key, pending);
    }

    #[test]
    fn deletion_removes_only_aliases_on_keys_we_own_or_target() {
        let plan = plan_alias_deletion("alias/app", "eu-west-1", Some(&key("k1")), &seen(Some("k1"), false));
        assert_eq!(plan.changes[0].action, Action::DeleteAlias { name: "alias/app".into() });
        let plan = plan_alias_deletion("alias/app", "eu-west-1", Some(&key("k1")), &seen(Some("other"), false));
        assert!(plan.changes.is_empty());
        assert_eq!(plan.notices[0].reason, "NotOwned");
        let plan = plan_alias_deletion("alias/app", "eu-west-1", None, &seen(None, false));
        assert!(plan.changes.is_empty());
    }
}
