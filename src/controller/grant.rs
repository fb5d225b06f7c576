//! The KmsGrant controller.

use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use futures::future::BoxFuture;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{Event as Finalized, finalizer};

use super::context::{Context, ControllerError, Refusal, object_name};
use super::events;
use super::key::FINALIZER;
use super::status::api_for;
use super::targets::{Pointer, resolve};
use crate::api::validate::validate_grant;
use crate::api::{Kind, KmsGrant};
use crate::engine::grant::GrantRequest;
use crate::engine::{EngineError, Mode, Outcome};

fn pointer(grant: &KmsGrant) -> Pointer<'_> {
    Pointer {
        namespace: grant.metadata.namespace.as_deref().unwrap_or("default"),
        key_ref: grant.spec.key_ref.as_ref(),
        target_key_id: grant.spec.target_key_id.as_deref(),
        account_ref: grant.spec.account_ref.as_deref(),
        region: grant.spec.region.as_deref(),
    }
}

/// Boxed with an explicit `Send`: kube-runtime spawns reconciles onto the runtime.
pub fn reconcile(grant: Arc<KmsGrant>, ctx: Arc<Context>) -> BoxFuture<'static, Result<Action, ControllerError>> {
    async move {
        let api = api_for(&ctx.client, grant.as_ref());
        finalizer(&api, FINALIZER, grant, |event| {
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

pub fn error_policy(grant: Arc<KmsGrant>, error: &ControllerError, ctx: Arc<Context>) -> Action {
    ctx.error_policy(&object_name(Kind::KmsGrant, grant.as_ref()), error)
}

async fn apply(grant: &KmsGrant, ctx: &Context) -> Result<Action, ControllerError> {
    let started = Instant::now();
    let api = api_for(&ctx.client, grant);
    let name = object_name(Kind::KmsGrant, grant);
    let previous = grant.status.as_ref();
    let issues = validate_grant(grant);
    if !issues.is_empty() {
        let message = issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        return ctx.refuse(&api, grant, &name, previous, Refusal::new("InvalidSpec", message, false), started).await;
    }
    let target = match resolve(ctx, &pointer(grant), true).await? {
        Ok(target) => target,
        Err(refusal) => return ctx.refuse(&api, grant, &name, previous, refusal, started).await,
    };
    let report = ctx.engine.reconcile_grant(GrantRequest { grant, target: Ok(&target) }, Mode::Apply).await;
    ctx.finish(&api, grant, &name, previous, report, started).await
}

async fn cleanup(grant: &KmsGrant, ctx: &Context) -> Result<Action, ControllerError> {
    let name = object_name(Kind::KmsGrant, grant);
    let target = match resolve(ctx, &pointer(grant), false).await? {
        Ok(target) => target,
        Err(refusal) => {
            let note =
                format!("{}; the finalizer is removed and grant {} is left as it is", refusal.message, grant.spec.name);
            events::publish(&ctx.recorder, grant, vec![events::event(EventType::Warning, "GrantLeft", "Delete", note)])
                .await;
            ctx.forget(&name);
            return Ok(Action::await_change());
        }
    };
    let report = ctx.engine.delete_grant(GrantRequest { grant, target: Ok(&target) }, Mode::Apply).await;
    events::publish(&ctx.recorder, grant, events::events_for(&report, false)).await;
    if let Outcome::Failed(error) = &report.outcome
        && !matches!(error, EngineError::Credentials { .. } | EngineError::WrongAccount { .. })
    {
        return Err(ControllerError::Finalizer(format!("deleting {name}: {error}")));
    }
    ctx.forget(&name);
    Ok(Action::await_change())
}
