//! Client-side rate limiting per (account, region, operation), so the operator stays under
//! KMS's request quotas instead of provoking throttles. One instance is shared by every worker.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

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

/// Requests a bucket may let through at once, unless one request counts for more.
const BURST: u32 = 2;

/// How much later than the limiter let it go a request may reach KMS (signing, connecting,
/// a busy machine). KMS counts a request when it arrives; where KMS's bucket holds no more than
/// the limiter lets through at once (quotas of one or two per second), a request that arrives
/// early relative to the one before is throttled, so the next request waits this much longer.
/// Where KMS's bucket has room to spare, that room absorbs it instead.
const ARRIVAL_JITTER: Duration = Duration::from_millis(50);

/// How one (account, region)'s quotas are being spent: what tells whether more work at once
/// could spend more of them (`aws::lanes`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuotaUse {
    /// Requests waiting now for a token of this account and region.
    pub waiting: usize,
    /// Writes so far that found their token free at once: quota that had been left unspent.
    pub unspent_writes: u64,
}

/// One (account, region, operation)'s quota, counted as KMS counts it
/// (https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html): a bucket
/// refilled at the quota that holds one second of it, or what one request counts for if more
/// (a ReplicateKey counts as two CreateKey requests in its replica's Region). The limiter lets
/// at most [`BURST`] requests through at once of that second.
struct Bucket {
    interval: Duration,
    burst: u32,
    quota: u32,
    /// When the bucket last held nothing: it holds one token per `interval` since, up to its
    /// capacity. Locked by the request being let through, waits included, so requests of a
    /// scope go in the order they asked (tokio's mutex is fair): a request that counts twice
    /// is never overtaken while it waits for its second token, and holds none while it waits.
    empty_at: tokio::sync::Mutex<Option<Instant>>,
}

impl Bucket {
    fn new(per_second: u32) -> Self {
        let quota = per_second.max(1);
        Bucket {
            interval: Duration::from_secs(1) / quota,
            burst: quota.min(BURST),
            quota,
            empty_at: tokio::sync::Mutex::new(None),
        }
    }

    /// When a request counting `requests` may leave, given when the bucket was last empty.
    fn ready_at(&self, empty_at: Option<Instant>, requests: u32, now: Instant) -> Instant {
        let capacity = self.burst.max(requests);
        // KMS's bucket holds a second of quota, or the request's count if more: what it has
        // beyond what this bucket lets through at once absorbs late arrivals.
        let room = self.interval * (self.quota.max(requests) - capacity);
        let full_since = now.checked_sub(self.interval * capacity).unwrap_or(now);
        let start = empty_at.map_or(full_since, |at| (at + ARRIVAL_JITTER.saturating_sub(room)).max(full_since));
        start + self.interval * requests
    }
}

type Buckets = HashMap<(Scope, Op), Arc<Bucket>>;

