//! `just bench`: the controller (the release binary, `kms-operator run`, as its own process)
//! converging a fleet of KmsKeys and KmsAliases over several accounts and regions (benches/common/shape.rs) created in the in-memory Kubernetes API
//! (served over HTTP), against a local KMS server behind a proxy that enforces KMS's default
//! request quotas; then a restarted controller's first pass over the converged fleet (every
//! object reconciled once, as on a resync). Prints time against the quota-bound minimum,
//! Kubernetes API requests per object, KMS calls per key, and the controller's peak memory.
//!
//!     cargo bench --bench controller_fleet -- --accounts 2 --regions 2 --keys-per-account 50
//!     cargo bench --bench controller_fleet -- 100   # one account, one region, 100 keys
//!     cargo bench --bench controller_fleet -- --accounts 2 --regions 1 --keys-per-account 2500 --quota-scale 0.2

#[allow(dead_code)]
#[path = "../tests/support/cbor.rs"]
mod cbor;
mod common;
#[allow(dead_code)]
#[path = "../tests/support/fake_kube/mod.rs"]
mod fake_kube;
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
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Quotas;
use common::shape::{NAMESPACE, Shape, quota_bound};
use fake_kube::FakeKube;
use kms_operator::api::{AwsAccount, KmsAlias, KmsKey};
use kms_operator::aws::Op;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `kms-operator run` against the API server behind `kubeconfig`, with its metrics on `port`.
struct Controller {
    child: Child,
    metrics_port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

impl Controller {
    fn start(kubeconfig: &std::path::Path, quotas: &Quotas) -> Controller {
        let metrics_port = free_port();
        let binary = env!("CARGO_BIN_EXE_kms-operator");
        // KMS_OPERATOR_BENCH_WRAPPER="heaptrack -o /tmp/controller" runs the controller under a
        // profiler, to see where its memory goes (the peak RSS printed is then the wrapper's).
        let wrapper = std::env::var("KMS_OPERATOR_BENCH_WRAPPER").unwrap_or_default();
        let mut command = match wrapper.split_whitespace().collect::<Vec<_>>().split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        let child = command
            .arg("run")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("KUBECONFIG", kubeconfig)
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("KMS_OPERATOR_METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
            // KMS_OPERATOR_BENCH_LOG=debug (a tracing filter) shows the controller's passes on
            // the benchmark's stderr, to read what an object that stopped progressing did.
            .env("RUST_LOG", std::env::var("KMS_OPERATOR_BENCH_LOG").unwrap_or_else(|_| "warn".to_owned()))
            .env("KMS_OPERATOR_RATE_LIMITS", quotas.rate_limits().join(","))
            .stdout(Stdio::null())
            .spawn()
            .expect("start kms-operator run");
        Controller { child, metrics_port }
    }

    /// The controller's Prometheus metrics, empty until its server is up.
    async fn metrics(&self) -> String {
        let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", self.metrics_port)).await else {
            return String::new();
        };
        let request = "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
        if stream.write_all(request.as_bytes()).await.is_err() {
            return String::new();
        }
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text).await;
        text
    }

    /// Peak resident memory of the controller process so far.
    fn peak_rss_mib(&self) -> f64 {
        common::peak_rss_mib(&self.child.id().to_string())
    }

    /// SIGTERM, as Kubernetes stops a pod, then waits for the exit.
    fn stop(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

/// Sum of a metric's samples whose labels contain `labels`.
fn metric(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with('{') && l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

/// KMS calls by operation, from the controller's own counters.
fn aws_calls(text: &str) -> BTreeMap<String, f64> {
    Op::ALL
        .iter()
        .map(|op| {
            (
                op.name().to_owned(),
                metric(text, "kms_operator_aws_calls_total", &format!("operation=\"{}\"", op.name())),
            )
        })
        .filter(|(_, count)| *count > 0.0)
        .collect()
}

async fn create_fleet(fake: &FakeKube, endpoint: &str, shape: &Shape) {
    let client = fake.client_named("bench");
    let post = PostParams::default();
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}});
    Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .create(&post, &serde_json::from_value(namespace).expect("namespace"))
        .await
        .expect("create namespace");
    for account in shape.accounts_json(endpoint) {
        Api::<AwsAccount>::all(client.clone())
            .create(&post, &serde_json::from_value(account).expect("account"))
            .await
            .expect("create account");
    }
    let keys: Api<KmsKey> = Api::namespaced(client.clone(), NAMESPACE);
    let aliases: Api<KmsAlias> = Api::namespaced(client, NAMESPACE);
    for object in shape.objects_json() {
        if object["kind"] == "KmsKey" {
            keys.create(&post, &serde_json::from_value(object).expect("key")).await.expect("create key");
        } else {
            aliases.create(&post, &serde_json::from_value(object).expect("alias")).await.expect("create alias");
        }
    }
}

