//! Work spread over lanes, one per (account, region): KMS's quotas are per account and region,
//! so a resource waiting for its account's quota must not hold a worker that another account's
//! resources could use. Each lane has its own workers, and takes more while its quota goes
//! unspent (`aws::lanes`), so the workers of a run grow with the (account, region) pairs that
//! have work and with what each can spend, and a slow or throttled pair holds up only its own
//! lane.

use std::future::Future;

pub use crate::aws::lanes::{Lane, LaneWorkers};

/// Runs `task` for every item, each on a worker of its item's lane, every lane side by side;
/// results in the items' order.
pub async fn each_in_lanes<'a, T, R, Fut>(
    items: &'a [T],
    lane_of: impl Fn(&T) -> Lane,
    workers: &LaneWorkers,
    task: impl Fn(&'a T) -> Fut,
) -> Vec<R>
where
    Fut: Future<Output = R>,
{
    let task = &task;
    let runs = items.iter().map(|item| {
        let lane = lane_of(item);
        async move {
            let _worker = workers.enter(&lane).await;
            // Made only once it has a worker, and on the heap: a key's pass is a future of
            // hundreds of kilobytes in a debug build, and a few of them polled inline side by
            // side overflow a thread's stack.
            Box::pin(task(item)).await
        }
    });
    futures::future::join_all(runs).await
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::sync::Mutex;
    use std::task::{Context, Poll};

    use super::*;
    use crate::aws::lanes::Staffing;
    use crate::aws::{Limiter, Op, RateLimits};

    fn fixed(workers: usize) -> LaneWorkers {
        LaneWorkers::new(Staffing::fixed(workers), Limiter::new(&RateLimits::unlimited()))
    }

    fn lane(account_id: &str) -> Lane {
        Lane { account_id: account_id.to_owned(), region: "eu-west-1".to_owned() }
    }

    /// Account A's work cannot go on (its quota is spent: here, a gate that only the end of B's
    /// work opens), and A's items come first with more of them than a lane has workers. B's
    /// work still runs to the end: with one pool of workers shared by every account, A's
    /// items would hold all of them and nothing would ever finish. The run is polled by hand
    /// a bounded number of times (each poll moves every runnable item on), so a deadlock
    /// fails the test instead of hanging it, and no duration is measured.
    #[test]
    fn one_accounts_blocked_work_holds_no_worker_of_another_account() {
        let items: Vec<(&str, usize)> = (0..8).map(|i| ("A", i)).chain((0..8).map(|i| ("B", i))).collect();
        let gate = tokio::sync::watch::Sender::new(false);
        let finished = Mutex::new(Vec::new());
        let b_total = items.iter().filter(|(account, _)| *account == "B").count();
        let workers = fixed(2);
        let run = each_in_lanes(
            &items,
            |(account, _)| lane(account),
            &workers,
            |(account, i)| {
                let (gate, finished) = (&gate, &finished);
                async move {
                    if *account == "A" {
                        let _ = gate.subscribe().wait_for(|open| *open).await;
                    }
                    let mut finished = finished.lock().unwrap();
                    finished.push((*account, *i));
                    if finished.iter().filter(|(a, _)| *a == "B").count() == b_total {
                        gate.send_replace(true);
                    }
                    (*account, *i)
                }
            },
        );
        let mut run = pin!(run);
        let mut context = Context::from_waker(futures::task::noop_waker_ref());
        let results = (0..100)
            .find_map(|_| match run.as_mut().poll(&mut context) {
                Poll::Ready(results) => Some(results),
                Poll::Pending => None,
            })
            .expect("B's work must finish while A's cannot: A may hold only its own lane's workers");
        assert_eq!(results, items, "results come back in the items' order");
        let finished = finished.lock().unwrap().clone();
        let first_a = finished.iter().position(|(a, _)| *a == "A").expect("A finishes too");
        assert_eq!(first_a, b_total, "every B item finished before any A item: {finished:?}");
    }

    #[tokio::test]
    async fn a_lane_runs_at_most_its_workers_at_once() {
        let items: Vec<(&str, usize)> = (0..10).map(|i| (if i % 2 == 0 { "A" } else { "B" }, i)).collect();
        let running = Mutex::new(std::collections::BTreeMap::<&str, (usize, usize)>::new());
        each_in_lanes(
            &items,
            |(account, _)| lane(account),
            &fixed(3),
            |(account, _)| {
                let running = &running;
                async move {
                    {
                        let mut running = running.lock().unwrap();
                        let (now, peak) = running.entry(*account).or_default();
                        *now += 1;
                        *peak = (*peak).max(*now);
                    }
                    tokio::task::yield_now().await;
                    running.lock().unwrap().get_mut(account).expect("entered").0 -= 1;
                }
            },
        )
        .await;
        let running = running.into_inner().unwrap();
        assert_eq!(running["A"].1, 3, "lane A used its three workers, no more: {running:?}");
        assert_eq!(running["B"].1, 3, "lane B used its own three beside A's: {running:?}");
    }

    /// Every task spends a write whose token is free (the quota goes unspent): the lane takes
    /// more workers as its passes finish, up to its ceiling. Counted, not timed.
    #[tokio::test(flavor = "current_thread")]
    async fn a_lane_with_work_and_unspent_quota_takes_more_workers_up_to_its_ceiling() {
        let limiter = Limiter::new(&RateLimits::unlimited());
        let workers = LaneWorkers::new(Staffing { floor: 2, ceiling: 6 }, limiter.clone());
        let items: Vec<usize> = (0..40).collect();
        let running = Mutex::new((0usize, 0usize));
        each_in_lanes(
            &items,
            |_| lane("A"),
            &workers,
            |_| {
                let (running, limiter) = (&running, &limiter);
                async move {
                    limiter.acquire("A", "eu-west-1", Op::CreateKey).await;
                    {
                        let mut running = running.lock().unwrap();
                        running.0 += 1;
                        running.1 = running.1.max(running.0);
                    }
                    for _ in 0..4 {
                        tokio::task::yield_now().await;
                    }
                    running.lock().unwrap().0 -= 1;
                }
            },
        )
        .await;
        assert_eq!(workers.workers(&lane("A")), 6, "the lane grew to its ceiling");
        assert_eq!(running.lock().unwrap().1, 6, "and ran that many at once, no more");
    }
}
