//! The controller under hostile tenants (issue 27), against the in-memory Kubernetes API (which
//! refuses what a real API server refuses, fake_kube/limits.rs) and a real local KMS:
//!
//! - the worst objects a tenant can write (deep, huge, out of range, shaped to defeat the
//!   binary's types) cannot stop a relist or keep other namespaces' keys from converging;
//! - status is a cache, never an authority: a forged status of each kind makes no KMS write and
//!   no call to an account the namespace may not use;
//! - one namespace's stuck keys hold only its share of the workers;
//! - refused and deleted objects are forgotten: a create/delete loop leaves nothing behind.

mod support;

use std::future::Future;
use std::time::Duration;

use kms_operator::api::KmsKey;
use kms_operator::controller::{ControllerOptions, run_controllers};
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::cluster::{Cluster, condition, key_object_in};
use support::fake_kube::limits::too_deep_for_clients;
use support::kms;
use support::manifests::REGION;
use support::moto::Moto;

/// Polls `probe` until it returns a value. The deadline only keeps a broken build from hanging:
/// nothing here is asserted on time.
async fn wait_for<T, F, Fut>(what: &str, probe: F) -> T
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

/// The controllers, running until the returned sender says stop.
fn start(
    cluster: &Cluster,
    options: ControllerOptions,
) -> (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let ctx = cluster.ctx.clone();
    let running = tokio::spawn(async move { run_controllers(ctx, &options, shutdown).await });
    (stop, running)
}

async fn stop((stop, running): (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>)) {
    stop.send(true).expect("controllers listening");
    tokio::time::timeout(Duration::from_secs(30), running).await.expect("graceful shutdown").expect("no panic");
}

/// KmsKeys as plain JSON, as kubectl sends them: what the binary's types would refuse to build.
fn raw_keys(cluster: &Cluster, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(cluster.client(), namespace, &ApiResource::erase::<KmsKey>(&()))
}

fn raw(object: Value) -> DynamicObject {
    serde_json::from_value(object).expect("an object")
}

/// The API server's answer to a write, as its status code (0: accepted).
fn code<T>(result: Result<T, kube::Error>) -> u16 {
    match result {
        Ok(_) => 0,
        Err(kube::Error::Api(status)) => status.code,
        Err(other) => panic!("not an API answer: {other}"),
    }
}

/// `[[[... leaf ...]]]`, `levels` lists deep.
fn nested(levels: usize, leaf: Value) -> Value {
    (0..levels).fold(leaf, |inner, _| json!([inner]))
}

