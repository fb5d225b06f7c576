//! What the end of a pass calls for, decided apart from doing it: from the status before, the
//! pass's report and the time, the status to write, the Events to publish, what to count and
//! when to look again. Pure; `Context::finish` carries it out.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::events::Event;

use super::events;
use super::status::next_status;
use crate::api::Reason;
use crate::api::conditions::{SYNCED, is_true};
use crate::api::status::CommonStatus;
use crate::engine::{Outcome, Report};

/// When to look at the object again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// At the next resync: the pass ended as it should.
    Resync,
    /// After the object's failure backoff.
    Backoff,
    /// At once: the pass acted on an old view of the object.
    Soon,
}

/// How the pass counts in the resource metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Not at all: nothing is said about a pass kept quiet (`why` goes to the log).
    Quiet { why: String },
    /// As a refused object.
    Refused,
    /// By its conditions; `drifting` when the pass found live state away from the spec.
    Counted { ready: bool, synced: bool, drifting: bool },
}

pub struct Decision<S> {
    /// The status to write; `None` when nothing worth a write changed, or the pass is quiet.
    pub status: Option<S>,
    pub events: Vec<Event>,
    /// Live state moved while the spec stayed what was last synced.
    pub drift_found: bool,
    pub standing: Standing,
    /// The reason the errors metric counts, if the pass ended in one.
    pub error: Option<Reason>,
    /// The `result` label of the reconciles metric.
    pub result: &'static str,
    pub retry: Retry,
}

