//! `kms-operator run`, the binary itself, against an API server over HTTP and the local KMS:
//! it starts, converges a key, answers /readyz, and stops cleanly on SIGTERM.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use kms_operator::api::KmsKey;
use serde_json::json;
use support::cluster::{Cluster, key_object};
use support::fake_kube::FakeKube;
use support::moto::Moto;

#[tokio::test]
async fn the_controller_binary_converges_a_key_and_stops_on_sigterm() {
    let moto = Moto::start();
    let cluster = Cluster::new().await;
    cluster.namespace("apps", json!({})).await;
    cluster.account(&moto.endpoint(), json!({})).await;
    cluster.create::<KmsKey>("apps", key_object("logs", json!({"description": "from the binary"}))).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, FakeKube::kubeconfig(cluster.fake.serve_http("binary").await)).unwrap();
    let metrics = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_kms-operator"))
        .arg("run")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KUBECONFIG", &kubeconfig)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("KMS_OPERATOR_METRICS_ADDR", metrics.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kms-operator run");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let ready = loop {
        let status = cluster.get::<KmsKey>("apps", "logs").await.and_then(|k| k.status);
        // The intent to create the key is written before CreateKey, with no condition yet.
        if let Some(status) = status.filter(|s| s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True")) {
            break status;
        }
        if tokio::time::Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
            panic!("the key did not converge; stderr:\n{}", String::from_utf8_lossy(&output.stderr));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(ready.key_id.is_some());
    assert!(cluster.fake.requests().iter().any(|r| r.client == "binary"), "the binary talked to this API server");

    let terminated = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(terminated.success());
    // Off the runtime: the API server the child drains against runs on it.
    let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
    assert!(output.status.success(), "exit {:?}; stderr:\n{}", output.status, String::from_utf8_lossy(&output.stderr));
}
