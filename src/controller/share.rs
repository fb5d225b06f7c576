//! Each namespace's share of a lane's workers (`lanes.rs`). A namespace whose objects take long
//! (KMS slow to answer for them, or many of them at once) may hold at most its share of the
//! workers of an (account, region); a pass of its beyond that waits for one of the namespace's
//! own turns, before it asks for a worker, so it holds no worker and queues ahead of no other
//! namespace's pass. Waiting costs a small future: kube-runtime's pool is unbounded, and a pass
//! is made only once it has a worker.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::aws::lanes::Lane;

type Holder = (Lane, String);

/// One namespace's turns in one lane: as many as its share, which grows as the lane does.
#[derive(Debug)]
struct Turns {
    permits: Arc<Semaphore>,
    limit: usize,
}

#[derive(Debug, Default)]
pub struct NamespaceShare {
    /// By lane and namespace: as many entries as namespaces that have used each lane.
    turns: Mutex<HashMap<Holder, Turns>>,
}

/// One pass of a namespace holding one of its turns in a lane; given back when dropped.
#[derive(Debug)]
pub struct Turn {
    _held: Option<OwnedSemaphorePermit>,
}

impl NamespaceShare {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// The turns of `namespace` in `lane`, `limit` of them (more if the lane grew since).
    fn permits(&self, lane: &Lane, namespace: &str, limit: usize) -> Arc<Semaphore> {
        let limit = limit.max(1);
        let mut turns = self.turns.lock().unwrap_or_else(PoisonError::into_inner);
        let turns = turns
            .entry((lane.clone(), namespace.to_owned()))
            .or_insert_with(|| Turns { permits: Arc::new(Semaphore::new(limit)), limit });
        if limit > turns.limit {
            turns.permits.add_permits(limit - turns.limit);
            turns.limit = limit;
        }
        turns.permits.clone()
    }

    /// A turn of `namespace` in `lane` at once, if it holds fewer than `limit`.
    pub fn try_begin(&self, lane: &Lane, namespace: &str, limit: usize) -> Option<Turn> {
        self.permits(lane, namespace, limit).try_acquire_owned().ok().map(|permit| Turn { _held: Some(permit) })
    }

    /// A turn of `namespace` in `lane`, once one of its passes there gives one back (in the
    /// order asked).
    pub async fn begin(&self, lane: &Lane, namespace: &str, limit: usize) -> Turn {
        // Never closed, so this waits for a turn; without one the pass still runs.
        Turn { _held: self.permits(lane, namespace, limit).acquire_owned().await.ok() }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll};

    use super::*;

    fn lane(account_id: &str) -> Lane {
        Lane { account_id: account_id.to_owned(), region: "eu-west-1".to_owned() }
    }

    #[test]
    fn a_namespace_holds_at_most_its_share_of_a_lane_and_gives_it_back() {
        let share = NamespaceShare::new();
        let a = lane("111111111111");
        let first = share.try_begin(&a, "noisy", 2).expect("one");
        let second = share.try_begin(&a, "noisy", 2).expect("two");
        assert!(share.try_begin(&a, "noisy", 2).is_none(), "a third would exceed the share");
        let quiet = share.try_begin(&a, "quiet", 2).expect("other namespaces are not held up");
        let elsewhere = share.try_begin(&lane("222222222222"), "noisy", 2).expect("another lane has its own share");
        let grown = share.try_begin(&a, "noisy", 3).expect("a lane that grew gives a larger share");
        drop(first);
        let third = share.try_begin(&a, "noisy", 3).expect("a turn came back");
        drop((second, third, quiet, elsewhere, grown));
    }

    #[test]
    fn a_pass_beyond_its_share_waits_for_its_namespace_s_turn_only() {
        let share = NamespaceShare::new();
        let a = lane("111111111111");
        let mut context = Context::from_waker(futures::task::noop_waker_ref());
        let held = share.try_begin(&a, "noisy", 1).expect("the noisy namespace's one turn");
        let mut waiting = pin!(share.begin(&a, "noisy", 1));
        assert!(waiting.as_mut().poll(&mut context).is_pending(), "the noisy namespace holds its share");
        let quiet = share.try_begin(&a, "quiet", 1);
        assert!(quiet.is_some(), "a noisy namespace's queue is not in another namespace's way");
        drop(held);
        let turn = waiting.as_mut().poll(&mut context);
        assert!(matches!(turn, Poll::Ready(Turn { _held: Some(_) })), "the turn came back");
    }
}
