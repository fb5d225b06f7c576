//! The IAM policies in deploy/iam, asked the questions that matter (with the IAM evaluation
//! model in support/iam.rs): the operator's policy allows exactly what AWS documents its calls
//! to need (support/aws_permissions.rs, with the sources); it lets the operator add its
//! ownership tag only while creating a key, never to a key that exists; writes reach only keys
//! this cluster owns; the only role it may create is KMS's multi-Region service-linked role;
//! nobody bypasses the lockout check; grants go only to permitted accounts and cannot hand on
//! CreateGrant. The trust policies let exactly the operator's pod in, as docs/install.md sets
//! it up: IRSA or EKS Pod Identity, with or without an external id.

mod support;

use std::collections::BTreeSet;

use kms_operator::api::catalog::GRANT_OPERATIONS;
use kms_operator::aws::Op;
use serde_json::Value;
use support::aws_permissions::{
    DOCUMENTED, MULTI_REGION_ROLE_PATH, MULTI_REGION_SERVICE, Permission, Target, documented,
};
use support::iam::{Decision, Request, evaluate, glob};

const ACCOUNT: &str = "111122223333";
const PARTNER: &str = "339712836516";
const STRANGER: &str = "999988887777";
const PLATFORM: &str = "444455556666";
const OWNER: &str = "kmsoperator.dev/owner";
const CLUSTER_ARN: &str = "arn:aws:eks:eu-west-1:444455556666:cluster/platform";

/// A shipped IAM document with its placeholders filled in as deploy/iam/README.md says.
fn document(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/iam").join(name);
    let text = std::fs::read_to_string(path).expect("policy");
    let text = text
        .replace("PRINCIPAL_ACCOUNT_ID", PARTNER)
        .replace("PLATFORM_ACCOUNT_ID", PLATFORM)
        .replace("ACCOUNT_ID", ACCOUNT)
        .replace("CLUSTER_NAME", "prod")
        .replace("EKS_CLUSTER_ARN", CLUSTER_ARN)
        .replace("OIDC_PROVIDER", "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE");
    serde_json::from_str(&text).expect("JSON")
}

