//! The IAM policy in deploy/iam, asked the questions that matter (with the IAM evaluation model
//! in support/iam.rs): it allows exactly the KMS actions the operator calls; it lets the operator
//! add its ownership tag only while creating a key, never to a key that exists; writes reach only
//! keys this cluster owns; nobody bypasses the lockout check; grants go only to permitted
//! accounts and cannot hand on CreateGrant.

mod support;

use std::collections::BTreeSet;

use kms_operator::api::catalog::GRANT_OPERATIONS;
use kms_operator::aws::Op;
use serde_json::Value;
use support::iam::{Decision, Request, evaluate, glob};

const ACCOUNT: &str = "111122223333";
const PARTNER: &str = "339712836516";
const STRANGER: &str = "999988887777";
const OWNER: &str = "kmsoperator.dev/owner";

/// The shipped policy with its placeholders filled in as the README says.
fn policy() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/iam/kms-operator-policy.json");
    let text = std::fs::read_to_string(path).expect("policy");
    let text =
        text.replace("PRINCIPAL_ACCOUNT_ID", PARTNER).replace("ACCOUNT_ID", ACCOUNT).replace("CLUSTER_NAME", "prod");
    serde_json::from_str(&text).expect("JSON")
}

fn key(id: &str) -> String {
    format!("arn:aws:kms:eu-west-1:{ACCOUNT}:key/{id}")
}

/// A request on a key that carries `owner` as its ownership tag (or none).
fn on_key(action: &str, owner: Option<&str>) -> Request {
    let request = Request::new(action, &key("1234abcd-12ab-34cd-56ef-1234567890ab"));
    match owner {
        Some(owner) => request.with(&format!("aws:ResourceTag/{OWNER}"), &[owner]),
        None => request,
    }
}

fn allow_statements(policy: &Value) -> impl Iterator<Item = &Value> {
    policy["Statement"].as_array().expect("statements").iter().filter(|s| s["Effect"] == "Allow")
}

fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(action) => vec![action.clone()],
        Value::Array(actions) => actions.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        other => panic!("Action must be a string or a list: {other}"),
    }
}

#[test]
fn the_policy_allows_exactly_the_kms_actions_the_operator_calls() {
    let policy = policy();
    let mut allowed = BTreeSet::new();
    for statement in allow_statements(&policy) {
        for action in actions(statement) {
            assert!(!action.contains('*'), "no wildcards: {action}");
            allowed.insert(action);
        }
    }
    // GetCallerIdentity needs no permission; PutMetricAlarm with tags also needs
    // cloudwatch:TagResource (CloudWatch API reference, PutMetricAlarm "Tags").
    let mut called: BTreeSet<String> =
        Op::ALL.iter().filter(|op| **op != Op::GetCallerIdentity).map(|op| op.iam_action()).collect();
    called.insert("cloudwatch:TagResource".to_owned());
    assert_eq!(allowed, called);
}

#[test]
fn every_write_on_keys_is_conditioned_on_the_ownership_tag() {
    let policy = policy();
    for statement in allow_statements(&policy) {
        let writes = actions(statement)
            .into_iter()
            .filter(|a| Op::parse(a.trim_start_matches("kms:")).is_some_and(|op| op.is_write()))
            .count();
        let on_keys = statement["Resource"].as_str().is_some_and(|r| r.contains(":key/") || r == "*");
        if writes == 0 || !on_keys {
            continue;
        }
        let condition =
            statement["Condition"]["StringLike"].as_object().expect("write statements on keys are conditioned");
        assert!(
            condition.contains_key(&format!("aws:ResourceTag/{OWNER}"))
                || condition.contains_key(&format!("aws:RequestTag/{OWNER}")),
            "{statement}"
        );
    }
}

