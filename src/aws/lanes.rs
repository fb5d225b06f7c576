//! Workers per lane, one lane per (account, region): KMS's quotas are per account and region,
//! so work waiting for one account's quota must not hold a worker another account's work could
//! use, and each lane takes as many workers as it can keep busy spending its quota.
//!
//! A lane starts with `floor` workers and takes one more when one of its passes ends while other
//! work of the lane waits and its quota went unspent: a write of the lane found its token free
//! (the bucket had filled up unused) since it last grew, and no request of the lane is waiting
//! for a token now. Once requests queue for the quota, more workers would only queue there too,
//! so the lane stops growing; and a lane whose passes never end (an endpoint that does not
//! answer) never grows. Bounded by `ceiling`, as each worker's pass holds memory and a
//! connection to the endpoint.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::limiter::{Limiter, QuotaUse};

/// Where a pass spends its quota: (account id, region). Empty parts when not known before the
/// pass looks (an account that is missing): such passes share a lane.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lane {
    pub account_id: String,
    pub region: String,
}

/// How many workers a lane starts with, and how many it may grow to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Staffing {
    pub floor: usize,
    pub ceiling: usize,
}

/// How far a lane may grow past its first workers.
pub const GROWTH: usize = 8;

impl Staffing {
    /// `floor` workers per lane to start with, up to [`GROWTH`] times as many.
    pub fn from_floor(floor: usize) -> Self {
        let floor = floor.max(1);
        Staffing { floor, ceiling: floor.saturating_mul(GROWTH) }
    }

    /// Exactly `workers` per lane, never more.
    pub fn fixed(workers: usize) -> Self {
        Staffing { floor: workers.max(1), ceiling: workers.max(1) }
    }
}

/// How a lane's quota is being spent.
pub type QuotaGauge = Arc<dyn Fn(&Lane) -> QuotaUse + Send + Sync>;

struct LaneState {
    permits: Arc<Semaphore>,
    growth: Mutex<Growth>,
}

struct Growth {
    workers: usize,
    /// Work of the lane waited (for a worker, or for its share of the lane) since a worker was
    /// last given back.
    wanted: bool,
    /// The lane's unspent writes when it last grew: it grows again only on newer ones.
    unspent_seen: u64,
}

struct Shared {
    staffing: Staffing,
    gauge: QuotaGauge,
    lanes: Mutex<HashMap<Lane, Arc<LaneState>>>,
}

/// The workers of every lane of one kind of work. Cheap to clone; clones share the lanes.
#[derive(Clone)]
pub struct LaneWorkers(Arc<Shared>);

/// One worker of a lane, given back when dropped.
pub struct Worker {
    permit: Option<OwnedSemaphorePermit>,
    lane: Lane,
    state: Arc<LaneState>,
    shared: Arc<Shared>,
}

impl LaneWorkers {
    /// Lanes whose quota use `limiter` reports.
    pub fn new(staffing: Staffing, limiter: Limiter) -> Self {
        let gauge: QuotaGauge = Arc::new(move |lane: &Lane| limiter.quota_use(&lane.account_id, &lane.region));
        Self::with_gauge(staffing, gauge)
    }

    pub fn with_gauge(staffing: Staffing, gauge: QuotaGauge) -> Self {
        let staffing = Staffing { floor: staffing.floor.max(1), ceiling: staffing.ceiling.max(staffing.floor.max(1)) };
        LaneWorkers(Arc::new(Shared { staffing, gauge, lanes: Mutex::new(HashMap::new()) }))
    }

    fn state(&self, lane: &Lane) -> Arc<LaneState> {
        let mut lanes = self.0.lanes.lock().unwrap_or_else(PoisonError::into_inner);
        let floor = self.0.staffing.floor;
        lanes
            .entry(lane.clone())
            .or_insert_with(|| {
                Arc::new(LaneState {
                    permits: Arc::new(Semaphore::new(floor)),
                    growth: Mutex::new(Growth { workers: floor, wanted: false, unspent_seen: 0 }),
                })
            })
            .clone()
    }

