//! Requeue delays: jittered resync for healthy resources, capped exponential backoff per
//! resource for failing ones.

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
}

impl Requeue {
    pub fn new(resync: Duration, base: Duration, cap: Duration) -> Self {
        Requeue { resync, base, cap, failures: Mutex::new(HashMap::new()) }
    }

    /// After a good pass: forget past failures, come back after the resync period, jittered
    /// by up to 10% so a thousand resources do not all wake in the same second.
    pub fn success(&self, object: &ObjectName) -> Duration {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(object);
        let jitter = self.resync.mul_f64(rand::random_range(0.0..0.1));
        self.resync + jitter
    }

    /// After a failed pass: base × 2^(failures - 1), capped, with full jitter on the top half.
    pub fn failure(&self, object: &ObjectName) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let count = failures.entry(object.clone()).or_insert(0);
        *count = count.saturating_add(1);
        let ceiling = self.base.saturating_mul(2u32.saturating_pow((*count - 1).min(20))).min(self.cap);
        ceiling.mul_f64(rand::random_range(0.5..=1.0))
    }

    pub fn failures(&self, object: &ObjectName) -> u32 {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).get(object).copied().unwrap_or(0)
    }

    pub fn forget(&self, object: &ObjectName) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(object);
    }

    pub fn forget_where(&self, gone: impl Fn(&ObjectName) -> bool) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).retain(|object, _| !gone(object));
    }

    /// Objects with failures on record.
    pub fn tracked(&self) -> usize {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).len()
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
}