#[test]
fn the_ownership_tag_goes_on_only_with_create_key() {
    let policy = policy();
    let tag_request = |action: &str, resource: &str, owner: &str| {
        Request::new(action, resource)
            .with(&format!("aws:RequestTag/{OWNER}"), &[owner])
            .with("aws:TagKeys", &[OWNER, "Team"])
    };
    // CreateKey with its tags, and the kms:TagResource KMS authorises for them: "the principal
    // must have permission in an IAM policy that isn't restricted to particular KMS keys" (AWS
    // KMS Developer Guide, Controlling access to tags), so that check carries no key ARN.
    assert_eq!(evaluate(&policy, &tag_request("kms:CreateKey", "*", "prod/team-a/logs")), Decision::Allowed);
    assert_eq!(evaluate(&policy, &tag_request("kms:TagResource", "*", "prod/team-a/logs")), Decision::Allowed);
    // Not without the tag, and not with another cluster's.
    assert_eq!(evaluate(&policy, &Request::new("kms:CreateKey", "*")), Decision::ImplicitDeny);
    assert_eq!(evaluate(&policy, &tag_request("kms:CreateKey", "*", "staging/team-a/logs")), Decision::ImplicitDeny);

    // Claiming a key that exists: the tag is refused whoever's key it is, ours included.
    let existing = key("abcd1234-12ab-34cd-56ef-1234567890ab");
    for resource_owner in [None, Some("prod/team-a/logs"), Some("staging/x/y")] {
        let mut claim = tag_request("kms:TagResource", &existing, "prod/team-b/thief");
        if let Some(owner) = resource_owner {
            claim = claim.with(&format!("aws:ResourceTag/{OWNER}"), &[owner]);
        }
        assert_eq!(
            evaluate(&policy, &claim),
            Decision::ExplicitDeny("NeverClaimAnExistingKey".into()),
            "{resource_owner:?}"
        );
    }
    // Ordinary tags, and the operator's other bookkeeping tags, on a key this cluster owns are fine.
    for tag in ["Team", "kmsoperator.dev/rotate-now"] {
        let tagged = on_key("kms:TagResource", Some("prod/team-a/logs")).with("aws:TagKeys", &[tag]);
        assert_eq!(evaluate(&policy, &tagged), Decision::Allowed, "{tag}");
    }
}

#[test]
fn writes_reach_only_keys_this_cluster_owns() {
    let policy = policy();
    let kms_writes = Op::ALL.iter().filter(|op| op.service() == "kms" && op.is_write());
    for op in kms_writes.filter(|op| !matches!(op, Op::CreateKey | Op::CreateGrant)) {
        let action = format!("kms:{op}");
        assert_eq!(
            evaluate(&policy, &on_key(&action, Some("prod/team-a/logs"))),
            Decision::Allowed,
            "{action} on an owned key"
        );
        assert_eq!(evaluate(&policy, &on_key(&action, None)), Decision::ImplicitDeny, "{action} on a key nobody owns");
        assert_eq!(
            evaluate(&policy, &on_key(&action, Some("staging/team-a/logs"))),
            Decision::ImplicitDeny,
            "{action}: other cluster"
        );
    }
}

#[test]
fn nobody_bypasses_the_lockout_check_until_a_platform_admin_removes_the_deny() {
    let policy = policy();
    let bypass = |request: Request| request.with("kms:BypassPolicyLockoutSafetyCheck", &["true"]);
    let create = Request::new("kms:CreateKey", "*").with(&format!("aws:RequestTag/{OWNER}"), &["prod/a/b"]);
    for request in [
        bypass(create),
        bypass(on_key("kms:PutKeyPolicy", Some("prod/a/b"))),
        bypass(on_key("kms:ReplicateKey", Some("prod/a/b"))),
    ] {
        assert_eq!(
            evaluate(&policy, &request),
            Decision::ExplicitDeny("NeverBypassTheLockoutSafetyCheck".into()),
            "{request:?}"
        );
    }
    let without = on_key("kms:PutKeyPolicy", Some("prod/a/b")).with("kms:BypassPolicyLockoutSafetyCheck", &["false"]);
    assert_eq!(evaluate(&policy, &without), Decision::Allowed);
}

