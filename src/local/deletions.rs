//! The key deletions a plan would schedule: the one change that loses data for good once its
//! pending window ends, so every output puts them first, one sentence each (a removed `Delete`
//! KmsKey, a replica removed from `spec.replicas`, a duplicate key).

use serde_json::Value;

use super::result::ResourceResult;
use crate::aws::Op;
use crate::engine::Action;

/// One key (or replica) a planned change schedules for deletion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyDeletion {
    pub key_id: String,
    pub account: Option<String>,
    pub region: String,
    pub pending_window_days: i32,
}

/// The key deletions among `result`'s planned changes.
pub fn key_deletions(result: &ResourceResult) -> Vec<KeyDeletion> {
    let account = result.status.get("accountId").and_then(Value::as_str).map(str::to_owned);
    result
        .actions()
        .iter()
        .filter(|change| change.operation() == Op::ScheduleKeyDeletion)
        .filter_map(|change| {
            let days = match &change.action {
                Action::ScheduleDeletion { pending_window_days } => *pending_window_days,
                Action::RemoveDuplicate { pending_window_days, .. } => *pending_window_days,
                _ => return None,
            };
            Some(KeyDeletion {
                key_id: change.key.id()?.to_owned(),
                account: account.clone(),
                region: change.region.clone(),
                pending_window_days: days,
            })
        })
        .collect()
}

/// `Removing KmsKey apps/logs schedules deletion of key 1234 (account 1111, eu-west-1) in 7
/// days.`, one per key deletion of the run, removed objects first.
pub fn warnings(results: &[ResourceResult]) -> Vec<String> {
    let mut ordered: Vec<&ResourceResult> = results.iter().filter(|r| r.removed).collect();
    ordered.extend(results.iter().filter(|r| !r.removed));
    let mut sentences = Vec::new();
    for result in ordered {
        for deletion in key_deletions(result) {
            let who = if result.removed { format!("Removing {}", result.object) } else { result.object.to_string() };
            let place = match &deletion.account {
                Some(account) => format!("account {account}, {}", deletion.region),
                None => deletion.region.clone(),
            };
            sentences.push(format!(
                "{who} schedules deletion of key {} ({place}) in {} days.",
                deletion.key_id, deletion.pending_window_days
            ));
        }
    }
    sentences
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;
    use crate::api::conditions::{ConditionUpdate, READY, SYNCED};
    use crate::api::{Kind, KmsKeyStatus, ObjectName, Reason};
    use crate::engine::{Change, KeyHandle, Outcome, Report};

    fn result(name: &str, actions: Vec<Action>, removed: bool) -> ResourceResult {
        let report = Report {
            object: ObjectName::new(Kind::KmsKey, Some("apps"), name),
            changes: actions
                .into_iter()
                .map(|action| Change {
                    region: "eu-west-1".into(),
                    key: KeyHandle::Existing(format!("{name}-id")),
                    action,
                })
                .collect(),
            blockers: Vec::new(),
            notices: Vec::new(),
            outcome: Outcome::Pending,
            status: KmsKeyStatus { account_id: Some("111122223333".into()), ..KmsKeyStatus::default() },
            ready: ConditionUpdate::new(READY, true, Reason::Available, "ok"),
            synced: ConditionUpdate::new(SYNCED, false, Reason::ChangesPending, "pending"),
        };
        let mut result = ResourceResult::from_report(report, &Time(jiff::Timestamp::UNIX_EPOCH), None, None);
        result.removed = removed;
        result
    }

    #[test]
    fn every_scheduled_key_deletion_is_one_sentence_removed_objects_first() {
        let kept = result("kept", vec![Action::ScheduleDeletion { pending_window_days: 30 }], false);
        let untagged = result(
            "released",
            vec![Action::Untag(vec![("kmsoperator.dev/owner".into(), "c/apps/released".into())])],
            true,
        );
        let removed = result("old", vec![Action::ScheduleDeletion { pending_window_days: 7 }], true);
        assert_eq!(
            warnings(&[kept, untagged, removed]),
            vec![
                "Removing KmsKey apps/old schedules deletion of key old-id (account 111122223333, eu-west-1) in 7 days."
                    .to_owned(),
                "KmsKey apps/kept schedules deletion of key kept-id (account 111122223333, eu-west-1) in 30 days."
                    .to_owned(),
            ]
        );
    }

    #[test]
    fn a_drifted_observe_only_key_schedules_nothing() {
        let mut drifted = result("watched", vec![Action::ScheduleDeletion { pending_window_days: 7 }], false);
        drifted.outcome = Outcome::Drifted;
        assert!(key_deletions(&drifted).is_empty());
    }
}
