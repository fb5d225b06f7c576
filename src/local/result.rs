//! One resource's result in a local-mode run, whatever its kind.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Value, json};

use crate::api::ObjectName;
use crate::api::Reason;
use crate::api::conditions::{self, ConditionUpdate};
use crate::api::status::CommonStatus;
use crate::engine::{Change, Finding, Outcome, Report};

#[derive(Clone, Debug)]
pub struct ResourceResult {
    pub object: ObjectName,
    pub changes: Vec<Change>,
    pub blockers: Vec<Finding>,
    pub notices: Vec<Finding>,
    pub outcome: Outcome,
    pub ready: ConditionUpdate,
    pub synced: ConditionUpdate,
    /// The kind's status, conditions included, as `--output json` shows it.
    pub status: Value,
    /// What the table shows in its ID column: key id, alias target, grant id, caller.
    pub id: Option<String>,
    /// What the table shows in its STATE column.
    pub state: Option<String>,
    /// The object is in the manifests before the change (`plan --base`) and not after it: its
    /// changes are what deleting it does.
    pub removed: bool,
    /// What a KmsKey's `spec.export` ConfigMap would hold (`{configMapName, data}`).
    pub export: Option<Value>,
}

impl ResourceResult {
    pub fn from_report<S: CommonStatus>(
        report: Report<S>,
        now: &Time,
        id: Option<String>,
        state: Option<String>,
    ) -> Self {
        let mut status = report.status.clone();
        status.set_conditions(conditions::merge(&[], &report.conditions(), None, now));
        status.set_last_sync_time(Some(now.clone()));
        ResourceResult {
            object: report.object,
            changes: report.changes,
            blockers: report.blockers,
            notices: report.notices,
            outcome: report.outcome,
            ready: report.ready,
            synced: report.synced,
            status: serde_json::to_value(&status).unwrap_or(Value::Null),
            id,
            state,
            removed: false,
            export: None,
        }
    }

    /// A resource the engine never saw: its status holds only the two conditions.
    fn unreached(object: ObjectName, reason: Reason, message: String, outcome: Outcome) -> Self {
        let ready = ConditionUpdate::new(conditions::READY, false, reason, message.clone());
        let synced = ConditionUpdate::new(conditions::SYNCED, false, reason, message);
        ResourceResult::decided_before(object, ready, synced, outcome, Vec::new())
    }

    /// A resource decided before the engine started on it: no changes, the two conditions.
    fn decided_before(
        object: ObjectName,
        ready: ConditionUpdate,
        synced: ConditionUpdate,
        outcome: Outcome,
        notices: Vec<Finding>,
    ) -> Self {
        let now = Time(jiff::Timestamp::now());
        let merged = conditions::merge(&[], &[ready.clone(), synced.clone()], None, &now);
        ResourceResult {
            object,
            changes: Vec::new(),
            blockers: Vec::new(),
            notices,
            ready,
            synced,
            outcome,
            status: json!({ "conditions": merged }),
            id: None,
            state: None,
            removed: false,
            export: None,
        }
    }

    /// A resource the engine could not even start on.
    pub fn unresolved(object: ObjectName, reason: String) -> Self {
        ResourceResult::failed_before(object, crate::engine::EngineError::Unresolved(reason))
    }

    /// A resource that failed before the engine started on it.
    pub fn failed_before(object: ObjectName, error: crate::engine::EngineError) -> Self {
        let message = error.to_string();
        ResourceResult::unreached(object, error.reason(), message, Outcome::Failed(error))
    }

    /// A deletion with nothing in KMS to delete, found before the engine started on it.
    pub fn nothing_to_delete(object: ObjectName, message: String) -> Self {
        let reason = Reason::NothingToDelete;
        let ready = ConditionUpdate::new(conditions::READY, false, reason, message.clone());
        let synced = ConditionUpdate::new(conditions::SYNCED, true, Reason::InSync, "nothing in KMS to change");
        ResourceResult::decided_before(object, ready, synced, Outcome::InSync, vec![Finding::new(reason, message)])
    }

    /// A resource the run was interrupted before it started on.
    pub fn not_started(object: ObjectName) -> Self {
        let error =
            crate::engine::EngineError::Interrupted("the run was stopped before this resource started".to_owned());
        let message = error.to_string();
        ResourceResult::unreached(object, error.reason(), message, Outcome::Failed(error))
    }

    /// A resource a tenancy rule refused before any call to AWS.
    pub fn refused(object: ObjectName, reason: Reason, message: String) -> Self {
        let outcome = Outcome::Refused(Finding::new(reason, message.clone()));
        ResourceResult::unreached(object, reason, message, outcome)
    }

    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Failed(_) | Outcome::Blocked | Outcome::Refused(_))
    }

    pub fn pending(&self) -> bool {
        self.outcome == Outcome::Pending
    }

    /// What stops this resource, each with its reason: its blockers, then its error or refusal.
    pub fn problems(&self) -> Vec<Finding> {
        let mut problems = self.blockers.clone();
        match &self.outcome {
            Outcome::Failed(error) => problems.push(Finding::new(error.reason(), error.to_string())),
            Outcome::Refused(refusal) => problems.push(refusal.clone()),
            _ => {}
        }
        problems
    }

    /// The changes planned or made: none for an observe-only key, whose differences are drift.
    pub fn actions(&self) -> &[Change] {
        if self.outcome == Outcome::Drifted { &[] } else { &self.changes }
    }

    /// What an observe-only key differs in; `apply` leaves it so.
    pub fn drift(&self) -> &[Change] {
        if self.outcome == Outcome::Drifted { &self.changes } else { &[] }
    }

    pub fn to_json(&self) -> Value {
        let mut value = json!({
            "kind": self.object.kind.as_str(),
            "namespace": self.object.namespace,
            "name": self.object.name,
            "actions": self.actions().iter().map(Change::to_json).collect::<Vec<_>>(),
            "status": self.status,
            "result": outcome_name(&self.outcome),
        });
        let findings = |items: &[Finding]| {
            items.iter().map(|f| json!({"reason": f.reason, "message": f.message})).collect::<Vec<_>>()
        };
        if !self.drift().is_empty() {
            value["drift"] = json!(self.drift().iter().map(Change::to_json).collect::<Vec<_>>());
        }
        if !self.blockers.is_empty() {
            value["blockers"] = json!(findings(&self.blockers));
        }
        if !self.notices.is_empty() {
            value["notices"] = json!(findings(&self.notices));
        }
        if let Outcome::Failed(error) = &self.outcome {
            value["error"] = json!({"reason": error.reason(), "message": error.to_string()});
        }
        if let Outcome::Refused(refusal) = &self.outcome {
            value["refused"] = json!({"reason": refusal.reason, "message": refusal.message});
        }
        if self.removed {
            value["removed"] = json!(true);
        }
        if let Some(export) = &self.export {
            value["export"] = export.clone();
        }
        if !super::deletions::key_deletions(self).is_empty() {
            value["schedulesKeyDeletion"] = json!(true);
        }
        value
    }
}

pub fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::InSync => "InSync",
        Outcome::Changed => "Changed",
        Outcome::Pending => "ChangesPending",
        Outcome::Drifted => "Drifted",
        Outcome::Blocked => "Blocked",
        Outcome::Refused(_) => "Refused",
        Outcome::Failed(_) => "Failed",
    }
}
