//! KmsKey end to end in local mode, against a real KMS-compatible server.

mod support;

use serde_json::json;
use support::cli::{Output, TEST_ENV, kms_operator, kms_operator_in, run_json};
use support::kms;
use support::manifests::{ACCOUNT_ID, REGION, Workspace, account, account_with, key};
use support::moto::Moto;
use support::proxy::FaultProxy;

const OWNER_TAG: &str = "kmsoperator.dev/owner";

struct Setup {
    moto: Moto,
    ws: Workspace,
    kms: aws_sdk_kms::Client,
}

async fn setup(key_spec: &str) -> Setup {
    let moto = Moto::start();
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&moto.endpoint()));
    ws.write("key.yaml", &key("logs", key_spec));
    let kms = kms::client(&moto.endpoint(), REGION).await;
    Setup { moto, ws, kms }
}

const FULL_SPEC: &str = r#"
description: application logs
tags: {Environment: prod, Team: data}
rotation: {enabled: true, periodDays: 180}
policy:
  administrators: ["arn:aws:iam::123456789012:role/KmsAdmin"]
  users: ["arn:aws:iam::123456789012:role/app"]
"#;

fn key_id(output: &support::cli::Output) -> String {
    output.resource("KmsKey", "logs")["status"]["keyId"].as_str().expect("status.keyId").to_owned()
}

#[tokio::test]
async fn apply_creates_the_key_with_everything_declared_then_changes_nothing() {
    let s = setup(FULL_SPEC).await;
    let first = run_json("apply", s.ws.path());
    first.assert_code(0);
    let id = key_id(&first);
    let status = &first.resource("KmsKey", "logs")["status"];
    assert_eq!(status["keyState"], "Enabled");
    assert_eq!(status["rotation"]["enabled"], true);
    assert_eq!(status["region"], REGION);
    let ready = status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap();
    assert_eq!(ready["status"], "True");
    // Policy, tags and description travel in CreateKey; rotation is the only other write.
    assert_eq!(first.calls("CreateKey"), 1);
    assert_eq!(first.calls("EnableKeyRotation"), 1);
    assert_eq!(first.writes(), 2, "{}", first.stderr);

    let live = kms::describe(&s.kms, &id).await;
    assert_eq!(live.description(), Some("application logs"));
    let tags = kms::tags(&s.kms, &id).await;
    assert_eq!(tags.get("Environment").map(String::as_str), Some("prod"));
    assert_eq!(tags.get(OWNER_TAG).map(String::as_str), Some("kms-operator/apps/logs"));
    let policy = kms::policy(&s.kms, &id).await;
    let sids: Vec<&str> = policy["Statement"].as_array().unwrap().iter().filter_map(|s| s["Sid"].as_str()).collect();
    assert_eq!(sids, vec!["EnableRootAccess", "AllowKeyAdministration", "AllowKeyUse"]);
    assert!(kms::rotation_enabled(&s.kms, &id).await);

    let second = run_json("apply", s.ws.path());
    second.assert_code(0);
    assert_eq!(second.writes(), 0, "a converged key costs no write: {}", second.stderr);
    assert_eq!(key_id(&second), id, "the same key is found again, not a new one");
    assert_eq!(kms::key_ids(&s.kms).await, vec![id.clone()]);
    assert_eq!(second.resource("KmsKey", "logs")["actions"], json!([]));

    let plan = run_json("plan", s.ws.path());
    plan.assert_code(0);
    assert_eq!(plan.writes(), 0);
    drop(s.moto);
}

async fn converged(spec: &str) -> (Setup, String) {
    let s = setup(spec).await;
    let applied = run_json("apply", s.ws.path());
    applied.assert_code(0);
    let id = key_id(&applied);
    (s, id)
}

/// Plans exit 2 naming `operation`, apply repairs with exactly that, and the next plan is clean.
fn assert_drift_repaired(s: &Setup, operation: &str) {
    let plan = run_json("plan", s.ws.path());
    plan.assert_code(2);
    let actions = plan.resource("KmsKey", "logs")["actions"].clone();
    let operations: Vec<&str> = actions.as_array().unwrap().iter().filter_map(|a| a["operation"].as_str()).collect();
    assert_eq!(operations, vec![operation], "plan: {}", plan.stdout);
    assert_eq!(plan.writes(), 0, "plan never writes");

    let apply = run_json("apply", s.ws.path());
    apply.assert_code(0);
    assert_eq!(apply.calls(operation), 1, "{}", apply.stderr);
    assert_eq!(apply.writes(), 1, "only the drift is repaired: {}", apply.stderr);
    run_json("plan", s.ws.path()).assert_code(0);
}

