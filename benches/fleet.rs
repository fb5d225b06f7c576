//! `just bench`: a fleet of KmsKeys and KmsAliases over several accounts and regions converged
//! with `apply` against a local KMS server behind a proxy that enforces KMS's default request
//! quotas per (account, region, operation), then a no-op `plan`. Each account is reached through
//! a role in it (moto's AssumeRole answers with credentials of that account). Prints wall time
//! against the quota bound of this fleet (its busiest (account, region, operation), a
//! ReplicateKey spending two CreateKey of its replica's region), throttles, calls per key, STS
//! calls, the process's peak memory, and `ratio <time / bound>` for scripts.
//!
//!     cargo bench --bench fleet -- --accounts 4 --regions 2 --keys-per-account 50
//!     cargo bench --bench fleet -- 100          # one account, one region, 100 keys
//!     cargo bench --bench fleet -- --accounts 10 --regions 2 --keys-per-account 100 --quota-scale 0.2

#[allow(dead_code)]
#[path = "../tests/support/cbor.rs"]
mod cbor;
mod common;
#[allow(dead_code)]
#[path = "../tests/support/key_material.rs"]
mod key_material;
#[allow(dead_code)]
#[path = "../tests/support/moto.rs"]
mod moto;
#[allow(dead_code)]
#[path = "../tests/support/proxy.rs"]
mod proxy;
#[allow(dead_code)]
#[path = "../tests/support/rotation_periods.rs"]
mod rotation_periods;

use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use common::Quotas;
use common::shape::{Shape, quota_bound};
use kms_operator::aws::{CallContext, CallSummary, ClientPool, RateLimits, RetryPolicy, Timeouts};
use kms_operator::engine::{Engine, EngineSettings};
use kms_operator::local::manifests;
use kms_operator::local::runner::{Command, RunOutput, Runner};

/// Workers per (account, region): the command line's default, or `--concurrency C`.
fn concurrency() -> usize {
    let args: Vec<String> = std::env::args().collect();
    let flag = args.iter().position(|a| a == "--concurrency").and_then(|i| args.get(i + 1));
    flag.and_then(|c| c.parse().ok()).unwrap_or(16)
}

/// The fleet as one file of YAML documents (JSON is YAML).
fn manifests(dir: &Path, endpoint: &str, shape: &Shape) {
    let documents: Vec<String> = shape
        .accounts_json(endpoint)
        .into_iter()
        .chain(shape.objects_json())
        .map(|object| object.to_string())
        .collect();
    std::fs::write(dir.join("fleet.yaml"), documents.join("\n---\n")).expect("write manifests");
}

async fn engine() -> Engine {
    let base = aws_config::defaults(BehaviorVersion::latest())
        .credentials_provider(Credentials::new("bench", "bench", None, None, "bench"))
        .region(Region::new("eu-west-1"))
        .load()
        .await;
    // What the command line uses: KMS's quotas (scaled as `--rate-limit` would), the production
    // retry policy.
    let quotas = Quotas::from_args().rate_limits();
    let limits = RateLimits::default().parse_overrides(quotas.iter().map(String::as_str)).expect("valid rate limits");
    let ctx = CallContext::new(&limits, RetryPolicy::default());
    Engine::new(ClientPool::with_base_config(base, ctx, Timeouts::default()), EngineSettings::default())
}

async fn run(dir: &Path, command: Command) -> (RunOutput, Duration) {
    let (set, mut issues) = manifests::load(&[dir.to_path_buf()], manifests::ReadLimits::default());
    issues.extend(set.validate());
    assert!(issues.is_empty(), "invalid benchmark manifests: {issues:?}");
    let engine = engine().await;
    let started = Instant::now();
    let output = Runner::new(&engine, &set, concurrency()).run(command).await;
    (output, started.elapsed())
}

fn per_key(calls: &CallSummary, n: usize) -> String {
    calls
        .by_operation
        .iter()
        .map(|(op, count)| format!("{op} {:.2}", *count as f64 / n as f64))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn bench(shape: Shape) {
    let kms = moto::Moto::start();
    let proxy = proxy::FaultProxy::start(kms.port).await;
    let quotas = Quotas::from_args();
    for (op, rate) in quotas.enforced() {
        proxy.enforce_quota(op.name(), f64::from(rate));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    manifests(dir.path(), &proxy.endpoint(), &shape);
    let n = shape.keys();

    // Every 5 s, the write quota spent so far per scope: where a run falls behind its bound.
    let sampler = tokio::spawn({
        let proxy = proxy.clone();
        async move {
            for tick in 1.. {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let spent: Vec<String> = proxy
                    .spent()
                    .into_iter()
                    .filter(|((_, _, op), _)| op == "CreateKey" || op == "CreateAlias")
                    .map(|((account, region, op), n)| format!("{account}/{region}/{op} {n}"))
                    .collect();
                eprintln!("  {:>4} s: spent {}", tick * 5, spent.join(", "));
            }
        }
    });
    let (apply, apply_time) = run(dir.path(), Command::Apply).await;
    sampler.abort();
    let failed = apply.results.iter().filter(|r| r.failed()).count();
    let (bound, scopes) = quota_bound(&proxy.spent(), &quotas);
    let throttled: usize = proxy.throttled().values().sum();
    let sts = (proxy.forwarded("AssumeRole"), proxy.forwarded("GetCallerIdentity"));
    let (plan, plan_time) = run(dir.path(), Command::Plan).await;
    let ratio = apply_time.as_secs_f64() / bound.as_secs_f64().max(f64::EPSILON);

    println!(
        "== fleet of {}; {} workers per (account, region) to start with, up to {}x as the quota allows; {}; load average {}",
        shape.describe(),
        concurrency(),
        kms_operator::aws::lanes::GROWTH,
        quotas.describe(),
        common::load_average()
    );
    println!(
        "apply:  {:>8.1} s  ({} reads, {} writes, {} throttles received and retried, {failed} resources failed)",
        apply_time.as_secs_f64(),
        apply.calls.reads,
        apply.calls.writes,
        apply.calls.throttles
    );
    println!("        calls per key: {}", per_key(&apply.calls, n));
    println!("        STS: {} AssumeRole, {} GetCallerIdentity ({} accounts)", sts.0, sts.1, shape.accounts);
    println!(
        "        quota bound {:.1} s (the busiest account, region and operation); apply took {ratio:.2}x of it",
        bound.as_secs_f64()
    );
    for (scope, seconds) in scopes.iter().take(6) {
        println!("          {scope} = {seconds:>7.1} s");
    }
    println!(
        "plan:   {:>8.1} s  ({} reads, {} writes, {} pending, exit {})",
        plan_time.as_secs_f64(),
        plan.calls.reads,
        plan.calls.writes,
        plan.results.iter().filter(|r| r.pending()).count(),
        plan.exit_code()
    );
    println!("        calls per key: {}", per_key(&plan.calls, n));
    println!("throttles seen by the proxy: {throttled} {:?}; failures: {failed}", proxy.throttled());
    for ((operation, (account, region, scope_op)), throttles) in proxy.throttled_scopes() {
        println!(
            "          {operation} refused for {account}/{region}/{scope_op}: {} (at most {:.0} ms early)",
            throttles.requests,
            throttles.early_seconds * 1000.0
        );
    }
    println!("peak RSS of this process: {:.1} MiB", common::peak_rss_mib("self"));
    println!("load average at the end: {}", common::load_average());
    println!("ratio {ratio:.2}");
}

fn main() {
    common::run_shapes("fleet", bench);
}
