//! Crash safety: a CreateKey whose outcome is unknown is not repeated before the listing can show
//! its key, in one process and across a restart (the intent recorded in status); and when a
//! duplicate happens anyway, it heals itself unless something uses it.

mod support;

use std::sync::Arc;
use std::time::Duration;

use kms_operator::api::KmsKey;
use kms_operator::aws::{Op, RateLimits, RetryPolicy, Timeouts};
use kms_operator::engine::EngineSettings;
use kms_operator::local::runner::Command;
use serde_json::json;
use support::cli::run_json;
use support::cluster::{Cluster, condition, key_object};
use support::engine::{assert_ok, engine_with, engine_with_timeouts, fast_settings, run};
use support::fake_kube::FakeKube;
use support::kms;
use support::manifests::{REGION, Workspace, account, alias, key};
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy, Gate};

/// Live keys carrying `owner` as their ownership tag.
async fn live_keys_owned_by(client: &aws_sdk_kms::Client, owner: &str) -> Vec<String> {
    let mut owned = Vec::new();
    for id in kms::key_ids(client).await {
        let state = kms::describe(client, &id).await.key_state().map(|s| s.as_str().to_owned()).unwrap_or_default();
        if state != "PendingDeletion"
            && kms::tags(client, &id).await.get("kmsoperator.dev/owner").map(String::as_str) == Some(owner)
        {
            owned.push(id);
        }
    }
    owned
}

#[tokio::test]
async fn an_ambiguous_create_waits_for_the_listing_to_catch_up_instead_of_creating_again() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    // The answer is lost, and the new key stays out of ListKeys for a while.
    proxy.inject("CreateKey", Fault::DropAfterForward, 1);
    proxy.hide_new_keys(Duration::from_secs(2));
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&proxy.endpoint()));
    ws.write("key.yaml", &key("logs", "description: logs"));
    let engine = engine_with(fast_settings(), RateLimits::unlimited()).await;
    let output = run(&engine, ws.path(), Command::Apply).await;
    assert_ok(&output);
    assert_eq!(proxy.forwarded("CreateKey"), 1, "one create, found once the listing showed it");
    let client = kms::client(&moto.endpoint(), REGION).await;
    assert_eq!(live_keys_owned_by(&client, "kms-operator/apps/logs").await.len(), 1);
}

/// A CreateKey that reaches KMS only after its client gave up, as a slow answer under load does:
/// its key is found and adopted, not made a second time, even with a window no longer than the
/// attempt timeout, because the window runs from the moment the client gave up, not from the send.
#[tokio::test]
async fn a_create_landing_after_its_client_timed_out_is_found_not_repeated() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let attempt = Duration::from_secs(4);
    // The request reaches KMS half a second after the client's attempt timed out: a window
    // counted from the send has run out by then; counted from the timeout, it leaves KMS 3.5 s
    // to make the key and list it, however loaded the machine.
    proxy.inject("CreateKey", Fault::Late(attempt + Duration::from_millis(500)), 1);
    let settings = EngineSettings { create_visibility_window: attempt, ..fast_settings() };
    let timeouts = Timeouts { connect: Duration::from_secs(2), attempt };
    let engine = engine_with_timeouts(settings, RateLimits::unlimited(), timeouts).await;
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&proxy.endpoint()));
    ws.write("key.yaml", &key("slow", "description: slow"));
    let output = run(&engine, ws.path(), Command::Apply).await;
    assert_ok(&output);
    assert_eq!(output.calls.count(Op::CreateKey), 1, "the timed-out create was not sent again");
    assert_eq!(proxy.forwarded("CreateKey"), 1, "one create reached KMS");
    let client = kms::client(&moto.endpoint(), REGION).await;
    let owned = live_keys_owned_by(&client, "kms-operator/apps/slow").await;
    assert_eq!(owned.len(), 1, "one key owned, no orphan: {owned:?}");
    let status = &output.results.iter().find(|r| r.object.name == "slow").expect("the key's result").status;
    assert_eq!(status["keyId"], owned[0].as_str(), "the late key is the object's key");
}

