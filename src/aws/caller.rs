//! The one path every AWS call takes: wait for a rate-limit token, count the call, classify
//! a failure, and retry what is safe to retry.

use std::future::Future;
use std::sync::Arc;

use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use futures::future::BoxFuture;

use super::error::{AwsError, ErrorKind, classify};
use super::limiter::{Limiter, RateLimits};
use super::operation::Op;
use super::retry::RetryPolicy;
use super::stats::CallStats;

/// Asked right before each attempt of a request is sent, once the attempt's quota token is
/// taken, so that nothing of unbounded length (the wait for quota, the retries' backoff) comes
/// between its answer and the send: the engine keeps its record of an intent to create fresh
/// here. `false` withholds the attempt and ends the call `NotSent`: nothing reached AWS.
pub type SendGuard<'a> = &'a (dyn Fn() -> BoxFuture<'a, bool> + Send + Sync);

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
        self.attempts(account_id, region, op, &[], None, send).await
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
        send: F,
    ) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.attempts(account_id, region, op, also, None, send).await
    }

    /// Like [`CallContext::call`], with `guard` asked before each attempt leaves.
    pub async fn call_guarded<T, E, F, Fut>(
        &self,
        account_id: &str,
        region: &str,
        op: Op,
        guard: SendGuard<'_>,
        send: F,
    ) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.attempts(account_id, region, op, &[], Some(guard), send).await
    }

    async fn attempts<T, E, F, Fut>(
        &self,
        account_id: &str,
        region: &str,
        op: Op,
        also: &[(&str, Op, u32)],
        guard: Option<SendGuard<'_>>,
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
            if let Some(guard) = guard
                && !guard().await
            {
                return Err(AwsError::new(op, ErrorKind::NotSent, "withheld by the operator before it was sent"));
            }
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use aws_sdk_kms::config::http::HttpResponse;
    use aws_sdk_kms::error::ErrorMetadata;
    use aws_sdk_kms::operation::create_key::CreateKeyError;
    use futures::FutureExt;

    use super::*;
    use crate::aws::RateLimits;

    fn throttled() -> SdkError<CreateKeyError> {
        let meta = ErrorMetadata::builder().code("ThrottlingException").message("Rate exceeded").build();
        SdkError::service_error(CreateKeyError::generic(meta), HttpResponse::new(400.try_into().unwrap(), "".into()))
    }

    #[tokio::test]
    async fn the_guard_is_asked_before_every_attempt_and_can_withhold_it() {
        let ctx = CallContext::new(&RateLimits::unlimited(), RetryPolicy::fast());
        let (asked, sent) = (AtomicU32::new(0), AtomicU32::new(0));
        // Says yes twice, then no: two throttled attempts leave, the third does not.
        let guard = || async { asked.fetch_add(1, Ordering::SeqCst) < 2 }.boxed();
        let result = ctx
            .call_guarded("111122223333", "eu-west-1", Op::CreateKey, &guard, || {
                sent.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>(throttled()) }
            })
            .await;
        assert_eq!(result.map_err(|e| e.kind), Err(ErrorKind::NotSent));
        assert_eq!((asked.into_inner(), sent.into_inner()), (3, 2));
        assert_eq!(ctx.stats.calls(Op::CreateKey), 2, "a withheld attempt is not counted as a call");
    }
}
