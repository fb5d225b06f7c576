//! Planning a grant. Pure.

use std::collections::BTreeSet;

use crate::api::KmsGrantSpec;
use crate::api::Reason;
use crate::aws::model::{GrantConstraintsView, GrantEntry};
use crate::engine::change::{Action, Change, Finding, GrantPlan, KeyHandle};
use crate::engine::plan::Plan;
use crate::policy;

pub fn desired_grant(spec: &KmsGrantSpec) -> GrantPlan {
    let operations: BTreeSet<String> = spec.operations.iter().cloned().collect();
    let constraints = spec
        .constraints
        .as_ref()
        .map(|c| GrantConstraintsView {
            encryption_context_equals: c.encryption_context_equals.clone().unwrap_or_default(),
            encryption_context_subset: c.encryption_context_subset.clone().unwrap_or_default(),
        })
        .unwrap_or_default();
    GrantPlan {
        name: spec.name.clone(),
        grantee_principal: spec.grantee_principal.clone(),
        retiring_principal: spec.retiring_principal.clone(),
        operations: operations.into_iter().collect(),
        constraints,
    }
}

fn operations(entry: &GrantEntry) -> BTreeSet<&str> {
    entry.operations.iter().map(String::as_str).collect()
}

fn wanted_operations(want: &GrantPlan) -> BTreeSet<&str> {
    want.operations.iter().map(String::as_str).collect()
}

pub fn matches(entry: &GrantEntry, want: &GrantPlan) -> bool {
    entry.grantee_principal.as_deref() == Some(want.grantee_principal.as_str())
        && entry.retiring_principal == want.retiring_principal
        && operations(entry) == wanted_operations(want)
        && entry.constraints == want.constraints
}

/// The new grant allows everything the old one did: same grantee, at least the same operations,
/// and constraints no stricter.
fn is_superset(want: &GrantPlan, old: &GrantEntry) -> bool {
    old.grantee_principal.as_deref() == Some(want.grantee_principal.as_str())
        && wanted_operations(want).is_superset(&operations(old))
        && (want.constraints.is_empty() || want.constraints == old.constraints)
}

/// `existing`: the live grants on the key that carry the spec's name.
pub fn plan_grant(want: &GrantPlan, region: &str, target: &KeyHandle, existing: &[&GrantEntry]) -> Plan {
    let change = |action: Action| Change { region: region.to_owned(), key: target.clone(), action };
    let retire = |old: &GrantEntry, reason: &str| {
        change(Action::RetireGrant {
            grant_id: old.grant_id.clone(),
            name: want.name.clone(),
            reason: reason.to_owned(),
        })
    };
    let mut plan = Plan::default();
    for dead in existing.iter().filter(|g| g.grantee_principal.as_deref().is_some_and(policy::is_unique_id)) {
        plan.notices.push(Finding::new(
            Reason::PrincipalNotFound,
            format!(
                "grant {} ({}) names grantee {}: the id KMS shows for an IAM role or user that was deleted, so it gives nobody access; KMS refuses a grant to a principal that does not exist: recreate the role or user, or change spec.granteePrincipal",
                want.name,
                dead.grant_id,
                dead.grantee_principal.as_deref().unwrap_or_default()
            ),
        ));
    }
    if let Some(current) = existing.iter().find(|g| matches(g, want)) {
        for extra in existing.iter().filter(|g| g.grant_id != current.grant_id) {
            plan.changes.push(retire(extra, "a second grant with the same name"));
        }
        return plan;
    }
    let create = change(Action::CreateGrant(want.clone()));
    // Grants cannot be edited. When the new grant covers the old one, create it first so the
    // grantee never loses access; otherwise retire first so it never holds both at once.
    if existing.iter().all(|old| is_superset(want, old)) {
        plan.changes.push(create);
        plan.changes.extend(existing.iter().map(|old| retire(old, "replaced by the changed spec")));
    } else {
        plan.changes.extend(existing.iter().map(|old| retire(old, "replaced by the changed spec")));
        plan.changes.push(create);
    }
    plan
}

