//! What one pass over one resource found and did, for both front doors.

use super::change::{Change, Finding};
use super::error::EngineError;
use crate::api::ObjectName;
use crate::api::Reason;
use crate::api::conditions::{ConditionUpdate, READY, SYNCED};

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Live state matches the spec; nothing was or would be changed.
    InSync,
    /// Changes were made and live state now matches the spec.
    Changed,
    /// Changes are needed and were not made because this is a plan: `apply` would make them.
    Pending,
    /// Live state differs from the spec and stays so: `managementPolicy: Observe` never writes,
    /// so neither `plan` nor `apply` has anything to do about it, but status reports it.
    Drifted,
    /// Something only a human can resolve stops convergence (see `blockers`).
    Blocked,
    /// A tenancy rule refuses the object (API.md, "Tenancy"); nothing was written for it.
    Refused(Finding),
    Failed(EngineError),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Report<S> {
    pub object: ObjectName,
    /// Planned changes (plan), changes made (apply), or the drift an observe-only key shows.
    pub changes: Vec<Change>,
    pub blockers: Vec<Finding>,
    pub notices: Vec<Finding>,
    pub outcome: Outcome,
    /// The kind's status fields, conditions aside.
    pub status: S,
    pub ready: ConditionUpdate,
    pub synced: ConditionUpdate,
}

impl<S> Report<S> {
    pub fn is_failed(&self) -> bool {
        matches!(self.outcome, Outcome::Failed(_) | Outcome::Blocked | Outcome::Refused(_))
    }

    /// The tenancy rule that refused the object, if one did.
    pub fn refusal(&self) -> Option<&Finding> {
        match &self.outcome {
            Outcome::Refused(refusal) => Some(refusal),
            _ => None,
        }
    }

    pub fn has_pending_changes(&self) -> bool {
        self.outcome == Outcome::Pending
    }

    pub fn error(&self) -> Option<&EngineError> {
        match &self.outcome {
            Outcome::Failed(e) => Some(e),
            _ => None,
        }
    }

    pub fn conditions(&self) -> Vec<ConditionUpdate> {
        vec![self.ready.clone(), self.synced.clone()]
    }

    /// Something outside KMS that stops the object after the pass (the controller's export of
    /// a key): reported like a blocker, unless the pass already failed for a weightier reason.
    pub fn block(&mut self, finding: Finding) {
        self.blockers.push(finding);
        if matches!(self.outcome, Outcome::InSync | Outcome::Changed) {
            self.outcome = Outcome::Blocked;
        }
        self.synced = synced_condition(&self.outcome, &self.changes, &self.blockers);
    }
}

/// `Synced` from the outcome: the same wording for every kind.
pub fn synced_condition(outcome: &Outcome, changes: &[Change], blockers: &[Finding]) -> ConditionUpdate {
    let list = |changes: &[Change]| changes.iter().map(Change::summary).collect::<Vec<_>>().join("; ");
    match outcome {
        // The same words whether or not this pass made changes (Events record those), so the
        // next pass that finds nothing to do has nothing to write either.
        Outcome::InSync | Outcome::Changed => {
            ConditionUpdate::new(SYNCED, true, Reason::InSync, "live state matches the spec")
        }
        Outcome::Drifted => ConditionUpdate::new(
            SYNCED,
            false,
            Reason::DriftDetected,
            format!("managementPolicy is Observe, so nothing is changed; drift: {}", list(changes)),
        ),
        Outcome::Pending => ConditionUpdate::new(SYNCED, false, Reason::ChangesPending, list(changes)),
        Outcome::Blocked => {
            let first = blockers.first();
            ConditionUpdate::new(
                SYNCED,
                false,
                // Blocked always has a blocker; without one, the pass did not converge.
                first.map_or(Reason::NotConverged, |b| b.reason),
                blockers.iter().map(|b| b.message.clone()).collect::<Vec<_>>().join("; "),
            )
        }
        Outcome::Refused(refusal) => ConditionUpdate::new(SYNCED, false, refusal.reason, refusal.message.clone()),
        Outcome::Failed(error) => ConditionUpdate::new(SYNCED, false, error.reason(), error.to_string()),
    }
}

/// `Ready` of a refused object says why it was refused, whatever its key looks like: a refused
/// object uses nothing.
pub fn ready_unless_refused(outcome: &Outcome, ready: ConditionUpdate) -> ConditionUpdate {
    match outcome {
        Outcome::Refused(refusal) => ConditionUpdate::new(READY, false, refusal.reason, refusal.message.clone()),
        _ => ready,
    }
}

pub fn ready(status: bool, reason: Reason, message: impl Into<String>) -> ConditionUpdate {
    ConditionUpdate::new(READY, status, reason, message)
}