/// `quiet_retries_left`: whether a transient failure may still go unreported (the object has
/// failed fewer times in a row than the controller keeps quiet about). `related`: the object a
/// refusal is about, for its Event.
pub fn decide<S: CommonStatus>(
    previous: Option<&S>,
    report: &Report<S>,
    generation: Option<i64>,
    now: &Time,
    quiet_retries_left: bool,
    related: Option<&ObjectReference>,
) -> Decision<S> {
    let quiet = |why: String, error: Reason, retry: Retry| Decision {
        status: None,
        events: Vec::new(),
        drift_found: false,
        standing: Standing::Quiet { why },
        error: Some(error),
        result: "retrying",
        retry,
    };
    if let Outcome::Failed(error) = &report.outcome {
        // A pass on an old view of its object is nothing to report, however often it happens.
        if error.is_stale() {
            return quiet(error.to_string(), Reason::StaleObject, Retry::Soon);
        }
        // Waiting for AWS to catch up is no failure to keep quiet about: it shows at once (and a
        // create KMS refused on the way is cleared from status with it).
        if error.is_transient() && !error.is_waiting() && quiet_retries_left {
            return quiet(error.to_string(), error.reason(), Retry::Backoff);
        }
    }
    let was_synced = previous
        .is_some_and(|p| is_true(p.conditions(), SYNCED) == Some(true) && p.observed_generation() == generation);
    let drift_found = was_synced && !report.changes.is_empty();
    let status = next_status(previous, report.status.clone(), &report.conditions(), generation, now);
    let standing = match report.outcome {
        Outcome::Refused(_) => Standing::Refused,
        _ => Standing::Counted {
            ready: report.ready.status,
            synced: report.synced.status,
            drifting: drift_found || report.outcome == Outcome::Drifted,
        },
    };
    let (result, error, retry) = match &report.outcome {
        Outcome::InSync => ("in_sync", None, Retry::Resync),
        Outcome::Changed => ("changed", None, Retry::Resync),
        Outcome::Pending | Outcome::Drifted => ("drift", None, Retry::Resync),
        // A key gone or taken out of service outside the operator shows here by reason.
        Outcome::Blocked => ("blocked", report.blockers.first().map(|b| b.reason), Retry::Backoff),
        Outcome::Refused(refusal) => ("refused", Some(refusal.reason), Retry::Backoff),
        Outcome::Failed(error) => ("failed", Some(error.reason()), Retry::Backoff),
    };
    Decision {
        status,
        events: events::events_for(report, drift_found, related),
        drift_found,
        standing,
        error,
        result,
        retry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::conditions::{ConditionUpdate, READY};
    use crate::api::{Kind, KmsKeyStatus, ObjectName};
    use crate::aws::{AwsError, ErrorKind, Op};
    use crate::engine::key::IntentError;
    use crate::engine::{Action, Change, EngineError, Finding, KeyHandle};

    fn at(seconds: i64) -> Time {
        Time(jiff::Timestamp::from_second(1_800_000_000 + seconds).unwrap())
    }

    fn report(outcome: Outcome, changes: Vec<Change>) -> Report<KmsKeyStatus> {
        let synced = match &outcome {
            Outcome::InSync | Outcome::Changed => ConditionUpdate::new(SYNCED, true, Reason::InSync, "ok"),
            Outcome::Failed(error) => ConditionUpdate::new(SYNCED, false, error.reason(), error.to_string()),
            Outcome::Refused(refusal) => ConditionUpdate::new(SYNCED, false, refusal.reason, "refused"),
            _ => ConditionUpdate::new(SYNCED, false, Reason::DriftDetected, "differs"),
        };
        Report {
            object: ObjectName::new(Kind::KmsKey, Some("apps"), "k"),
            changes,
            blockers: Vec::new(),
            notices: Vec::new(),
            outcome,
            status: KmsKeyStatus { key_id: Some("k1".into()), ..KmsKeyStatus::default() },
            ready: ConditionUpdate::new(READY, true, Reason::Available, "ok"),
            synced,
        }
    }

    fn description_changed() -> Vec<Change> {
        let action = Action::UpdateDescription { from: "console edit".into(), to: "v1".into() };
        vec![Change { region: "eu-west-1".into(), key: KeyHandle::Existing("k1".into()), action }]
    }

    fn throttled() -> EngineError {
        EngineError::aws(AwsError::new(Op::CreateKey, ErrorKind::Throttled, "slow down"))
    }

    fn reasons(decision: &Decision<KmsKeyStatus>) -> Vec<&str> {
        decision.events.iter().map(|e| e.reason.as_str()).collect()
    }

    /// The status an earlier in-sync pass wrote, at generation 1.
    fn synced_before() -> KmsKeyStatus {
        let first = decide(None, &report(Outcome::InSync, Vec::new()), Some(1), &at(0), true, None);
        first.status.expect("a first pass writes status")
    }

    #[test]
    fn a_converged_resync_writes_nothing_and_counts_in_sync() {
        let before = synced_before();
        let decision = decide(Some(&before), &report(Outcome::InSync, Vec::new()), Some(1), &at(60), true, None);
        assert!(decision.status.is_none() && decision.events.is_empty());
        assert_eq!(decision.standing, Standing::Counted { ready: true, synced: true, drifting: false });
        assert_eq!((decision.result, decision.error, decision.retry), ("in_sync", None, Retry::Resync));
    }

    #[test]
    fn changes_on_an_unchanged_spec_that_was_in_sync_are_drift_and_a_spec_change_is_not() {
        let before = synced_before();
        let repaired = report(Outcome::Changed, description_changed());
        let drift = decide(Some(&before), &repaired, Some(1), &at(60), true, None);
        assert!(drift.drift_found);
        assert_eq!(reasons(&drift), vec!["DriftDetected", "UpdateKeyDescription"]);
        assert_eq!(drift.standing, Standing::Counted { ready: true, synced: true, drifting: true });
        assert_eq!((drift.result, drift.retry), ("changed", Retry::Resync));

        let edited = decide(Some(&before), &repaired, Some(2), &at(60), true, None);
        assert!(!edited.drift_found);
        assert_eq!(reasons(&edited), vec!["UpdateKeyDescription"]);
        assert_eq!(edited.status.expect("new generation").observed_generation, Some(2));
    }

    #[test]
    fn a_transient_failure_is_kept_quiet_until_the_quiet_retries_are_spent() {
        let before = synced_before();
        let failed = report(Outcome::Failed(throttled()), Vec::new());
        let quiet = decide(Some(&before), &failed, Some(1), &at(60), true, None);
        assert!(quiet.status.is_none() && quiet.events.is_empty());
        assert!(matches!(quiet.standing, Standing::Quiet { .. }));
        assert_eq!((quiet.result, quiet.error, quiet.retry), ("retrying", Some(Reason::Throttled), Retry::Backoff));

        let told = decide(Some(&before), &failed, Some(1), &at(60), false, None);
        let synced = told.status.as_ref().expect("reported").conditions.iter().find(|c| c.type_ == SYNCED).unwrap();
        assert_eq!((synced.status.as_str(), synced.reason.as_str()), ("False", "Throttled"));
        assert_eq!(reasons(&told), vec!["Throttled"]);
        assert_eq!((told.result, told.error, told.retry), ("failed", Some(Reason::Throttled), Retry::Backoff));
    }

    #[test]
    fn a_stale_view_is_quiet_and_retried_at_once_however_often_and_an_internal_fault_is_told() {
        let stale = report(Outcome::Failed(EngineError::Intent(IntentError::Stale("409".into()))), Vec::new());
        for quiet_retries_left in [true, false] {
            let decision = decide(None, &stale, Some(1), &at(0), quiet_retries_left, None);
            assert!(decision.status.is_none() && decision.events.is_empty());
            assert_eq!((decision.error, decision.retry), (Some(Reason::StaleObject), Retry::Soon));
        }
        let internal = report(Outcome::Failed(EngineError::Intent(IntentError::Internal("bad".into()))), Vec::new());
        let decision = decide(None, &internal, Some(1), &at(0), true, None);
        assert!(decision.status.is_some(), "not transient: told at once");
        assert_eq!(reasons(&decision), vec!["InternalError"]);
    }

    #[test]
    fn waiting_for_aws_is_told_at_once() {
        let waiting = EngineError::StillWaiting { reason: Reason::PolicyPropagating, what: "IAM".into() };
        let decision = decide(None, &report(Outcome::Failed(waiting), Vec::new()), Some(1), &at(0), true, None);
        assert!(decision.status.is_some());
        assert_eq!((decision.error, decision.retry), (Some(Reason::PolicyPropagating), Retry::Backoff));
    }

    #[test]
    fn a_refusal_counts_as_refused_and_its_event_names_the_related_object() {
        let account = events::reference::<crate::api::AwsAccount>(None, "core");
        let refusal = Finding::new(Reason::NotPermitted, "not in principalAccounts");
        let decision =
            decide(None, &report(Outcome::Refused(refusal), Vec::new()), Some(1), &at(0), true, Some(&account));
        assert_eq!(decision.standing, Standing::Refused);
        assert_eq!(
            (decision.result, decision.error, decision.retry),
            ("refused", Some(Reason::NotPermitted), Retry::Backoff)
        );
        assert_eq!(decision.events.len(), 1);
        assert_eq!(decision.events[0].secondary.as_ref(), Some(&account));
    }

    #[test]
    fn a_blocked_pass_counts_its_first_blocker() {
        let mut blocked = report(Outcome::Blocked, Vec::new());
        blocked.blockers = vec![
            Finding::new(Reason::KeyDisabledOutside, "enable it"),
            Finding::new(Reason::ImmutableFieldMismatch, "recreate"),
        ];
        let decision = decide(None, &blocked, Some(1), &at(0), true, None);
        assert_eq!((decision.result, decision.error), ("blocked", Some(Reason::KeyDisabledOutside)));
        assert_eq!(reasons(&decision), vec!["KeyDisabledOutside", "ImmutableFieldMismatch"]);
    }
}