/// Two keys carrying one object's tag, as a killed run can leave, the newer one with its alias.
async fn duplicated(client: &aws_sdk_kms::Client) -> (String, String) {
    let mut ids = Vec::new();
    for _ in 0..2 {
        let created = client
            .create_key()
            .tags(
                aws_sdk_kms::types::Tag::builder()
                    .tag_key("kmsoperator.dev/owner")
                    .tag_value("kms-operator/apps/app")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        ids.push(created.key_metadata().unwrap().key_id().to_owned());
        // Creation dates in seconds: the second key must be younger.
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    client.create_alias().alias_name("alias/app").target_key_id(&ids[1]).send().await.unwrap();
    (ids[0].clone(), ids[1].clone())
}

#[tokio::test]
async fn a_duplicate_heals_itself_keeping_the_key_the_alias_resolves_to() {
    let moto = Moto::start();
    let client = kms::client(&moto.endpoint(), REGION).await;
    let (older, aliased) = duplicated(&client).await;
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&moto.endpoint()));
    ws.write("key.yaml", &key("app", "description: app"));
    ws.write("alias.yaml", &alias("app", "name: alias/app\nkeyRef: {name: app}"));
    let applied = run_json("apply", ws.path());
    applied.assert_code(0);
    let key = applied.resource("KmsKey", "app");
    assert_eq!(key["status"]["keyId"], aliased.as_str(), "the key the alias resolves to is kept, not the oldest");
    let removal =
        key["actions"].as_array().unwrap().iter().find(|a| a["keyId"] == older.as_str()).expect("removal").clone();
    assert!(removal["summary"].as_str().unwrap().contains("remove duplicate key"), "{removal}");
    let removed = kms::describe(&client, &older).await;
    assert_eq!(removed.key_state().map(|s| s.as_str()), Some("PendingDeletion"));
    assert!(!removed.enabled(), "disabled first");
    let window = removed.deletion_date().unwrap().secs() - removed.creation_date().unwrap().secs();
    assert!(window >= 29 * 24 * 3600, "the longest window, so it can still be restored: {window}s");
    assert_eq!(applied.calls("CreateKey"), 0);
    assert_eq!(applied.calls("UpdateAlias"), 0, "the alias already points at the kept key");
    let again = run_json("plan", ws.path());
    again.assert_code(0);
    assert_eq!(live_keys_owned_by(&client, "kms-operator/apps/app").await, vec![aliased]);
}

#[tokio::test]
async fn a_duplicate_in_use_is_reported_and_nothing_is_removed() {
    let moto = Moto::start();
    let client = kms::client(&moto.endpoint(), REGION).await;
    let (older, aliased) = duplicated(&client).await;
    // Something uses the one that would go.
    client
        .create_grant()
        .key_id(&older)
        .grantee_principal("arn:aws:iam::123456789012:role/app")
        .operations(aws_sdk_kms::types::GrantOperation::Decrypt)
        .send()
        .await
        .unwrap();
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&moto.endpoint()));
    ws.write("key.yaml", &key("app", "description: app"));
    let applied = run_json("apply", ws.path());
    applied.assert_code(1);
    let blockers = applied.resource("KmsKey", "app")["blockers"].to_string();
    assert!(
        blockers.contains("OwnershipConflict") && blockers.contains(&older) && blockers.contains("1 grant(s)"),
        "{blockers}"
    );
    assert_eq!(applied.writes(), 0);
    for id in [older, aliased] {
        assert_eq!(kms::describe(&client, &id).await.key_state().map(|s| s.as_str()), Some("Enabled"));
    }
}

