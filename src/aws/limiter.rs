//! Client-side rate limiting per (account, region, operation), so the operator stays under
//! KMS's request quotas instead of provoking throttles. One instance is shared by every worker.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::operation::Op;

/// Requests per second for each operation, KMS's defaults unless overridden.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimits {
    overrides: BTreeMap<Op, u32>,
    /// Off in tests that measure behaviour, not pacing.
    pub enabled: bool,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits { overrides: BTreeMap::new(), enabled: true }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RateLimitParseError {
    #[error("rate limit `{0}` is not OPERATION=REQUESTS_PER_SECOND (for example CreateKey=5)")]
    Syntax(String),
    #[error("rate limit `{0}` names no AWS operation the operator calls")]
    UnknownOperation(String),
    #[error("rate limit `{0}` must be a whole number of requests per second, at least 1")]
    Rate(String),
}

impl RateLimits {
    pub fn unlimited() -> Self {
        RateLimits { overrides: BTreeMap::new(), enabled: false }
    }

    pub fn with_override(mut self, op: Op, per_second: u32) -> Self {
        self.overrides.insert(op, per_second);
        self
    }

    /// Parses `CreateKey=10,DescribeKey=500` (also one entry per flag occurrence).
    pub fn parse_overrides<'a>(
        mut self,
        entries: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, RateLimitParseError> {
        for entry in entries.into_iter().flat_map(|e| e.split(',')).map(str::trim).filter(|e| !e.is_empty()) {
            let (name, rate) = entry.split_once('=').ok_or_else(|| RateLimitParseError::Syntax(entry.to_owned()))?;
            let op = Op::parse(name.trim()).ok_or_else(|| RateLimitParseError::UnknownOperation(entry.to_owned()))?;
            let rate: u32 = rate
                .trim()
                .parse()
                .ok()
                .filter(|r| *r > 0)
                .ok_or_else(|| RateLimitParseError::Rate(entry.to_owned()))?;
            self.overrides.insert(op, rate);
        }
        Ok(self)
    }

    pub fn per_second(&self, op: Op) -> u32 {
        self.overrides.get(&op).copied().unwrap_or_else(|| op.default_quota())
    }
}

type Scope = (String, String);

/// Requests a bucket may let through at once: what one request counting twice needs.
const BURST: NonZeroU32 = NonZeroU32::new(2).expect("two is not zero");

/// How one (account, region)'s quotas are being spent: what tells whether more work at once
/// could spend more of them (`aws::lanes`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuotaUse {
    /// Requests waiting now for a token of this account and region.
    pub waiting: usize,
    /// Writes so far that found their token free at once: quota that had been left unspent.
    pub unspent_writes: u64,
}

/// The shared limiter: one GCRA bucket per (account id, region) for each operation.
#[derive(Clone)]
pub struct Limiter {
    buckets: Option<Arc<Vec<DefaultKeyedRateLimiter<Scope>>>>,
    usage: Arc<Mutex<HashMap<Scope, QuotaUse>>>,
}

/// A request counted as waiting for its quota while this lives (dropped when the wait ends or
/// is given up).
struct Waiting<'a> {
    usage: &'a Mutex<HashMap<Scope, QuotaUse>>,
    scope: &'a Scope,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut usage = self.usage.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(used) = usage.get_mut(self.scope) {
            used.waiting = used.waiting.saturating_sub(1);
        }
    }
}

impl Limiter {
    pub fn new(limits: &RateLimits) -> Self {
        let usage = Arc::default();
        if !limits.enabled {
            return Limiter { buckets: None, usage };
        }
        let buckets = Op::ALL
            .iter()
            .map(|op| {
                let rate = NonZeroU32::new(limits.per_second(*op)).unwrap_or(NonZeroU32::MIN);
                // Nearly evenly spaced: KMS counts requests when they arrive, and their latency
                // varies; requests sent in a burst can arrive closer together than they left
                // and be throttled, while evenly spaced ones leave KMS's own one-second burst
                // free to absorb that jitter. Two at once, for a request that counts twice
                // (ReplicateKey's CreateKeys of its replica's region), taken together.
                RateLimiter::keyed(Quota::per_second(rate).allow_burst(rate.min(BURST)))
            })
            .collect();
        Limiter { buckets: Some(Arc::new(buckets)), usage }
    }

    /// Takes a token if one is free now, without waiting.
    pub fn try_acquire(&self, account_id: &str, region: &str, op: Op) -> bool {
        match &self.buckets {
            Some(buckets) => buckets[op.index()].check_key(&(account_id.to_owned(), region.to_owned())).is_ok(),
            None => true,
        }
    }

    /// How `account_id`'s quotas in `region` are being spent so far.
    pub fn quota_use(&self, account_id: &str, region: &str) -> QuotaUse {
        let usage = self.usage.lock().unwrap_or_else(PoisonError::into_inner);
        usage.get(&(account_id.to_owned(), region.to_owned())).copied().unwrap_or_default()
    }

    fn granted_at_once(&self, scope: &Scope, op: Op) {
        if op.is_write() {
            let mut usage = self.usage.lock().unwrap_or_else(PoisonError::into_inner);
            usage.entry(scope.clone()).or_default().unspent_writes += 1;
        }
    }

    fn waiting<'a>(&'a self, scope: &'a Scope) -> Waiting<'a> {
        let mut usage = self.usage.lock().unwrap_or_else(PoisonError::into_inner);
        usage.entry(scope.clone()).or_default().waiting += 1;
        Waiting { usage: &self.usage, scope }
    }