    /// A worker of `lane`, once one is free (in the order asked). Work waiting for one lane's
    /// worker holds nothing of another lane's.
    pub async fn enter(&self, lane: &Lane) -> Worker {
        let state = self.state(lane);
        let permit = match state.permits.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                state.wanted();
                // Never closed, so this waits for a permit; without one the work still runs.
                state.permits.clone().acquire_owned().await.ok()
            }
        };
        Worker { permit, lane: lane.clone(), state, shared: self.0.clone() }
    }

    /// Work of `lane` is waiting, though not for a worker (a pass put off for its namespace's
    /// share of the lane): the lane may grow when one of its passes ends.
    pub fn work_waiting(&self, lane: &Lane) {
        self.state(lane).wanted();
    }

    /// The lane's workers now: its floor, and what it has grown by.
    pub fn workers(&self, lane: &Lane) -> usize {
        self.state(lane).workers()
    }

    /// Workers of the lane busy now.
    pub fn busy(&self, lane: &Lane) -> usize {
        let state = self.state(lane);
        state.workers().saturating_sub(state.permits.available_permits())
    }
}

impl LaneState {
    fn workers(&self) -> usize {
        self.growth.lock().unwrap_or_else(PoisonError::into_inner).workers
    }

    fn wanted(&self) {
        self.growth.lock().unwrap_or_else(PoisonError::into_inner).wanted = true;
    }
}

