//! `just bench`: the controller converging a fleet of N KmsKey + KmsAlias pairs created in the
//! in-memory Kubernetes API, against a local KMS server behind a proxy that enforces KMS's
//! default request quotas; then a restarted controller's first pass over the converged fleet
//! (every object reconciled once, as on a resync). Prints time against the quota-bound minimum,
//! Kubernetes API requests per object, KMS calls per key, and the process's peak memory.
//!
//!     cargo bench --bench controller_fleet -- 100

#[allow(dead_code)]
#[path = "../tests/support/fake_kube/mod.rs"]
mod fake_kube;
#[allow(dead_code)]
#[path = "../tests/support/moto.rs"]
mod moto;
#[allow(dead_code)]
#[path = "../tests/support/proxy.rs"]
mod proxy;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use fake_kube::FakeKube;
use kms_operator::api::{AwsAccount, KmsAlias, KmsKey};
use kms_operator::aws::{CallContext, CallSummary, ClientPool, Op, RateLimits, RetryPolicy, Timeouts};
use kms_operator::controller::backoff::Requeue;
use kms_operator::controller::context::Context;
use kms_operator::controller::metrics::Metrics;
use kms_operator::controller::{ControllerOptions, run_controllers};
use kms_operator::engine::{Engine, EngineSettings};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::events::{Recorder, Reporter};
use serde_json::json;
use tokio::sync::watch;

/// The controller's default.
const CONCURRENCY: u16 = 16;
const NAMESPACE: &str = "fleet";

async fn engine() -> Engine {
    let base = aws_config::defaults(BehaviorVersion::latest())
        .credentials_provider(Credentials::new("bench", "bench", None, None, "bench"))
        .region(Region::new("eu-west-1"))
        .load()
        .await;
    let ctx = CallContext::new(&RateLimits::default(), RetryPolicy::default());
    // As `kms-operator run` builds it: shared listings refreshed every minute.
    let settings = EngineSettings { listing_ttl: Some(Duration::from_secs(60)), ..EngineSettings::default() };
    Engine::new(ClientPool::with_base_config(base, ctx, Timeouts::default()), settings)
}

/// A controller process: its own engine and caches on the shared API server.
async fn controller(fake: &FakeKube) -> Arc<Context> {
    let client = fake.client_named("controller");
    let engine = engine().await;
    let metrics = Metrics::new(engine.calls().stats.clone());
    let reporter = Reporter { controller: "kms-operator".into(), instance: Some("bench".into()) };
    Arc::new(Context {
        recorder: Recorder::new(client.clone(), reporter),
        client,
        engine,
        metrics,
        requeue: Requeue::new(Duration::from_secs(600), Duration::from_secs(5), Duration::from_secs(300)),
        quiet_retries: 3,
    })
}

async fn create_fleet(fake: &FakeKube, endpoint: &str, n: usize) {
    let client = fake.client_named("bench");
    let post = PostParams::default();
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}});
    Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .create(&post, &serde_json::from_value(namespace).expect("namespace"))
        .await
        .expect("create namespace");
    let account = json!({"apiVersion": "kmsoperator.dev/v1alpha1", "kind": "AwsAccount", "metadata": {"name": "fleet"},
        "spec": {"accountId": "123456789012", "region": "eu-west-1", "endpointUrl": endpoint, "allowedNamespaces": {}}});
    Api::<AwsAccount>::all(client.clone())
        .create(&post, &serde_json::from_value(account).expect("account"))
        .await
        .expect("create account");
    let keys: Api<KmsKey> = Api::namespaced(client.clone(), NAMESPACE);
    let aliases: Api<KmsAlias> = Api::namespaced(client, NAMESPACE);
    for i in 0..n {
        let key = json!({"apiVersion": "kmsoperator.dev/v1alpha1", "kind": "KmsKey",
            "metadata": {"name": format!("key-{i}"), "namespace": NAMESPACE},
            "spec": {"accountRef": "fleet", "description": format!("fleet key {i}"),
                "tags": {"Fleet": "bench", "Index": i.to_string()},
                "policy": {"users": [format!("arn:aws:iam::123456789012:role/app-{i}")]}}});
        keys.create(&post, &serde_json::from_value(key).expect("key")).await.expect("create key");
        let alias = json!({"apiVersion": "kmsoperator.dev/v1alpha1", "kind": "KmsAlias",
            "metadata": {"name": format!("alias-{i}"), "namespace": NAMESPACE},
            "spec": {"name": format!("alias/fleet/key-{i}"), "keyRef": {"name": format!("key-{i}")}}});
        aliases.create(&post, &serde_json::from_value(alias).expect("alias")).await.expect("create alias");
    }
}

fn ready(conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition]) -> bool {
    conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True")
}

async fn ready_count(fake: &FakeKube) -> (usize, usize) {
    let client = fake.client_named("bench");
    let keys = Api::<KmsKey>::namespaced(client.clone(), NAMESPACE).list(&ListParams::default()).await.expect("keys");
    let aliases = Api::<KmsAlias>::namespaced(client, NAMESPACE).list(&ListParams::default()).await.expect("aliases");
    let keys = keys.items.iter().filter(|k| k.status.as_ref().is_some_and(|s| ready(&s.conditions))).count();
    let aliases = aliases.items.iter().filter(|a| a.status.as_ref().is_some_and(|s| ready(&s.conditions))).count();
    (keys, aliases)
}

