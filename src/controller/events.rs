//! Kubernetes Events: one for every change made in KMS, one for drift found, one for failures.
//! The recorder folds repeats into a series, so a failure retried all night is one Event
//! (`recorder.rs`).

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Resource;
use kube::runtime::events::{Event, EventType};

use super::recorder::EventRecorder;

use crate::api::Reason;
use crate::engine::{Change, Outcome, Report};

/// Events worth publishing for one pass. A refusal's Event names `related`, the object whose
/// rules refused (the pass's AwsAccount).
pub fn events_for<S>(report: &Report<S>, drift: bool, related: Option<&ObjectReference>) -> Vec<Event> {
    let mut events = Vec::new();
    if drift && !report.changes.is_empty() {
        let summary: Vec<String> = report.changes.iter().map(Change::summary).collect();
        let note = if report.outcome == Outcome::Drifted {
            format!("live state differs from the spec (not changed: managementPolicy Observe): {}", summary.join("; "))
        } else {
            format!("live state differed from the spec and was repaired: {}", summary.join("; "))
        };
        events.push(event(EventType::Warning, Reason::DriftDetected, "Observe", note));
    }
    if !matches!(report.outcome, Outcome::Pending | Outcome::Drifted) {
        for change in &report.changes {
            let operation = change.operation().name();
            events.push(event(EventType::Normal, change.event_reason(), operation, change.summary()));
        }
    }
    for blocker in &report.blockers {
        events.push(event(EventType::Warning, blocker.reason, "Reconcile", blocker.message.clone()));
    }
    if let Outcome::Failed(error) = &report.outcome {
        events.push(event(EventType::Warning, error.reason(), "Reconcile", error.to_string()));
    }
    if let Outcome::Refused(refusal) = &report.outcome {
        let refused = event(EventType::Warning, refusal.reason, "Reconcile", refusal.message.clone());
        events.push(Event { secondary: related.cloned(), ..refused });
    }
    events
}

pub fn event(type_: EventType, reason: impl AsRef<str>, action: &str, note: impl Into<String>) -> Event {
    let mut note: String = note.into();
    // The API rejects notes over 1 kB.
    if note.len() > 1000 {
        let mut cut = 997;
        while !note.is_char_boundary(cut) {
            cut -= 1;
        }
        note.truncate(cut);
        note.push_str("...");
    }
    Event { type_, reason: reason.as_ref().to_owned(), note: Some(note), action: action.to_owned(), secondary: None }
}

/// A reference to the `K` named `name`, for an Event's `related`: the object need not exist (an
/// AwsAccount that a KmsKey names and nobody created).
pub fn reference<K: Resource<DynamicType = ()>>(namespace: Option<&str>, name: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        namespace: namespace.map(str::to_owned),
        name: Some(name.to_owned()),
        ..ObjectReference::default()
    }
}

/// Publishes `events` about `object`; a failure to record is logged, never fatal.
pub async fn publish<K: Resource<DynamicType = ()>>(recorder: &EventRecorder, object: &K, events: Vec<Event>) {
    let reference = object.object_ref(&());
    for event in events {
        if let Err(error) = recorder.publish(&event, &reference).await {
            tracing::warn!(reason = %event.reason, %error, "could not record an Event");
        }
    }
}
