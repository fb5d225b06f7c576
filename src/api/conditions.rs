//! `Ready` and `Synced`, the two standard conditions every kind reports.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::Reason;
use super::catalog::MAX_CONDITION_MESSAGE_CHARS;

pub const READY: &str = "Ready";
pub const SYNCED: &str = "Synced";

/// A condition as the engine decides it, before it meets the clock and the previous status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionUpdate {
    pub type_: &'static str,
    pub status: bool,
    pub reason: Reason,
    pub message: String,
}

impl ConditionUpdate {
    pub fn new(type_: &'static str, status: bool, reason: Reason, message: impl Into<String>) -> Self {
        ConditionUpdate { type_, status, reason, message: message.into() }
    }
}

/// Merge updates into existing conditions, keeping `lastTransitionTime` when the status did
/// not change so that re-reporting the same state writes nothing new.
pub fn merge(
    existing: &[Condition],
    updates: &[ConditionUpdate],
    generation: Option<i64>,
    now: &Time,
) -> Vec<Condition> {
    let mut merged: Vec<Condition> =
        existing.iter().filter(|c| !updates.iter().any(|u| u.type_ == c.type_)).cloned().collect();
    for update in updates {
        let status = if update.status { "True" } else { "False" }.to_owned();
        let previous = existing.iter().find(|c| c.type_ == update.type_);
        let last_transition_time = match previous {
            Some(p) if p.status == status => p.last_transition_time.clone(),
            _ => now.clone(),
        };
        merged.push(Condition {
            type_: update.type_.to_owned(),
            status,
            reason: update.reason.to_string(),
            message: bounded(&update.message),
            observed_generation: generation,
            last_transition_time,
        });
    }
    merged.sort_by(|a, b| a.type_.cmp(&b.type_));
    merged
}

/// The CRD bounds a condition's message as Kubernetes does; a longer one would make the whole
/// status write fail.
fn bounded(message: &str) -> String {
    match message.char_indices().nth(MAX_CONDITION_MESSAGE_CHARS - 3) {
        Some((cut, _)) if message.chars().count() > MAX_CONDITION_MESSAGE_CHARS => format!("{}...", &message[..cut]),
        _ => message.to_owned(),
    }
}

pub fn is_true(conditions: &[Condition], type_: &str) -> Option<bool> {
    conditions.iter().find(|c| c.type_ == type_).map(|c| c.status == "True")
}
