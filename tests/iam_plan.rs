//! The read-only credentials of `plan` in CI (docs/gitops.md, deploy/iam): `plan` on the
//! examples, through the counting proxy, with `--assume-role-name kms-operator-plan`, makes only
//! calls that `plan-readonly-policy.json` allows (each with the permissions AWS documents for
//! it, support/aws_permissions.rs), all of them as that role; the policy allows
//! no write whatever other policy the role is given; and the CI role may assume nothing but the
//! plan roles, for nothing but the manifest repository's pull requests.

mod support;

use std::collections::BTreeSet;

use kms_operator::aws::Op;
use serde_json::Value;
use support::aws_permissions::{Target, documented};
use support::cli::{Output, kms_operator_in};
use support::iam::{Decision, Request, evaluate};
use support::moto::{Moto, project_root};
use support::proxy::FaultProxy;

/// The account of deploy/examples.
const ACCOUNT: &str = "484357440923";
const PLATFORM: &str = "111122223333";
const BASE_KEY: &str = "testing";
const PLAN_ROLE: &str = "kms-operator-plan";

/// A shipped IAM document with its placeholders filled in as deploy/iam/README.md says.
fn document(name: &str) -> Value {
    let text = std::fs::read_to_string(project_root().join("deploy/iam").join(name)).expect("policy");
    let text = text
        .replace("PLATFORM_ACCOUNT_ID", PLATFORM)
        .replace("ACCOUNT_ID", ACCOUNT)
        .replace("GITHUB_REPOSITORY", "platform/kms")
        .replace("GITLAB_PROJECT_PATH", "platform/kms");
    serde_json::from_str(&text).expect("JSON")
}

fn read_only() -> Value {
    document("plan-readonly-policy.json")
}

/// `kms-operator ARGS -f deploy/examples/ -o json` with base credentials, every request through
/// `proxy`; run off the runtime, which serves the proxy meanwhile.
async fn examples(args: &'static [&'static str], proxy: &FaultProxy) -> Output {
    manifests_in(project_root().join("deploy/examples"), args, proxy).await
}

/// The examples with an on-demand rotation asked for: the one plan that reads rotation history.
fn examples_rotating_now() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(project_root().join("deploy/examples")).expect("examples") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("example");
        let text = text.replace("    periodDays: 365\n", "    periodDays: 365\n    rotateNow: CHG-1\n");
        std::fs::write(dir.path().join(path.file_name().expect("name")), text).expect("write");
    }
    dir
}

/// The examples without deploy/examples/20-logs-replicated.yaml: a change that removes a
/// multi-Region key (`Delete`), its aliases and its grant, planned with `--base`.
fn examples_removing_one() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["00-security-account.yaml", "10-datamesh-manager-prod.yaml"] {
        std::fs::copy(project_root().join("deploy/examples").join(name), dir.path().join(name)).expect("copy");
    }
    dir
}

async fn manifests_in(dir: std::path::PathBuf, args: &[&str], proxy: &FaultProxy) -> Output {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let endpoint = proxy.endpoint();
    tokio::task::spawn_blocking(move || {
        let env = [
            ("AWS_ACCESS_KEY_ID", BASE_KEY),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "ap-southeast-2"),
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("RUST_LOG", "warn"),
        ];
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.extend(["-f", ".", "-o", "json"]);
        kms_operator_in(&all, &dir, &env)
    })
    .await
    .expect("kms-operator")
}

const PLAN_AS_THE_READ_ONLY_ROLE: &[&str] = &["plan", "--assume-role-name", PLAN_ROLE];