#[tokio::test]
async fn a_create_aborted_before_its_answer_is_not_repeated_after_a_restart() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let gate = Gate::new();
    proxy.inject("CreateKey", Fault::Hold(gate.clone()), 1);
    proxy.hide_new_keys(Duration::from_secs(2));
    let cluster = Cluster::new().await;
    cluster.namespace("apps", json!({})).await;
    cluster.account(&proxy.endpoint(), json!({})).await;
    cluster.create::<KmsKey>("apps", key_object("fragile", json!({}))).await;
    // The first pass admits the key, adds the finalizer and goes on to send CreateKey.
    // The pass sends CreateKey and dies before the answer: the request is already on its way.
    let pass = tokio::spawn({
        let ctx = cluster.ctx.clone();
        let key: KmsKey = cluster.get("apps", "fragile").await.unwrap();
        async move { kms_operator::controller::key::reconcile(Arc::new(key), ctx).await }
    });
    while proxy.injected("CreateKey") == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pass.abort();
    let _ = pass.await;
    let recorded: KmsKey = cluster.get("apps", "fragile").await.unwrap();
    let intent = recorded.status.and_then(|s| s.creating).expect("the intent was recorded before CreateKey left");
    gate.open();

    // A new process: it finds the intent, and waits for the key to show instead of creating one.
    let restarted = Cluster::on(cluster.fake.clone()).await;
    restarted.reconcile_key("fragile").await.expect("reconciled");
    let status = restarted.get::<KmsKey>("apps", "fragile").await.unwrap().status.unwrap();
    assert_eq!(proxy.forwarded("CreateKey"), 1, "one key, created once (intent {})", intent.token);
    assert_eq!(status.key_id, proxy.created_keys().first().cloned());
    assert!(status.creating.is_none(), "the intent goes once its key is on record");
    assert_eq!(condition(&status.conditions, "Ready").status, "True");
}

/// The same late create, read back by another process (a restart, a failover, a shard
/// handover) from the intent the first one left in status when its pass ended: that process
/// waits for the key too. The intent was stamped before CreateKey left; unless restamped when
/// the answer was lost, its window ran out with the client's own attempt timeout (5 s each).
#[tokio::test]
async fn a_create_whose_answer_was_lost_is_not_repeated_by_the_next_process() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let gate = Gate::new();
    proxy.inject("CreateKey", Fault::Hold(gate.clone()), 1);
    let settings = EngineSettings { wait_budget: Some(Duration::from_millis(200)), ..fast_settings() };
    let cluster = Cluster::with_settings(settings).await;
    cluster.namespace("apps", json!({})).await;
    cluster.account(&proxy.endpoint(), json!({})).await;
    cluster.create::<KmsKey>("apps", key_object("late", json!({}))).await;
    cluster.reconcile_key("late").await.expect("admitted, finalizer added");
    // CreateKey times out; the pass waits its budget for the key, then ends with the intent on record.
    let _ = cluster.reconcile_key("late").await;
    let left: KmsKey = cluster.get("apps", "late").await.unwrap();
    assert!(left.status.and_then(|s| s.creating).is_some(), "the intent stays on record");

    let next = Cluster::on(cluster.fake.clone()).await;
    let pass = tokio::spawn(async move {
        next.reconcile_key("late").await.expect("reconciled");
        next
    });
    // KMS makes the key while the next process looks for it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    gate.open();
    let next = pass.await.expect("the pass ran");
    while proxy.in_flight_of("CreateKey") > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(proxy.forwarded("CreateKey"), 1, "one create reached KMS: {:?}", proxy.created_keys());
    let status = next.get::<KmsKey>("apps", "late").await.unwrap().status.unwrap();
    assert_eq!(status.key_id, proxy.created_keys().first().cloned(), "the late key is the object's key");
    assert!(status.creating.is_none(), "the intent goes once its key is on record");
    assert_eq!(condition(&status.conditions, "Ready").status, "True");
}

/// A controller on a new API server whose CreateKeys are paced at 2 a second, with a 4 s create
/// window, and the KmsKey `apps/busy`; KMS through `proxy`. Every CreateKey attempt the client
/// makes but the last is throttled, so the last leaves at least (attempts - 2) / 2 = 5 s after
/// the first (the first two from the bucket's burst), whatever the retries' jitter: longer than
/// the window. Returns the controller and the attempts.
async fn throttled_past_the_window(proxy: &FaultProxy) -> (Cluster, EngineSettings, RateLimits, u32) {
    let attempts = RetryPolicy::fast().throttle_attempts;
    proxy.inject("CreateKey", Fault::throttle(), attempts as usize - 1);
    let limits = RateLimits::default().with_override(Op::CreateKey, 2);
    let settings = EngineSettings { create_visibility_window: Duration::from_secs(4), ..fast_settings() };
    let cluster = Cluster::paced(FakeKube::new(), settings.clone(), limits.clone()).await;
    cluster.namespace("apps", json!({})).await;
    cluster.account(&proxy.endpoint(), json!({})).await;
    cluster.create::<KmsKey>("apps", key_object("busy", json!({}))).await;
    (cluster, settings, limits, attempts)
}

