//! The KmsKey controller: admission first (spec, account, tenancy), then the finalizer, then
//! convergence through the engine; on deletion, admission again, then the deletion policy, and
//! the finalizer goes only once that is done or nothing may be done.

use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use futures::future::BoxFuture;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

use super::admission::AdmittedKey;
use super::context::{Context, ControllerError, object_name};
use super::finalizer::{Finalized, finalized};
use super::status::{StatusIntent, api_for};
use super::{deletion, dependents, events, gate};
use crate::api::Reason;
use crate::api::{AwsAccount, Kind, KmsKey, KmsKeyStatus, ObjectName};
use crate::engine::key::{KeyReport, KeyRequest, Memory, REPLACE_DELETED_KEY};
use crate::engine::{Mode, Outcome};

pub const FINALIZER: &str = "kmsoperator.dev/finalizer";

/// Boxed with an explicit `Send`: kube-runtime spawns reconciles onto the runtime.
pub fn reconcile(key: Arc<KmsKey>, ctx: Arc<Context>) -> BoxFuture<'static, Result<Action, ControllerError>> {
    async move {
        if gate::needs_admission(key.as_ref(), FINALIZER)
            && let Some(refused) = admit_before_finalizer(&key, &ctx).await?
        {
            return Ok(refused);
        }
        let api = api_for(&ctx.client, key.as_ref());
        finalized(
            &api,
            FINALIZER,
            key,
            |meta| ctx.seen.expect(Kind::KmsKey, meta),
            |event| {
                // Owned, not borrowed: the future must be Send for every lifetime.
                let ctx = ctx.clone();
                async move {
                    match event {
                        Finalized::Apply(object) => apply(&object, &ctx).await,
                        Finalized::Cleanup(object) => cleanup(&object, &ctx).await,
                    }
                }
            },
        )
        .await
    }
    .boxed()
}

/// `Some(action)` when the key is not admitted, checked with reads only: then it gets no
/// finalizer, and deleting it later needs nothing from the operator.
async fn admit_before_finalizer(key: &KmsKey, ctx: &Context) -> Result<Option<Action>, ControllerError> {
    pass(key, ctx, Mode::Plan).await
}

async fn apply(key: &KmsKey, ctx: &Context) -> Result<Action, ControllerError> {
    Ok(pass(key, ctx, Mode::Apply).await?.unwrap_or_else(Action::await_change))
}

/// Admission, then the engine in `mode`. `None` only from a read-only pass that admits the
/// object to its finalizer; every other pass records its outcome and says when to come back.
async fn pass(key: &KmsKey, ctx: &Context, mode: Mode) -> Result<Option<Action>, ControllerError> {
    let started = Instant::now();
    let api = api_for(&ctx.client, key);
    let name = object_name(Kind::KmsKey, key);
    let previous = key.status.as_ref();
    let admitted = match ctx.admit_key(key, true).await? {
        Ok(admitted) => admitted,
        Err(refusal) => return ctx.refuse(&api, key, &name, previous, refusal, started).await.map(Some),
    };
    let recorder = StatusIntent::new(&api, key);
    let mut report = ctx.engine.reconcile_key(request(key, &admitted, Some(&recorder)), mode).await;
    if mode == Mode::Plan && gate::admits(&report) {
        return Ok(None);
    }
    if mode == Mode::Apply
        && let Some(problem) = ctx.keep_export(key, &admitted.account, &report.status).await
    {
        report.block(problem);
    }
    record_key_state(ctx, &name, key, &report);
    events::publish(&ctx.recorder, key, alarm_events(previous, &report.status)).await;
    let latest = recorder.latest(key);
    let related = events::reference::<AwsAccount>(None, &admitted.account.name);
    ctx.finish(&api, &latest, &name, latest.status.as_ref(), report, Some(&related), started).await.map(Some)
}

/// The key's state for the metrics, from the pass that read it. A pass that failed before
/// reading the key leaves the last state known: a failure says nothing about the key.
fn record_key_state(ctx: &Context, name: &ObjectName, key: &KmsKey, report: &KeyReport) {
    match (&report.status.key_state, &report.outcome) {
        (Some(state), _) => {
            ctx.metrics.key_state(name, state, key.spec.enabled);
            let alarms = report.status.monitoring.as_ref().map(|m| m.alarms.as_slice()).unwrap_or_default();
            ctx.metrics.key_alarms(name, alarms);
        }
        (None, Outcome::Failed(_)) => {}
        (None, _) => ctx.metrics.no_key(name),
    }
}