impl Shared {
    /// After a worker of the lane was given back.
    fn grow_if_unspent(&self, lane: &Lane, state: &LaneState) {
        let used = (self.gauge)(lane);
        let mut growth = state.growth.lock().unwrap_or_else(PoisonError::into_inner);
        // Its permit went at once to work queued in the lane, if any.
        let queued = state.permits.available_permits() == 0;
        let wanted = std::mem::take(&mut growth.wanted) || queued;
        if wanted
            && used.waiting == 0
            && used.unspent_writes > growth.unspent_seen
            && growth.workers < self.staffing.ceiling
        {
            growth.workers += 1;
            growth.unspent_seen = used.unspent_writes;
            state.permits.add_permits(1);
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        drop(self.permit.take());
        self.shared.grow_if_unspent(&self.lane, &self.state);
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::Context;

    use super::*;

    fn lane(account_id: &str) -> Lane {
        Lane { account_id: account_id.to_owned(), region: "eu-west-1".to_owned() }
    }

    /// A gauge the test sets by hand: counts, not time, decide.
    fn gauge() -> (QuotaGauge, Arc<Mutex<HashMap<Lane, QuotaUse>>>) {
        let uses = Arc::new(Mutex::new(HashMap::<Lane, QuotaUse>::new()));
        let read = uses.clone();
        (Arc::new(move |lane: &Lane| read.lock().unwrap().get(lane).copied().unwrap_or_default()), uses)
    }

    /// One poll: the output if ready (kept, so a worker it holds stays held).
    fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Option<F::Output> {
        let mut context = Context::from_waker(futures::task::noop_waker_ref());
        match future.poll(&mut context) {
            std::task::Poll::Ready(output) => Some(output),
            std::task::Poll::Pending => None,
        }
    }

    #[test]
    fn a_lane_grows_while_its_quota_goes_unspent_and_not_while_requests_wait_for_it() {
        let (gauge, uses) = gauge();
        let workers = LaneWorkers::with_gauge(Staffing { floor: 2, ceiling: 4 }, gauge);
        let a = lane("A");
        let mut held: Vec<Worker> = (0..2).map(|_| futures::executor::block_on(workers.enter(&a))).collect();
        let mut queued: Vec<_> = (0..4).map(|_| Box::pin(workers.enter(&a))).collect();
        assert!(queued.iter_mut().all(|q| poll_once(q.as_mut()).is_none()), "two workers, both busy");

        // A pass ends while work queues, and no write has found its quota unspent: no growth.
        held.remove(0);
        held.extend(poll_once(queued.remove(0).as_mut()));
        assert_eq!((workers.workers(&a), workers.busy(&a)), (2, 2));

        // A write found its token free and nothing waits for the quota: the next pass to end
        // gives the lane one more worker, for the work first in line.
        uses.lock().unwrap().insert(a.clone(), QuotaUse { waiting: 0, unspent_writes: 1 });
        assert_eq!(workers.workers(&a), 2, "growing waits for a pass to end");
        held.remove(0);
        assert_eq!(workers.workers(&a), 3, "the lane grew by one worker");
        held.extend(queued.drain(..2).filter_map(|mut q| poll_once(q.as_mut())));
        assert_eq!(workers.busy(&a), 3, "the two first in line run");

        // Requests now queue for the quota: more workers would queue there too.
        uses.lock().unwrap().insert(a.clone(), QuotaUse { waiting: 3, unspent_writes: 5 });
        held.remove(0);
        held.extend(poll_once(queued[0].as_mut()));
        assert_eq!(workers.workers(&a), 3, "a lane whose requests wait for their quota does not grow");

        // Unspent again: it grows, up to its ceiling and no further.
        for unspent in 6..10 {
            uses.lock().unwrap().insert(a.clone(), QuotaUse { waiting: 0, unspent_writes: unspent });
            workers.work_waiting(&a);
            held.remove(0);
            held.push(futures::executor::block_on(workers.enter(&a)));
        }
        assert_eq!(workers.workers(&a), 4, "the ceiling bounds the lane");
    }

    #[test]
    fn a_lane_grows_once_per_write_that_found_its_quota_unspent() {
        let (gauge, uses) = gauge();
        let workers = LaneWorkers::with_gauge(Staffing { floor: 1, ceiling: 8 }, gauge);
        let a = lane("A");
        uses.lock().unwrap().insert(a.clone(), QuotaUse { waiting: 0, unspent_writes: 1 });
        for _ in 0..5 {
            workers.work_waiting(&a);
            drop(futures::executor::block_on(workers.enter(&a)));
        }
        assert_eq!(workers.workers(&a), 2, "one unspent write is one more worker, however many passes end");
    }

    #[test]
    fn a_lane_whose_passes_never_end_never_grows() {
        let (gauge, uses) = gauge();
        let workers = LaneWorkers::with_gauge(Staffing { floor: 1, ceiling: 8 }, gauge);
        let a = lane("A");
        uses.lock().unwrap().insert(a.clone(), QuotaUse { waiting: 0, unspent_writes: 100 });
        let _stuck = futures::executor::block_on(workers.enter(&a));
        let mut queued: Vec<_> = (0..10).map(|_| Box::pin(workers.enter(&a))).collect();
        workers.work_waiting(&a);
        assert!(queued.iter_mut().all(|q| poll_once(q.as_mut()).is_none()));
        assert_eq!(workers.workers(&a), 1, "an endpoint that never answers gets no more passes");
    }

    #[test]
    fn a_lane_whose_quota_is_spent_holds_no_worker_of_another_lane() {
        let (gauge, uses) = gauge();
        let workers = LaneWorkers::with_gauge(Staffing { floor: 1, ceiling: 8 }, gauge);
        let (a, b) = (lane("A"), lane("B"));
        uses.lock().unwrap().insert(a.clone(), QuotaUse { waiting: 5, unspent_writes: 0 });
        let held_a = futures::executor::block_on(workers.enter(&a));
        let mut second_a = pin!(workers.enter(&a));
        assert!(poll_once(second_a.as_mut()).is_none(), "A's quota is spent and its one worker busy");
        let held_b = futures::executor::block_on(workers.enter(&b));
        assert_eq!((workers.busy(&a), workers.busy(&b)), (1, 1), "B's work runs beside A's");
        drop(held_a);
        let next_a = poll_once(second_a.as_mut());
        assert!(next_a.is_some(), "A's next work takes the worker A gave back");
        assert_eq!(workers.workers(&a), 1, "A never grew: its requests wait for their quota");
        drop((held_b, next_a));
    }

    #[test]
    fn a_worker_given_back_to_queued_work_grows_the_lane_if_quota_went_unspent() {
        let (gauge, uses) = gauge();
        let workers = LaneWorkers::with_gauge(Staffing { floor: 1, ceiling: 8 }, gauge);
        let a = lane("A");
        let first = futures::executor::block_on(workers.enter(&a));
        let mut second = pin!(workers.enter(&a));
        let mut third = pin!(workers.enter(&a));
        assert!(poll_once(second.as_mut()).is_none() && poll_once(third.as_mut()).is_none());
        uses.lock().unwrap().insert(a.clone(), QuotaUse { waiting: 0, unspent_writes: 1 });
        drop(first);
        assert_eq!(workers.workers(&a), 2, "work still queued and quota unspent: one more worker");
        let running = (poll_once(second.as_mut()), poll_once(third.as_mut()));
        assert!(running.0.is_some() && running.1.is_some(), "both queued passes run");
        assert_eq!(workers.busy(&a), 2);
    }
}
