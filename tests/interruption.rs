//! `apply` interrupted by SIGINT: no new change starts, the writes under way are answered and
//! reported, what was not done is named, and the exit is non-zero; a second signal stops at once.

mod support;

use std::time::Duration;

use support::cli::{Output, command, run_json};
use support::kms;
use support::manifests::{REGION, Workspace, account, key};
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy, Gate};

const KEYS: usize = 6;

struct Setup {
    moto: Moto,
    proxy: FaultProxy,
    ws: Workspace,
}

/// Keys whose CreateKey reaches KMS only after a while, so that some are under way when the
/// signal comes.
async fn slow_fleet() -> Setup {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    proxy.inject("CreateKey", Fault::Late(Duration::from_millis(1500)), KEYS);
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&proxy.endpoint()));
    for i in 0..KEYS {
        ws.write(&format!("key-{i}.yaml"), &key(&format!("k{i}"), "description: slow"));
    }
    Setup { moto, proxy, ws }
}

fn signal(pid: u32) {
    let status = std::process::Command::new("kill").args(["-INT", &pid.to_string()]).status().expect("kill");
    assert!(status.success());
}

/// Starts `apply -o json`, interrupts it `times` times once creates are under way, and collects
/// what it printed.
async fn interrupted_apply(s: &Setup, times: usize) -> Output {
    // Two at a time, so that some keys have not started when the signal comes.
    let child = command(&["apply", "-f", ".", "-o", "json", "--concurrency", "2"], s.ws.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start apply");
    while s.proxy.injected("CreateKey") == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..times {
        signal(child.id());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Off the runtime: the proxy the child talks to runs on it.
    let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().expect("apply ends");
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

async fn owned_keys(moto: &Moto) -> usize {
    let client = kms::client(&moto.endpoint(), REGION).await;
    let mut owned = 0;
    for id in kms::key_ids(&client).await {
        if kms::tags(&client, &id).await.contains_key("kmsoperator.dev/owner") {
            owned += 1;
        }
    }
    owned
}

#[tokio::test]
async fn an_interrupted_apply_finishes_the_writes_under_way_and_names_what_is_left() {
    let s = slow_fleet().await;
    let output = interrupted_apply(&s, 1).await;
    output.assert_code(1);
    assert!(output.stderr.contains("interrupted: no new change starts"), "{}", output.stderr);
    assert!(output.stderr.contains("resource(s) not finished"), "{}", output.stderr);
    let rows = output.json();
    let keys: Vec<&serde_json::Value> = rows.as_array().unwrap().iter().filter(|r| r["kind"] == "KmsKey").collect();
    let created = keys.iter().filter(|k| k["status"]["keyId"].is_string()).count();
    let interrupted = keys.iter().filter(|k| k["error"]["reason"] == "Interrupted").count();
    assert!(created >= 1, "the creates under way were answered and reported: {}", output.stdout);
    assert!(interrupted >= 1, "keys not started are named: {}", output.stdout);
    assert_eq!(owned_keys(&s.moto).await, created, "every key that exists is one the output reports");
    assert_eq!(s.proxy.in_flight(), 0, "nothing was left under way");

    // Off the runtime, like the interrupted run: the proxy it talks to runs on it.
    let dir = s.ws.path().to_owned();
    let rest = tokio::task::spawn_blocking(move || run_json("apply", &dir)).await.unwrap();
    rest.assert_code(0);
    assert_eq!(owned_keys(&s.moto).await, KEYS, "the rest created once, nothing twice");
}

#[tokio::test]
async fn a_second_signal_stops_at_once() {
    let s = slow_fleet().await;
    let output = interrupted_apply(&s, 2).await;
    output.assert_code(130);
    assert!(output.stderr.contains("stopped at once"), "{}", output.stderr);
}

/// The controller on shutdown: the CreateKey under way is answered and its key recorded in
/// status; the changes after it (rotation) wait for the next leader.
#[tokio::test]
async fn a_controller_shutting_down_finishes_the_create_under_way_and_starts_nothing_else() {
    use std::sync::Arc;

    use kms_operator::api::KmsKey;
    use serde_json::json;
    use support::cluster::{Cluster, condition, key_object};

    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let gate = Gate::new();
    proxy.inject("CreateKey", Fault::Hold(gate.clone()), 1);
    let cluster = Cluster::new().await;
    cluster.namespace("apps", json!({})).await;
    cluster.account(&proxy.endpoint(), json!({})).await;
    cluster.create::<KmsKey>("apps", key_object("logs", json!({"rotation": {"enabled": true}}))).await;
    // The first pass admits the key, adds the finalizer and goes on to create it.
    let pass = tokio::spawn({
        let ctx = cluster.ctx.clone();
        let key: KmsKey = cluster.get("apps", "logs").await.unwrap();
        async move { kms_operator::controller::key::reconcile(Arc::new(key), ctx).await }
    });
    while proxy.injected("CreateKey") == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.ctx.engine.stop_writes();
    gate.open();
    let _ = pass.await.expect("the pass ends");

    let status = cluster.get::<KmsKey>("apps", "logs").await.unwrap().status.expect("status written");
    assert_eq!(status.key_id, proxy.created_keys().first().cloned(), "the key created is on record");
    let ready = condition(&status.conditions, "Ready");
    assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("False", "KeyIncomplete"), "{ready:?}");
    assert_eq!(proxy.forwarded("CreateKey"), 1);
    assert_eq!(proxy.forwarded("EnableKeyRotation"), 0, "nothing new started after shutdown began");
}
