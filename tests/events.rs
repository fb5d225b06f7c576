//! Events: a repeat within six minutes joins the first Event's series (one object with a count,
//! as `kubectl describe` shows it), different Events stay apart, and a series whose Event the
//! API server expired starts a new one.

mod support;

use k8s_openapi::api::core::v1::{Namespace, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kms_operator::controller::events::event;
use kms_operator::controller::recorder::EventRecorder;
use kube::runtime::events::{EventType, Reporter};
use serde_json::Value;
use support::fake_kube::FakeKube;

fn regarding(name: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some("kmsoperator.dev/v1alpha1".into()),
        kind: Some("KmsKey".into()),
        namespace: Some("apps".into()),
        name: Some(name.into()),
        uid: Some(format!("uid-{name}")),
        ..ObjectReference::default()
    }
}

/// A recorder of a fresh API server with the namespace `apps`.
async fn recorder(fake: &FakeKube) -> EventRecorder {
    let namespaces: kube::Api<Namespace> = kube::Api::all(fake.client());
    let apps =
        Namespace { metadata: ObjectMeta { name: Some("apps".into()), ..Default::default() }, ..Default::default() };
    namespaces.create(&Default::default(), &apps).await.expect("create the namespace");
    EventRecorder::new(fake.client(), Reporter { controller: "kms-operator".into(), instance: Some("test".into()) })
}

fn events_about(fake: &FakeKube, name: &str) -> Vec<Value> {
    fake.objects("events.k8s.io/v1", "events").into_iter().filter(|e| e["regarding"]["name"] == name).collect()
}

#[tokio::test]
async fn a_repeated_event_is_one_event_with_a_count() {
    let fake = FakeKube::new();
    let recorder = recorder(&fake).await;
    let failed = event(EventType::Warning, "KmsError", "Reconcile", "kms:CreateKey failed");
    for _ in 0..3 {
        recorder.publish(&failed, &regarding("logs")).await.expect("publish");
    }
    let events = events_about(&fake, "logs");
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["series"]["count"], 3);
    assert_eq!(events[0]["note"], "kms:CreateKey failed");
    assert_eq!(events[0]["type"], "Warning");
    assert_eq!(events[0]["reportingInstance"], "test");
    let writes: Vec<String> =
        fake.requests().iter().filter(|r| r.path.contains("/events")).map(|r| r.method.clone()).collect();
    assert_eq!(writes, ["POST", "PATCH", "PATCH"], "one create, then the series counted");

    // Another reason, or another object, is another Event.
    let created = event(EventType::Normal, "KeyCreated", "CreateKey", "created");
    recorder.publish(&created, &regarding("logs")).await.expect("publish");
    recorder.publish(&failed, &regarding("data")).await.expect("publish");
    assert_eq!(events_about(&fake, "logs").len(), 2);
    assert_eq!(events_about(&fake, "data").len(), 1);
    assert!(events_about(&fake, "data")[0]["series"].is_null(), "a first Event has no series");
}

#[tokio::test]
async fn a_series_whose_event_expired_starts_a_new_event() {
    let fake = FakeKube::new();
    let recorder = recorder(&fake).await;
    let failed = event(EventType::Warning, "KmsError", "Reconcile", "kms:CreateKey failed");
    recorder.publish(&failed, &regarding("logs")).await.expect("publish");
    let name = events_about(&fake, "logs")[0]["metadata"]["name"].as_str().expect("a name").to_owned();
    let api: kube::Api<k8s_openapi::api::events::v1::Event> = kube::Api::namespaced(fake.client(), "apps");
    api.delete(&name, &Default::default()).await.expect("the API server expires it");
    recorder.publish(&failed, &regarding("logs")).await.expect("publish after expiry");
    let events = events_about(&fake, "logs");
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_ne!(events[0]["metadata"]["name"], name.as_str());
    assert!(events[0]["series"].is_null());
}