/// A Warning Event for each alarm of the key that entered ALARM since the last pass.
fn alarm_events(previous: Option<&KmsKeyStatus>, now: &KmsKeyStatus) -> Vec<kube::runtime::events::Event> {
    let alarms = |status: Option<&KmsKeyStatus>| {
        status.and_then(|s| s.monitoring.as_ref()).map(|m| m.alarms.clone()).unwrap_or_default()
    };
    let before = alarms(previous);
    alarms(Some(now))
        .into_iter()
        .filter(|now| now.state == ALARM && !before.iter().any(|b| b.name == now.name && b.state == ALARM))
        .map(|now| {
            let note = format!(
                "alarm {} ({} of the key in {}) entered ALARM{}",
                now.name,
                now.signal,
                now.region.as_deref().unwrap_or("?"),
                now.since.as_deref().map(|s| format!(" at {s}")).unwrap_or_default()
            );
            events::event(EventType::Warning, Reason::AlarmFiring, "Monitor", note)
        })
        .collect()
}

const ALARM: &str = "ALARM";

fn request<'a>(
    key: &'a KmsKey,
    admitted: &'a AdmittedKey,
    recorder: Option<&'a dyn crate::engine::key::IntentRecorder>,
) -> KeyRequest<'a> {
    KeyRequest {
        key,
        account: &admitted.account,
        monitoring: admitted.monitoring.as_ref(),
        tenant: &admitted.tenant,
        memory: memory(key),
        recorder,
    }
}

/// What the object's status and metadata remember of earlier passes.
fn memory(key: &KmsKey) -> Memory<'_> {
    let status = key.status.as_ref();
    Memory {
        key_id: status.and_then(|s| s.key_id.as_deref()),
        spec_changed: status.and_then(|s| s.observed_generation) != key.metadata.generation,
        replace_deleted: key.metadata.annotations.as_ref().and_then(|a| a.get(REPLACE_DELETED_KEY)).map(String::as_str),
        creating: status.and_then(|s| s.creating.as_ref()),
        rotation: status.and_then(|s| s.rotation.as_ref()),
    }
}

async fn cleanup(key: &KmsKey, ctx: &Context) -> Result<Action, ControllerError> {
    let name = object_name(Kind::KmsKey, key);
    let users = dependents::of(ctx, key).await?;
    if !users.is_empty() {
        let note = format!(
            "deleting waits for {} to be deleted first: once the key is released or scheduled for deletion, nothing could prove their aliases and grants on it are this namespace's to remove; delete them too, or remove their finalizer {FINALIZER} to leave what they made in KMS",
            users.join(", ")
        );
        events::publish(
            &ctx.recorder,
            key,
            vec![events::event(EventType::Normal, Reason::WaitingForDependents, "Delete", note.clone())],
        )
        .await;
        // An error, so that the finalizer stays.
        return Err(ControllerError::Waiting { reason: Reason::WaitingForDependents, message: note });
    }
    let key_id = key.status.as_ref().and_then(|s| s.key_id.clone());
    let left = key_id
        .as_deref()
        .map(|id| format!("key {id} is left in KMS as it is"))
        .unwrap_or_else(|| "no key was recorded".into());
    let admitted = match ctx.admit_key(key, false).await? {
        Ok(admitted) => admitted,
        Err(refusal) => {
            let reason = if refusal.reason == Reason::AccountNotFound { Reason::AccountGone } else { refusal.reason };
            let note = format!("{}; the finalizer is removed without calling AWS: {left}", refusal.message);
            events::publish(&ctx.recorder, key, vec![events::event(EventType::Warning, reason, "Delete", note)]).await;
            ctx.forget(&name);
            return Ok(Action::await_change());
        }
    };
    let report = ctx.engine.delete_key(request(key, &admitted, None), Mode::Apply).await;
    deletion::finish(ctx, key, &name, &report, FINALIZER).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::monitoring::{AlarmStatus, MonitoringStatus};

    fn status(states: &[(&str, &str)]) -> KmsKeyStatus {
        let alarms = states
            .iter()
            .map(|(name, state)| AlarmStatus {
                name: (*name).into(),
                signal: "Decrypt".into(),
                region: Some("eu-west-1".into()),
                state: (*state).into(),
                ..AlarmStatus::default()
            })
            .collect();
        KmsKeyStatus { monitoring: Some(MonitoringStatus { alarms }), ..KmsKeyStatus::default() }
    }

    #[test]
    fn an_event_when_an_alarm_enters_alarm_and_not_while_it_stays() {
        let before = status(&[("a", "OK"), ("b", "ALARM")]);
        let now = status(&[("a", "ALARM"), ("b", "ALARM")]);
        let events = alarm_events(Some(&before), &now);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].reason, Reason::AlarmFiring.as_str());
        assert!(
            events[0].note.as_deref().unwrap_or("").contains("alarm a (Decrypt of the key in eu-west-1) entered ALARM")
        );
        assert!(alarm_events(Some(&now), &now).is_empty(), "a resync of the same state says nothing again");
        assert_eq!(alarm_events(None, &status(&[("c", "ALARM")])).len(), 1, "a first pass that finds ALARM says so");
    }
}
