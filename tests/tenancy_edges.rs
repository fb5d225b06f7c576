//! The edges of tenancy, in local mode against a real local KMS: the ways around the rules
//! that tests/tenancy.rs covers (re-delegation through the key policy, a replica made by hand,
//! an alias name taken first, an import beside the key's creator) and inputs AWS would refuse.
//! Each attempt asserts its refusal and counts the KMS writes it made (none); positive
//! controls show that legitimate use still converges. docs/security.md lists these tests.

mod support;

use support::cli::{kms_operator, run_json};
use support::kms;
use support::manifests::{ACCOUNT_ID, REGION, Workspace, account_with, key_in, namespace, object_in};
use support::moto::Moto;
use support::proxy::FaultProxy;

const PARTNER: &str = "339712836516";
const REPLICA_REGION: &str = "us-west-2";

/// The account's rules: tenants `tenant: yes`, adoption from `adopt: yes`, names under
/// `alias/{namespace}/`, `extra` appended.
fn account(endpoint: &str, extra: &str) -> String {
    account_with(
        endpoint,
        &format!(
            "allowedNamespaces: {{matchLabels: {{tenant: \"yes\"}}}}\npermissions:\n  principalAccounts: [\"{PARTNER}\"]\n  adoptionNamespaces: {{matchLabels: {{adopt: \"yes\"}}}}\n  aliasNames: [\"alias/{{namespace}}/*\"]\n{extra}"
        ),
    )
}

fn workspace(endpoint: &str, extra: &str, files: &[(&str, String)]) -> Workspace {
    let ws = Workspace::new();
    ws.write("account.yaml", &account(endpoint, extra));
    ws.write(
        "namespaces.yaml",
        &[
            namespace("team-a", "{tenant: \"yes\"}"),
            namespace("team-b", "{tenant: \"yes\"}"),
            namespace("platform", "{tenant: \"yes\", adopt: \"yes\"}"),
        ]
        .join("---\n"),
    );
    for (name, text) in files {
        ws.write(name, text);
    }
    ws
}

fn partner_root() -> String {
    format!("arn:aws:iam::{PARTNER}:root")
}

#[tokio::test]
async fn a_policy_that_hands_create_grant_to_another_account_is_refused_before_any_call() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let root = partner_root();
    let statement = |actions: &str, extra: &str| {
        format!(
            "policy:\n  trustedAccounts: [\"{PARTNER}\"]\n  statements:\n    - {{Sid: Partner, Effect: Allow, Principal: {{AWS: \"{root}\"}}, {actions}, Resource: \"*\"{extra}}}"
        )
    };
    let document = format!(
        "policyDocument: '{{\"Statement\": [{{\"Sid\": \"Root\", \"Effect\": \"Allow\", \"Principal\": {{\"AWS\": \"arn:aws:iam::{ACCOUNT_ID}:root\"}}, \"Action\": \"kms:*\", \"Resource\": \"*\"}}, {{\"Sid\": \"Everyone\", \"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"kms:Create*\", \"Resource\": \"*\", \"Condition\": {{\"StringEquals\": {{\"kms:CallerAccount\": \"{PARTNER}\"}}}}}}]}}'"
    );
    let attempts = [
        ("exact", statement("Action: \"kms:CreateGrant\"", ""), "spec.policy.statements[0]"),
        ("wildcard", statement("Action: \"kms:*\"", ""), "spec.policy.statements[0]"),
        ("any-case", statement("Action: [\"KMS:creategrant\"]", ""), "spec.policy.statements[0]"),
        ("not-action", statement("NotAction: \"kms:Decrypt\"", ""), "spec.policy.statements[0]"),
        ("document", document, "spec.policyDocument"),
    ];
    let files: Vec<(String, String)> =
        attempts.iter().map(|(name, spec, _)| (format!("{name}.yaml"), key_in("team-b", name, spec))).collect();
    let named: Vec<(&str, String)> = files.iter().map(|(f, t)| (f.as_str(), t.clone())).collect();
    let ws = workspace(&endpoint, "", &named);

    let validated = kms_operator(&["validate", "-f", "."], ws.path());
    validated.assert_code(1);
    for (name, _, field) in &attempts {
        let line = validated.stderr.lines().find(|l| l.contains(&format!("team-b/{name}: {field}")));
        assert!(
            line.is_some_and(|l| l.starts_with("error: NotPermitted: ") && l.contains("allows kms:CreateGrant")),
            "{name}:\n{}",
            validated.stderr
        );
    }
    for command in ["plan", "apply"] {
        let output = run_json(command, ws.path());
        output.assert_code(1);
        for (name, _, field) in &attempts {
            let message = output.assert_refused("KmsKey", name, "NotPermitted");
            assert!(message.contains(field) && message.contains("GrantIsForAWSResource"), "{name}: {message}");
        }
        assert_eq!(output.calls_beyond_identity(), 0, "{command}: refused before any call to KMS");
    }
    assert!(kms::key_ids(&kms::client(&endpoint, REGION).await).await.is_empty(), "no key was created");

    // Positive controls: the condition that keeps grants to AWS services, or an account that
    // lets its tenants delegate.
    let fenced =
        statement("Action: \"kms:CreateGrant\"", ", Condition: {Bool: {\"kms:GrantIsForAWSResource\": \"true\"}}");
    let ws = workspace(&endpoint, "", &[("fenced.yaml", key_in("team-b", "fenced", &fenced))]);
    run_json("apply", ws.path()).assert_code(0);
    let open = workspace(
        &endpoint,
        "  delegateGrants: true",
        &[("wildcard.yaml", key_in("team-b", "wildcard", &statement("Action: \"kms:*\"", "")))],
    );
    run_json("apply", open.path()).assert_code(0);
}

