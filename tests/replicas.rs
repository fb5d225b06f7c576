//! Multi-Region keys: replicas created, converged and removed; aliases and grants in both
//! regions; everything converged in one apply and free of writes on the next.

mod support;

use serde_json::Value;
use support::cli::{Output, kms_operator, run_json};
use support::kms;
use support::manifests::{REGION, Workspace, account, alias, grant, key};
use support::moto::Moto;

const REPLICA_REGION: &str = "us-west-2";

fn key_spec(extra: &str) -> String {
    format!(
        "description: global\nmultiRegion: true\ntags: {{Team: data}}\npolicy:\n  services: [{{name: s3}}]\nreplicas:\n  - region: {REPLICA_REGION}\n    description: global (replica)\n{extra}"
    )
}

struct Setup {
    _moto: Moto,
    ws: Workspace,
    primary: aws_sdk_kms::Client,
    replica: aws_sdk_kms::Client,
}

async fn setup(extra: &str) -> Setup {
    let moto = Moto::start();
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&moto.endpoint()));
    ws.write("key.yaml", &key("global", &key_spec(extra)));
    let primary = kms::client(&moto.endpoint(), REGION).await;
    let replica = kms::client(&moto.endpoint(), REPLICA_REGION).await;
    Setup { _moto: moto, ws, primary, replica }
}

fn status(output: &Output) -> Value {
    output.resource("KmsKey", "global")["status"].clone()
}

fn via_services(policy: &Value) -> Vec<String> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["Condition"]["StringEquals"]["kms:ViaService"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_replica_is_created_with_its_region_policy_and_reported() {
    let s = setup("").await;
    let first = run_json("apply", s.ws.path());
    first.assert_code(0);
    let status = status(&first);
    let id = status["keyId"].as_str().unwrap().to_owned();
    assert!(id.starts_with("mrk-"));
    let replicas = status["replicas"].as_array().unwrap();
    assert_eq!(replicas.len(), 1);
    assert_eq!(replicas[0]["region"], REPLICA_REGION);
    assert_eq!(replicas[0]["keyState"], "Enabled");
    assert!(replicas[0]["arn"].as_str().unwrap().contains(REPLICA_REGION));

    let replica = kms::describe(&s.replica, &id).await;
    assert_eq!(replica.description(), Some("global (replica)"));
    assert_eq!(kms::tags(&s.replica, &id).await.get("Team").map(String::as_str), Some("data"));
    assert_eq!(via_services(&kms::policy(&s.replica, &id).await), vec![format!("s3.{REPLICA_REGION}.amazonaws.com")]);
    assert_eq!(via_services(&kms::policy(&s.primary, &id).await), vec![format!("s3.{REGION}.amazonaws.com")]);

    let second = run_json("apply", s.ws.path());
    assert_eq!(second.writes(), 0, "{}", second.stderr);
}

#[tokio::test]
async fn replica_drift_is_repaired_and_rotation_stays_with_the_primary() {
    let s = setup("").await;
    let id = status(&run_json("apply", s.ws.path()))["keyId"].as_str().unwrap().to_owned();
    s.replica.update_key_description().key_id(&id).description("edited").send().await.unwrap();
    s.replica.disable_key().key_id(&id).send().await.unwrap();
    let plan = run_json("plan", s.ws.path());
    plan.assert_code(2);
    let actions = plan.resource("KmsKey", "global")["actions"].clone();
    let in_replica: Vec<&str> = actions
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["region"] == REPLICA_REGION)
        .filter_map(|a| a["operation"].as_str())
        .collect();
    assert_eq!(in_replica, vec!["EnableKey", "UpdateKeyDescription"]);
    run_json("apply", s.ws.path()).assert_code(0);
    assert_eq!(kms::describe(&s.replica, &id).await.description(), Some("global (replica)"));
    run_json("plan", s.ws.path()).assert_code(0);
}

#[tokio::test]
async fn a_removed_replica_is_left_under_retain_and_deleted_under_delete() {
    let s = setup("").await;
    let id = status(&run_json("apply", s.ws.path()))["keyId"].as_str().unwrap().to_owned();
    let without_replica =
        "description: global\nmultiRegion: true\ntags: {Team: data}\npolicy:\n  services: [{name: s3}]\n";
    s.ws.write("key.yaml", &key("global", without_replica));
    let apply = kms_operator(&["apply", "-f", "."], s.ws.path());
    apply.assert_code(0);
    assert!(apply.stdout.contains("left in place because deletion.policy is Retain"), "{}", apply.stdout);
    assert_eq!(kms::describe(&s.replica, &id).await.key_state().map(|s| s.as_str()), Some("Enabled"));

    s.ws.write(
        "key.yaml",
        &key("global", &format!("{without_replica}deletion: {{policy: Delete, pendingWindowDays: 7}}\n")),
    );
    let apply = run_json("apply", s.ws.path());
    apply.assert_code(0);
    assert_eq!(apply.calls("ScheduleKeyDeletion"), 1);
    assert_eq!(kms::describe(&s.replica, &id).await.key_state().map(|s| s.as_str()), Some("PendingDeletion"));
    assert_eq!(kms::describe(&s.primary, &id).await.key_state().map(|s| s.as_str()), Some("Enabled"));
}

