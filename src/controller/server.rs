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