fn ready(conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition]) -> bool {
    conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True")
}

/// Objects not Ready yet, each with its conditions as `type=status reason`.
async fn not_ready(fake: &FakeKube) -> Vec<(String, String)> {
    let client = fake.client_named("bench");
    let keys = Api::<KmsKey>::namespaced(client.clone(), NAMESPACE).list(&ListParams::default()).await.expect("keys");
    let aliases = Api::<KmsAlias>::namespaced(client, NAMESPACE).list(&ListParams::default()).await.expect("aliases");
    let shown = |conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition]| {
        conditions.iter().map(|c| format!("{}={} {}", c.type_, c.status, c.reason)).collect::<Vec<_>>().join(", ")
    };
    let keys = keys.items.iter().map(|k| {
        (
            format!("KmsKey/{}", k.metadata.name.clone().unwrap_or_default()),
            k.status.as_ref().map(|s| s.conditions.as_slice()),
        )
    });
    let aliases = aliases.items.iter().map(|a| {
        (
            format!("KmsAlias/{}", a.metadata.name.clone().unwrap_or_default()),
            a.status.as_ref().map(|s| s.conditions.as_slice()),
        )
    });
    keys.chain(aliases)
        .filter(|(_, conditions)| !conditions.is_some_and(ready))
        .map(|(name, conditions)| (name, conditions.map(shown).unwrap_or_else(|| "no status".to_owned())))
        .collect()
}