/// What IAM authorises for one request the proxy saw: the permissions AWS documents for the
/// call (support/aws_permissions.rs), each on the resource it names.
fn requests(operation: &str) -> Vec<Request> {
    let key = format!("arn:aws:kms:ap-southeast-2:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    let op = Op::parse(operation).unwrap_or_else(|| panic!("plan made a call the operator does not know: {operation}"));
    documented(op.name())
        .permissions
        .iter()
        .map(|permission| match permission.target {
            Target::Key => Request::new(permission.action, &key),
            Target::Account { tagged: false } => Request::new(permission.action, "*"),
            Target::LogGroup => Request::new(
                permission.action,
                &format!("arn:aws:logs:ap-southeast-2:{ACCOUNT}:log-group:aws-cloudtrail-logs-{ACCOUNT}"),
            ),
            other => panic!("{operation}: plan should make no call that needs {} on {other:?}", permission.action),
        })
        .collect()
}

fn allowed_actions(policy: &Value) -> BTreeSet<String> {
    let statements = policy["Statement"].as_array().expect("statements");
    let mut allowed = BTreeSet::new();
    for statement in statements.iter().filter(|s| s["Effect"] == "Allow") {
        match &statement["Action"] {
            Value::String(action) => allowed.extend([action.clone()]),
            Value::Array(actions) => allowed.extend(actions.iter().filter_map(Value::as_str).map(str::to_owned)),
            other => panic!("Action must be a string or a list: {other}"),
        }
    }
    allowed
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_on_the_examples_calls_only_what_the_read_only_policy_allows() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let policy = read_only();
    let ci_role = document("plan-ci-role-policy.json");
    let plan_role_arn = format!("arn:aws:iam::{ACCOUNT}:role/{PLAN_ROLE}");

    // Before the keys exist, and after `apply` (as the operator's own role) made them: a plan of
    // nothing and a plan that reads every key, alias and grant.
    let before = examples(PLAN_AS_THE_READ_ONLY_ROLE, &proxy).await;
    before.assert_code(2);
    let first_requests = proxy.received();
    examples(&["apply"], &proxy).await.assert_code(0);
    let applied_until = proxy.received().len();
    let after = examples(PLAN_AS_THE_READ_ONLY_ROLE, &proxy).await;
    after.assert_code(0);
    let rotating = examples_rotating_now();
    let rotation = manifests_in(rotating.path().to_owned(), PLAN_AS_THE_READ_ONLY_ROLE, &proxy).await;
    rotation.assert_code(2);
    let removing = examples_removing_one();
    let examples_dir = project_root().join("deploy/examples");
    let mut removal_args = PLAN_AS_THE_READ_ONLY_ROLE.to_vec();
    removal_args.extend(["--base", examples_dir.to_str().expect("path")]);
    let removal = manifests_in(removing.path().to_owned(), &removal_args, &proxy).await;
    removal.assert_code(2);
    assert_eq!(removal.resource("KmsKey", "logs-replicated")["schedulesKeyDeletion"], true, "{}", removal.stdout);
    let received = proxy.received();
    let plans: Vec<&(String, String)> = first_requests.iter().chain(&received[applied_until..]).collect();

    for output in [&before, &after, &rotation, &removal] {
        let caller =
            output.resource("AwsAccount", "core-security")["status"]["callerArn"].as_str().unwrap_or("").to_owned();
        assert!(caller.contains(&format!("assumed-role/{PLAN_ROLE}/")), "plan runs as the plan role: {caller}");
    }
    let mut called = BTreeSet::new();
    for (operation, access_key) in &plans {
        if operation == "AssumeRole" {
            // The CI role's own credentials assume the plan role, which its policy allows.
            assert_eq!(access_key, BASE_KEY);
            assert_eq!(evaluate(&ci_role, &Request::new("sts:AssumeRole", &plan_role_arn)), Decision::Allowed);
            continue;
        }
        assert_ne!(access_key, BASE_KEY, "{operation} is made as the plan role, not with the CI role's credentials");
        for request in requests(operation) {
            assert_eq!(evaluate(&policy, &request), Decision::Allowed, "{request:?}");
            called.insert(request.action);
        }
    }
    assert!(plans.iter().any(|(operation, _)| operation == "AssumeRole"), "{plans:?}");
    // The policy allows exactly what plan's calls need, every read it grants is used; it also
    // names sts:GetCallerIdentity, which needs no permission even under a Deny, so that a reader
    // sees every call plan makes.
    called.insert("sts:GetCallerIdentity".to_owned());
    assert_eq!(allowed_actions(&policy), called);
}

#[test]
fn the_read_only_policy_allows_no_write_even_beside_a_policy_that_does() {
    let policy = read_only();
    let mut combined = policy.clone();
    let writer = document("kms-operator-policy.json");
    combined["Statement"]
        .as_array_mut()
        .expect("statements")
        .extend(writer["Statement"].as_array().expect("statements").iter().cloned());
    let owner = "kms-operator/platform-kms/logs";
    let key = format!("arn:aws:kms:ap-southeast-2:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    let alias = format!("arn:aws:kms:ap-southeast-2:{ACCOUNT}:alias/app");
    for op in Op::ALL.iter().filter(|op| op.is_write()) {
        for resource in ["*", key.as_str(), alias.as_str()] {
            let request = Request::new(&op.iam_action(), resource)
                .with("aws:ResourceTag/kmsoperator.dev/owner", &[owner])
                .with("aws:RequestTag/kmsoperator.dev/owner", &[owner])
                .with("kms:GranteePrincipal", &[&format!("arn:aws:iam::{ACCOUNT}:role/app")])
                .with("kms:GrantOperations", &["Decrypt"]);
            let denied = Decision::ExplicitDeny("NothingButTheseReadsEvenIfAnotherPolicyAllowsIt".into());
            assert_eq!(evaluate(&policy, &request), denied, "{op} on {resource}");
            assert_eq!(evaluate(&combined, &request), denied, "{op} on {resource}, beside the operator's policy");
        }
    }
    // Nor the data plane, nor handing itself more.
    for action in [
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "kms:ReEncryptFrom",
        "sts:AssumeRole",
        "iam:PutRolePolicy",
    ] {
        assert!(matches!(evaluate(&combined, &Request::new(action, "*")), Decision::ExplicitDeny(_)), "{action}");
    }
    for action in allowed_actions(&policy) {
        let (service, name) = action.split_once(':').expect("service:action");
        assert!(!name.contains('*'), "no wildcards: {action}");
        let read = ["Describe", "Get", "List"].iter().any(|verb| name.starts_with(verb));
        let service_read = matches!(service, "kms" | "cloudwatch" | "logs") || action == "sts:GetCallerIdentity";
        assert!(read && service_read, "{action} is not a read");
    }
}

#[test]
fn the_ci_role_may_assume_only_the_plan_roles_for_pull_requests_of_one_repository() {
    let ci_role = document("plan-ci-role-policy.json");
    let assume = |role: &str| {
        evaluate(&ci_role, &Request::new("sts:AssumeRole", &format!("arn:aws:iam::{ACCOUNT}:role/{role}")))
    };
    assert_eq!(assume(PLAN_ROLE), Decision::Allowed);
    assert_eq!(assume("kms-operator"), Decision::ImplicitDeny, "never the operator's own role, which writes");
    assert_eq!(
        evaluate(&ci_role, &Request::new("sts:AssumeRole", &format!("arn:aws:iam::999988887777:role/{PLAN_ROLE}"))),
        Decision::ImplicitDeny
    );

    let trust = document("plan-readonly-trust-policy.json");
    assert_eq!(trust["Statement"][0]["Principal"]["AWS"], format!("arn:aws:iam::{PLATFORM}:role/kms-operator-plan-ci"));

    let github = document("plan-ci-trust-policy-github.json");
    let token = |sub: &str, aud: &str| {
        Request::new("sts:AssumeRoleWithWebIdentity", "")
            .with("token.actions.githubusercontent.com:sub", &[sub])
            .with("token.actions.githubusercontent.com:aud", &[aud])
    };
    assert_eq!(evaluate(&github, &token("repo:platform/kms:pull_request", "sts.amazonaws.com")), Decision::Allowed);
    assert_eq!(
        evaluate(&github, &token("repo:someone/fork:pull_request", "sts.amazonaws.com")),
        Decision::ImplicitDeny
    );
    assert_eq!(evaluate(&github, &token("repo:platform/kms:pull_request", "other")), Decision::ImplicitDeny);
    assert!(
        github["Statement"][0]["Principal"]["Federated"]
            .as_str()
            .expect("provider")
            .ends_with("oidc-provider/token.actions.githubusercontent.com")
    );

    let gitlab = document("plan-ci-trust-policy-gitlab.json");
    let job = |sub: &str| {
        Request::new("sts:AssumeRoleWithWebIdentity", "")
            .with("gitlab.com:sub", &[sub])
            .with("gitlab.com:aud", &["sts.amazonaws.com"])
    };
    assert_eq!(evaluate(&gitlab, &job("project_path:platform/kms:ref_type:branch:ref:add-key")), Decision::Allowed);
    assert_eq!(
        evaluate(&gitlab, &job("project_path:platform/other:ref_type:branch:ref:add-key")),
        Decision::ImplicitDeny
    );
}