    /// Waits until `requests` of `op` may be counted at once in `account_id` and `region`: taken
    /// together, so that a request that counts more than once is sent right after they all
    /// are free, instead of holding some while it waits for the rest.
    pub async fn acquire_n(&self, account_id: &str, region: &str, op: Op, requests: u32) {
        let Some(requests) = NonZeroU32::new(requests) else { return };
        let scope = (account_id.to_owned(), region.to_owned());
        let Some(buckets) = &self.buckets else { return self.granted_at_once(&scope, op) };
        let bucket = &buckets[op.index()];
        match bucket.check_key_n(&scope, requests) {
            Ok(Ok(())) => self.granted_at_once(&scope, op),
            Ok(Err(_)) => {
                let _waiting = self.waiting(&scope);
                // Cannot fail: the bucket was just found able to hold `requests` at once.
                let _ = bucket.until_key_n_ready(&scope, requests).await;
            }
            Err(_) => {
                // More than a bucket holds at once: one at a time, as the quota allows.
                let _waiting = self.waiting(&scope);
                for _ in 0..requests.get() {
                    bucket.until_key_ready(&scope).await;
                }
            }
        }
    }

    /// Waits until `op` may be sent to `account_id` in `region`.
    pub async fn acquire(&self, account_id: &str, region: &str, op: Op) {
        self.acquire_n(account_id, region, op, 1).await
    }
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").field("enabled", &self.buckets.is_some()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use super::*;

    #[test]
    fn overrides_parse_and_replace_defaults() {
        let limits = RateLimits::default().parse_overrides(["CreateKey=10, describekey=50", "PutKeyPolicy=3"]).unwrap();
        assert_eq!(limits.per_second(Op::CreateKey), 10);
        assert_eq!(limits.per_second(Op::DescribeKey), 50);
        assert_eq!(limits.per_second(Op::PutKeyPolicy), 3);
        assert_eq!(limits.per_second(Op::CreateAlias), 5);
    }

    #[test]
    fn bad_overrides_say_what_is_wrong() {
        let err = RateLimits::default().parse_overrides(["CreateKey"]).unwrap_err();
        assert!(err.to_string().contains("OPERATION=REQUESTS_PER_SECOND"));
        let err = RateLimits::default().parse_overrides(["Encrypt=5"]).unwrap_err();
        assert_eq!(err, RateLimitParseError::UnknownOperation("Encrypt=5".into()));
        let err = RateLimits::default().parse_overrides(["CreateKey=0"]).unwrap_err();
        assert_eq!(err, RateLimitParseError::Rate("CreateKey=0".into()));
    }

    #[test]
    fn buckets_are_separate_per_account_region_and_operation() {
        let limiter = Limiter::new(&RateLimits::default().with_override(Op::CreateKey, 1));
        assert!(limiter.try_acquire("111111111111", "us-east-1", Op::CreateKey));
        assert!(
            !limiter.try_acquire("111111111111", "us-east-1", Op::CreateKey),
            "a second CreateKey in the same second must wait"
        );
        assert!(limiter.try_acquire("111111111111", "eu-west-1", Op::CreateKey));
        assert!(limiter.try_acquire("222222222222", "us-east-1", Op::CreateKey));
        assert!(limiter.try_acquire("111111111111", "us-east-1", Op::DescribeKey));
    }

    /// A request that counts twice takes both tokens together, and a bucket lets at most two
    /// requests through at once: KMS's own burst stays free for latency jitter.
    #[tokio::test]
    async fn a_request_counted_twice_takes_both_tokens_at_once_and_bursts_stay_small() {
        let limiter = Limiter::new(&RateLimits::default());
        limiter.acquire_n("111111111111", "us-east-1", Op::CreateKey, 2).await;
        assert!(!limiter.try_acquire("111111111111", "us-east-1", Op::CreateKey), "both were taken");
        assert!(limiter.try_acquire("111111111111", "eu-west-1", Op::CreateKey));
        assert!(limiter.try_acquire("111111111111", "eu-west-1", Op::CreateKey));
        assert!(
            !limiter.try_acquire("111111111111", "eu-west-1", Op::CreateKey),
            "a third at once would be a burst KMS may count as arriving together"
        );
    }

    /// What lanes read to decide whether to take more work at once: a write whose token was
    /// free counts as unspent quota; one that must wait counts as waiting while it waits, and
    /// no longer once it has been given up.
    #[test]
    fn quota_use_counts_writes_granted_at_once_and_requests_waiting() {
        let limiter = Limiter::new(&RateLimits::default().with_override(Op::CreateKey, 1));
        let mut context = std::task::Context::from_waker(futures::task::noop_waker_ref());
        futures::executor::block_on(limiter.acquire("111111111111", "us-east-1", Op::CreateKey));
        futures::executor::block_on(limiter.acquire("111111111111", "us-east-1", Op::DescribeKey));
        let used = limiter.quota_use("111111111111", "us-east-1");
        assert_eq!(used, QuotaUse { waiting: 0, unspent_writes: 1 }, "a read says nothing of the write quota");
        {
            let mut second = std::pin::pin!(limiter.acquire("111111111111", "us-east-1", Op::CreateKey));
            assert!(second.as_mut().poll(&mut context).is_pending(), "the quota of one per second is spent");
            assert_eq!(limiter.quota_use("111111111111", "us-east-1"), QuotaUse { waiting: 1, unspent_writes: 1 });
            assert_eq!(limiter.quota_use("111111111111", "eu-west-1"), QuotaUse::default(), "other regions apart");
        }
        assert_eq!(limiter.quota_use("111111111111", "us-east-1").waiting, 0, "a wait given up is not counted");
    }

    #[test]
    fn a_disabled_limiter_never_refuses() {
        let limiter = Limiter::new(&RateLimits::unlimited());
        assert!((0..100).all(|_| limiter.try_acquire("111111111111", "us-east-1", Op::CreateKey)));
    }
}
