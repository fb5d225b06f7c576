//! The KmsKey controller: validate, resolve the account (tenancy first), converge through the
//! engine, report; on deletion, honour the deletion policy, then release the finalizer.

use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use futures::future::BoxFuture;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{Event as Finalized, finalizer};

use super::context::{Context, ControllerError, Refusal, object_name};
use super::events;
use super::status::api_for;
use crate::api::validate::validate_key;
use crate::api::{AwsAccount, Kind, KmsKey};
use crate::engine::key::KeyRequest;
use crate::engine::{EngineError, Mode, Outcome};

pub const FINALIZER: &str = "kmsoperator.dev/finalizer";

/// Boxed with an explicit `Send`: kube-runtime spawns reconciles onto the runtime.
pub fn reconcile(key: Arc<KmsKey>, ctx: Arc<Context>) -> BoxFuture<'static, Result<Action, ControllerError>> {
    async move {
        let api = api_for(&ctx.client, key.as_ref());
        finalizer(&api, FINALIZER, key, |event| {
            // Owned, not borrowed: the future must be Send for every lifetime.
            let ctx = ctx.clone();
            async move {
                match event {
                    Finalized::Apply(object) => apply(&object, &ctx).await,
                    Finalized::Cleanup(object) => cleanup(&object, &ctx).await,
                }
            }
        })
        .await
        .map_err(|e| ControllerError::Finalizer(e.to_string()))
    }
    .boxed()
}

pub fn error_policy(key: Arc<KmsKey>, error: &ControllerError, ctx: Arc<Context>) -> Action {
    ctx.error_policy(&object_name(Kind::KmsKey, key.as_ref()), error)
}

/// The account spec, for validation rules that need it (regions, the policy's owner).
async fn account_spec(ctx: &Context, name: &str) -> Result<Option<AwsAccount>, ControllerError> {
    let accounts: kube::Api<AwsAccount> = kube::Api::all(ctx.client.clone());
    Ok(accounts.get_opt(name).await?)
}

async fn apply(key: &KmsKey, ctx: &Context) -> Result<Action, ControllerError> {
    let started = Instant::now();
    let api = api_for(&ctx.client, key);
    let name = object_name(Kind::KmsKey, key);
    let previous = key.status.as_ref();
    let account_object = account_spec(ctx, &key.spec.account_ref).await?;
    let issues = validate_key(key, account_object.as_ref().map(|a| &a.spec));
    if !issues.is_empty() {
        let message = issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        return ctx.refuse(&api, key, &name, previous, Refusal::new("InvalidSpec", message, false), started).await;
    }
    let account = match ctx.account_for(&key.spec.account_ref, key.metadata.namespace.as_deref()).await? {
        Ok(account) => account,
        Err(refusal) => return ctx.refuse(&api, key, &name, previous, refusal, started).await,
    };
    let known_key_id = previous.and_then(|s| s.key_id.as_deref());
    let request = KeyRequest { key, account: &account, known_key_id };
    let report = ctx.engine.reconcile_key(request, Mode::Apply).await;
    ctx.finish(&api, key, &name, previous, report, started).await
}

/// Errors after which no amount of retrying deletes anything: the finalizer goes, with an Event.
fn unrecoverable(error: &EngineError) -> bool {
    matches!(error, EngineError::Credentials { .. } | EngineError::WrongAccount { .. })
}

async fn cleanup(key: &KmsKey, ctx: &Context) -> Result<Action, ControllerError> {
    let name = object_name(Kind::KmsKey, key);
    let key_id = key.status.as_ref().and_then(|s| s.key_id.clone());
    let account = match ctx.account_for(&key.spec.account_ref, None).await? {
        Ok(account) => account,
        Err(refusal) => {
            let left = key_id
                .map(|id| format!("key {id} is left in KMS as it is"))
                .unwrap_or_else(|| "no key was recorded".into());
            let note = format!("{}; the finalizer is removed without calling AWS: {left}", refusal.message);
            events::publish(&ctx.recorder, key, vec![events::event(EventType::Warning, "AccountGone", "Delete", note)])
                .await;
            ctx.forget(&name);
            return Ok(Action::await_change());
        }
    };
    let request = KeyRequest { key, account: &account, known_key_id: key_id.as_deref() };
    let report = ctx.engine.delete_key(request, Mode::Apply).await;
    let mut published = events::events_for(&report, false);
    for notice in &report.notices {
        published.push(events::event(EventType::Normal, notice.reason, "Delete", notice.message.clone()));
    }
    match &report.outcome {
        Outcome::Failed(error) if unrecoverable(error) => {
            let note = format!("{error}; the finalizer is removed and nothing in AWS was changed");
            published.push(events::event(EventType::Warning, "DeletionAbandoned", "Delete", note));
        }
        Outcome::Failed(error) => {
            events::publish(&ctx.recorder, key, published).await;
            ctx.metrics.error(&name, error.reason());
            return Err(ControllerError::Finalizer(format!("deleting {name}: {error}")));
        }
        _ => {}
    }
    events::publish(&ctx.recorder, key, published).await;
    ctx.forget(&name);
    Ok(Action::await_change())
}