#[tokio::test]
async fn description_drift_is_detected_and_repaired() {
    let (s, id) = converged(FULL_SPEC).await;
    s.kms.update_key_description().key_id(&id).description("edited in the console").send().await.unwrap();
    assert_drift_repaired(&s, "UpdateKeyDescription");
    assert_eq!(kms::describe(&s.kms, &id).await.description(), Some("application logs"));
}

#[tokio::test]
async fn policy_drift_is_detected_and_repaired() {
    let (s, id) = converged(FULL_SPEC).await;
    let wide = json!({"Version": "2012-10-17", "Statement": [{"Sid": "Everyone", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "kms:*", "Resource": "*"}]});
    s.kms.put_key_policy().key_id(&id).policy_name("default").policy(wide.to_string()).send().await.unwrap();
    let plan = kms_operator(&["plan", "-f", "."], s.ws.path());
    plan.assert_code(2);
    assert!(plan.stdout.contains("update key policy"), "{}", plan.stdout);
    assert!(plan.stdout.contains("999999999999"), "the diff shows what goes away: {}", plan.stdout);
    assert_drift_repaired(&s, "PutKeyPolicy");
    let sids: Vec<String> = kms::policy(&s.kms, &id).await["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["Sid"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(sids, vec!["EnableRootAccess", "AllowKeyAdministration", "AllowKeyUse"]);
}

#[tokio::test]
async fn a_reformatted_policy_is_not_drift() {
    let (s, id) = converged(FULL_SPEC).await;
    // Same statements, other order, compact text, one-element lists as strings: not a change.
    let live = kms::policy(&s.kms, &id).await;
    let mut statements = live["Statement"].as_array().unwrap().clone();
    statements.reverse();
    let reformatted = json!({"Statement": statements, "Version": "2012-10-17"});
    s.kms.put_key_policy().key_id(&id).policy_name("default").policy(reformatted.to_string()).send().await.unwrap();
    run_json("plan", s.ws.path()).assert_code(0);
}

/// A raw policy that names the owner account by id, as people write it; KMS stores the
/// account's root ARN instead.
const POLICY_BY_ACCOUNT_ID: &str = r#"
policyDocument: '{"Version": "2012-10-17", "Statement": [{"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "kms:*", "Resource": "*"}]}'
"#;

#[tokio::test]
async fn an_account_id_in_the_manifest_matches_the_root_arn_kms_stores() {
    let (s, id) = converged(POLICY_BY_ACCOUNT_ID).await;
    let as_kms_stores = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "Root", "Effect": "Allow", "Resource": "*", "Action": ["kms:*"],
        "Principal": {"AWS": ["arn:aws:iam::123456789012:root"]},
    }]});
    s.kms.put_key_policy().key_id(&id).policy_name("default").policy(as_kms_stores.to_string()).send().await.unwrap();
    let plan = run_json("plan", s.ws.path());
    plan.assert_code(0);
    assert_eq!(plan.resource("KmsKey", "logs")["actions"], json!([]), "{}", plan.stdout);
    let apply = run_json("apply", s.ws.path());
    apply.assert_code(0);
    assert_eq!(apply.writes(), 0, "{}", apply.stdout);
}

#[tokio::test]
async fn rotation_drift_is_detected_and_repaired() {
    let (s, id) = converged(FULL_SPEC).await;
    s.kms.disable_key_rotation().key_id(&id).send().await.unwrap();
    assert_drift_repaired(&s, "EnableKeyRotation");
    assert!(kms::rotation_enabled(&s.kms, &id).await);
}

#[tokio::test]
async fn tag_drift_is_detected_and_repaired_both_ways() {
    let (s, id) = converged(FULL_SPEC).await;
    s.kms
        .tag_resource()
        .key_id(&id)
        .tags(aws_sdk_kms::types::Tag::builder().tag_key("Environment").tag_value("dev").build().unwrap())
        .send()
        .await
        .unwrap();
    assert_drift_repaired(&s, "TagResource");
    s.kms
        .tag_resource()
        .key_id(&id)
        .tags(aws_sdk_kms::types::Tag::builder().tag_key("CostCenter").tag_value("42").build().unwrap())
        .send()
        .await
        .unwrap();
    assert_drift_repaired(&s, "UntagResource");
    let tags = kms::tags(&s.kms, &id).await;
    assert_eq!(tags.get("Environment").map(String::as_str), Some("prod"));
    assert!(!tags.contains_key("CostCenter"), "undeclared tags on an owned key are removed");
    assert!(tags.contains_key(OWNER_TAG));
}