/// A CreateKey that waits for its quota and is throttled for longer than the whole window, and
/// whose process dies with the last attempt in flight: the next process must still wait for that
/// attempt's key. The intent is restamped before any attempt leaves under an intent older than a
/// quarter of the window; stamped only before the first attempt, it had run out by the time the
/// next process read it (the attempts span at least 5 s, the window is 4 s), and that process
/// created a second key.
#[tokio::test]
async fn a_create_throttled_past_its_window_is_not_repeated_by_the_next_process() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let (first, settings, limits, attempts) = throttled_past_the_window(&proxy).await;
    // The last attempt waits at the proxy.
    let gate = Gate::new();
    proxy.inject("CreateKey", Fault::Hold(gate.clone()), 1);
    let pass = tokio::spawn({
        let ctx = first.ctx.clone();
        let key: KmsKey = first.get("apps", "busy").await.unwrap();
        async move { kms_operator::controller::key::reconcile(Arc::new(key), ctx).await }
    });
    while proxy.injected("CreateKey") < attempts as usize {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The process dies with its last CreateKey on its way to KMS.
    pass.abort();
    let _ = pass.await;
    assert_eq!(first.ctx.engine.calls().stats.calls(Op::CreateKey), u64::from(attempts), "every attempt was sent");
    let recorded: KmsKey = first.get("apps", "busy").await.unwrap();
    assert!(recorded.status.and_then(|s| s.creating).is_some(), "the intent is on record");
    let intent_writes = first.fake.writes_to("/kmskeys/busy/status");

    // The next process lists the region, and only then does KMS make the key.
    let listed = proxy.forwarded("ListKeys");
    let next = Cluster::paced(first.fake.clone(), settings, limits).await;
    let pass = tokio::spawn(async move {
        let result = next.reconcile_key("busy").await;
        (next, result)
    });
    while proxy.forwarded("ListKeys") == listed || proxy.in_flight_of("ListKeys") > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gate.open();
    let (next, result) = pass.await.expect("the pass ran");
    result.expect("reconciled");
    while proxy.in_flight_of("CreateKey") > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(next.ctx.engine.calls().stats.calls(Op::CreateKey), 0, "the next process created nothing");
    assert_eq!(proxy.forwarded("CreateKey"), 1, "one create reached KMS: {:?}", proxy.created_keys());
    let client = kms::client(&moto.endpoint(), REGION).await;
    let owned = live_keys_owned_by(&client, "kms-operator/apps/busy").await;
    assert_eq!(owned.len(), 1, "one key owned: {owned:?}");
    let status = next.get::<KmsKey>("apps", "busy").await.unwrap().status.unwrap();
    assert_eq!(status.key_id.as_deref(), Some(owned[0].as_str()), "the held attempt's key is the object's key");
    assert!(status.creating.is_none(), "the intent goes once its key is on record");
    // Recorded before the first attempt, restamped at least once: the last attempt left more
    // than a quarter of the window after the first.
    assert!(intent_writes >= 2, "the intent was recorded and restamped: {intent_writes} status write(s)");
}

/// The restamp goes through the same fenced status write as the intent itself: when the API
/// refuses it, the attempt that needed it is not sent, and the pass ends without a key.
#[tokio::test]
async fn an_attempt_whose_intent_could_not_be_restamped_is_not_sent() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let (cluster, _, _, attempts) = throttled_past_the_window(&proxy).await;
    // The intent is recorded; every write of status after it fails.
    cluster.fake.fail_after("PATCH", "/kmskeys/busy/status", 1, 503, 1000);
    let _ = cluster.reconcile_key("busy").await;
    let sent = cluster.ctx.engine.calls().stats.calls(Op::CreateKey);
    assert!(sent > 0, "the intent was recorded and the first attempt left");
    assert_eq!(sent, proxy.injected("CreateKey") as u64, "every attempt sent was throttled");
    assert!(sent < u64::from(attempts), "the attempt after the refused restamp was not sent: {sent} sent");
    assert_eq!(proxy.forwarded("CreateKey"), 0, "no CreateKey reached KMS");
    let client = kms::client(&moto.endpoint(), REGION).await;
    assert_eq!(live_keys_owned_by(&client, "kms-operator/apps/busy").await, Vec::<String>::new());
}
