//! Sharding (`run --shard-name N --shard-selector S`): a controller writes only the objects
//! whose AwsAccount its selector matches (the account itself, its keys, and the aliases and
//! grants on those keys), and of those only the ones it has claimed (`claim.rs`). Every other
//! object is left as it is: no finalizer, no status, no Event, no AWS call. The selector is read
//! from the stores of the watches every pass already reads, so sharding costs no request but
//! the claim's one write per object, once.

mod claim;
pub mod selector;
pub mod unclaimed;
pub mod wake;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use futures::FutureExt;
use futures::future::BoxFuture;
use kube::api::Api;
use kube::core::NamespaceResourceScope;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::context::{Context, ControllerError};
use super::on_key::OnKeyResource;
use crate::api::{AwsAccount, KeyPointer, Kind, KmsKey, ObjectName};
use crate::engine::on_key::OnKey;
pub use claim::CLAIM;
use claim::Step;
pub use selector::ShardSelector;
pub use unclaimed::Unclaimed;

type Pass = BoxFuture<'static, Result<Action, ControllerError>>;

/// One shard: its name (in claims and in its Lease's name) and the accounts it writes.
#[derive(Debug)]
pub struct Shard {
    pub name: String,
    pub selector: ShardSelector,
    /// How it reports the objects no shard holds (`unclaimed.rs`).
    pub unclaimed: Unclaimed,
    /// Objects this process gave back and has not claimed again since.
    released: Mutex<BTreeSet<ObjectName>>,
}

impl Shard {
    pub fn new(name: impl Into<String>, selector: ShardSelector) -> Arc<Shard> {
        Shard::reporting(name, selector, Unclaimed::default())
    }

    pub fn reporting(name: impl Into<String>, selector: ShardSelector, unclaimed: Unclaimed) -> Arc<Shard> {
        Arc::new(Shard { name: name.into(), selector, unclaimed, released: Mutex::default() })
    }

    fn released(&self) -> std::sync::MutexGuard<'_, BTreeSet<ObjectName>> {
        self.released.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether this shard selects the account `name` as the stores show it (`None`: unknown).
    async fn selects(&self, ctx: &Context, name: Option<String>) -> Result<Option<bool>, ControllerError> {
        let Some(name) = name else { return Ok(None) };
        match ctx.account(&name).await {
            Ok(account) => Ok(account.map(|a| self.selector.matches(a.labels()))),
            // An account this binary cannot read is nobody's to claim; its holder keeps it.
            Err(ControllerError::Unreadable { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// An object that belongs to the shard of an AwsAccount.
pub trait OnAccount:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static
{
    const KIND: Kind;

    /// The AwsAccount whose labels place this object, as far as the stores know.
    fn account_name<'a>(&'a self, ctx: &'a Context) -> BoxFuture<'a, Result<Option<String>, ControllerError>>;

    fn api(&self, ctx: &Context) -> Api<Self>;
}

fn namespaced<K>(ctx: &Context, object: &K) -> Api<K>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
{
    Api::namespaced(ctx.client.clone(), &object.namespace().unwrap_or_default())
}

impl OnAccount for AwsAccount {
    const KIND: Kind = Kind::AwsAccount;

    fn account_name<'a>(&'a self, _: &'a Context) -> BoxFuture<'a, Result<Option<String>, ControllerError>> {
        futures::future::ready(Ok(Some(self.name_any()))).boxed()
    }

    fn api(&self, ctx: &Context) -> Api<Self> {
        Api::all(ctx.client.clone())
    }
}

impl OnAccount for KmsKey {
    const KIND: Kind = Kind::KmsKey;

    fn account_name<'a>(&'a self, _: &'a Context) -> BoxFuture<'a, Result<Option<String>, ControllerError>> {
        futures::future::ready(Ok(Some(self.spec.account_ref.clone()))).boxed()
    }

    fn api(&self, ctx: &Context) -> Api<Self> {
        namespaced(ctx, self)
    }
}

/// An alias's or grant's account: its KmsKey's, or the `accountRef` beside `targetKeyId`.
async fn account_of_pointer(
    ctx: &Context,
    namespace: Option<String>,
    pointer: KeyPointer<'_>,
) -> Result<Option<String>, ControllerError> {
    match ctx.account_of_pointer(&namespace.unwrap_or_default(), pointer).await {
        Ok(found) => Ok(found.map(|(account_ref, _)| account_ref)),
        Err(ControllerError::Unreadable { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

impl<T: OnKeyResource + Send + Sync> OnAccount for T {
    const KIND: Kind = <T as OnKey>::KIND;

    fn account_name<'a>(&'a self, ctx: &'a Context) -> BoxFuture<'a, Result<Option<String>, ControllerError>> {
        account_of_pointer(ctx, self.namespace(), self.pointer()).boxed()
    }

    fn api(&self, ctx: &Context) -> Api<Self> {
        namespaced(ctx, self)
    }
}

/// `reconcile`, for the objects `shard` holds; without a shard, for every object.
pub fn sharded<K, F>(shard: Option<Arc<Shard>>, reconcile: F) -> impl Fn(Arc<K>, Arc<Context>) -> Pass
where
    K: OnAccount,
    F: Fn(Arc<K>, Arc<Context>) -> Pass + Clone + Send + Sync + 'static,
{
    move |object, ctx| match shard.clone() {
        None => reconcile(object, ctx),
        Some(shard) => {
            let reconcile = reconcile.clone();
            async move {
                match step(&shard, object.as_ref(), &ctx).await? {
                    Step::Reconcile => reconcile(object, ctx).await,
                    other => act(&shard, object.as_ref(), &ctx, other).await,
                }
            }
            .boxed()
        }
    }
}

async fn step<K: OnAccount>(shard: &Shard, object: &K, ctx: &Context) -> Result<Step, ControllerError> {
    let name = ObjectName::of(K::KIND, object.meta());
    let selected = shard.selects(ctx, object.account_name(ctx).await?).await?;
    let released = shard.released().contains(&name);
    Ok(claim::decide(&shard.name, claim::holder(object), selected, released))
}

/// The steps other than a pass: a claim or a release, each alone in its pass, or nothing.
async fn act<K: OnAccount>(shard: &Shard, object: &K, ctx: &Context, step: Step) -> Result<Action, ControllerError> {
    let name = ObjectName::of(K::KIND, object.meta());
    match step {
        Step::Claim => {
            claim::write(&object.api(ctx), object, Some(&shard.name)).await?;
            shard.released().remove(&name);
            tracing::info!(object = %name, shard = %shard.name, "claimed for this shard");
        }
        Step::Release => {
            claim::write(&object.api(ctx), object, None).await?;
            shard.released().insert(name.clone());
            ctx.forget(&name);
            tracing::info!(object = %name, shard = %shard.name, "its account left this shard: released, untouched");
        }
        Step::Reconcile | Step::LeaveAlone => {}
    }
    // The claim's own change (or the other shard's) starts the next pass.
    Ok(Action::await_change())
}
