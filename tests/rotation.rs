//! Rotation as KMS does it, end to end in local mode: `rotation.rotateNow` rotates exactly once
//! per value, across runs and across a run stopped between its steps; KMS's limit of 10
//! on-demand rotations is respected before any call; the history shows in status; and period
//! drift is seen and repaired (the proxy reports periods as KMS does, which moto does not).

mod support;

use serde_json::{Value, json};
use support::cli::{Output, run_json};
use support::kms;
use support::manifests::{REGION, Workspace, account, key};
use support::moto::Moto;
use support::proxy::FaultProxy;

const ROTATE_NOW_TAG: &str = "kmsoperator.dev/rotate-now";
const BASE_TAG: &str = "kmsoperator.dev/rotate-now-base";

struct Setup {
    _moto: Moto,
    proxy: FaultProxy,
    ws: Workspace,
    /// Straight to the KMS server, behind the operator's back and the proxy's counts.
    kms: aws_sdk_kms::Client,
}

async fn setup(spec: &str) -> Setup {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    proxy.report_rotation_periods();
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&proxy.endpoint()));
    ws.write("key.yaml", &key("logs", spec));
    let kms = kms::client(&moto.endpoint(), REGION).await;
    Setup { _moto: moto, proxy, ws, kms }
}

fn rotate_now(value: &str) -> String {
    format!("rotation: {{enabled: true, periodDays: 180, rotateNow: \"{value}\"}}")
}

fn status(output: &Output) -> Value {
    output.resource("KmsKey", "logs")["status"].clone()
}

fn key_id(output: &Output) -> String {
    status(output)["keyId"].as_str().expect("status.keyId").to_owned()
}

async fn on_demand_rotations(client: &aws_sdk_kms::Client, key_id: &str) -> usize {
    let out = client.list_key_rotations().key_id(key_id).send().await.expect("ListKeyRotations");
    out.rotations().iter().filter(|r| r.rotation_type().is_some_and(|t| t.as_str() == "ON_DEMAND")).count()
}

