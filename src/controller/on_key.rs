//! The KmsAlias and KmsGrant controllers: one reconcile for both, since both live on a key
//! that must be resolved first (and must exist before they can).

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use futures::future::BoxFuture;
use kube::Resource;
use kube::core::NamespaceResourceScope;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{Event as Finalized, finalizer};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::context::{Context, ControllerError, Refusal, object_name};
use super::events;
use super::key::FINALIZER;
use super::status::api_for;
use super::targets::resolve;
use crate::engine::on_key::OnKey;
use crate::engine::{EngineError, Mode, Outcome};

/// What the controller needs of a kind besides `OnKey`.
pub trait OnKeyResource:
    OnKey
    + Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + 'static
{
}

impl<T> OnKeyResource for T where
    T: OnKey
        + Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned
        + 'static
{
}

fn namespace<T: Resource>(object: &T) -> &str {
    object.meta().namespace.as_deref().unwrap_or("default")
}

/// Boxed with an explicit `Send`: kube-runtime spawns reconciles onto the runtime.
pub fn reconcile<T: OnKeyResource>(
    object: Arc<T>,
    ctx: Arc<Context>,
) -> BoxFuture<'static, Result<Action, ControllerError>> {
    async move {
        let api = api_for(&ctx.client, object.as_ref());
        finalizer(&api, FINALIZER, object, |event| {
            // Owned, not borrowed: the future must be Send for every lifetime.
            let ctx = ctx.clone();
            async move {
                match event {
                    Finalized::Apply(object) => apply(object.as_ref(), &ctx).await,
                    Finalized::Cleanup(object) => cleanup(object.as_ref(), &ctx).await,
                }
            }
        })
        .await
        .map_err(|e| ControllerError::Finalizer(e.to_string()))
    }
    .boxed()
}

pub fn error_policy<T: OnKeyResource>(object: Arc<T>, error: &ControllerError, ctx: Arc<Context>) -> Action {
    ctx.error_policy(&object_name(T::KIND, object.as_ref()), error)
}

async fn apply<T: OnKeyResource>(object: &T, ctx: &Context) -> Result<Action, ControllerError> {
    let started = Instant::now();
    let api = api_for(&ctx.client, object);
    let name = object_name(T::KIND, object);
    let previous = object.current_status();
    let issues = object.issues();
    if !issues.is_empty() {
        let message = issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        return ctx.refuse(&api, object, &name, previous, Refusal::new("InvalidSpec", message, false), started).await;
    }
    let target = match resolve(ctx, namespace(object), object.pointer(), true).await? {
        Ok(target) => target,
        Err(refusal) => return ctx.refuse(&api, object, &name, previous, refusal, started).await,
    };
    let report = object.converge(&ctx.engine, Ok(&target), Mode::Apply).await;
    ctx.finish(&api, object, &name, previous, report, started).await
}

async fn cleanup<T: OnKeyResource>(object: &T, ctx: &Context) -> Result<Action, ControllerError> {
    let name = object_name(T::KIND, object);
    let target = match resolve(ctx, namespace(object), object.pointer(), false).await? {
        Ok(target) => target,
        Err(refusal) => {
            // Nothing can find the key any more: let the object go, and say what stays in KMS.
            let note =
                format!("{}; the finalizer is removed and {} is left as it is", refusal.message, object.name_in_kms());
            events::publish(
                &ctx.recorder,
                object,
                vec![events::event(EventType::Warning, "LeftInKms", "Delete", note)],
            )
            .await;
            ctx.forget(&name);
            return Ok(Action::await_change());
        }
    };
    let report = object.remove(&ctx.engine, Ok(&target), Mode::Apply).await;
    events::publish(&ctx.recorder, object, events::events_for(&report, false)).await;
    if let Outcome::Failed(error) = &report.outcome
        && !matches!(error, EngineError::Credentials { .. } | EngineError::WrongAccount { .. })
    {
        return Err(ControllerError::Finalizer(format!("deleting {name}: {error}")));
    }
    ctx.forget(&name);
    Ok(Action::await_change())
}