#[tokio::test]
async fn alias_names_keep_each_namespace_to_its_own() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let squatter = workspace(
        &endpoint,
        "",
        &[
            ("key.yaml", key_in("team-b", "b-key", "")),
            ("alias.yaml", object_in("KmsAlias", "team-b", "squat", "name: alias/team-a/logs\nkeyRef: {name: b-key}")),
        ],
    );
    let validated = kms_operator(&["validate", "-f", "."], squatter.path());
    validated.assert_code(1);
    assert!(
        validated.stderr.contains("error: NotPermitted: ")
            && validated.stderr.contains("KmsAlias team-b/squat: spec.name: alias alias/team-a/logs matches none"),
        "{}",
        validated.stderr
    );
    // team B goes first, before team A ever declared the name, and again after it did.
    let applied = run_json("apply", squatter.path());
    applied.assert_code(1);
    let message = applied.assert_refused("KmsAlias", "squat", "NotPermitted");
    assert!(message.contains("alias/team-b/*"), "{message}");
    for op in ["CreateAlias", "UpdateAlias", "DeleteAlias"] {
        assert_eq!(applied.calls(op), 0, "{op}");
    }
    let team_a = workspace(
        &endpoint,
        "",
        &[
            ("key.yaml", key_in("team-a", "a-key", "")),
            ("alias.yaml", object_in("KmsAlias", "team-a", "logs", "name: alias/team-a/logs\nkeyRef: {name: a-key}")),
        ],
    );
    let created = run_json("apply", team_a.path());
    created.assert_code(0);
    let a_key = created.resource("KmsKey", "a-key")["status"]["keyId"].as_str().expect("key id").to_owned();
    for command in ["apply", "delete"] {
        let output = run_json(command, squatter.path());
        output.assert_code(1);
        output.assert_refused("KmsAlias", "squat", "NotPermitted");
        for op in ["CreateAlias", "UpdateAlias", "DeleteAlias"] {
            assert_eq!(output.calls(op), 0, "{command}: {op}");
        }
    }
    let kms = kms::client(&endpoint, REGION).await;
    let aliases = kms.list_aliases().send().await.expect("ListAliases");
    let logs = aliases.aliases().iter().find(|a| a.alias_name() == Some("alias/team-a/logs")).expect("team A's alias");
    assert_eq!(logs.target_key_id(), Some(a_key.as_str()), "applications of team A still use team A's key");
}

/// Team A's multi-Region key, converged, and a replica of it someone made by hand (no tag).
async fn team_a_key_with_a_hand_made_replica(endpoint: &str) -> (String, aws_sdk_kms::Client) {
    let team_a = workspace(endpoint, "", &[("key.yaml", key_in("team-a", "a-key", "multiRegion: true"))]);
    let applied = run_json("apply", team_a.path());
    applied.assert_code(0);
    let key_id = applied.resource("KmsKey", "a-key")["status"]["keyId"].as_str().expect("key id").to_owned();
    let primary = kms::client(endpoint, REGION).await;
    primary.replicate_key().key_id(&key_id).replica_region(REPLICA_REGION).send().await.expect("ReplicateKey");
    let replica = kms::client(endpoint, REPLICA_REGION).await;
    assert!(kms::tags(&replica, &key_id).await.is_empty(), "the replica carries no ownership tag");
    (key_id, replica)
}