/// The tags step 1 of a rotation writes, as a run stopped after it leaves them (no rotation
/// before it).
async fn record_by_hand(client: &aws_sdk_kms::Client, key_id: &str, value: &str) {
    for (k, v) in [(ROTATE_NOW_TAG, value), (BASE_TAG, "0")] {
        let tag = aws_sdk_kms::types::Tag::builder().tag_key(k).tag_value(v).build().expect("tag");
        client.tag_resource().key_id(key_id).tags(tag).send().await.expect("TagResource");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_now_rotates_once_and_later_runs_never_again() {
    let s = setup(&rotate_now("2026-11-25")).await;
    let first = run_json("apply", s.ws.path());
    first.assert_code(0);
    let id = key_id(&first);
    assert_eq!(s.proxy.forwarded("RotateKeyOnDemand"), 1);
    assert_eq!(on_demand_rotations(&s.kms, &id).await, 1);
    let rotation = &status(&first)["rotation"];
    assert_eq!(rotation["rotateNowApplied"], "2026-11-25", "{rotation}");
    assert_eq!(rotation["onDemandRotations"], 1, "{rotation}");
    assert_eq!(rotation["recent"][0]["type"], "ON_DEMAND", "{rotation}");
    assert!(rotation["lastRotationDate"].is_string(), "{rotation}");
    let tags = kms::tags(&s.kms, &id).await;
    assert_eq!(tags.get(ROTATE_NOW_TAG).map(String::as_str), Some("2026-11-25"));
    assert!(!tags.contains_key(BASE_TAG), "the rotation is finished: {tags:?}");

    // Every later run (a new process, as after a restart) knows from the key that it is done.
    for _ in 0..2 {
        let again = run_json("apply", s.ws.path());
        again.assert_code(0);
        assert_eq!(again.writes(), 0, "{}", again.stdout);
        assert_eq!(again.calls("ListKeyRotations"), 0, "an in-sync key reads no history");
        assert_eq!(status(&again)["rotation"]["rotateNowApplied"], "2026-11-25");
    }
    run_json("plan", s.ws.path()).assert_code(0);
    assert_eq!(s.proxy.forwarded("RotateKeyOnDemand"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_value_is_planned_then_rotates_once_more() {
    let s = setup(&rotate_now("first")).await;
    run_json("apply", s.ws.path()).assert_code(0);
    s.ws.write("key.yaml", &key("logs", &rotate_now("second")));

    let plan = run_json("plan", s.ws.path());
    plan.assert_code(2);
    let actions = &plan.resource("KmsKey", "logs")["actions"];
    assert_eq!(actions.as_array().map(Vec::len), Some(1), "{actions}");
    assert_eq!(actions[0]["operation"], "RotateKeyOnDemand", "{actions}");
    let summary = actions[0]["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("\"second\"") && summary.contains("2 of 10"), "{summary}");
    assert_eq!(plan.writes(), 0);

    let apply = run_json("apply", s.ws.path());
    apply.assert_code(0);
    assert_eq!(apply.calls("RotateKeyOnDemand"), 1);
    let rotation = &status(&apply)["rotation"];
    assert_eq!(rotation["rotateNowApplied"], "second");
    assert_eq!(rotation["onDemandRotations"], 2);
    assert_eq!(rotation["recent"].as_array().map(Vec::len), Some(2), "{rotation}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_after_recording_the_rotation_rotates_once() {
    let s = setup("rotation: {enabled: true, periodDays: 180}").await;
    let id = key_id(run_json("apply", s.ws.path()).assert_code(0));
    // What a run killed between its TagResource and its RotateKeyOnDemand leaves behind.
    record_by_hand(&s.kms, &id, "ticket-7").await;
    s.ws.write("key.yaml", &key("logs", &rotate_now("ticket-7")));

    let apply = run_json("apply", s.ws.path());
    apply.assert_code(0);
    assert_eq!(apply.calls("RotateKeyOnDemand"), 1);
    assert_eq!(apply.calls("TagResource"), 0, "the record was already on the key");
    assert_eq!(on_demand_rotations(&s.kms, &id).await, 1);
    assert!(!kms::tags(&s.kms, &id).await.contains_key(BASE_TAG));
    assert_eq!(run_json("apply", s.ws.path()).assert_code(0).writes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_after_rotating_only_finishes_the_record() {
    let s = setup("rotation: {enabled: true, periodDays: 180}").await;
    let id = key_id(run_json("apply", s.ws.path()).assert_code(0));
    // A run killed after its RotateKeyOnDemand landed, before it cleared the base tag.
    record_by_hand(&s.kms, &id, "ticket-8").await;
    s.kms.rotate_key_on_demand().key_id(&id).send().await.unwrap();
    s.ws.write("key.yaml", &key("logs", &rotate_now("ticket-8")));

    let apply = run_json("apply", s.ws.path());
    apply.assert_code(0);
    assert_eq!(apply.calls("RotateKeyOnDemand"), 0, "it rotated already: {}", apply.stdout);
    assert_eq!(apply.calls("UntagResource"), 1);
    assert_eq!(on_demand_rotations(&s.kms, &id).await, 1);
    assert_eq!(status(&apply)["rotation"]["rotateNowApplied"], "ticket-8");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_of_ten_on_demand_rotations_is_reported_before_any_call() {
    let s = setup("rotation: {enabled: true, periodDays: 180}").await;
    let id = key_id(run_json("apply", s.ws.path()).assert_code(0));
    for _ in 0..10 {
        s.kms.rotate_key_on_demand().key_id(&id).send().await.unwrap();
    }
    s.ws.write("key.yaml", &key("logs", &rotate_now("eleventh")));

    let apply = run_json("apply", s.ws.path());
    assert_ne!(apply.code, 0, "a rotation KMS would refuse is not in sync:\n{}", apply.stdout);
    assert_eq!(apply.writes(), 0, "{}", apply.stdout);
    let synced = status(&apply)["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Synced").cloned())
        .unwrap_or_else(|| panic!("no Synced condition: {}", apply.stdout));
    assert_eq!(synced["reason"], "RotateNowLimitReached", "{synced}");
    let message = synced["message"].as_str().unwrap_or_default();
    assert!(message.contains("spec.rotation.rotateNow") && message.contains("10"), "{message}");
    assert_eq!(on_demand_rotations(&s.kms, &id).await, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_period_drift_is_detected_and_repaired() {
    let s = setup("rotation: {enabled: true, periodDays: 180}").await;
    let id = key_id(run_json("apply", s.ws.path()).assert_code(0));
    let through_proxy = kms::client(&s.proxy.endpoint(), REGION).await;
    let live = through_proxy.get_key_rotation_status().key_id(&id).send().await.unwrap();
    assert_eq!(live.rotation_period_in_days(), Some(180), "the period the operator set");
    assert_eq!(status(&run_json("plan", s.ws.path()))["rotation"]["periodDays"], 180);

    // Someone shortens the period in the console.
    through_proxy.enable_key_rotation().key_id(&id).rotation_period_in_days(90).send().await.unwrap();
    let plan = run_json("plan", s.ws.path());
    plan.assert_code(2);
    let actions = &plan.resource("KmsKey", "logs")["actions"];
    assert_eq!(actions[0]["operation"], "EnableKeyRotation", "{actions}");
    assert_eq!(actions[0]["summary"], json!("rotation: every 90 days -> every 180 days"), "{actions}");

    let apply = run_json("apply", s.ws.path());
    apply.assert_code(0);
    assert_eq!(apply.calls("EnableKeyRotation"), 1);
    let live = through_proxy.get_key_rotation_status().key_id(&id).send().await.unwrap();
    assert_eq!(live.rotation_period_in_days(), Some(180));
    run_json("plan", s.ws.path()).assert_code(0);
}