#[tokio::test]
async fn enabled_drift_is_detected_and_repaired() {
    let (s, id) = converged(FULL_SPEC).await;
    s.kms.disable_key().key_id(&id).send().await.unwrap();
    assert_drift_repaired(&s, "EnableKey");
    assert_eq!(kms::describe(&s.kms, &id).await.key_state().map(|s| s.as_str()), Some("Enabled"));
}

#[tokio::test]
async fn spec_changes_converge_in_order_with_disable_last() {
    let (s, id) = converged(FULL_SPEC).await;
    s.ws.write("key.yaml", &key("logs", "description: application logs\ntags: {Environment: prod, Team: data}\nenabled: false\nrotation: {enabled: false}\n"));
    let apply = kms_operator(&["apply", "-f", "."], s.ws.path());
    apply.assert_code(0);
    let rotation = apply.stdout.find("rotation: enabled -> disabled").expect(&apply.stdout);
    let disable = apply.stdout.find("disable key").expect(&apply.stdout);
    assert!(rotation < disable, "rotation changes before the key is disabled:\n{}", apply.stdout);
    assert_eq!(kms::describe(&s.kms, &id).await.key_state().map(|s| s.as_str()), Some("Disabled"));
    run_json("plan", s.ws.path()).assert_code(0);
}

#[tokio::test]
async fn an_existing_key_is_adopted_and_its_undeclared_tags_are_left_alone() {
    let s = setup("").await;
    let created = s
        .kms
        .create_key()
        .description("made by hand")
        .tags(aws_sdk_kms::types::Tag::builder().tag_key("Owner").tag_value("someone").build().unwrap())
        .send()
        .await
        .unwrap();
    let id = created.key_metadata().unwrap().key_id().to_owned();
    s.ws.write(
        "key.yaml",
        &key("logs", &format!("import: {{keyId: {id}}}\ndescription: adopted\ntags: {{Team: data}}\n")),
    );
    let apply = run_json("apply", s.ws.path());
    apply.assert_code(0);
    assert_eq!(key_id(&apply), id);
    assert_eq!(apply.calls("CreateKey"), 0, "adopting never creates a key");
    let tags = kms::tags(&s.kms, &id).await;
    assert_eq!(tags.get("Owner").map(String::as_str), Some("someone"), "undeclared tag kept");
    assert_eq!(tags.get("Team").map(String::as_str), Some("data"));
    assert!(!tags.contains_key(OWNER_TAG), "an adopted key is not marked as created by the operator");
    assert_eq!(kms::describe(&s.kms, &id).await.description(), Some("adopted"));
    assert!(kms::rotation_enabled(&s.kms, &id).await);
    assert_eq!(run_json("apply", s.ws.path()).writes(), 0);
}

#[tokio::test]
async fn observe_only_reports_drift_and_never_writes() {
    let s = setup("").await;
    let created = s.kms.create_key().description("as it is").send().await.unwrap();
    let id = created.key_metadata().unwrap().key_id().to_owned();
    s.ws.write(
        "key.yaml",
        &key("logs", &format!("import: {{keyId: {id}}}\nmanagementPolicy: Observe\ndescription: as declared\n")),
    );
    // apply would change nothing, so plan has nothing pending; the drift is still reported.
    let plan = run_json("plan", s.ws.path());
    plan.assert_code(0);
    let planned = plan.resource("KmsKey", "logs");
    assert_eq!(planned["actions"], json!([]), "{planned}");
    assert_eq!(planned["drift"][0]["operation"], "UpdateKeyDescription", "{planned}");
    let apply = run_json("apply", s.ws.path());
    apply.assert_code(0);
    assert_eq!(apply.writes(), 0, "Observe never writes: {}", apply.stderr);
    assert_eq!(apply.resource("KmsKey", "logs")["actions"], json!([]));
    let synced = apply.resource("KmsKey", "logs")["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Synced")
        .cloned()
        .unwrap();
    assert_eq!(synced["status"], "False");
    assert_eq!(synced["reason"], "DriftDetected");
    assert_eq!(kms::describe(&s.kms, &id).await.description(), Some("as it is"));
}

