//! KmsGrant end to end: create, replace in a safe order, drift, deletion.

mod support;

use support::cli::{Output, run_json};
use support::kms;
use support::manifests::{REGION, Workspace, account, grant, key};
use support::moto::Moto;

const GRANTEE: &str = "arn:aws:iam::123456789012:role/s3-replication";

struct Setup {
    _moto: Moto,
    ws: Workspace,
    kms: aws_sdk_kms::Client,
}

fn grant_spec(name: &str, operations: &str) -> String {
    format!(
        "keyRef: {{name: data}}\nname: {name}\ngranteePrincipal: {GRANTEE}\noperations: [{operations}]\nconstraints:\n  encryptionContextSubset: {{app: replication}}"
    )
}

async fn setup() -> Setup {
    let moto = Moto::start();
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&moto.endpoint()));
    ws.write("key.yaml", &key("data", "description: data"));
    ws.write("grant.yaml", &grant("s3", &grant_spec("s3-replication", "Encrypt, Decrypt")));
    let kms = kms::client(&moto.endpoint(), REGION).await;
    Setup { _moto: moto, ws, kms }
}

async fn live_grants(client: &aws_sdk_kms::Client, key_id: &str) -> Vec<(String, Vec<String>)> {
    let out = client.list_grants().key_id(key_id).send().await.expect("ListGrants");
    out.grants()
        .iter()
        .map(|g| {
            let mut ops: Vec<String> = g.operations().iter().map(|o| o.as_str().to_owned()).collect();
            ops.sort();
            (g.grant_id().unwrap_or_default().to_owned(), ops)
        })
        .collect()
}

fn key_id(output: &Output) -> String {
    output.resource("KmsKey", "data")["status"]["keyId"].as_str().expect("keyId").to_owned()
}

fn operations(output: &Output) -> Vec<String> {
    output.resource("KmsGrant", "s3")["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| a["operation"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_grant_is_created_once() {
    let s = setup().await;
    let first = run_json("apply", s.ws.path());
    first.assert_code(0);
    let id = key_id(&first);
    let grants = live_grants(&s.kms, &id).await;
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].1, vec!["Decrypt", "Encrypt"]);
    assert_eq!(first.resource("KmsGrant", "s3")["status"]["grantId"], grants[0].0.as_str());
    let token = &first.resource("KmsGrant", "s3")["status"]["grantToken"];
    assert!(token.as_str().is_some_and(|t| !t.is_empty()), "the run that created the grant shows its token: {token}");

    let second = run_json("apply", s.ws.path());
    assert_eq!(second.writes(), 0);
    assert_eq!(second.calls("ListGrants"), 1);
    // ListGrants shows no tokens, and a local run remembers nothing of the last one.
    assert!(second.resource("KmsGrant", "s3")["status"].get("grantToken").is_none());
}

#[tokio::test]
async fn a_grant_is_retired_alone_its_key_found_by_its_ownership_tag() {
    let s = setup().await;
    let first = run_json("apply", s.ws.path());
    let id = key_id(&first);
    let delete =
        support::cli::kms_operator(&["delete", "-f", "account.yaml", "-f", "grant.yaml", "-o", "json"], s.ws.path());
    delete.assert_code(0);
    assert_eq!(delete.calls("RetireGrant"), 1);
    assert_eq!(delete.writes(), 1, "{}", delete.stdout);
    assert!(live_grants(&s.kms, &id).await.is_empty());
    assert_eq!(kms::describe(&s.kms, &id).await.key_state().map(|s| s.as_str()), Some("Enabled"));
}