#[tokio::test]
async fn deleting_a_multi_region_key_deletes_replicas_first() {
    let s = setup("deletion: {policy: Delete, pendingWindowDays: 7}\n").await;
    let id = status(&run_json("apply", s.ws.path()))["keyId"].as_str().unwrap().to_owned();
    let delete = run_json("delete", s.ws.path());
    delete.assert_code(0);
    let regions: Vec<String> = delete.resource("KmsKey", "global")["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["region"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(regions, vec![REPLICA_REGION.to_owned(), REGION.to_owned()]);
    assert_eq!(kms::describe(&s.primary, &id).await.key_state().map(|s| s.as_str()), Some("PendingDeletion"));
    assert_eq!(kms::describe(&s.replica, &id).await.key_state().map(|s| s.as_str()), Some("PendingDeletion"));
}

#[tokio::test]
async fn keys_replicas_aliases_and_grants_converge_in_one_apply_and_then_cost_no_writes() {
    let s = setup("").await;
    s.ws.write("alias-primary.yaml", &alias("global", "name: alias/global\nkeyRef: {name: global}"));
    s.ws.write(
        "alias-replica.yaml",
        &alias("global-west", &format!("name: alias/global-west\nkeyRef: {{name: global}}\nregion: {REPLICA_REGION}")),
    );
    s.ws.write("grant.yaml", &grant("reader", "keyRef: {name: global}\nname: reader\ngranteePrincipal: arn:aws:iam::123456789012:role/reader\noperations: [Decrypt]"));
    let first = run_json("apply", s.ws.path());
    first.assert_code(0);
    let id = status(&first)["keyId"].as_str().unwrap().to_owned();
    let replica_alias = s.replica.list_aliases().send().await.unwrap();
    let west = replica_alias
        .aliases()
        .iter()
        .find(|a| a.alias_name() == Some("alias/global-west"))
        .expect("alias in the replica region");
    assert_eq!(west.target_key_id(), Some(id.as_str()));
    assert_eq!(first.resource("KmsAlias", "global-west")["status"]["region"], REPLICA_REGION);

    let second = run_json("apply", s.ws.path());
    second.assert_code(0);
    assert_eq!(second.writes(), 0, "{}", second.stderr);
    run_json("plan", s.ws.path()).assert_code(0);

    let delete = run_json("delete", s.ws.path());
    delete.assert_code(0);
    assert_eq!(delete.calls("DeleteAlias"), 2);
    assert_eq!(delete.calls("RetireGrant"), 1);
    assert_eq!(
        kms::describe(&s.primary, &id).await.key_state().map(|s| s.as_str()),
        Some("Enabled"),
        "Retain keeps the key"
    );
}

#[tokio::test]
async fn replicas_of_an_adopted_key_that_the_operator_did_not_create_are_left_alone() {
    let moto = Moto::start();
    let primary = kms::client(&moto.endpoint(), REGION).await;
    // A multi-Region key and two replicas made outside the operator, with moto's key id form.
    let created = primary.create_key().multi_region(true).description("legacy").send().await.unwrap();
    let id = created.key_metadata().unwrap().key_id().to_owned();
    for region in [REPLICA_REGION, "eu-central-1"] {
        primary.replicate_key().key_id(&id).replica_region(region).description("theirs").send().await.unwrap();
    }
    let mut before = Vec::new();
    for region in [REPLICA_REGION, "eu-central-1"] {
        before.push(kms::describe(&kms::client(&moto.endpoint(), region).await, &id).await);
    }
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&moto.endpoint()));
    let spec = format!(
        "import: {{keyId: {id}}}\nmultiRegion: true\ndescription: adopted\ndeletion: {{policy: Delete, pendingWindowDays: 7}}"
    );
    ws.write("key.yaml", &key("adopted", &spec));

    let applied = run_json("apply", ws.path());
    applied.assert_code(0);
    let notices = applied.resource("KmsKey", "adopted")["notices"].to_string();
    assert!(notices.contains("ForeignReplica"), "{notices}");
    let deleted = run_json("delete", ws.path());
    deleted.assert_code(0);
    assert_eq!(deleted.calls("ScheduleKeyDeletion"), 1, "the adopted primary only: {}", deleted.stdout);
    for (region, before) in [REPLICA_REGION, "eu-central-1"].into_iter().zip(before) {
        let replica = kms::describe(&kms::client(&moto.endpoint(), region).await, &id).await;
        assert_eq!(replica, before, "{region}: untouched");
    }
}
