//! The controller's passes in lanes of (account, region), as local mode's (`aws::lanes`): KMS's
//! quotas are per account and region, so a pass waiting for one account's quota holds a worker
//! of that account's lane only, and every lane grows while its quota goes unspent. kube-runtime
//! starts every pass that is due (its own pool is unbounded); a pass then waits for a worker of
//! its lane before it does anything, so what waits costs a small future, not a pass.
//!
//! Within a lane, one namespace may hold its share of the lane's workers (`share.rs`): beyond
//! it, its pass waits for one of its own namespace's turns before it asks for a worker, so a
//! namespace with thousands of objects queued cannot keep another namespace's one object
//! waiting behind them. (Passes were once put off with a requeue of about 2 s instead: at
//! 10,000 objects in one namespace that was thousands of requeues a second, and the
//! controller's CPU, not KMS's quota, bound the fleet.)

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use kube::Resource;
use kube::runtime::controller::Action;

use super::context::{Context, ControllerError};
use super::share::NamespaceShare;
use crate::api::{AwsAccount, Kind, KmsAlias, KmsGrant, KmsKey};
use crate::aws::Limiter;
use crate::aws::lanes::{Lane, LaneWorkers, Staffing};
use crate::engine::on_key::OnKey;

type Pass = BoxFuture<'static, Result<Action, ControllerError>>;

/// The lanes of one kind: their workers, and each namespace's share of them.
#[derive(Clone)]
pub struct PassLanes {
    workers: LaneWorkers,
    share: Arc<NamespaceShare>,
    /// Workers a lane starts with, and of those, how many one namespace may hold; a namespace's
    /// share grows in proportion as the lane does.
    floor: usize,
    namespace_share: usize,
}

impl PassLanes {
    pub fn new(workers_per_lane: usize, namespace_share: usize, limiter: Limiter) -> Self {
        let staffing = Staffing::from_floor(workers_per_lane);
        PassLanes {
            workers: LaneWorkers::new(staffing, limiter),
            share: NamespaceShare::new(),
            floor: staffing.floor,
            namespace_share: namespace_share.clamp(1, staffing.floor),
        }
    }

    /// Workers of `lane` one namespace may hold now.
    fn namespace_limit(&self, lane: &Lane) -> usize {
        (self.namespace_share * self.workers.workers(lane) / self.floor).max(1)
    }
}

/// Where a pass over an object spends its quota, read from the watches' stores. An object
/// whose account or key is not known yet goes to the lane of unknowns (its pass will say why).
pub trait InLane {
    fn lane(&self, ctx: &Context) -> impl Future<Output = Lane> + Send;
}

async fn account_lane(ctx: &Context, account_ref: &str, region: Option<&str>) -> Lane {
    match ctx.account(account_ref).await {
        Ok(Some(AwsAccount { spec, .. })) => {
            Lane { region: region.map_or(spec.region, str::to_owned), account_id: spec.account_id }
        }
        _ => Lane::default(),
    }
}

impl InLane for KmsKey {
    async fn lane(&self, ctx: &Context) -> Lane {
        account_lane(ctx, &self.spec.account_ref, self.spec.region.as_deref()).await
    }
}

/// An alias's or grant's lane: its key's account, in its own region if it names one.
async fn on_key_lane<T: OnKey + Resource>(object: &T, ctx: &Context) -> Lane {
    let namespace = object.meta().namespace.as_deref().unwrap_or_default();
    match ctx.account_of_pointer(namespace, object.pointer()).await {
        Ok(Some((account_ref, region))) => account_lane(ctx, &account_ref, region.as_deref()).await,
        _ => Lane::default(),
    }
}

impl InLane for KmsAlias {
    async fn lane(&self, ctx: &Context) -> Lane {
        on_key_lane(self, ctx).await
    }
}

impl InLane for KmsGrant {
    async fn lane(&self, ctx: &Context) -> Lane {
        on_key_lane(self, ctx).await
    }
}

/// `reconcile`, run on a worker of the object's lane once its namespace holds less than its
/// share of that lane.
pub fn in_lanes<K, F>(kind: Kind, lanes: PassLanes, reconcile: F) -> impl Fn(Arc<K>, Arc<Context>) -> Pass + Clone
where
    K: InLane + Resource + Send + Sync + 'static,
    F: Fn(Arc<K>, Arc<Context>) -> Pass + Send + Sync + 'static,
{
    let reconcile = Arc::new(reconcile);
    move |object, ctx| {
        let (lanes, reconcile) = (lanes.clone(), reconcile.clone());
        async move {
            let lane = object.lane(&ctx).await;
            let namespace = object.meta().namespace.clone().unwrap_or_default();
            let limit = lanes.namespace_limit(&lane);
            let turn = match lanes.share.try_begin(&lane, &namespace, limit) {
                Some(turn) => turn,
                None => {
                    lanes.workers.work_waiting(&lane);
                    ctx.metrics.deferred(kind);
                    lanes.share.begin(&lane, &namespace, limit).await
                }
            };
            let worker = lanes.workers.enter(&lane).await;
            if ctx.engine.is_stopping() {
                // Shutting down: only passes already under way drain; one that was still
                // waiting for a worker has started nothing, and the next leader runs it.
                return Ok(Action::await_change());
            }
            // Made only now: a pass's future is large, and thousands may wait for a worker.
            let result = reconcile(object, ctx).await;
            drop((worker, turn));
            result
        }
        .boxed()
    }
}