#[tokio::test]
async fn delete_with_retain_keeps_the_key_and_drops_ownership() {
    let (s, id) = converged(FULL_SPEC).await;
    let delete = run_json("delete", s.ws.path());
    delete.assert_code(0);
    assert_eq!(delete.calls("ScheduleKeyDeletion"), 0);
    let live = kms::describe(&s.kms, &id).await;
    assert_eq!(live.key_state().map(|s| s.as_str()), Some("Enabled"));
    assert!(!kms::tags(&s.kms, &id).await.contains_key(OWNER_TAG));
}

#[tokio::test]
async fn delete_with_delete_schedules_deletion_and_a_later_apply_restores_the_key() {
    let spec = format!("{FULL_SPEC}deletion: {{policy: Delete, pendingWindowDays: 7}}\n");
    let (s, id) = converged(&spec).await;
    run_json("delete", s.ws.path()).assert_code(0);
    let live = kms::describe(&s.kms, &id).await;
    assert_eq!(live.key_state().map(|s| s.as_str()), Some("PendingDeletion"));

    // The manifest applied again (an accidental prune undone): the same key comes back.
    let plan = run_json("plan", s.ws.path());
    plan.assert_code(2);
    let summary = plan.resource("KmsKey", "logs")["actions"][0]["summary"].as_str().unwrap_or_default().to_owned();
    assert!(summary.contains("restore key") && summary.contains(&id), "{summary}");
    let again = run_json("apply", s.ws.path());
    again.assert_code(0);
    assert_eq!(again.calls("CreateKey"), 0, "restored, never replaced");
    assert_eq!(again.calls("CancelKeyDeletion"), 1);
    assert_eq!(kms::describe(&s.kms, &id).await.key_state().map(|s| s.as_str()), Some("Enabled"));
    run_json("plan", s.ws.path()).assert_code(0);
}

#[tokio::test]
async fn a_key_left_by_an_interrupted_run_is_found_by_its_ownership_tag() {
    let s = setup(FULL_SPEC).await;
    // What a run killed right after CreateKey leaves behind: a key with the ownership tag only.
    let orphan = s
        .kms
        .create_key()
        .tags(
            aws_sdk_kms::types::Tag::builder().tag_key(OWNER_TAG).tag_value("kms-operator/apps/logs").build().unwrap(),
        )
        .send()
        .await
        .unwrap();
    let orphan_id = orphan.key_metadata().unwrap().key_id().to_owned();
    let apply = run_json("apply", s.ws.path());
    apply.assert_code(0);
    assert_eq!(apply.calls("CreateKey"), 0);
    assert_eq!(key_id(&apply), orphan_id);
    assert_eq!(kms::key_ids(&s.kms).await, vec![orphan_id]);
}

#[tokio::test]
async fn invalid_manifests_reach_no_aws_call() {
    let s = setup("rotation: {periodDays: 30}\n").await;
    let apply = kms_operator(&["apply", "-f", "."], s.ws.path());
    apply.assert_code(1);
    assert!(apply.stderr.contains("spec.rotation.periodDays"), "{}", apply.stderr);
    assert!(apply.stderr.contains("key.yaml"), "the message names the file: {}", apply.stderr);
    assert!(kms::key_ids(&s.kms).await.is_empty(), "nothing was created");
}

/// The declared account of the wrong-account tests: moto answers as `ACCOUNT_ID`, never as this.
const OTHER_ACCOUNT: &str = "210987654321";

/// An AwsAccount declaring `OTHER_ACCOUNT`, with KMS at `endpoint` and `spec` lines appended.
fn declaring_another_account(endpoint: &str, spec: &str) -> String {
    account_with(endpoint, &format!("allowedNamespaces: {{}}\n{spec}"))
        .replace(&format!("accountId: \"{ACCOUNT_ID}\""), &format!("accountId: \"{OTHER_ACCOUNT}\""))
}

/// `apply -o json` in `dir` with the test environment and one more variable, off the runtime
/// (which serves the proxies meanwhile).
async fn apply_in_env(dir: &std::path::Path, (name, value): (&'static str, String)) -> Output {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut env = TEST_ENV.to_vec();
        env.push((name, &value));
        kms_operator_in(&["apply", "-f", ".", "-o", "json"], &dir, &env)
    })
    .await
    .expect("apply")
}

