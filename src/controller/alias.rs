//! The KmsAlias controller.

use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use futures::future::BoxFuture;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{Event as Finalized, finalizer};

use super::context::{Context, ControllerError, object_name};
use super::events;
use super::key::FINALIZER;
use super::status::api_for;
use super::targets::{Pointer, resolve};
use crate::api::validate::validate_alias;
use crate::api::{Kind, KmsAlias};
use crate::engine::alias::AliasRequest;
use crate::engine::{Mode, Outcome};

fn pointer(alias: &KmsAlias) -> Pointer<'_> {
    Pointer {
        namespace: alias.metadata.namespace.as_deref().unwrap_or("default"),
        key_ref: alias.spec.key_ref.as_ref(),
        target_key_id: alias.spec.target_key_id.as_deref(),
        account_ref: alias.spec.account_ref.as_deref(),
        region: alias.spec.region.as_deref(),
    }
}

/// Boxed with an explicit `Send`: kube-runtime spawns reconciles onto the runtime.
pub fn reconcile(alias: Arc<KmsAlias>, ctx: Arc<Context>) -> BoxFuture<'static, Result<Action, ControllerError>> {
    async move {
        let api = api_for(&ctx.client, alias.as_ref());
        finalizer(&api, FINALIZER, alias, |event| {
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

pub fn error_policy(alias: Arc<KmsAlias>, error: &ControllerError, ctx: Arc<Context>) -> Action {
    ctx.error_policy(&object_name(Kind::KmsAlias, alias.as_ref()), error)
}

async fn apply(alias: &KmsAlias, ctx: &Context) -> Result<Action, ControllerError> {
    let started = Instant::now();
    let api = api_for(&ctx.client, alias);
    let name = object_name(Kind::KmsAlias, alias);
    let previous = alias.status.as_ref();
    let issues = validate_alias(alias);
    if !issues.is_empty() {
        let message = issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        let refusal = super::context::Refusal::new("InvalidSpec", message, false);
        return ctx.refuse(&api, alias, &name, previous, refusal, started).await;
    }
    let target = match resolve(ctx, &pointer(alias), true).await? {
        Ok(target) => target,
        Err(refusal) => return ctx.refuse(&api, alias, &name, previous, refusal, started).await,
    };
    let report = ctx.engine.reconcile_alias(AliasRequest { alias, target: Ok(&target) }, Mode::Apply).await;
    ctx.finish(&api, alias, &name, previous, report, started).await
}

async fn cleanup(alias: &KmsAlias, ctx: &Context) -> Result<Action, ControllerError> {
    let name = object_name(Kind::KmsAlias, alias);
    let target = match resolve(ctx, &pointer(alias), false).await? {
        Ok(target) => target,
        Err(refusal) => {
            let note =
                format!("{}; the finalizer is removed and alias {} is left as it is", refusal.message, alias.spec.name);
            events::publish(&ctx.recorder, alias, vec![events::event(EventType::Warning, "AliasLeft", "Delete", note)])
                .await;
            ctx.forget(&name);
            return Ok(Action::await_change());
        }
    };
    let report = ctx.engine.delete_alias(AliasRequest { alias, target: Ok(&target) }, Mode::Apply).await;
    events::publish(&ctx.recorder, alias, events::events_for(&report, false)).await;
    if let Outcome::Failed(error) = &report.outcome
        && !matches!(
            error,
            crate::engine::EngineError::Credentials { .. } | crate::engine::EngineError::WrongAccount { .. }
        )
    {
        return Err(ControllerError::Finalizer(format!("deleting {name}: {error}")));
    }
    ctx.forget(&name);
    Ok(Action::await_change())
}
