//! The series the chart's alerts read, from real controller passes against a local KMS: a key's
//! state in KMS beside what its spec asks (disabled outside, scheduled for deletion), and the
//! start of a drift that is not brought back; each series goes when its reason does.

mod support;

use kms_operator::api::KmsKey;
use serde_json::json;
use support::cluster::{Cluster, condition, key_object, with_changes_outside};

/// The lines of the metric family `name` as the controller exports them now.
fn series(cluster: &Cluster, name: &str) -> Vec<String> {
    let prefix = format!("{name}{{");
    cluster.ctx.metrics.render().lines().filter(|l| l.starts_with(&prefix)).map(str::to_owned).collect()
}

/// Each drifting resource's labels and the start of its drift (Unix seconds).
fn drift(cluster: &Cluster) -> Vec<(String, f64)> {
    let name = "kms_operator_drift_started_timestamp_seconds";
    series(cluster, name)
        .iter()
        .map(|line| {
            let (labels, value) = line.rsplit_once("} ").expect("labels and a value");
            let labels = labels.strip_prefix(&format!("{name}{{")).expect("the family's name");
            (labels.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

fn key_state(cluster: &Cluster) -> Vec<String> {
    series(cluster, "kms_operator_key_state")
}

fn key_state_line(name: &str, state: &str) -> String {
    format!(
        r#"kms_operator_key_state{{resource_namespace="apps",resource_name="{name}",state="{state}",spec_enabled="true"}} 1"#
    )
}

async fn reconcile(cluster: &Cluster, name: &str, passes: usize) {
    for _ in 0..passes {
        cluster.reconcile_key(name).await.expect("reconciled");
    }
}

#[tokio::test]
async fn a_key_shows_its_kms_state_until_its_kms_key_is_deleted() {
    let (_moto, cluster, client) = with_changes_outside().await;
    cluster.create::<KmsKey>("apps", key_object("orders", json!({}))).await;
    reconcile(&cluster, "orders", 2).await;
    assert_eq!(key_state(&cluster), [key_state_line("orders", "Enabled")]);
    let id = cluster.get::<KmsKey>("apps", "orders").await.and_then(|k| k.status).and_then(|s| s.key_id).unwrap();

    client.disable_key().key_id(&id).send().await.unwrap();
    reconcile(&cluster, "orders", 1).await;
    assert_eq!(key_state(&cluster), [key_state_line("orders", "Disabled")], "disabled while the spec says enabled");

    client.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send().await.unwrap();
    reconcile(&cluster, "orders", 1).await;
    assert_eq!(key_state(&cluster), [key_state_line("orders", "PendingDeletion")]);

    cluster.delete::<KmsKey>("apps", "orders").await;
    reconcile(&cluster, "orders", 1).await;
    assert!(cluster.get::<KmsKey>("apps", "orders").await.is_none());
    assert_eq!(key_state(&cluster), Vec::<String>::new(), "the series goes with the object");
}

#[tokio::test]
async fn drift_repaired_in_the_pass_that_found_it_leaves_no_lasting_drift() {
    let (_moto, cluster, client) = with_changes_outside().await;
    cluster.create::<KmsKey>("apps", key_object("logs", json!({"description": "v1"}))).await;
    reconcile(&cluster, "logs", 2).await;
    let id = cluster.get::<KmsKey>("apps", "logs").await.and_then(|k| k.status).and_then(|s| s.key_id).unwrap();
    client.update_key_description().key_id(&id).description("console edit").send().await.unwrap();
    reconcile(&cluster, "logs", 1).await;
    assert!(cluster.event_reasons("logs").contains(&"DriftDetected".to_owned()));
    assert_eq!(drift(&cluster), []);
}

#[tokio::test]
async fn an_observed_key_that_differs_drifts_from_when_synced_turned_false_until_it_matches() {
    let (_moto, cluster, client) = with_changes_outside().await;
    let created = client.create_key().description("as it is").send().await.unwrap();
    let id = created.key_metadata().unwrap().key_id().to_owned();
    let spec = json!({"import": {"keyId": id}, "managementPolicy": "Observe", "description": "as declared", "rotation": {"enabled": false}});
    cluster.create::<KmsKey>("apps", key_object("watched", spec)).await;
    reconcile(&cluster, "watched", 2).await;

    let status = cluster.get::<KmsKey>("apps", "watched").await.and_then(|k| k.status).unwrap();
    let synced = condition(&status.conditions, "Synced");
    assert_eq!((synced.status.as_str(), synced.reason.as_str()), ("False", "DriftDetected"));
    let started = synced.last_transition_time.0.as_second() as f64;
    let expected = [(r#"kind="KmsKey",resource_namespace="apps",resource_name="watched""#.to_owned(), started)];
    assert_eq!(drift(&cluster), expected);
    reconcile(&cluster, "watched", 1).await;
    assert_eq!(drift(&cluster), expected, "the drift keeps its start");

    // A controller that restarted finds the same drift with the same start, from the status.
    let restarted = Cluster::on(cluster.fake.clone()).await;
    restarted.reconcile_key("watched").await.expect("reconciled");
    assert_eq!(drift(&restarted), expected);

    client.update_key_description().key_id(&id).description("as declared").send().await.unwrap();
    reconcile(&cluster, "watched", 1).await;
    assert_eq!(drift(&cluster), []);
}