/// The shared limiter: one bucket per (account id, region) for each operation.
#[derive(Clone)]
pub struct Limiter {
    /// Each operation's quota; `None` when not limited.
    quotas: Option<Arc<BTreeMap<Op, u32>>>,
    buckets: Arc<Mutex<Buckets>>,
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
        let quotas = limits.enabled.then(|| Arc::new(Op::ALL.iter().map(|op| (*op, limits.per_second(*op))).collect()));
        Limiter { quotas, buckets: Arc::default(), usage: Arc::default() }
    }

    fn bucket(&self, scope: &Scope, op: Op) -> Option<Arc<Bucket>> {
        let per_second = *self.quotas.as_ref()?.get(&op)?;
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        Some(buckets.entry((scope.clone(), op)).or_insert_with(|| Arc::new(Bucket::new(per_second))).clone())
    }

    /// Takes a token if one is free now, without waiting.
    pub fn try_acquire(&self, account_id: &str, region: &str, op: Op) -> bool {
        let Some(bucket) = self.bucket(&(account_id.to_owned(), region.to_owned()), op) else { return true };
        let Ok(mut empty_at) = bucket.empty_at.try_lock() else { return false };
        let now = Instant::now();
        let ready = bucket.ready_at(*empty_at, 1, now);
        if ready > now {
            return false;
        }
        *empty_at = Some(ready);
        true
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

    /// Waits until a request of `account_id` that KMS counts in each of `counts` (region,
    /// operation, requests) may be counted in all of them at once, as KMS counts it when it
    /// arrives: a ReplicateKey counts once in its own Region and as two CreateKey in its
    /// replica's. It takes nothing of any of them until it leaves, and is sent right then.
    pub async fn acquire_all(&self, account_id: &str, counts: &[(&str, Op, u32)]) {
        let mut buckets = Vec::with_capacity(counts.len());
        for (region, op, requests) in counts.iter().filter(|(_, _, requests)| *requests > 0) {
            let scope = (account_id.to_owned(), (*region).to_owned());
            match self.bucket(&scope, *op) {
                Some(bucket) => buckets.push((scope, *op, *requests, bucket)),
                None => self.granted_at_once(&scope, *op),
            }
        }
        // Locked in one order: two requests counted in the same scopes never each hold a bucket
        // the other waits for.
        buckets.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        let mut held = Vec::with_capacity(buckets.len());
        for (scope, _, _, bucket) in &buckets {
            held.push(match bucket.empty_at.try_lock() {
                Ok(free) => free,
                Err(_) => {
                    let _waiting = self.waiting(scope);
                    bucket.empty_at.lock().await
                }
            });
        }
        let now = Instant::now();
        let ready_at =
            |now| buckets.iter().zip(&held).map(move |((_, _, n, bucket), at)| bucket.ready_at(**at, *n, now));
        let ready = ready_at(now).max().unwrap_or(now);
        if ready > now {
            let _waiting: Vec<_> = buckets
                .iter()
                .zip(ready_at(now))
                .filter(|(_, at)| *at > now)
                .map(|((scope, ..), _)| self.waiting(scope))
                .collect();
            tokio::time::sleep_until(ready).await;
        } else {
            buckets.iter().for_each(|(scope, op, ..)| self.granted_at_once(scope, *op));
        }
        // Counted from when it really leaves: a wake-up later than asked (a busy machine) is
        // time KMS's bucket, if full, could not store either.
        let left: Vec<_> = ready_at(Instant::now()).collect();
        for (at, left) in held.iter_mut().zip(left) {
            **at = Some(left);
        }
    }

    /// Waits until `op` may be sent to `account_id` in `region`.
    pub async fn acquire(&self, account_id: &str, region: &str, op: Op) {
        self.acquire_all(account_id, &[(region, op, 1)]).await
    }
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").field("enabled", &self.quotas.is_some()).finish()
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
        limiter.acquire_all("111111111111", &[("us-east-1", Op::CreateKey, 2)]).await;
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
    #[tokio::test(start_paused = true)]
    async fn quota_use_counts_writes_granted_at_once_and_requests_waiting() {
        let limiter = Limiter::new(&RateLimits::default().with_override(Op::CreateKey, 1));
        let mut context = std::task::Context::from_waker(futures::task::noop_waker_ref());
        limiter.acquire("111111111111", "us-east-1", Op::CreateKey).await;
        limiter.acquire("111111111111", "us-east-1", Op::DescribeKey).await;
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

    /// KMS as its quota page documents it, for one (account, region, operation): `per_second`
    /// requests a second, a request counting as `n` requests (ReplicateKey: two CreateKey of
    /// its replica's Region) taking `n` at once; a bucket of one second of quota, or of one
    /// request's count if that is more. Written apart from the limiter, as the proxy's is.
    struct KmsQuota {
        per_second: f64,
        tokens: f64,
        counted_at: Option<Instant>,
        throttled: usize,
        counted: usize,
    }

    impl KmsQuota {
        fn new(per_second: u32) -> Self {
            KmsQuota { per_second: f64::from(per_second), tokens: 0.0, counted_at: None, throttled: 0, counted: 0 }
        }

        fn arrive(&mut self, n: u32, at: Instant) {
            let (n, capacity) = (f64::from(n), self.per_second.max(f64::from(n)));
            self.tokens = match self.counted_at {
                None => capacity,
                Some(last) => (self.tokens + self.per_second * (at - last).as_secs_f64()).min(capacity),
            };
            self.counted_at = Some(at);
            if self.tokens + 1e-9 >= n {
                self.tokens -= n;
                self.counted += n as usize;
            } else {
                self.throttled += 1;
            }
        }
    }

    /// The fleet benchmark's scaled run in small, with a third Region: at one request a second,
    /// primary keys created in eu-west-1 and ReplicateKeys from us-east-1 into eu-west-1 and
    /// ap-southeast-1 (each one ReplicateKey in us-east-1 and two CreateKey in its replica's
    /// Region, its own quota then as busy as its replicas') ask at once; each request reaches
    /// KMS a little later than the limiter let it go, by a delay that varies. KMS throttles none
    /// of them, and eu-west-1's CreateKey quota is spent at its pace: no second left unspent
    /// but the allowance for late arrivals.
    #[tokio::test(start_paused = true)]
    async fn at_one_request_a_second_kms_throttles_nothing_and_the_quota_is_spent() {
        let limits = RateLimits::default().with_override(Op::CreateKey, 1).with_override(Op::ReplicateKey, 1);
        let limiter = Limiter::new(&limits);
        let kms: Arc<Mutex<HashMap<(&'static str, Op), KmsQuota>>> = Arc::default();
        let start = Instant::now();
        let requests: Vec<_> = (0u32..30)
            .map(|i| {
                let (limiter, kms) = (limiter.clone(), kms.clone());
                let counts = match i % 3 {
                    0 => vec![("eu-west-1", Op::CreateKey, 1)],
                    1 => vec![("us-east-1", Op::ReplicateKey, 1), ("eu-west-1", Op::CreateKey, 2)],
                    _ => vec![("us-east-1", Op::ReplicateKey, 1), ("ap-southeast-1", Op::CreateKey, 2)],
                };
                // Up to 40 ms on the way, in no order.
                let delay = Duration::from_millis(u64::from(i * 17 % 41));
                tokio::spawn(async move {
                    limiter.acquire_all("111111111111", &counts).await;
                    tokio::time::sleep(delay).await;
                    let mut kms = kms.lock().unwrap();
                    for (region, op, n) in counts {
                        kms.entry((region, op)).or_insert_with(|| KmsQuota::new(1)).arrive(n, Instant::now());
                    }
                })
            })
            .collect();
        for request in requests {
            request.await.unwrap();
        }
        let kms = kms.lock().unwrap();
        let throttled: Vec<_> =
            kms.iter().filter(|(_, quota)| quota.throttled > 0).map(|(scope, q)| (*scope, q.throttled)).collect();
        assert_eq!(throttled, vec![], "KMS throttled requests the limiter let through");
        let eu_west_1 = &kms[&("eu-west-1", Op::CreateKey)];
        assert_eq!(eu_west_1.counted, 30, "10 CreateKey and 10 ReplicateKey, each counted twice");
        // Its first request goes at once; the other 29 counts take 29 s at the quota, and each
        // of its 20 requests may wait the allowance for a late arrival.
        let took = eu_west_1.counted_at.unwrap() - start;
        let most = Duration::from_secs(29) + ARRIVAL_JITTER * 20 + Duration::from_millis(40);
        assert!(took >= Duration::from_secs(28), "faster than the quota: {took:?}");
        assert!(took <= most, "quota left unspent: {took:?}, at most {most:?}");
    }

    /// At KMS's own quotas its bucket has room beyond the limiter's two at once: that room takes
    /// late arrivals, and the limiter paces at the quota exactly.
    #[tokio::test(start_paused = true)]
    async fn where_kms_has_room_to_spare_requests_go_at_the_quota_exactly() {
        let limiter = Limiter::new(&RateLimits::default());
        let start = Instant::now();
        for _ in 0..12 {
            limiter.acquire("111111111111", "eu-west-1", Op::CreateKey).await;
        }
        assert_eq!(Instant::now() - start, Duration::from_secs(2), "two at once, then one each 200 ms");
    }

    /// A request that waits takes nothing: given up, it leaves the quota to the next, in every
    /// scope it would have been counted in.
    #[tokio::test(start_paused = true)]
    async fn a_wait_given_up_takes_no_token() {
        let limits = RateLimits::default().with_override(Op::CreateKey, 1).with_override(Op::ReplicateKey, 1);
        let limiter = Limiter::new(&limits);
        let twice = [("eu-west-1", Op::CreateKey, 2)];
        limiter.acquire_all("111111111111", &twice).await;
        let given_up =
            tokio::time::timeout(Duration::from_millis(500), limiter.acquire_all("111111111111", &twice)).await;
        assert!(given_up.is_err(), "two counts need two seconds");
        let start = Instant::now();
        limiter.acquire("111111111111", "eu-west-1", Op::CreateKey).await;
        assert_eq!(
            Instant::now() - start,
            Duration::from_millis(500) + ARRIVAL_JITTER,
            "one second after the first, plus the allowance"
        );

        // A ReplicateKey waiting for its own Region's quota holds none of its replica's.
        limiter.acquire("111111111111", "us-east-1", Op::ReplicateKey).await;
        let replicate = [("us-east-1", Op::ReplicateKey, 1), ("ap-southeast-1", Op::CreateKey, 2)];
        let given_up =
            tokio::time::timeout(Duration::from_millis(500), limiter.acquire_all("111111111111", &replicate)).await;
        assert!(given_up.is_err(), "us-east-1's ReplicateKey quota is spent for a second");
        let start = Instant::now();
        limiter.acquire_all("111111111111", &[("ap-southeast-1", Op::CreateKey, 2)]).await;
        assert_eq!(Instant::now(), start, "ap-southeast-1's CreateKey quota is whole");
    }

    #[test]
    fn a_disabled_limiter_never_refuses() {
        let limiter = Limiter::new(&RateLimits::unlimited());
        assert!((0..100).all(|_| limiter.try_acquire("111111111111", "us-east-1", Op::CreateKey)));
    }
}