async fn ready(cluster: &Cluster, namespace: &str, name: &str) -> Option<String> {
    let key: KmsKey = cluster.get(namespace, name).await?;
    let status = key.status?;
    (status.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True")).then_some(status.key_id?)
}

#[tokio::test]
async fn the_worst_objects_a_tenant_can_write_stop_no_relist_and_no_other_key() {
    let moto = Moto::start();
    let cluster = Cluster::new().await;
    for namespace in ["good", "bad"] {
        cluster.namespace(namespace, json!({})).await;
    }
    cluster.account(&moto.endpoint(), json!({})).await;
    for name in ["first", "second"] {
        cluster.create::<KmsKey>("good", key_object_in("good", name, json!({"description": name}))).await;
    }
    let bad = raw_keys(&cluster, "bad");
    let key = |name: &str, spec: Value| raw(key_object_in("bad", name, spec));
    let create = |object: DynamicObject| {
        let bad = bad.clone();
        async move { code(bad.create(&PostParams::default(), &object).await) }
    };
    let statement = |extra: Value| {
        let mut statement = json!({"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"});
        json_patch::merge(&mut statement, &extra);
        json!({"policy": {"statements": [statement]}})
    };

    // Refused, as a real API server refuses them.
    let deep = |leaf: &str| nested(125, json!(leaf));
    let arns: Vec<String> = (0..500).map(|i| format!("arn:aws:iam::123456789012:role/{i:0>1900}")).collect();
    let refused = [
        ("deep-condition", statement(json!({"Condition": {"StringEquals": {"aws:PrincipalTag/x": deep("v")}}})), 422),
        ("deep-action", statement(json!({"Action": deep("kms:Decrypt")})), 422),
        ("deep-principal", statement(json!({"Principal": {"AWS": deep("arn:aws:iam::123456789012:root")}})), 422),
        ("period", json!({"rotation": {"periodDays": 2_147_483_648_i64}}), 422),
        ("window", json!({"deletion": {"pendingWindowDays": -1}}), 422),
        ("huge", statement(json!({"NotResource": arns.clone(), "NotAction": arns.clone()})), 500),
    ];
    for (name, spec, expected) in refused {
        assert_eq!(create(key(name, spec)).await, expected, "{name}");
    }
    let too_big = json!({"description": "x".repeat(4 * 1024 * 1024)});
    assert_eq!(create(key("too-big", too_big)).await, 413);

    // Stored: the schema admits them, some of them the binary's types do not.
    let stored = [
        ("large", statement(json!({"NotResource": arns[..300].to_vec()}))),
        ("number-action", statement(json!({"Action": 7}))),
        ("plain", json!({})),
    ];
    for (name, spec) in stored {
        assert_eq!(create(key(name, spec)).await, 0, "{name}");
    }
    let status = |status: Value| {
        let bad = bad.clone();
        async move {
            code(bad.patch_status("plain", &PatchParams::default(), &Patch::Merge(json!({"status": status}))).await)
        }
    };
    for out_of_range in [
        json!({"rotation": {"enabled": true, "periodDays": 2_147_483_648_i64}}),
        json!({"rotation": {"enabled": true, "onDemandRotations": 4_294_967_296_i64}}),
        json!({"observedGeneration": -1}),
        json!({"replicas": [{"region": "us-west-2", "keyId": deep("k")}]}),
    ] {
        assert_eq!(status(out_of_range.clone()).await, 422, "{out_of_range}");
    }
    // A time without a zone: date-time formats are not this fake's to check, and the binary's
    // type refuses it; on a real API server it is the status writer's to get right.
    assert_eq!(status(json!({"lastSyncTime": "2026-01-01T00:00:00"})).await, 0);
    for object in cluster.fake.objects("kmsoperator.dev/v1alpha1", "kmskeys") {
        assert!(!too_deep_for_clients(&object), "stored and unreadable: {}", object["metadata"]["name"]);
    }

    // The controllers start with a list, which every object above is in.
    let running = start(&cluster, ControllerOptions::new(None, 4));
    for name in ["first", "second"] {
        wait_for(&format!("good/{name} converges"), || ready(&cluster, "good", name)).await;
    }
    for name in ["number-action", "plain"] {
        wait_for(&format!("bad/{name} is reported unreadable"), || async {
            cluster.event_reasons(name).contains(&"InvalidObject".to_owned()).then_some(())
        })
        .await;
    }
    stop(running).await;

    // Again, as after a restart, a failover or a 410 Gone: a new process, a new list, and a
    // change converges.
    let cluster = Cluster::on(cluster.fake.clone()).await;
    Api::<KmsKey>::namespaced(cluster.client(), "good")
        .patch("first", &PatchParams::default(), &Patch::Merge(json!({"spec": {"description": "changed"}})))
        .await
        .expect("a spec change");
    let running = start(&cluster, ControllerOptions::new(None, 4));
    let key_id = wait_for("good/first converges again", || async {
        let key: KmsKey = cluster.get("good", "first").await?;
        let status = key.status?;
        (status.observed_generation == Some(2) && condition(&status.conditions, "Synced").status == "True")
            .then_some(status.key_id?)
    })
    .await;
    stop(running).await;
    let client = kms::client(&moto.endpoint(), REGION).await;
    assert_eq!(kms::describe(&client, &key_id).await.description(), Some("changed"));
    let mut owners = Vec::new();
    for id in kms::key_ids(&client).await {
        owners.push(kms::tags(&client, &id).await.get("kmsoperator.dev/owner").cloned().unwrap_or_default());
    }
    owners.sort();
    assert_eq!(
        owners,
        ["kms-operator/good/first", "kms-operator/good/second"],
        "the bad namespace wrote nothing to KMS"
    );
    let large: KmsKey = cluster.get("bad", "large").await.expect("stored");
    let refusal = large.status.expect("refused in status").conditions;
    assert_eq!(condition(&refusal, "Ready").reason, "InvalidSpec");
}