/// Reconciles the controller has finished for `kind`, from its own metrics.
fn reconciled(ctx: &Context, kind: &str) -> u64 {
    let prefix = format!("kms_operator_reconciles_total{{kind=\"{kind}\"");
    ctx.metrics
        .render()
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum::<f64>() as u64
}

/// Kubernetes API requests of the controller, by what they were.
fn kube_requests(fake: &FakeKube, since: usize) -> BTreeMap<&'static str, usize> {
    let mut by_kind = BTreeMap::new();
    for seen in fake.requests().iter().skip(since).filter(|r| r.client == "controller") {
        let what = match (seen.method.as_str(), seen.path.as_str()) {
            ("GET", _) if seen.query.contains("watch=") => "watch",
            ("GET", _) => "get/list",
            ("PATCH", path) if path.ends_with("/status") => "status write",
            (_, path) if path.contains("/events") => "event",
            ("PATCH", _) => "metadata write (finalizer)",
            _ => "other",
        };
        *by_kind.entry(what).or_default() += 1;
    }
    by_kind
}

fn per_key(calls: &CallSummary, n: usize) -> String {
    calls
        .by_operation
        .iter()
        .map(|(op, count)| format!("{op} {:.2}", *count as f64 / n as f64))
        .collect::<Vec<_>>()
        .join(", ")
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// The least time KMS's quotas allow for the writes that reached KMS: operations have their
/// own quotas, so the busiest one bounds the whole.
fn quota_bound(proxy: &proxy::FaultProxy) -> Duration {
    let seconds = Op::ALL
        .iter()
        .filter(|op| op.is_write())
        .map(|op| proxy.forwarded(op.name()) as f64 / f64::from(op.default_quota()))
        .fold(0.0, f64::max);
    Duration::from_secs_f64(seconds)
}

/// Runs controllers on `ctx` until `done` says so, then shuts them down.
async fn run_until(ctx: Arc<Context>, mut done: impl AsyncFnMut() -> bool) -> Duration {
    let (stop, shutdown) = watch::channel(false);
    let options = ControllerOptions { watch_namespace: None, concurrency: CONCURRENCY };
    let started = Instant::now();
    let controllers = tokio::spawn(async move { run_controllers(ctx, &options, shutdown).await });
    while !done().await {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let took = started.elapsed();
    let _ = stop.send(true);
    let _ = controllers.await;
    took
}

async fn bench(n: usize) {
    let kms = moto::Moto::start();
    let proxy = proxy::FaultProxy::start(kms.port).await;
    for op in Op::ALL.iter().filter(|op| **op != Op::GetCallerIdentity) {
        proxy.enforce_quota(op.name(), f64::from(op.default_quota()));
    }
    let fake = FakeKube::new();
    create_fleet(&fake, &proxy.endpoint(), n).await;

    let first = controller(&fake).await;
    let requests_before = fake.requests().len();
    let converge = run_until(first.clone(), async || ready_count(&fake).await == (n, n)).await;
    let converge_calls = first.engine.calls().stats.snapshot();
    let converge_requests = kube_requests(&fake, requests_before);
    let bound = quota_bound(&proxy);

    let restarted = controller(&fake).await;
    let requests_before = fake.requests().len();
    let watched = restarted.clone();
    let resync = run_until(restarted.clone(), async || {
        reconciled(&watched, "KmsKey") >= n as u64 && reconciled(&watched, "KmsAlias") >= n as u64
    })
    .await;
    let resync_calls = restarted.engine.calls().stats.snapshot();
    let resync_requests = kube_requests(&fake, requests_before);

    println!("== controller, fleet of {n} keys + {n} aliases, concurrency {CONCURRENCY}, KMS default quotas enforced");
    println!(
        "converge: {:>8.1} s  quota-bound minimum {:.1} s, {:.2}x of it ({} reads, {} writes, {} throttles retried, {} failures)",
        converge.as_secs_f64(),
        bound.as_secs_f64(),
        converge.as_secs_f64() / bound.as_secs_f64().max(f64::EPSILON),
        converge_calls.reads,
        converge_calls.writes,
        converge_calls.throttles,
        converge_calls.failures
    );
    println!("          KMS calls per key: {}", per_key(&converge_calls, n));
    println!("          Kubernetes API requests per object ({} objects):", 2 * n);
    for (what, count) in &converge_requests {
        println!("            {what:<28} {:.2}", *count as f64 / (2 * n) as f64);
    }
    println!(
        "resync:   {:>8.1} s  ({} reads, {} KMS writes) after a restart, every object reconciled once",
        resync.as_secs_f64(),
        resync_calls.reads,
        resync_calls.writes
    );
    println!("          KMS calls per key: {}", per_key(&resync_calls, n));
    for (what, count) in &resync_requests {
        println!("            {what:<28} {count}");
    }
    println!("peak RSS of this process (controller, in-memory API server and proxy): {:.1} MiB", peak_rss_mib());
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo test --all-targets` may start bench binaries; this one only runs under `cargo bench`.
    if !args.iter().any(|a| a == "--bench") {
        eprintln!("controller_fleet: run it with `cargo bench --bench controller_fleet -- N`");
        return;
    }
    let sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    for n in if sizes.is_empty() { vec![100] } else { sizes } {
        runtime.block_on(bench(n));
    }
}
