//! The end of a deletion, the same for every kind: the finalizer goes when the engine did what
//! deletion means, or when a tenancy rule says nothing may be done; after any error it stays,
//! and the deletion is retried with backoff until it succeeds or a person removes the
//! finalizer (docs/operations.md says how).

use kube::Resource;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

use super::context::{Context, ControllerError};
use super::events;
use crate::api::ObjectName;
use crate::api::Reason;
use crate::engine::{Outcome, Report};

/// How to give up on a deletion by hand, for the Event that says it is being retried.
fn abandon_hint(name: &ObjectName, finalizer: &str) -> String {
    let resource = name.kind.as_str().to_lowercase();
    let namespace = name.namespace.as_deref().map(|ns| format!(" -n {ns}")).unwrap_or_default();
    format!(
        "the finalizer {finalizer} stays and the deletion is retried; to abandon it and leave KMS as it is: kubectl patch {resource} {}{namespace} --type json -p '[{{\"op\":\"remove\",\"path\":\"/metadata/finalizers\"}}]'",
        name.name
    )
}

pub async fn finish<K, S>(
    ctx: &Context,
    object: &K,
    name: &ObjectName,
    report: &Report<S>,
    finalizer: &str,
) -> Result<Action, ControllerError>
where
    K: Resource<DynamicType = ()>,
{
    let mut published = events::events_for(report, false, None);
    for notice in &report.notices {
        published.push(events::event(EventType::Normal, notice.reason, "Delete", notice.message.clone()));
    }
    match &report.outcome {
        Outcome::Refused(refusal) => {
            let note = format!("{}; the finalizer is removed and nothing in KMS was changed", refusal.message);
            published.push(events::event(EventType::Warning, refusal.reason, "Delete", note));
        }
        Outcome::Failed(error) => {
            let note = format!("deleting failed: {error}; {}", abandon_hint(name, finalizer));
            published.push(events::event(EventType::Warning, Reason::DeletionRetrying, "Delete", note));
            events::publish(&ctx.recorder, object, published).await;
            ctx.metrics.error(name, error.reason());
            return Err(ControllerError::Finalizer(format!("deleting {name}: {error}")));
        }
        _ => {}
    }
    events::publish(&ctx.recorder, object, published).await;
    ctx.forget(name);
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Kind;

    #[test]
    fn the_hint_is_a_command_for_the_object() {
        let name = ObjectName::new(Kind::KmsGrant, Some("apps"), "s3");
        let hint = abandon_hint(&name, "kmsoperator.dev/finalizer");
        assert!(hint.contains("kubectl patch kmsgrant s3 -n apps --type json"), "{hint}");
    }
}