#[tokio::test]
async fn a_replica_made_by_hand_belongs_to_its_primary_s_owner() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let (key_id, replica) = team_a_key_with_a_hand_made_replica(&endpoint).await;
    let before = kms::policy(&replica, &key_id).await;
    // The adoption namespace imports the replica, opens it to the partner and deletes it.
    let stolen = key_in(
        "platform",
        "replica",
        &format!(
            "region: {REPLICA_REGION}\nmultiRegion: true\nimport: {{keyId: {key_id}}}\npolicy: {{trustedAccounts: [\"{PARTNER}\"]}}\ndeletion: {{policy: Delete, pendingWindowDays: 7}}"
        ),
    );
    let alias = object_in(
        "KmsAlias",
        "platform",
        "replica-alias",
        &format!("name: alias/platform/replica\ntargetKeyId: {key_id}\naccountRef: test\nregion: {REPLICA_REGION}"),
    );
    let ws = workspace(&endpoint, "", &[("stolen.yaml", stolen), ("alias.yaml", alias)]);
    for command in ["plan", "apply", "delete"] {
        let output = run_json(command, ws.path());
        output.assert_code(1);
        let message = output.assert_refused("KmsKey", "replica", "ForeignKey");
        assert!(message.contains("belongs to another namespace or cluster"), "{command}: {message}");
        output.assert_refused("KmsAlias", "replica-alias", "ForeignKey");
        assert_eq!(output.writes(), 0, "{command}: {}", output.stderr);
    }
    assert_eq!(kms::policy(&replica, &key_id).await, before, "the replica's policy is untouched");
    let state = kms::describe(&replica, &key_id).await.key_state().map(|s| s.as_str().to_owned());
    assert_eq!(state.as_deref(), Some("Enabled"), "and it is not scheduled for deletion");
}

/// A KmsAlias in the replica region deleted without its KmsKey: the key is found by the
/// KmsKey's ownership tag, which the replica made by hand lacks and its primary carries.
#[tokio::test]
async fn a_lone_alias_on_a_hand_made_replica_is_found_through_its_primary_s_tag() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let (key_id, replica) = team_a_key_with_a_hand_made_replica(&endpoint).await;
    let alias_in = |namespace: &str| {
        let spec = format!("name: alias/{namespace}/west\nkeyRef: {{name: a-key}}\nregion: {REPLICA_REGION}");
        object_in("KmsAlias", namespace, "west", &spec)
    };
    for namespace in ["team-a", "team-b"] {
        let name = format!("alias/{namespace}/west");
        replica.create_alias().alias_name(&name).target_key_id(&key_id).send().await.expect("CreateAlias");
    }

    // Team B's KmsKey a-key carries no key at all: its alias finds nothing, whatever the name.
    let team_b = run_json("delete", workspace(&endpoint, "", &[("alias.yaml", alias_in("team-b"))]).path());
    team_b.assert_code(0);
    assert_eq!(team_b.writes(), 0, "{}", team_b.stderr);
    assert!(kms::alias_target(&replica, "alias/team-b/west").await.is_some());

    let ws = workspace(&endpoint, "", &[("alias.yaml", alias_in("team-a"))]);
    let deleted = run_json("delete", ws.path());
    deleted.assert_code(0);
    assert_eq!(deleted.calls("DeleteAlias"), 1, "{}", deleted.stderr);
    assert_eq!(deleted.writes(), 1, "the alias and nothing else: {}", deleted.stdout);
    assert_eq!(kms::alias_target(&replica, "alias/team-a/west").await, None);
    let primary = kms::client(&endpoint, REGION).await;
    for client in [&primary, &replica] {
        assert_eq!(kms::describe(client, &key_id).await.key_state().map(|s| s.as_str()), Some("Enabled"));
    }
    assert!(kms::tags(&replica, &key_id).await.is_empty(), "the replica is left as it was");

    // Once the alias is gone, deleting it again finds nothing to do.
    let again = run_json("delete", ws.path());
    again.assert_code(0);
    assert_eq!(again.writes(), 0);
}