pub fn plan_grant_deletion(name: &str, region: &str, target: &KeyHandle, existing: &[&GrantEntry]) -> Plan {
    if existing.is_empty() {
        return Plan::notice(Reason::NothingToDelete, format!("no grant named {name} exists on the key"));
    }
    let changes = existing
        .iter()
        .map(|old| Change {
            region: region.to_owned(),
            key: target.clone(),
            action: Action::RetireGrant {
                grant_id: old.grant_id.clone(),
                name: name.to_owned(),
                reason: "KmsGrant deleted".to_owned(),
            },
        })
        .collect();
    Plan { changes, ..Plan::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(operations: &[&str]) -> GrantPlan {
        GrantPlan {
            name: "s3".into(),
            grantee_principal: "arn:aws:iam::111122223333:role/s3".into(),
            retiring_principal: None,
            operations: operations.iter().map(|o| o.to_string()).collect(),
            constraints: GrantConstraintsView::default(),
        }
    }

    fn live(id: &str, operations: &[&str]) -> GrantEntry {
        GrantEntry {
            grant_id: id.into(),
            name: Some("s3".into()),
            grantee_principal: Some("arn:aws:iam::111122223333:role/s3".into()),
            retiring_principal: None,
            operations: operations.iter().map(|o| o.to_string()).collect(),
            constraints: GrantConstraintsView::default(),
        }
    }

    fn key() -> KeyHandle {
        KeyHandle::Existing("k1".into())
    }

    fn kinds(plan: &Plan) -> Vec<&'static str> {
        plan.changes
            .iter()
            .map(|c| match c.action {
                Action::CreateGrant(_) => "create",
                Action::RetireGrant { .. } => "retire",
                _ => "other",
            })
            .collect()
    }

    #[test]
    fn missing_grant_is_created_and_matching_grant_is_left() {
        assert_eq!(kinds(&plan_grant(&want(&["Decrypt"]), "r", &key(), &[])), vec!["create"]);
        let current = live("g1", &["Decrypt", "Encrypt"]);
        assert!(plan_grant(&want(&["Encrypt", "Decrypt"]), "r", &key(), &[&current]).is_empty());
    }

    #[test]
    fn a_grantee_kms_shows_as_a_unique_id_is_reported_deleted() {
        let mut dead = live("g1", &["Decrypt"]);
        dead.grantee_principal = Some("AROAEXAMPLEID123456789".into());
        let plan = plan_grant(&want(&["Decrypt"]), "r", &key(), &[&dead]);
        assert_eq!(plan.notices.len(), 1);
        assert_eq!(plan.notices[0].reason, Reason::PrincipalNotFound);
        assert!(plan.notices[0].message.contains("AROAEXAMPLEID123456789"), "{}", plan.notices[0].message);
        assert!(plan.notices[0].message.contains("spec.granteePrincipal"));
        assert!(plan_grant(&want(&["Decrypt"]), "r", &key(), &[&live("g1", &["Decrypt"])]).notices.is_empty());
    }

    #[test]
    fn a_superset_is_created_before_the_old_grant_is_retired() {
        let old = live("g1", &["Decrypt"]);
        let plan = plan_grant(&want(&["Decrypt", "Encrypt"]), "r", &key(), &[&old]);
        assert_eq!(kinds(&plan), vec!["create", "retire"]);
    }

    #[test]
    fn a_narrower_grant_retires_the_old_one_first() {
        let old = live("g1", &["Decrypt", "Encrypt"]);
        let plan = plan_grant(&want(&["Decrypt"]), "r", &key(), &[&old]);
        assert_eq!(kinds(&plan), vec!["retire", "create"]);
        let mut other_grantee = want(&["Decrypt", "Encrypt", "GenerateDataKey"]);
        other_grantee.grantee_principal = "arn:aws:iam::111122223333:role/other".into();
        assert_eq!(kinds(&plan_grant(&other_grantee, "r", &key(), &[&old])), vec!["retire", "create"]);
    }

    #[test]
    fn a_duplicate_of_the_right_grant_is_retired() {
        let good = live("g1", &["Decrypt"]);
        let stale = live("g2", &["Encrypt"]);
        let plan = plan_grant(&want(&["Decrypt"]), "r", &key(), &[&stale, &good]);
        assert_eq!(kinds(&plan), vec!["retire"]);
        assert!(matches!(&plan.changes[0].action, Action::RetireGrant { grant_id, .. } if grant_id == "g2"));
    }

    #[test]
    fn constraints_count() {
        let mut constrained = want(&["Decrypt"]);
        constrained.constraints.encryption_context_equals.insert("app".into(), "x".into());
        let old = live("g1", &["Decrypt"]);
        assert_eq!(
            kinds(&plan_grant(&constrained, "r", &key(), &[&old])),
            vec!["retire", "create"],
            "tighter is not a superset"
        );
    }

    #[test]
    fn deletion_retires_every_grant_of_the_name() {
        let (a, b) = (live("g1", &["Decrypt"]), live("g2", &["Decrypt"]));
        assert_eq!(kinds(&plan_grant_deletion("s3", "r", &key(), &[&a, &b])), vec!["retire", "retire"]);
        assert_eq!(plan_grant_deletion("s3", "r", &key(), &[]).notices[0].reason, Reason::NothingToDelete);
    }
}
