//! When and how long to wait before calling AWS again.

use std::time::Duration;

use super::error::{AwsError, ErrorKind};
use super::operation::Op;

#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts for throttled calls; they had no effect, so any operation may be repeated.
    pub throttle_attempts: u32,
    /// Attempts for idempotent calls after a server or network failure.
    pub transient_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            throttle_attempts: 12,
            transient_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// Quick retries for tests against a local server.
    pub fn fast() -> Self {
        RetryPolicy {
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(200),
            ..RetryPolicy::default()
        }
    }

    /// `attempt` counts from 1 for the call that just failed.
    pub fn should_retry(&self, op: Op, error: &AwsError, attempt: u32) -> bool {
        match error.kind {
            ErrorKind::Throttled => attempt < self.throttle_attempts,
            // A create that may have happened is not repeated here: the engine looks first.
            ErrorKind::ServerError | ErrorKind::Network => op.is_idempotent() && attempt < self.transient_attempts,
            _ => false,
        }
    }

    /// Full-jitter exponential backoff: uniform in [0, min(max, base * 2^attempt)].
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::random_range(0..=millis))
    }

    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(16));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(kind: ErrorKind) -> AwsError {
        AwsError::new(Op::CreateKey, kind, "x")
    }

    #[test]
    fn throttled_creates_are_retried_but_failed_creates_are_not() {
        let policy = RetryPolicy::default();
        assert!(policy.should_retry(Op::CreateKey, &error(ErrorKind::Throttled), 1));
        assert!(!policy.should_retry(Op::CreateKey, &error(ErrorKind::Network), 1));
        assert!(!policy.should_retry(Op::CreateKey, &error(ErrorKind::ServerError), 1));
        assert!(policy.should_retry(Op::PutKeyPolicy, &error(ErrorKind::Network), 1));
        assert!(!policy.should_retry(Op::PutKeyPolicy, &error(ErrorKind::AccessDenied), 1));
    }

    #[test]
    fn attempts_are_bounded() {
        let policy = RetryPolicy::default();
        assert!(!policy.should_retry(Op::DescribeKey, &error(ErrorKind::Throttled), policy.throttle_attempts));
        assert!(!policy.should_retry(Op::DescribeKey, &error(ErrorKind::Network), policy.transient_attempts));
    }

    #[test]
    fn backoff_grows_then_caps_and_stays_in_range() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.ceiling(1), Duration::from_millis(200));
        assert_eq!(policy.ceiling(3), Duration::from_millis(800));
        assert_eq!(policy.ceiling(30), policy.max_delay);
        for attempt in 1..10 {
            assert!(policy.delay(attempt) <= policy.ceiling(attempt));
        }
    }
}
