//! KmsAlias end to end: create, repoint, drift, conflicts, deletion.

mod support;

use support::cli::{Output, kms_operator, run_json};
use support::kms;
use support::kms::alias_target;
use support::manifests::{ACCOUNT_ID, REGION, Workspace, account, alias, key};
use support::moto::Moto;

struct Setup {
    _moto: Moto,
    ws: Workspace,
    kms: aws_sdk_kms::Client,
}

async fn setup() -> Setup {
    let moto = Moto::start();
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&moto.endpoint()));
    ws.write("keys.yaml", &format!("{}---\n{}", key("blue", "description: blue"), key("green", "description: green")));
    ws.write("alias.yaml", &alias("app", "name: alias/app\nkeyRef: {name: blue}"));
    let kms = kms::client(&moto.endpoint(), REGION).await;
    Setup { _moto: moto, ws, kms }
}

fn key_id(output: &Output, name: &str) -> String {
    output.resource("KmsKey", name)["status"]["keyId"].as_str().expect("keyId").to_owned()
}

fn operations(output: &Output, kind: &str, name: &str) -> Vec<String> {
    output.resource(kind, name)["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| a["operation"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn an_alias_to_a_key_of_the_same_run_is_created_then_left_alone() {
    let s = setup().await;
    let first = run_json("apply", s.ws.path());
    first.assert_code(0);
    let blue = key_id(&first, "blue");
    assert_eq!(alias_target(&s.kms, "alias/app").await, Some(blue.clone()));
    let status = &first.resource("KmsAlias", "app")["status"];
    assert_eq!(status["targetKeyId"], blue.as_str());
    assert_eq!(status["region"], REGION);
    let arn = status["arn"].as_str().unwrap_or_default();
    assert!(
        arn.starts_with("arn:aws:kms:") && arn.ends_with(":alias/app"),
        "the ARN from the first apply on: {status}"
    );

    let second = run_json("apply", s.ws.path());
    assert_eq!(second.resource("KmsAlias", "app")["status"]["arn"], arn, "the ARN KMS lists");
    assert_eq!(second.writes(), 0, "{}", second.stderr);
    assert_eq!(second.calls("ListAliases"), 1, "one listing per region and pass");
}

#[tokio::test]
async fn changing_the_key_reference_repoints_the_alias() {
    let s = setup().await;
    let first = run_json("apply", s.ws.path());
    let green = key_id(&first, "green");
    s.ws.write("alias.yaml", &alias("app", "name: alias/app\nkeyRef: {name: green}"));
    let plan = run_json("plan", s.ws.path());
    plan.assert_code(2);
    assert_eq!(operations(&plan, "KmsAlias", "app"), vec!["UpdateAlias"]);
    run_json("apply", s.ws.path()).assert_code(0);
    assert_eq!(alias_target(&s.kms, "alias/app").await, Some(green));
}

#[tokio::test]
async fn an_alias_deleted_or_repointed_by_hand_is_repaired() {
    let s = setup().await;
    let first = run_json("apply", s.ws.path());
    let (blue, green) = (key_id(&first, "blue"), key_id(&first, "green"));

    s.kms.delete_alias().alias_name("alias/app").send().await.unwrap();
    let plan = run_json("plan", s.ws.path());
    plan.assert_code(2);
    assert_eq!(operations(&plan, "KmsAlias", "app"), vec!["CreateAlias"]);
    run_json("apply", s.ws.path()).assert_code(0);
    assert_eq!(alias_target(&s.kms, "alias/app").await, Some(blue.clone()));

    s.kms.update_alias().alias_name("alias/app").target_key_id(&green).send().await.unwrap();
    let plan = run_json("plan", s.ws.path());
    plan.assert_code(2);
    assert_eq!(operations(&plan, "KmsAlias", "app"), vec!["UpdateAlias"]);
    run_json("apply", s.ws.path()).assert_code(0);
    assert_eq!(alias_target(&s.kms, "alias/app").await, Some(blue));
}

#[tokio::test]
async fn an_alias_held_by_a_key_the_operator_does_not_own_is_never_taken() {
    let s = setup().await;
    let foreign = s.kms.create_key().description("someone else's").send().await.unwrap();
    let foreign_id = foreign.key_metadata().unwrap().key_id().to_owned();
    s.kms.create_alias().alias_name("alias/app").target_key_id(&foreign_id).send().await.unwrap();

    let plan = kms_operator(&["plan", "-f", "."], s.ws.path());
    plan.assert_code(1);
    assert!(plan.stdout.contains("AliasConflict"), "{}", plan.stdout);
    assert!(plan.stdout.contains(&foreign_id), "{}", plan.stdout);

    let apply = run_json("apply", s.ws.path());
    apply.assert_code(1);
    assert_eq!(apply.calls("UpdateAlias") + apply.calls("CreateAlias") + apply.calls("DeleteAlias"), 0);
    let ready = &apply.resource("KmsAlias", "app")["status"]["conditions"];
    assert!(ready.to_string().contains("AliasConflict"), "{ready}");
    assert_eq!(alias_target(&s.kms, "alias/app").await, Some(foreign_id.clone()), "still theirs");

    // Deleting the KmsAlias leaves their alias alone too.
    run_json("delete", s.ws.path()).assert_code(0);
    assert_eq!(alias_target(&s.kms, "alias/app").await, Some(foreign_id));
}

#[tokio::test]
async fn an_alias_to_an_existing_key_by_id_or_arn() {
    let s = setup().await;
    let existing = s.kms.create_key().send().await.unwrap();
    let arn = existing.key_metadata().unwrap().arn().unwrap().to_owned();
    let id = existing.key_metadata().unwrap().key_id().to_owned();
    s.ws.write("alias.yaml", &alias("app", &format!("name: alias/legacy\ntargetKeyId: {arn}\naccountRef: test")));
    let apply = run_json("apply", s.ws.path());
    apply.assert_code(0);
    assert_eq!(alias_target(&s.kms, "alias/legacy").await, Some(id));
    assert!(arn.contains(ACCOUNT_ID));
    assert_eq!(run_json("apply", s.ws.path()).writes(), 0);
}

/// The aws-controllers-k8s KMS controller's own alias test (`test/e2e/tests/test_alias.py`,
/// `test_create_update_delete_alias`): an alias on an existing key, repointed to another existing
/// key, then deleted. Neither key is the operator's, so repointing takes `adopt`: a local run
/// has no status to remember that it created the alias.
#[tokio::test]
async fn the_ack_alias_scenario_creates_on_one_key_repoints_to_another_and_deletes() {
    let s = setup().await;
    s.ws.remove("keys.yaml");
    let mut keys = Vec::new();
    for _ in 0..2 {
        let created = s.kms.create_key().send().await.unwrap();
        keys.push(created.key_metadata().unwrap().key_id().to_owned());
    }
    let on = |key: &str, adopt: bool| {
        alias("app", &format!("name: alias/simple-alias\ntargetKeyId: {key}\naccountRef: test\nadopt: {adopt}"))
    };
    s.ws.write("alias.yaml", &on(&keys[0], true));
    let created = run_json("apply", s.ws.path());
    created.assert_code(0);
    assert_eq!(alias_target(&s.kms, "alias/simple-alias").await, Some(keys[0].clone()));
    let arn = created.resource("KmsAlias", "app")["status"]["arn"].clone();

    // Without adopt, an alias on a key nobody owns is someone else's until shown otherwise.
    s.ws.write("alias.yaml", &on(&keys[1], false));
    let refused = kms_operator(&["plan", "-f", "."], s.ws.path());
    refused.assert_code(1);
    assert!(
        refused.stdout.contains("AliasConflict") && refused.stdout.contains("spec.adopt: true"),
        "{}",
        refused.stdout
    );

    s.ws.write("alias.yaml", &on(&keys[1], true));
    let repointed = run_json("apply", s.ws.path());
    repointed.assert_code(0);
    assert_eq!(repointed.calls("UpdateAlias"), 1);
    assert_eq!(alias_target(&s.kms, "alias/simple-alias").await, Some(keys[1].clone()));
    let status = &repointed.resource("KmsAlias", "app")["status"];
    assert_eq!((&status["targetKeyId"], &status["arn"]), (&serde_json::json!(keys[1]), &arn));
    assert_eq!(run_json("apply", s.ws.path()).writes(), 0);

    let deleted = run_json("delete", s.ws.path());
    deleted.assert_code(0);
    assert_eq!(deleted.calls("DeleteAlias"), 1);
    assert_eq!(alias_target(&s.kms, "alias/simple-alias").await, None);
}

#[tokio::test]
async fn the_controller_adopts_an_alias_only_where_the_account_lets_it() {
    use kms_operator::api::{KmsAlias, KmsKey};
    use support::cluster::{Cluster, condition, key_object_in, object_in};

    let moto = Moto::start();
    let client = kms::client(&moto.endpoint(), REGION).await;
    let legacy = client.create_key().send().await.unwrap().key_metadata().unwrap().key_id().to_owned();
    client.create_alias().alias_name("alias/legacy").target_key_id(&legacy).send().await.unwrap();
    let cluster = Cluster::new().await;
    cluster.namespace("apps", serde_json::json!({})).await;
    cluster.namespace("platform", serde_json::json!({"adopt": "yes"})).await;
    let adopters = serde_json::json!({"permissions": {"adoptionNamespaces": {"matchLabels": {"adopt": "yes"}}}});
    cluster.account(&moto.endpoint(), adopters).await;
    for namespace in ["apps", "platform"] {
        cluster.create::<KmsKey>(namespace, key_object_in(namespace, "k", serde_json::json!({}))).await;
        for _ in 0..2 {
            cluster.reconcile_key_in(namespace, "k").await.unwrap();
        }
        let spec = serde_json::json!({"name": "alias/legacy", "keyRef": {"name": "k"}, "adopt": true});
        cluster.create::<KmsAlias>(namespace, object_in("KmsAlias", namespace, "legacy", spec)).await;
    }

    let writes = cluster.writes();
    for _ in 0..2 {
        cluster.reconcile_on_key::<KmsAlias>("apps", "legacy").await.unwrap();
    }
    let refused = cluster.get::<KmsAlias>("apps", "legacy").await.unwrap().status.expect("status");
    assert_eq!(condition(&refused.conditions, "Ready").reason, "NotPermitted");
    assert_eq!(cluster.writes(), writes, "refused before any write");
    assert_eq!(alias_target(&client, "alias/legacy").await, Some(legacy));

    for _ in 0..2 {
        cluster.reconcile_on_key::<KmsAlias>("platform", "legacy").await.unwrap();
    }
    let platform_key = cluster.get::<KmsKey>("platform", "k").await.unwrap().status.unwrap().key_id.unwrap();
    assert_eq!(alias_target(&client, "alias/legacy").await, Some(platform_key));
    let status = cluster.get::<KmsAlias>("platform", "legacy").await.unwrap().status.expect("status");
    assert_eq!(condition(&status.conditions, "Ready").status, "True");
}

#[tokio::test]
async fn an_alias_is_deleted_alone_its_key_found_by_its_ownership_tag() {
    let s = setup().await;
    let applied = run_json("apply", s.ws.path());
    let blue = key_id(&applied, "blue");
    // Only the account and the alias: the KmsKey stays, so deleting must not touch its key.
    let delete = kms_operator(&["delete", "-f", "account.yaml", "-f", "alias.yaml", "-o", "json"], s.ws.path());
    delete.assert_code(0);
    assert_eq!(delete.calls("DeleteAlias"), 1);
    assert_eq!(delete.writes(), 1, "the alias and nothing else: {}", delete.stdout);
    assert_eq!(alias_target(&s.kms, "alias/app").await, None);
    let key = kms::describe(&s.kms, &blue).await;
    assert_eq!(key.key_state().map(|s| s.as_str()), Some("Enabled"));
    assert!(kms::tags(&s.kms, &blue).await.contains_key("kmsoperator.dev/owner"), "still the KmsKey's");

    // Validating or applying the alias alone still needs its KmsKey among the manifests.
    let validate = kms_operator(&["validate", "-f", "account.yaml", "-f", "alias.yaml"], s.ws.path());
    validate.assert_code(1);
    assert!(validate.stderr.contains("spec.keyRef.name"), "{}", validate.stderr);

    // Once the alias is gone, deleting it again finds nothing to do.
    let again = kms_operator(&["delete", "-f", "account.yaml", "-f", "alias.yaml", "-o", "json"], s.ws.path());
    again.assert_code(0);
    assert_eq!(again.writes(), 0);
}

#[tokio::test]
async fn delete_removes_the_alias() {
    let s = setup().await;
    run_json("apply", s.ws.path()).assert_code(0);
    let delete = run_json("delete", s.ws.path());
    delete.assert_code(0);
    assert_eq!(delete.calls("DeleteAlias"), 1);
    assert_eq!(alias_target(&s.kms, "alias/app").await, None);
}