/// Production behind a KMS VPC endpoint: `endpointUrl` names it, STS is the one the environment
/// names (`AWS_ENDPOINT_URL_STS`, as with an STS VPC endpoint), and the credentials belong to
/// another account. STS says so, and the run stops before any KMS call: nothing reached the
/// KMS endpoint, not even the identity check.
#[tokio::test]
async fn a_vpc_endpoint_with_credentials_of_another_account_is_refused_before_any_kms_call() {
    let moto = Moto::start();
    let vpc_endpoint = FaultProxy::start(moto.port).await;
    let ws = Workspace::new();
    ws.write("account.yaml", &declaring_another_account(&vpc_endpoint.endpoint(), "stsEndpointUrl: \"\""));
    ws.write("key.yaml", &key("logs", "description: application logs"));
    let apply = apply_in_env(ws.path(), ("AWS_ENDPOINT_URL_STS", moto.endpoint())).await;
    apply.assert_code(1);
    let account = apply.resource("AwsAccount", "test");
    assert_eq!(account["error"]["reason"], "WrongAccount", "{account}");
    let message = account["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(ACCOUNT_ID) && message.contains(OTHER_ACCOUNT), "{message}");
    assert_eq!(apply.resource("KmsKey", "logs")["result"], "Failed");
    assert_eq!(apply.calls("GetCallerIdentity"), 1, "asked at the environment's STS");
    assert_eq!(apply.writes(), 0);
    assert_eq!(vpc_endpoint.received(), Vec::<(String, String)>::new(), "the KMS endpoint saw no request");
    assert!(kms::key_ids(&kms::client(&moto.endpoint(), REGION).await).await.is_empty());
}

/// `stsEndpointUrl` takes STS, `endpointUrl` takes KMS, each over what the environment says.
#[tokio::test]
async fn sts_and_kms_each_go_to_their_own_endpoint() {
    let moto = Moto::start();
    let kms_endpoint = FaultProxy::start(moto.port).await;
    let sts_endpoint = FaultProxy::start(moto.port).await;
    let ws = Workspace::new();
    let spec = format!("stsEndpointUrl: {}\nallowedNamespaces: {{}}", sts_endpoint.endpoint());
    ws.write("account.yaml", &account_with(&kms_endpoint.endpoint(), &spec));
    ws.write("key.yaml", &key("logs", "description: application logs"));
    // Nothing listens there: a request sent to the environment's endpoint would fail.
    let apply = apply_in_env(ws.path(), ("AWS_ENDPOINT_URL", "http://127.0.0.1:9".to_owned())).await;
    apply.assert_code(0);
    assert_eq!(apply.resource("AwsAccount", "test")["status"]["accountVerified"], true);
    let operations = |proxy: &FaultProxy| proxy.received().into_iter().map(|(op, _)| op).collect::<Vec<_>>();
    assert_eq!(operations(&sts_endpoint), vec!["GetCallerIdentity"]);
    let kms_calls = operations(&kms_endpoint);
    assert!(kms_calls.contains(&"CreateKey".to_owned()), "{kms_calls:?}");
    assert!(!kms_calls.contains(&"GetCallerIdentity".to_owned()), "{kms_calls:?}");
}

/// `verifyAccount: false`, for a local emulator answering in an account of its own: nothing is
/// asked of STS, and the account's status and every plan say that nothing was checked.
#[tokio::test]
async fn an_unverified_account_says_so_in_its_status_and_in_every_plan() {
    let s = setup("description: application logs").await;
    s.ws.write("account.yaml", &declaring_another_account(&s.moto.endpoint(), "verifyAccount: false"));
    let apply = run_json("apply", s.ws.path());
    apply.assert_code(0);
    assert_eq!(apply.calls("GetCallerIdentity"), 0);
    let account = apply.resource("AwsAccount", "test");
    assert_eq!(account["status"]["accountVerified"], false, "{account}");
    let ready = account["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap();
    assert_eq!((ready["status"].as_str(), ready["reason"].as_str()), (Some("True"), Some("AccountNotVerified")));
    let key = apply.resource("KmsKey", "logs");
    assert_eq!(key["notices"][0]["reason"], "AccountNotVerified", "{key}");

    let plan = kms_operator(&["plan", "-f", "."], s.ws.path());
    plan.assert_code(0);
    let noted = plan.stdout.matches("verifyAccount is false").count();
    assert_eq!(noted, 2, "the account and its key: {}", plan.stdout);
}
