//! Polling for what the controllers do in the background. The deadline only keeps a broken
//! build from hanging a test: nothing is asserted on time.

use std::future::Future;
use std::time::Duration;

/// Polls `probe` every 100 ms until it returns a value; fails the test naming `what` after a
/// minute.
pub async fn until<T, F, Fut>(what: &str, probe: F) -> T
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// [`until`] for a condition the test's assertions name themselves.
pub async fn wait_for<T, F, Fut>(probe: F) -> T
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    until("the condition waited for", probe).await
}
