//! Requeue delays: jittered resync for healthy resources, capped exponential backoff per
//! resource for failing ones, and a second, separate backoff for refused ones.
//!
//! Refusals count apart from failures because most of them wait for another object (an alias
//! for its key, a key for its account), whose change starts the next pass anyway: an alias
//! refused half a dozen times while its key was being created had, on one count, reached the
//! 300 s cap before its first call to AWS, so the first timeout of that call put its next pass
//! minutes away. (One suspect of the stall seen once in a 1,000-object `controller_fleet` run
//! under load; that stall's cause was not found, docs/performance.md.)

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::api::ObjectName;

#[derive(Debug)]
pub struct Requeue {
    resync: Duration,
    base: Duration,
    cap: Duration,
    failures: Mutex<HashMap<ObjectName, u32>>,
    refusals: Mutex<HashMap<ObjectName, u32>>,
}

/// One more in a row for `object`: the delay `base` x 2^(count - 1), capped, with full jitter on
/// the top half.
fn next_delay(
    counts: &Mutex<HashMap<ObjectName, u32>>,
    object: &ObjectName,
    base: Duration,
    cap: Duration,
) -> Duration {
    let mut counts = counts.lock().unwrap_or_else(|e| e.into_inner());
    let count = counts.entry(object.clone()).or_insert(0);
    *count = count.saturating_add(1);
    let ceiling = base.saturating_mul(2u32.saturating_pow((*count - 1).min(20))).min(cap);
    ceiling.mul_f64(rand::random_range(0.5..=1.0))
}

impl Requeue {
    pub fn new(resync: Duration, base: Duration, cap: Duration) -> Self {
        Requeue { resync, base, cap, failures: Mutex::default(), refusals: Mutex::default() }
    }

    /// After a good pass: forget past failures and refusals, come back after the resync period,
    /// jittered by up to 10% so a thousand resources do not all wake in the same second.
    pub fn success(&self, object: &ObjectName) -> Duration {
        self.forget(object);
        let jitter = self.resync.mul_f64(rand::random_range(0.0..0.1));
        self.resync + jitter
    }

    /// After a failed pass: base × 2^(failures - 1), capped, with full jitter on the top half.
    pub fn failure(&self, object: &ObjectName) -> Duration {
        next_delay(&self.failures, object, self.base, self.cap)
    }

    /// After a refused pass that waiting may mend: the same backoff, on the object's refusals.
    pub fn refusal(&self, object: &ObjectName) -> Duration {
        next_delay(&self.refusals, object, self.base, self.cap)
    }

    pub fn failures(&self, object: &ObjectName) -> u32 {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).get(object).copied().unwrap_or(0)
    }

    pub fn forget(&self, object: &ObjectName) {
        self.forget_where(|o| o == object);
    }

    pub fn forget_where(&self, gone: impl Fn(&ObjectName) -> bool) {
        for counts in [&self.failures, &self.refusals] {
            counts.lock().unwrap_or_else(|e| e.into_inner()).retain(|object, _| !gone(object));
        }
    }

    /// Objects with failures or refusals on record.
    pub fn tracked(&self) -> usize {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let refusals = self.refusals.lock().unwrap_or_else(|e| e.into_inner());
        failures.len() + refusals.keys().filter(|o| !failures.contains_key(*o)).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Kind;

    #[test]
    fn failures_back_off_exponentially_up_to_the_cap_and_success_resets() {
        let requeue = Requeue::new(Duration::from_secs(600), Duration::from_secs(5), Duration::from_secs(300));
        let object = ObjectName::new(Kind::KmsKey, Some("ns"), "k");
        let delays: Vec<Duration> = (0..10).map(|_| requeue.failure(&object)).collect();
        assert!(delays[0] <= Duration::from_secs(5) && delays[0] >= Duration::from_millis(2500));
        assert!(delays[3] <= Duration::from_secs(40) && delays[3] >= Duration::from_secs(20));
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(300)));
        assert!(delays[9] >= Duration::from_secs(150), "capped, not reset");
        assert_eq!(requeue.failures(&object), 10);
        let next = requeue.success(&object);
        assert!(next >= Duration::from_secs(600) && next <= Duration::from_secs(660));
        assert_eq!(requeue.failures(&object), 0);
    }

    #[test]
    fn refusals_back_off_on_their_own_count_so_the_first_failure_after_them_is_short() {
        let requeue = Requeue::new(Duration::from_secs(600), Duration::from_secs(5), Duration::from_secs(300));
        let alias = ObjectName::new(Kind::KmsAlias, Some("ns"), "a");
        let waits: Vec<Duration> = (0..8).map(|_| requeue.refusal(&alias)).collect();
        assert!(waits[7] >= Duration::from_secs(150), "refusals back off too: {waits:?}");
        assert_eq!(requeue.failures(&alias), 0, "a refusal is no failure");
        assert!(requeue.failure(&alias) <= Duration::from_secs(5), "the first failure after them starts at the base");
        assert_eq!(requeue.tracked(), 1);
        requeue.success(&alias);
        assert_eq!(requeue.tracked(), 0, "success forgets both");
        assert!(requeue.refusal(&alias) <= Duration::from_secs(5), "and refusals start again at the base");
    }
}
