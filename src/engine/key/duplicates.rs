//! Duplicates heal themselves: when a create was repeated (a run killed while its CreateKey was
//! in flight, a listing that had not caught up), several keys carry one object's ownership
//! tag. One is kept; every other one the operator created for the object, and that nothing
//! refers to, is disabled and scheduled for deletion with the longest window, so it can still
//! be restored. A duplicate that an alias or a grant refers to is never touched. Pure.

use super::observed::Duplicate;
use crate::api::Reason;
use crate::api::catalog::PENDING_WINDOW_DAYS;
use crate::engine::change::{Action, Change, Finding, KeyHandle};
use crate::engine::desired::DesiredKey;
use crate::engine::plan::Plan;

/// The one to keep: the oldest of those an alias already resolves to, else the oldest.
pub fn keeper(candidates: &[Duplicate]) -> Option<usize> {
    let oldest = |pool: &mut dyn Iterator<Item = (usize, &Duplicate)>| {
        pool.min_by(|(_, a), (_, b)| (&a.key.creation_date, &a.key.key_id).cmp(&(&b.key.creation_date, &b.key.key_id)))
            .map(|(i, _)| i)
    };
    oldest(&mut candidates.iter().enumerate().filter(|(_, d)| !d.aliases.is_empty()))
        .or_else(|| oldest(&mut candidates.iter().enumerate()))
}

pub fn plan_duplicates(desired: &DesiredKey, duplicates: &[Duplicate]) -> Plan {
    let Some(keep) = keeper(duplicates) else {
        return Plan::default();
    };
    let kept = &duplicates[keep].key.key_id;
    let others: Vec<&Duplicate> = duplicates.iter().enumerate().filter(|(i, _)| *i != keep).map(|(_, d)| d).collect();
    let referenced: Vec<String> = others
        .iter()
        .filter(|d| d.is_referenced())
        .map(|d| {
            let mut uses = d.aliases.clone();
            if d.grants > 0 {
                uses.push(format!("{} grant(s)", d.grants));
            }
            format!("{} (used by {})", d.key.key_id, uses.join(", "))
        })
        .collect();
    if !referenced.is_empty() {
        return Plan {
            blockers: vec![Finding::new(
                Reason::OwnershipConflict,
                format!(
                    "several keys in {} carry the ownership tag of {}; {kept} would be kept, but {} is in use, so nothing is removed: move those aliases and grants to {kept}, and the operator removes the duplicate",
                    desired.region,
                    desired.object,
                    referenced.join(", ")
                ),
            )],
            ..Plan::default()
        };
    }
    let changes = others
        .iter()
        .map(|d| Change {
            region: desired.region.clone(),
            key: KeyHandle::Existing(d.key.key_id.clone()),
            action: Action::RemoveDuplicate { kept: kept.clone(), pending_window_days: *PENDING_WINDOW_DAYS.end() },
        })
        .collect();
    Plan { changes, ..Plan::default() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::model::KeyDescription;

    fn duplicate(id: &str, created: &str, aliases: &[&str], grants: usize) -> Duplicate {
        Duplicate {
            key: KeyDescription {
                key_id: id.into(),
                creation_date: Some(created.into()),
                state: "Enabled".into(),
                enabled: true,
                ..KeyDescription::default()
            },
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            grants,
        }
    }

    #[test]
    fn the_key_an_alias_resolves_to_is_kept_else_the_oldest() {
        let plain = [duplicate("b", "2026-01-02T00:00:00Z", &[], 0), duplicate("a", "2026-01-03T00:00:00Z", &[], 0)];
        assert_eq!(keeper(&plain), Some(0), "the oldest");
        let aliased =
            [duplicate("b", "2026-01-02T00:00:00Z", &[], 0), duplicate("a", "2026-01-03T00:00:00Z", &["alias/app"], 0)];
        assert_eq!(keeper(&aliased), Some(1), "the one an alias resolves to");
        assert_eq!(keeper(&[]), None);
    }

    #[test]
    fn unreferenced_duplicates_are_disabled_and_scheduled_for_deletion_with_the_longest_window() {
        let desired = super::super::fixtures::desired();
        let dups = [
            duplicate("newer", "2026-01-03T00:00:00Z", &[], 0),
            duplicate("kept", "2026-01-01T00:00:00Z", &[], 0),
            duplicate("newest", "2026-01-04T00:00:00Z", &[], 0),
        ];
        let plan = plan_duplicates(&desired, &dups);
        let removed: Vec<(&str, &Action)> =
            plan.changes.iter().map(|c| (c.key.id().unwrap_or_default(), &c.action)).collect();
        let action = Action::RemoveDuplicate { kept: "kept".into(), pending_window_days: 30 };
        assert_eq!(removed, vec![("newer", &action), ("newest", &action)]);
        assert_eq!(plan.changes[0].event_reason(), Reason::DuplicateRemoved.as_str());
        assert!(plan.changes[0].summary().contains("kept"), "{}", plan.changes[0].summary());
    }

    #[test]
    fn a_duplicate_in_use_stops_everything_and_says_why() {
        let desired = super::super::fixtures::desired();
        let dups =
            [duplicate("kept", "2026-01-01T00:00:00Z", &[], 0), duplicate("used", "2026-01-02T00:00:00Z", &[], 2)];
        let plan = plan_duplicates(&desired, &dups);
        assert!(plan.changes.is_empty());
        assert_eq!(plan.blockers[0].reason, Reason::OwnershipConflict);
        assert!(plan.blockers[0].message.contains("used (used by 2 grant(s))"), "{}", plan.blockers[0].message);
    }
}
