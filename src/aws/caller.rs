//! The one path every AWS call takes: wait for a rate-limit token, count the call, classify
//! a failure, and retry what is safe to retry.

use std::future::Future;
use std::sync::Arc;

use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};

use super::error::{AwsError, ErrorKind, classify};
use super::limiter::{Limiter, RateLimits};
use super::operation::Op;
use super::retry::RetryPolicy;
use super::stats::CallStats;

/// Shared by every client of one process (or one local-mode run).
#[derive(Clone, Debug)]
pub struct CallContext {
    pub limiter: Limiter,
    pub stats: Arc<CallStats>,
    pub retry: RetryPolicy,
}

impl CallContext {
    pub fn new(limits: &RateLimits, retry: RetryPolicy) -> Self {
        CallContext { limiter: Limiter::new(limits), stats: Arc::new(CallStats::default()), retry }
    }

    /// Sends one request (through `send`, called again for each attempt) to `account_id` in `region`.
    pub async fn call<T, E, F, Fut>(&self, account_id: &str, region: &str, op: Op, send: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.call_spending(account_id, region, op, &[], send).await
    }

    /// Like [`CallContext::call`], for a request that KMS also counts against other quotas of
    /// the same account (`also`: region, operation, requests), as ReplicateKey spends CreateKey
    /// requests of its replica's region. Every attempt spends them, as every attempt that
    /// reaches KMS is counted there.
    pub async fn call_spending<T, E, F, Fut>(
        &self,
        account_id: &str,
        region: &str,
        op: Op,
        also: &[(&str, Op, u32)],
        mut send: F,
    ) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        // Every count taken at once, right before the request leaves: KMS counts them all when
        // it arrives, and a count taken early would be a count KMS makes later than the limiter.
        let counts: Vec<(&str, Op, u32)> = std::iter::once((region, op, 1)).chain(also.iter().copied()).collect();
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.limiter.acquire_all(account_id, &counts).await;
            self.stats.record_call(op);
            let error = match send().await {
                Ok(output) => return Ok(output),
                Err(error) => classify(op, error),
            };
            self.stats.record_failure(op);
            if error.kind == ErrorKind::Throttled {
                self.stats.record_throttle(op);
            }
            if !self.retry.should_retry(op, &error, attempt) {
                tracing::debug!(%op, account_id, region, attempt, error = %error, "AWS call failed");
                return Err(error);
            }
            let delay = self.retry.delay(attempt);
            tracing::debug!(%op, account_id, region, attempt, ?delay, error = %error, "retrying AWS call");
            tokio::time::sleep(delay).await;
        }
    }
}
