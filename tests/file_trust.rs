//! Which files may say what in local mode (`--platform-files`, `--tenant-files`): a monorepo in
//! which each team's directory is its own and the platform team reviews `platform/`. Every
//! attack is a file a team could add to its own directory; each is refused before any AWS call,
//! which the proxy in front of the local KMS counts (nothing reaches it).

mod support;

use support::cli::{Output, TEST_ENV, kms_operator, kms_operator_in};
use support::kms;
use support::manifests::{REGION, Workspace, account_with, key_in, namespace};
use support::moto::Moto;
use support::proxy::FaultProxy;

const PLATFORM: &str = "platform/**";
const TENANTS: &str = "teams/{namespace}/**";

fn account(endpoint: &str) -> String {
    account_with(
        endpoint,
        "allowedNamespaces: {matchLabels: {tenant: \"yes\"}}\npermissions: {adoptionNamespaces: {matchLabels: {adopt: \"yes\"}}}",
    )
}

/// The monorepo: the platform's account and namespaces, and one key per team in its directory.
fn monorepo(endpoint: &str) -> Workspace {
    let ws = Workspace::new();
    for dir in ["platform", "teams/team-a", "teams/team-b"] {
        std::fs::create_dir_all(ws.path().join(dir)).expect("mkdir");
    }
    ws.write("platform/account.yaml", &account(endpoint));
    ws.write(
        "platform/namespaces.yaml",
        &[namespace("team-a", "{tenant: \"yes\"}"), namespace("team-b", "{tenant: \"yes\"}")].join("---\n"),
    );
    ws.write("teams/team-a/key.yaml", &key_in("team-a", "a-key", "description: team a"));
    ws.write("teams/team-b/key.yaml", &key_in("team-b", "b-key", "description: team b"));
    ws
}

/// `kms-operator COMMAND -f . -o json` with the repository's file patterns.
fn run(command: &str, ws: &Workspace) -> Output {
    let mut args = vec![command, "-f", ".", "--platform-files", PLATFORM, "--tenant-files", TENANTS];
    if command != "validate" {
        args.extend(["-o", "json"]);
    }
    kms_operator(&args, ws.path())
}

// Multi-threaded: the proxy keeps serving while a test thread waits for the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_s_files_cannot_speak_for_another_namespace_the_account_or_the_namespaces() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let ws = monorepo(&proxy.endpoint());
    let applied = run("apply", &ws);
    applied.assert_code(0);
    let a_key = applied.resource("KmsKey", "a-key")["status"]["keyId"].as_str().expect("key id").to_owned();

    let steal =
        format!("import: {{keyId: {a_key}}}\ndescription: mine\ndeletion: {{policy: Delete, pendingWindowDays: 7}}");
    let attacks = [
        // A KmsKey of team A written in team B's directory, deleting team A's key.
        (
            "teams/team-b/evil.yaml",
            key_in("team-a", "evil", &steal),
            "KmsKey team-a/evil: metadata.namespace: is in namespace team-a, but its file belongs to namespace team-b",
        ),
        // A second Namespace manifest giving team B the adoption label.
        (
            "teams/team-b/adopt.yaml",
            namespace("team-b", "{tenant: \"yes\", adopt: \"yes\"}"),
            "Namespace team-b may be declared only in the platform team's files",
        ),
        // A second, permissive account.
        (
            "teams/team-b/account.yaml",
            account_with(&proxy.endpoint(), "allowedNamespaces: {}").replace("name: test", "name: open"),
            "AwsAccount open: an AwsAccount may be declared only in the platform team's files",
        ),
        // A file outside both: nobody reviews it.
        (
            "loose.yaml",
            key_in("team-b", "loose", ""),
            "KmsKey team-b/loose: is in a file that neither --platform-files (platform/**) nor --tenant-files (teams/{namespace}/**) matches",
        ),
    ];
    for (file, text, refusal) in &attacks {
        ws.write(file, text);
        let before = proxy.received().len();
        let validated = run("validate", &ws);
        validated.assert_code(1);
        assert!(
            validated
                .stderr
                .lines()
                .any(|l| l.starts_with("error: NotPermitted: ") && l.contains(file) && l.contains(refusal)),
            "{file}:\n{}",
            validated.stderr
        );
        for command in ["plan", "apply", "delete"] {
            let output = run(command, &ws);
            output.assert_code(1);
            assert!(output.stdout.trim().is_empty(), "{command}: nothing ran: {}", output.stdout);
            assert!(output.stderr.contains("nothing was sent to AWS"), "{}", output.stderr);
        }
        assert_eq!(proxy.received().len(), before, "{file}: not one request reached AWS");
        ws.remove(file);
    }
    let kms = kms::client(&moto.endpoint(), REGION).await;
    let meta = kms::describe(&kms, &a_key).await;
    assert_eq!((meta.key_state().map(|s| s.as_str()), meta.description()), (Some("Enabled"), Some("team a")));
}

#[tokio::test]
async fn a_link_in_the_platform_files_does_not_make_a_tenant_s_file_the_platform_s() {
    let ws = monorepo("http://127.0.0.1:9");
    ws.write(
        "teams/team-b/shared.yaml",
        &account_with("http://127.0.0.1:9", "allowedNamespaces: {}").replace("name: test", "name: open"),
    );
    std::os::unix::fs::symlink("../teams/team-b/shared.yaml", ws.path().join("platform/shared.yaml")).expect("symlink");
    let validated = run("validate", &ws);
    validated.assert_code(1);
    let refused: Vec<&str> = validated.stderr.lines().filter(|l| l.contains("AwsAccount open:")).collect();
    assert_eq!(refused.len(), 1, "read once, where it really is:\n{}", validated.stderr);
    assert!(refused[0].contains("may be declared only in the platform team's files"), "{}", validated.stderr);
}

#[test]
fn the_patterns_may_come_from_the_environment_and_bad_ones_are_usage_errors() {
    let ws = monorepo("http://127.0.0.1:9");
    let mut env = TEST_ENV.to_vec();
    env.extend([("KMS_OPERATOR_PLATFORM_FILES", PLATFORM), ("KMS_OPERATOR_TENANT_FILES", TENANTS)]);
    kms_operator_in(&["validate", "-f", "."], ws.path(), &env).assert_code(0);
    ws.write("teams/team-b/evil.yaml", &key_in("team-a", "evil", ""));
    kms_operator_in(&["validate", "-f", "."], ws.path(), &env).assert_code(1);

    let bad = kms_operator(&["validate", "-f", ".", "--tenant-files", "teams/**"], ws.path());
    assert_eq!(bad.code, 1, "a usage error: {}", bad.stderr);
    assert!(bad.stderr.contains("must hold {namespace} exactly once"), "{}", bad.stderr);
}