/// Objects the controller counts Ready, from its own gauge: a read of /metrics costs the
/// in-memory API server nothing, where listing 10,000 objects twice a second took the core the
/// fake API server needed to serve the controller.
async fn ready_by_metrics(controller: &Controller) -> usize {
    let text = controller.metrics().await;
    ["KmsKey", "KmsAlias"]
        .iter()
        .map(|kind| {
            metric(&text, "kms_operator_resources", &format!(r#"kind="{kind}",condition="Ready",status="True""#))
                as usize
        })
        .sum()
}

/// Waits until every object is Ready, by the controller's gauge and then by the objects' own
/// status. Says on stderr how many are left every 10 s and, when none became Ready for a
/// minute, which ones and why: a run that stalls shows its stragglers.
async fn converged(fake: &FakeKube, controller: &Controller, objects: usize) -> Duration {
    let started = Instant::now();
    let (mut said, mut progress) = (Instant::now(), (usize::MAX, Instant::now()));
    loop {
        let left = objects.saturating_sub(ready_by_metrics(controller).await);
        if left == 0 && not_ready(fake).await.is_empty() {
            return started.elapsed();
        }
        if left < progress.0 {
            progress = (left, Instant::now());
        }
        if said.elapsed() >= Duration::from_secs(10) {
            said = Instant::now();
            eprintln!("[{:>6.1} s] {left} objects not Ready yet", started.elapsed().as_secs_f64());
            if progress.1.elapsed() >= Duration::from_secs(60) {
                for (name, conditions) in not_ready(fake).await.iter().take(10) {
                    eprintln!("           stalled: {name}: {conditions}");
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Kubernetes API requests of the controller, by verb (as RBAC names them) and what they wrote.
fn kube_requests(fake: &FakeKube, since: usize) -> BTreeMap<String, usize> {
    let mut by_verb = BTreeMap::new();
    for seen in fake.requests().iter().skip(since).filter(|r| r.client == "controller") {
        let Some(path) = fake_kube::Path::parse(&seen.path) else { continue };
        let verb = match (seen.method.as_str(), &path.name) {
            ("GET", _) if seen.query.contains("watch=") => "watch",
            ("GET", Some(_)) => "get",
            ("GET", None) => "list",
            ("POST", _) => "create",
            ("PUT", _) => "update",
            ("PATCH", _) => "patch",
            ("DELETE", _) => "delete",
            _ => "other",
        };
        let what = match &path.subresource {
            Some(sub) => format!("{verb} {}/{sub}", path.plural),
            None => format!("{verb} {}", path.plural),
        };
        *by_verb.entry(what).or_default() += 1;
    }
    by_verb
}

fn per_key(calls: &BTreeMap<String, f64>, n: usize) -> String {
    calls.iter().map(|(op, count)| format!("{op} {:.2}", count / n as f64)).collect::<Vec<_>>().join(", ")
}

fn writes(calls: &BTreeMap<String, f64>) -> u64 {
    calls.iter().filter(|(op, _)| Op::parse(op).is_some_and(Op::is_write)).map(|(_, count)| *count as u64).sum()
}

/// Polls `done` until it holds; returns how long that took.
async fn wait(mut done: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done().await {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    started.elapsed()
}

async fn bench(shape: Shape) {
    let kms = moto::Moto::start();
    let proxy = proxy::FaultProxy::start(kms.port).await;
    let quotas = Quotas::from_args();
    for (op, rate) in quotas.enforced() {
        proxy.enforce_quota(op.name(), f64::from(rate));
    }
    let fake = FakeKube::new();
    create_fleet(&fake, &proxy.endpoint(), &shape).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, FakeKube::kubeconfig(fake.serve_http("controller").await)).expect("kubeconfig");
    let (n, objects) = (shape.keys(), shape.keys() + shape.aliases());

    let requests_before = fake.requests().len();
    let first = Controller::start(&kubeconfig, &quotas);
    let converge = converged(&fake, &first, objects).await;
    let converge_calls = aws_calls(&first.metrics().await);
    let converge_rss = first.peak_rss_mib();
    let converge_requests = kube_requests(&fake, requests_before);
    let (bound, scopes) = quota_bound(&proxy.spent(), &quotas);
    let sts = (proxy.forwarded("AssumeRole"), proxy.forwarded("GetCallerIdentity"));
    first.stop();

    let requests_before = fake.requests().len();
    let restarted = Controller::start(&kubeconfig, &quotas);
    let reconciled =
        |text: &str, kind: &str| metric(text, "kms_operator_reconciles_total", &format!("kind=\"{kind}\""));
    let resync = wait(async || {
        let text = restarted.metrics().await;
        reconciled(&text, "KmsKey") >= shape.keys() as f64 && reconciled(&text, "KmsAlias") >= shape.aliases() as f64
    })
    .await;
    let resync_calls = aws_calls(&restarted.metrics().await);
    let resync_rss = restarted.peak_rss_mib();
    let resync_requests = kube_requests(&fake, requests_before);
    restarted.stop();
    let ratio = converge.as_secs_f64() / bound.as_secs_f64().max(f64::EPSILON);

    println!(
        "== controller (kms-operator run), fleet of {}; {}; load average {}",
        shape.describe(),
        quotas.describe(),
        common::load_average()
    );
    println!(
        "converge: {:>8.1} s  quota bound {:.1} s, {ratio:.2}x of it ({} KMS writes, {} throttles retried)",
        converge.as_secs_f64(),
        bound.as_secs_f64(),
        writes(&converge_calls),
        proxy.throttled().values().sum::<usize>()
    );
    for (scope, seconds) in scopes.iter().take(4) {
        println!("            {scope} = {seconds:>7.1} s");
    }
    println!("          KMS calls per key: {}", per_key(&converge_calls, n));
    println!("          STS: {} AssumeRole, {} GetCallerIdentity ({} accounts)", sts.0, sts.1, shape.accounts);
    println!("          Kubernetes API requests per object ({objects} objects):");
    for (what, count) in &converge_requests {
        println!("            {what:<28} {:.2}", *count as f64 / objects as f64);
    }
    println!(
        "          peak RSS of the controller: {converge_rss:.1} MiB ({:.1} KiB per object)",
        converge_rss * 1024.0 / objects as f64
    );
    println!(
        "resync:   {:>8.1} s  after a restart, every object reconciled once: {} KMS writes",
        resync.as_secs_f64(),
        writes(&resync_calls)
    );
    println!("          KMS calls per key: {}", per_key(&resync_calls, n));
    println!("          Kubernetes API requests per object ({} objects):", 2 * n);
    for (what, count) in &resync_requests {
        println!("            {what:<28} {:.2}", *count as f64 / (2 * n) as f64);
    }
    println!("          peak RSS of the controller: {resync_rss:.1} MiB");
    println!("load average at the end: {}", common::load_average());
    println!("ratio {ratio:.2}");
}

fn main() {
    common::run_shapes("controller_fleet", bench);
}