/// The operator's policy in each key-holding account.
fn policy() -> Value {
    document("kms-operator-policy.json")
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

/// The request IAM evaluates for `permission` when the operator makes its call as it does: on
/// a key this cluster owns, creating keys and replicas with their ownership tag, granting to its
/// own account.
fn documented_request(permission: &Permission) -> Request {
    let action = permission.action;
    match permission.target {
        Target::Key if action == "kms:CreateGrant" => on_key(action, Some("prod/team-a/logs"))
            .with("kms:GranteePrincipal", &[&format!("arn:aws:iam::{ACCOUNT}:role/app")])
            .with("kms:GrantOperations", &["Decrypt"]),
        Target::Key => on_key(action, Some("prod/team-a/logs")),
        Target::Alias => Request::new(action, &format!("arn:aws:kms:eu-west-1:{ACCOUNT}:alias/app")),
        Target::Account { tagged: false } => Request::new(action, "*"),
        Target::Account { tagged: true } => Request::new(action, "*")
            .with(&format!("aws:RequestTag/{OWNER}"), &["prod/team-a/logs"])
            .with("aws:TagKeys", &[OWNER, "Team"]),
        Target::MultiRegionServiceLinkedRole => {
            Request::new(action, &format!("arn:aws:iam::{ACCOUNT}:{MULTI_REGION_ROLE_PATH}"))
                .with("iam:AWSServiceName", &[MULTI_REGION_SERVICE])
        }
        Target::Alarm => Request::new(
            action,
            &format!(
                "arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:kms-operator/prod/key/team-a/logs/eu-west-1/decrypt"
            ),
        ),
        Target::LogGroup => Request::new(action, &format!("arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:trail")),
    }
}

#[test]
fn every_call_is_allowed_as_aws_documents_it_and_nothing_else_is() {
    let policy = policy();
    let mut allowed = BTreeSet::new();
    for statement in allow_statements(&policy) {
        for action in actions(statement) {
            assert!(!action.contains('*'), "no wildcards: {action}");
            allowed.insert(action);
        }
    }
    let mut needed = BTreeSet::new();
    for op in Op::ALL {
        let row = documented(op.name());
        for permission in row.permissions {
            let request = documented_request(permission);
            assert_eq!(
                evaluate(&policy, &request),
                Decision::Allowed,
                "{op} needs {} ({:?}{}), per {}",
                permission.action,
                permission.target,
                permission.when.map(|w| format!(", with {w}")).unwrap_or_default(),
                row.source
            );
            needed.insert(permission.action.to_owned());
        }
    }
    assert_eq!(allowed, needed, "the policy allows exactly the documented permissions of the calls");
    // The table documents the operator's calls, no others.
    let ops: BTreeSet<&str> = Op::ALL.iter().map(|op| op.name()).collect();
    let rows: BTreeSet<&str> = DOCUMENTED.iter().map(|row| row.operation).collect();
    assert_eq!(rows, ops);
    for row in DOCUMENTED {
        assert!(row.source.starts_with("https://docs.aws.amazon.com/"), "{}: {}", row.operation, row.source);
    }
}

#[test]
fn the_only_role_it_may_create_is_kms_s_multi_region_service_linked_role() {
    let policy = policy();
    let create = |account: &str, path: &str, service: &str| {
        let request = Request::new("iam:CreateServiceLinkedRole", &format!("arn:aws:iam::{account}:{path}"))
            .with("iam:AWSServiceName", &[service]);
        evaluate(&policy, &request)
    };
    assert_eq!(create(ACCOUNT, MULTI_REGION_ROLE_PATH, MULTI_REGION_SERVICE), Decision::Allowed);
    // Another service's role (one that could act with wider permissions), the right path for
    // another service, another account's role.
    let elb = "role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing";
    assert_eq!(create(ACCOUNT, elb, "elasticloadbalancing.amazonaws.com"), Decision::ImplicitDeny);
    assert_eq!(create(ACCOUNT, MULTI_REGION_ROLE_PATH, "cks.kms.amazonaws.com"), Decision::ImplicitDeny);
    assert_eq!(create(STRANGER, MULTI_REGION_ROLE_PATH, MULTI_REGION_SERVICE), Decision::ImplicitDeny);
    // And no other IAM write at all.
    for action in ["iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:PassRole"] {
        assert_eq!(evaluate(&policy, &Request::new(action, "*")), Decision::ImplicitDeny, "{action}");
    }
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

/// The pod's role, which the key-holding accounts' `kms-operator` roles trust.
fn pod_role() -> String {
    format!("arn:aws:iam::{PLATFORM}:role/kms-operator-irsa")
}

/// The AssumeRole the operator makes for an AwsAccount (aws::pool: session name `kms-operator`,
/// the account's `externalId`); `transitive_tags`: the pod's credentials come from EKS Pod
/// Identity, whose session tags are transitive, so STS also authorises `sts:TagSession`.
fn assume(action: &str, external_id: Option<&str>, transitive_tags: bool) -> Request {
    let mut request = Request::new(action, &format!("arn:aws:iam::{ACCOUNT}:role/kms-operator"));
    if let Some(id) = external_id {
        request = request.with("sts:ExternalId", &[id]);
    }
    if transitive_tags {
        request = request.with("aws:RequestTag/kubernetes-namespace", &["kms-system"]);
    }
    request
}

/// The trust policy docs/install.md tells to give `kms-operator` for an AwsAccount with
/// `external_id`, with that id filled in.
fn trust_policy_for(external_id: Option<&str>) -> Value {
    match external_id {
        Some(id) => {
            let mut policy = document("kms-operator-trust-policy-external-id.json");
            policy["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"] = Value::String(id.to_owned());
            policy
        }
        None => document("kms-operator-trust-policy.json"),
    }
}

#[test]
fn every_documented_account_s_role_lets_the_operator_in_with_irsa_or_pod_identity() {
    let install = support::docs::page_at("docs/install.md");
    assert!(
        install.blocks.iter().any(|b| b.text.contains("kms-operator-trust-policy.json")),
        "install.md names the trust policy"
    );
    let mut accounts: Vec<(String, Value)> =
        support::docs::manifests(&install).into_iter().map(|(block, manifest)| (block.place(), manifest)).collect();
    let examples = support::docs::examples();
    accounts.extend(examples.into_iter().map(|m| ("deploy/examples".to_owned(), m)));
    accounts.retain(|(_, manifest)| manifest["kind"] == "AwsAccount");
    assert!(accounts.len() >= 2, "{accounts:?}");
    let pod_role = pod_role();
    for (place, account) in &accounts {
        let external_id = account["spec"]["externalId"].as_str().filter(|id| !id.is_empty());
        let trust = trust_policy_for(external_id);
        assert_eq!(trust["Statement"][0]["Principal"]["AWS"], pod_role.as_str(), "{place}");
        for transitive_tags in [false, true] {
            assert_eq!(
                evaluate(&trust, &assume("sts:AssumeRole", external_id, transitive_tags)),
                Decision::Allowed,
                "{place}: the AwsAccount as documented, Pod Identity: {transitive_tags}"
            );
        }
        assert_eq!(evaluate(&trust, &assume("sts:TagSession", external_id, true)), Decision::Allowed, "{place}");
    }
    // The pod's own policy lets it make that call, and only on the key accounts' operator roles.
    let pod = document("irsa-role-policy.json");
    for action in ["sts:AssumeRole", "sts:TagSession"] {
        assert_eq!(evaluate(&pod, &assume(action, None, true)), Decision::Allowed, "{action}");
        let elsewhere = Request::new(action, &format!("arn:aws:iam::{ACCOUNT}:role/PlatformKmsAdmin"));
        assert_eq!(evaluate(&pod, &elsewhere), Decision::ImplicitDeny, "{action}");
    }
}

#[test]
fn with_an_external_id_only_the_matching_one_is_let_in() {
    let trust = trust_policy_for(Some("kms-7f3a"));
    assert_eq!(evaluate(&trust, &assume("sts:AssumeRole", Some("kms-7f3a"), false)), Decision::Allowed);
    for wrong in [None, Some("kms-other"), Some("")] {
        assert_eq!(evaluate(&trust, &assume("sts:AssumeRole", wrong, false)), Decision::ImplicitDeny, "{wrong:?}");
        assert_eq!(evaluate(&trust, &assume("sts:TagSession", wrong, true)), Decision::ImplicitDeny, "{wrong:?}");
    }
}

#[test]
fn the_pod_s_role_trusts_only_the_operator_s_service_account_of_one_cluster() {
    // EKS Pod Identity: the EKS service assumes the role and tags the session with the pod's
    // cluster, namespace and service account (Amazon EKS User Guide, pod-id-role.html and
    // pod-id-abac.html).
    let trust = document("pod-identity-trust-policy.json");
    assert_eq!(trust["Statement"][0]["Principal"]["Service"], "pods.eks.amazonaws.com");
    let session = |action: &str, cluster: &str, namespace: &str, account: &str| {
        Request::new(action, &pod_role())
            .with("aws:RequestTag/eks-cluster-arn", &[cluster])
            .with("aws:RequestTag/kubernetes-namespace", &[namespace])
            .with("aws:RequestTag/kubernetes-service-account", &[account])
    };
    let other_cluster = "arn:aws:eks:eu-west-1:444455556666:cluster/sandbox";
    for action in ["sts:AssumeRole", "sts:TagSession"] {
        assert_eq!(evaluate(&trust, &session(action, CLUSTER_ARN, "kms-system", "kms-operator")), Decision::Allowed);
        for (cluster, namespace, account) in [
            (other_cluster, "kms-system", "kms-operator"),
            (CLUSTER_ARN, "team-a", "kms-operator"),
            (CLUSTER_ARN, "kms-system", "default"),
        ] {
            let request = session(action, cluster, namespace, account);
            assert_eq!(evaluate(&trust, &request), Decision::ImplicitDeny, "{action}: {request:?}");
        }
    }
    // IRSA: the cluster's OIDC provider, for the same service account only.
    let irsa = document("irsa-trust-policy.json");
    let token = |sub: &str| {
        Request::new("sts:AssumeRoleWithWebIdentity", &pod_role())
            .with("oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE:sub", &[sub])
            .with("oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE:aud", &["sts.amazonaws.com"])
    };
    assert_eq!(evaluate(&irsa, &token("system:serviceaccount:kms-system:kms-operator")), Decision::Allowed);
    assert_eq!(evaluate(&irsa, &token("system:serviceaccount:team-a:kms-operator")), Decision::ImplicitDeny);
}
