//! The HTTP endpoints: /metrics for Prometheus, /healthz for liveness, /readyz for readiness.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use super::metrics::Metrics;

#[derive(Clone)]
pub struct Health {
    metrics: Metrics,
    /// Set once the process has connected to Kubernetes and is serving (leading or standing by).
    ready: Arc<AtomicBool>,
}

impl Health {
    pub fn new(metrics: Metrics) -> Self {
        Health { metrics, ready: Arc::new(AtomicBool::new(false)) }
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }
}

async fn metrics(State(health): State<Health>) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    let content_type = ("content-type", "application/openmetrics-text; version=1.0.0; charset=utf-8");
    (StatusCode::OK, [content_type], health.metrics.render())
}

async fn readyz(State(health): State<Health>) -> (StatusCode, &'static str) {
    if health.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n")
    }
}

pub fn router(health: Health) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(health)
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    addr: SocketAddr,
    health: Health,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving /metrics, /healthz and /readyz");
    axum::serve(listener, router(health)).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;
    use crate::aws::CallStats;

    async fn get(router: Router, path: &str) -> (StatusCode, String) {
        let response = router.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn health_readiness_and_metrics() {
        let health = Health::new(Metrics::new(Arc::new(CallStats::default())));
        assert_eq!(get(router(health.clone()), "/healthz").await.0, StatusCode::OK);
        assert_eq!(get(router(health.clone()), "/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE);
        health.set_ready(true);
        assert_eq!(get(router(health.clone()), "/readyz").await.0, StatusCode::OK);
        let (status, text) = get(router(health), "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(text.contains("kms_operator_aws_calls_total"), "{text}");
        assert!(text.contains("kms_operator_resources"), "{text}");
    }
}