#[tokio::test]
async fn the_controller_keeps_the_token_of_the_grant_it_created_while_that_grant_lives() {
    use kms_operator::api::{KmsGrant, KmsKey};
    use support::cluster::{Cluster, key_object, object_in};

    let moto = Moto::start();
    let cluster = Cluster::listing_every_pass().await;
    cluster.namespace("apps", serde_json::json!({})).await;
    cluster.account(&moto.endpoint(), serde_json::json!({})).await;
    cluster.create::<KmsKey>("apps", key_object("data", serde_json::json!({}))).await;
    for _ in 0..2 {
        cluster.reconcile_key("data").await.unwrap();
    }
    let spec = |operations: &[&str]| serde_json::json!({"keyRef": {"name": "data"}, "name": "s3", "granteePrincipal": GRANTEE, "operations": operations});
    cluster.create::<KmsGrant>("apps", object_in("KmsGrant", "apps", "s3", spec(&["Decrypt"]))).await;
    let status = || async { cluster.get::<KmsGrant>("apps", "s3").await.and_then(|g| g.status).expect("status") };
    // The first pass admits the object and adds the finalizer; the second creates the grant.
    cluster.reconcile_on_key::<KmsGrant>("apps", "s3").await.unwrap();
    let mut tokens = Vec::new();
    for _ in 0..3 {
        cluster.reconcile_on_key::<KmsGrant>("apps", "s3").await.unwrap();
        tokens.push(status().await.grant_token.expect("a token"));
    }
    assert!(tokens.iter().all(|t| t == &tokens[0]), "carried across passes that list afresh: {tokens:?}");

    kube::Api::<KmsGrant>::namespaced(cluster.client(), "apps")
        .patch(
            "s3",
            &Default::default(),
            &kube::api::Patch::Merge(serde_json::json!({"spec": spec(&["Decrypt", "Encrypt"])})),
        )
        .await
        .unwrap();
    cluster.reconcile_on_key::<KmsGrant>("apps", "s3").await.unwrap();
    let replaced = status().await;
    assert_ne!(replaced.grant_token.as_deref(), Some(tokens[0].as_str()), "a new grant, a new token");
    assert!(replaced.grant_token.is_some());
}

#[tokio::test]
async fn grants_on_one_key_share_one_listing_per_pass() {
    let s = setup().await;
    s.ws.write("grant2.yaml", &grant("audit", &grant_spec("audit", "DescribeKey")));
    s.ws.write("grant3.yaml", &grant("batch", &grant_spec("batch", "GenerateDataKey")));
    run_json("apply", s.ws.path()).assert_code(0);
    let again = run_json("apply", s.ws.path());
    assert_eq!(again.writes(), 0);
    assert_eq!(again.calls("ListGrants"), 1, "three grants, one key, one listing");
}

#[tokio::test]
async fn a_grant_revoked_by_hand_is_recreated() {
    let s = setup().await;
    let first = run_json("apply", s.ws.path());
    let id = key_id(&first);
    let (grant_id, _) = live_grants(&s.kms, &id).await.remove(0);
    s.kms.revoke_grant().key_id(&id).grant_id(&grant_id).send().await.unwrap();
    let plan = run_json("plan", s.ws.path());
    plan.assert_code(2);
    assert_eq!(operations(&plan), vec!["CreateGrant"]);
    run_json("apply", s.ws.path()).assert_code(0);
    assert_eq!(live_grants(&s.kms, &id).await.len(), 1);
}

#[tokio::test]
async fn a_wider_grant_is_created_before_the_old_one_is_retired() {
    let s = setup().await;
    let id = key_id(&run_json("apply", s.ws.path()));
    s.ws.write("grant.yaml", &grant("s3", &grant_spec("s3-replication", "Encrypt, Decrypt, GenerateDataKey")));
    let apply = run_json("apply", s.ws.path());
    apply.assert_code(0);
    assert_eq!(operations(&apply), vec!["CreateGrant", "RetireGrant"], "the grantee never loses access");
    let grants = live_grants(&s.kms, &id).await;
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].1, vec!["Decrypt", "Encrypt", "GenerateDataKey"]);
    assert_eq!(run_json("apply", s.ws.path()).writes(), 0);
}

#[tokio::test]
async fn a_narrower_grant_retires_the_old_one_first() {
    let s = setup().await;
    let id = key_id(&run_json("apply", s.ws.path()));
    s.ws.write("grant.yaml", &grant("s3", &grant_spec("s3-replication", "Decrypt")));
    let apply = run_json("apply", s.ws.path());
    apply.assert_code(0);
    assert_eq!(operations(&apply), vec!["RetireGrant", "CreateGrant"], "never both at once");
    assert_eq!(
        live_grants(&s.kms, &id).await.iter().map(|g| g.1.clone()).collect::<Vec<_>>(),
        vec![vec!["Decrypt".to_owned()]]
    );
}

#[tokio::test]
async fn delete_retires_the_grant_and_keeps_the_key() {
    let s = setup().await;
    let id = key_id(&run_json("apply", s.ws.path()));
    let delete = run_json("delete", s.ws.path());
    delete.assert_code(0);
    assert_eq!(delete.calls("RetireGrant"), 1);
    assert!(live_grants(&s.kms, &id).await.is_empty());
    assert_eq!(kms::describe(&s.kms, &id).await.key_state().map(|s| s.as_str()), Some("Enabled"));
}