#[test]
fn grants_go_only_to_permitted_accounts_and_never_hand_on_create_grant() {
    let policy = policy();
    let grant = |grantee: &str, operations: &[&str]| {
        on_key("kms:CreateGrant", Some("prod/team-a/logs"))
            .with("kms:GranteePrincipal", &[grantee])
            .with("kms:GrantOperations", operations)
    };
    let own = format!("arn:aws:iam::{ACCOUNT}:role/app");
    let partner = format!("arn:aws:iam::{PARTNER}:role/app");
    let stranger = format!("arn:aws:iam::{STRANGER}:role/app");
    assert_eq!(evaluate(&policy, &grant(&own, &["Decrypt", "Encrypt"])), Decision::Allowed);
    assert_eq!(evaluate(&policy, &grant(&partner, &["Decrypt"])), Decision::Allowed);
    assert_eq!(evaluate(&policy, &grant(&stranger, &["Decrypt"])), Decision::ImplicitDeny);
    assert_eq!(evaluate(&policy, &grant(&own, &["Decrypt", "CreateGrant"])), Decision::ImplicitDeny);
    let retiring_stranger = grant(&own, &["Decrypt"]).with("kms:RetiringPrincipal", &[&stranger]);
    assert_eq!(evaluate(&policy, &retiring_stranger), Decision::ImplicitDeny);
    let retiring_partner = grant(&own, &["Decrypt"]).with("kms:RetiringPrincipal", &[&partner]);
    assert_eq!(evaluate(&policy, &retiring_partner), Decision::Allowed);
    let unowned = Request::new("kms:CreateGrant", &key("x"))
        .with("kms:GranteePrincipal", &[&own])
        .with("kms:GrantOperations", &["Decrypt"]);
    assert_eq!(evaluate(&policy, &unowned), Decision::ImplicitDeny);
    // Every operation a KmsGrant may declare, except CreateGrant, is grantable.
    for op in GRANT_OPERATIONS.iter().filter(|op| **op != "CreateGrant") {
        assert_eq!(evaluate(&policy, &grant(&own, &[op])), Decision::Allowed, "{op}");
    }
}

#[test]
fn the_model_matches_wildcards_like_iam() {
    assert!(glob("arn:aws:kms:*:1:key/*", "arn:aws:kms:eu-west-1:1:key/abc"));
    assert!(!glob("arn:aws:kms:*:1:key/*", "arn:aws:kms:eu-west-1:2:key/abc"));
    assert!(glob("prod/*", "prod/ns/name"));
    assert!(glob("a?c", "abc") && !glob("a?c", "ac"));
}

#[test]
fn alarm_writes_reach_only_this_clusters_alarms_by_name() {
    let policy = policy();
    let alarm = |name: &str| format!("arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:{name}");
    for action in ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:TagResource"] {
        let ours = Request::new(action, &alarm("kms-operator/prod/key/team-a/logs/eu-west-1/decrypt"));
        assert_eq!(evaluate(&policy, &ours), Decision::Allowed, "{action}");
        for other in ["kms-operator/staging/key/team-a/logs/eu-west-1/decrypt", "billing-alarm", "kms-operator/prodx/a"]
        {
            assert_eq!(
                evaluate(&policy, &Request::new(action, &alarm(other))),
                Decision::ImplicitDeny,
                "{action} {other}"
            );
        }
    }
    let group = format!("arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:trail");
    for action in ["logs:PutMetricFilter", "logs:DeleteMetricFilter", "logs:DescribeMetricFilters"] {
        assert_eq!(evaluate(&policy, &Request::new(action, &group)), Decision::Allowed, "{action}");
        let elsewhere = "arn:aws:logs:eu-west-1:999999999999:log-group:trail";
        assert_eq!(evaluate(&policy, &Request::new(action, elsewhere)), Decision::ImplicitDeny, "{action}");
    }
}
