//! `just bench`: a fleet of N KmsKey + KmsAlias pairs converged with `apply` against a local
//! KMS server behind a proxy that enforces KMS's default request quotas, then a no-op `plan`.
//! Prints wall time, calls per key by operation, throttles received, the quota-bound minimum
//! time for the same writes, the ratio of the two, and the process's peak memory.
//!
//!     cargo bench --bench fleet -- 100

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

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use kms_operator::aws::{CallContext, CallSummary, ClientPool, Op, RateLimits, RetryPolicy, Timeouts};
use kms_operator::engine::{Engine, EngineSettings};
use kms_operator::local::manifests;
use kms_operator::local::runner::{Command, RunOutput, Runner};

/// The command line's default.
const CONCURRENCY: usize = 16;

fn manifests(dir: &Path, endpoint: &str, n: usize) {
    let mut text = format!(
        "apiVersion: kmsoperator.dev/v1alpha1\nkind: AwsAccount\nmetadata: {{name: fleet}}\nspec: {{accountId: \"123456789012\", region: eu-west-1, endpointUrl: \"{endpoint}\", stsEndpointUrl: \"{endpoint}\", allowedNamespaces: {{}}}}\n"
    );
    for i in 0..n {
        let _ = write!(
            text,
            "---\napiVersion: kmsoperator.dev/v1alpha1\nkind: KmsKey\nmetadata: {{name: key-{i}, namespace: fleet}}\nspec:\n  accountRef: fleet\n  description: fleet key {i}\n  tags: {{Fleet: bench, Index: \"{i}\"}}\n  policy:\n    users: [\"arn:aws:iam::123456789012:role/app-{i}\"]\n---\napiVersion: kmsoperator.dev/v1alpha1\nkind: KmsAlias\nmetadata: {{name: alias-{i}, namespace: fleet}}\nspec: {{name: alias/fleet/key-{i}, keyRef: {{name: key-{i}}}}}\n"
        );
    }
    std::fs::write(dir.join("fleet.yaml"), text).expect("write manifests");
}

async fn engine() -> Engine {
    let base = aws_config::defaults(BehaviorVersion::latest())
        .credentials_provider(Credentials::new("bench", "bench", None, None, "bench"))
        .region(Region::new("eu-west-1"))
        .load()
        .await;
    // What the command line uses: KMS's quotas, the production retry policy.
    let ctx = CallContext::new(&RateLimits::default(), RetryPolicy::default());
    Engine::new(ClientPool::with_base_config(base, ctx, Timeouts::default()), EngineSettings::default())
}

async fn run(dir: &Path, command: Command) -> (RunOutput, Duration) {
    let (set, mut issues) = manifests::load(&[dir.to_path_buf()], manifests::ReadLimits::default());
    issues.extend(set.validate());
    assert!(issues.is_empty(), "invalid benchmark manifests: {issues:?}");
    let engine = engine().await;
    let started = Instant::now();
    let output = Runner::new(&engine, &set, CONCURRENCY).run(command).await;
    (output, started.elapsed())
}

/// The least time KMS's quotas allow for the writes the run needed (the changes it made,
/// not its retried attempts): each operation has its own quota, so operations proceed side by
/// side and the slowest one bounds the whole.
fn quota_bound(output: &RunOutput) -> (Duration, Vec<(String, u64, f64)>) {
    let mut needed: BTreeMap<Op, u64> = BTreeMap::new();
    for change in output.results.iter().flat_map(|r| &r.changes) {
        *needed.entry(change.operation()).or_default() += 1;
    }
    let mut per_op: Vec<(String, u64, f64)> = needed
        .into_iter()
        .map(|(op, count)| (op.name().to_owned(), count, count as f64 / f64::from(op.default_quota())))
        .collect();
    per_op.sort_by(|a, b| b.2.total_cmp(&a.2));
    let bound = per_op.first().map(|(_, _, seconds)| *seconds).unwrap_or(0.0);
    (Duration::from_secs_f64(bound), per_op)
}

fn per_key(calls: &CallSummary, n: usize) -> String {
    calls
        .by_operation
        .iter()
        .map(|(op, count)| format!("{op} {:.2}", *count as f64 / n as f64))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn bench(n: usize) {
    let kms = moto::Moto::start();
    let proxy = proxy::FaultProxy::start(kms.port).await;
    for op in Op::ALL.iter().filter(|op| **op != Op::GetCallerIdentity) {
        proxy.enforce_quota(op.name(), f64::from(op.default_quota()));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    manifests(dir.path(), &proxy.endpoint(), n);

    let (apply, apply_time) = run(dir.path(), Command::Apply).await;
    let failed = apply.results.iter().filter(|r| r.failed()).count();
    let (plan, plan_time) = run(dir.path(), Command::Plan).await;
    let (bound, per_op) = quota_bound(&apply);
    let throttled: usize = proxy.throttled().values().sum();

    println!("== fleet of {n} keys + {n} aliases, concurrency {CONCURRENCY}, KMS default quotas enforced by the proxy");
    println!(
        "apply:  {:>8.1} s  ({} reads, {} writes, {} throttles received and retried, {failed} resources failed)",
        apply_time.as_secs_f64(),
        apply.calls.reads,
        apply.calls.writes,
        apply.calls.throttles
    );
    println!("        calls per key: {}", per_key(&apply.calls, n));
    println!(
        "        quota-bound minimum {:.1} s; apply took {:.2}x of it",
        bound.as_secs_f64(),
        apply_time.as_secs_f64() / bound.as_secs_f64().max(f64::EPSILON)
    );
    for (op, count, seconds) in &per_op {
        println!(
            "          {op:<22} {count:>6} writes at {:>4}/s = {seconds:>7.1} s",
            Op::parse(op).map(Op::default_quota).unwrap_or(0)
        );
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
    println!("throttles seen by the proxy: {throttled}; failures: {failed}");
    println!("peak RSS of this process: {:.1} MiB", common::peak_rss_mib("self"));
}

fn main() {
    common::run_sizes("fleet", bench);
}
