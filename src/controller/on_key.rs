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
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::admission::Purpose;
use super::context::{Context, ControllerError, Refusal, object_name};
use super::finalizer::{Finalized, finalized};
use super::key::FINALIZER;
use super::status::api_for;
use super::{deletion, events, gate};
use crate::api::{AwsAccount, Reason};
use crate::engine::on_key::OnKey;
use crate::engine::{Mode, Outcome};

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

/// Boxed with an explicit `Send`: kube-runtime spawns reconciles onto the runtime.
pub fn reconcile<T: OnKeyResource>(
    object: Arc<T>,
    ctx: Arc<Context>,
) -> BoxFuture<'static, Result<Action, ControllerError>> {
    async move {
        if gate::needs_admission(object.as_ref(), FINALIZER)
            && let Some(refused) = admit_before_finalizer(object.as_ref(), &ctx).await?
        {
            return Ok(refused);
        }
        let api = api_for(&ctx.client, object.as_ref());
        finalized(
            &api,
            FINALIZER,
            object,
            |meta| ctx.seen.expect(T::KIND, meta),
            |event| {
                // Owned, not borrowed: the future must be Send for every lifetime.
                let ctx = ctx.clone();
                async move {
                    match event {
                        Finalized::Apply(object) => apply(object.as_ref(), &ctx).await,
                        Finalized::Cleanup(object) => cleanup(object.as_ref(), &ctx).await,
                    }
                }
            },
        )
        .await
    }
    .boxed()
}

/// `Some(action)` when the object is not admitted, checked with reads only.
async fn admit_before_finalizer<T: OnKeyResource>(
    object: &T,
    ctx: &Context,
) -> Result<Option<Action>, ControllerError> {
    pass(object, ctx, Mode::Plan).await
}

async fn apply<T: OnKeyResource>(object: &T, ctx: &Context) -> Result<Action, ControllerError> {
    Ok(pass(object, ctx, Mode::Apply).await?.unwrap_or_else(Action::await_change))
}

/// Admission, then the engine in `mode`. `None` only from a read-only pass that admits the
/// object to its finalizer; every other pass records its outcome and says when to come back.
async fn pass<T: OnKeyResource>(object: &T, ctx: &Context, mode: Mode) -> Result<Option<Action>, ControllerError> {
    let started = Instant::now();
    let api = api_for(&ctx.client, object);
    let name = object_name(T::KIND, object);
    let previous = object.current_status();
    let admitted = match ctx.admit_on_key(object, Purpose::Converge).await? {
        Ok(admitted) => admitted,
        Err(refusal) if mode == Mode::Apply && T::WITHDRAWN_WHEN_REFUSED && refusal.reason == Reason::NotPermitted => {
            return withdraw(object, ctx, refusal, started).await.map(Some);
        }
        Err(refusal) => return ctx.refuse(&api, object, &name, previous, refusal, started).await.map(Some),
    };
    let report = object.converge(&ctx.engine, admitted.context(), mode).await;
    if mode == Mode::Plan && gate::admits(&report) {
        return Ok(None);
    }
    let related = events::reference::<AwsAccount>(None, &admitted.target.account.name);
    ctx.finish(&api, object, &name, previous, report, Some(&related), started).await.map(Some)
}

/// An admitted object its account's rules now refuse (a grantee whose account was taken out of
/// `principalAccounts`, say): what it made is removed, not kept, since nobody permits it any
/// more; the refusal is recorded as for any refused object.
async fn withdraw<T: OnKeyResource>(
    object: &T,
    ctx: &Context,
    refusal: Refusal,
    started: Instant,
) -> Result<Action, ControllerError> {
    let api = api_for(&ctx.client, object);
    let name = object_name(T::KIND, object);
    let previous = object.current_status();
    let admitted = match ctx.admit_on_key(object, Purpose::Remove).await? {
        Ok(admitted) => admitted,
        Err(_) => return ctx.refuse(&api, object, &name, previous, refusal, started).await,
    };
    let report = object.remove(&ctx.engine, admitted.context(), Mode::Apply).await;
    if let Outcome::Failed(error) = &report.outcome {
        tracing::warn!(object = %name, %error, "could not remove what a refused object made; retrying");
        ctx.metrics.error(&name, error.reason());
        return ctx.refuse(&api, object, &name, previous, refusal, started).await;
    }
    events::publish(&ctx.recorder, object, events::events_for(&report, false, None)).await;
    ctx.refuse_as(&api, object, &name, previous, report.status, refusal, started).await
}

async fn cleanup<T: OnKeyResource>(object: &T, ctx: &Context) -> Result<Action, ControllerError> {
    let name = object_name(T::KIND, object);
    let admitted = match ctx.admit_on_key(object, Purpose::Remove).await? {
        Ok(admitted) => admitted,
        Err(refusal) => {
            // Nothing may, or can, find the key any more: let the object go, and say what stays.
            let note =
                format!("{}; the finalizer is removed and {} is left as it is", refusal.message, object.name_in_kms());
            events::publish(
                &ctx.recorder,
                object,
                vec![events::event(EventType::Warning, Reason::LeftInKms, "Delete", note)],
            )
            .await;
            ctx.forget(&name);
            return Ok(Action::await_change());
        }
    };
    let report = object.remove(&ctx.engine, admitted.context(), Mode::Apply).await;
    deletion::finish(ctx, object, &name, &report, FINALIZER).await
}