#[tokio::test]
async fn a_key_imported_beside_the_object_that_created_it_is_a_claim_conflict() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let (key_id, replica) = team_a_key_with_a_hand_made_replica(&endpoint).await;
    // Another KmsKey of team A imports the primary, or the replica made by hand, to delete it.
    let importers = [
        ("importer", format!("multiRegion: true\nimport: {{keyId: {key_id}}}\ndeletion: {{policy: Delete}}")),
        (
            "replica-importer",
            format!(
                "region: {REPLICA_REGION}\nmultiRegion: true\nimport: {{keyId: {key_id}}}\ndeletion: {{policy: Delete}}"
            ),
        ),
    ];
    for (name, spec) in &importers {
        let ws = workspace(&endpoint, "", &[("importer.yaml", key_in("team-a", name, spec))]);
        for command in ["apply", "delete"] {
            let output = run_json(command, ws.path());
            output.assert_code(1);
            let resource = output.resource("KmsKey", name);
            assert_eq!(resource["result"], "Blocked", "{command} {name}: {resource:#}");
            let blocker = &resource["blockers"][0];
            assert_eq!(blocker["reason"], "ClaimConflict", "{resource:#}");
            assert!(blocker["message"].as_str().is_some_and(|m| m.contains("KmsKey team-a/a-key")), "{resource:#}");
            assert_eq!(output.writes(), 0, "{command} {name}");
        }
    }
    for client in [kms::client(&endpoint, REGION).await, replica] {
        assert_eq!(kms::describe(&client, &key_id).await.key_state().map(|s| s.as_str()), Some("Enabled"));
    }
}

// Multi-threaded: the proxy keeps serving while a test thread waits for the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_refuses_an_aws_managed_key() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let kms = kms::client(&moto.endpoint(), REGION).await;
    let managed =
        kms.create_key().send().await.expect("CreateKey").key_metadata().expect("metadata").key_id().to_owned();
    proxy.report_aws_managed(&managed);
    let import = format!("import: {{keyId: {managed}}}\ndeletion: {{policy: Delete, pendingWindowDays: 7}}");
    let ws = workspace(&proxy.endpoint(), "", &[("managed.yaml", key_in("platform", "managed", &import))]);
    let deleted = run_json("delete", ws.path());
    deleted.assert_code(1);
    let resource = deleted.resource("KmsKey", "managed");
    assert_eq!(resource["blockers"][0]["reason"], "AwsManagedKey", "{resource:#}");
    assert_eq!(deleted.writes(), 0);
    assert_eq!(proxy.forwarded("ScheduleKeyDeletion"), 0);
    assert_eq!(kms::describe(&kms, &managed).await.key_state().map(|s| s.as_str()), Some("Enabled"));
}

#[tokio::test]
async fn names_too_long_for_a_tag_still_own_their_key_and_replicas_stay_in_their_partition() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    // A 63-character namespace and a 253-character name: 330 characters of ownership tag.
    let long_namespace = format!("team-{}", "a".repeat(58));
    let long_name = format!("key-{}", "k".repeat(249));
    let ws = Workspace::new();
    ws.write("account.yaml", &account_with(&endpoint, "allowedNamespaces: {}"));
    ws.write("key.yaml", &key_in(&long_namespace, &long_name, ""));
    let applied = run_json("apply", ws.path());
    applied.assert_code(0);
    let key_id = applied.resource("KmsKey", &long_name)["status"]["keyId"].as_str().expect("key id").to_owned();
    let tags = kms::tags(&kms::client(&endpoint, REGION).await, &key_id).await;
    let owner = tags.get("kmsoperator.dev/owner").expect("ownership tag");
    assert_eq!(owner.chars().count(), 256, "{owner}");
    assert!(owner.starts_with(&format!("kms-operator/{long_namespace}/key-k")), "{owner}");
    let again = run_json("plan", ws.path());
    again.assert_code(0);
    assert_eq!(again.resource("KmsKey", &long_name)["result"], "InSync", "the next run finds its key by the same tag");

    ws.write("key.yaml", &key_in(&long_namespace, &long_name, "multiRegion: true\nreplicas: [{region: cn-north-1}]"));
    let validated = kms_operator(&["validate", "-f", "."], ws.path());
    validated.assert_code(1);
    assert!(
        validated.stderr.contains("spec.replicas[0].region: \"cn-north-1\" is in partition aws-cn"),
        "{}",
        validated.stderr
    );
}
