//! `plan --output markdown`, the pull-request comment of docs/gitops.md, from the binary against
//! a local KMS: the verdict first, errors and refusals before changes, a policy change as a
//! `diff` block, the exit codes CI relies on, and the same text for the same live state.

mod support;

use support::cli::{Output, TEST_ENV, collect, kms_operator, run_json};
use support::manifests::{Workspace, account_with, key, key_in, namespace};
use support::moto::Moto;

fn admin(role: &str) -> String {
    format!("description: logs\npolicy:\n  administrators: [\"arn:aws:iam::123456789012:role/{role}\"]")
}

fn markdown_plan(ws: &Workspace) -> Output {
    kms_operator(&["plan", "-f", ".", "-o", "markdown"], ws.path())
}

/// An account that admits only namespaces labelled `tenant: "yes"`, `apps` among them, with the
/// key `logs` applied.
fn applied(moto: &Moto) -> Workspace {
    let ws = Workspace::new();
    ws.write("account.yaml", &account_with(&moto.endpoint(), "allowedNamespaces: {matchLabels: {tenant: \"yes\"}}"));
    ws.write("namespaces.yaml", &namespace("apps", "{tenant: \"yes\"}"));
    ws.write("key.yaml", &key("logs", &admin("KmsAdmin")));
    run_json("apply", ws.path()).assert_code(0);
    ws
}

/// `applied`, then a change of the key's administrator: one policy change pending.
fn pending(moto: &Moto) -> Workspace {
    let ws = applied(moto);
    ws.write("key.yaml", &key("logs", &admin("KmsAdmin2")));
    ws
}

#[test]
fn pending_changes_render_as_a_comment_that_is_the_same_for_the_same_state() {
    let moto = Moto::start();
    let ws = pending(&moto);

    let first = markdown_plan(&ws);
    first.assert_code(2);
    let text = &first.stdout;
    assert!(
        text.starts_with(
            "### kms-operator plan\n\n**Plan: 1 change(s) to 1 resource(s); 1 in sync; 0 with errors.**\n"
        ),
        "{text}"
    );
    assert!(!text.contains("#### Errors and refusals"), "{text}");
    assert!(
        text.contains(
            "<summary><b>KmsKey apps/logs (account 123456789012, eu-west-1)</b>: 1 change(s): 1 to change</summary>"
        ),
        "{text}"
    );
    let diff = text.find("  ```diff\n").expect("a diff block");
    let removed =
        text.find("\n  -           \"arn:aws:iam::123456789012:role/KmsAdmin\"\n").expect("the old admin removed");
    let added =
        text.find("\n  +           \"arn:aws:iam::123456789012:role/KmsAdmin2\"\n").expect("the new admin added");
    assert!(diff < removed && removed < added, "{text}");
    assert!(!text.contains("{\"summary\""), "stdout holds the comment only: {text}");

    let second = markdown_plan(&ws);
    second.assert_code(2);
    assert_eq!(second.stdout, first.stdout, "the same plan of the same state renders the same comment");
}

#[test]
fn refusals_come_first_and_make_the_plan_fail() {
    let moto = Moto::start();
    let ws = pending(&moto);
    ws.write("outsider.yaml", &key_in("outsider", "sneaky", "description: not admitted"));

    let output = markdown_plan(&ws);
    output.assert_code(1);
    let text = &output.stdout;
    assert!(text.contains("; 1 with errors.**\n"), "{text}");
    let errors = text
        .find("#### Errors and refusals\n\n- **KmsKey outsider/sneaky**: `NamespaceNotAllowed` ")
        .expect("the refusal");
    let changes = text.find("#### Changes").expect("the change is still shown");
    assert!(errors < changes, "errors first: {text}");
}

#[test]
fn in_sync_says_so_and_exits_zero() {
    let moto = Moto::start();
    let ws = applied(&moto);
    let output = markdown_plan(&ws);
    output.assert_code(0);
    assert!(
        output.stdout.starts_with("### kms-operator plan\n\n**No changes. All 2 resources are in sync with KMS.**\n"),
        "{}",
        output.stdout
    );
    assert!(output.stdout.contains("<summary>2 resource(s) in sync</summary>"), "{}", output.stdout);
}

/// deploy/ci/kms-operator-pr-plan.sh with this binary, outside any CI platform (so it posts
/// nothing and prints the comment).
fn pr_plan_script(ws: &Workspace) -> Output {
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_kms-operator"));
    let path = format!("{}:{}", binary.parent().expect("bin dir").display(), std::env::var("PATH").unwrap_or_default());
    let mut script = std::process::Command::new("bash");
    script
        .arg(support::moto::project_root().join("deploy/ci/kms-operator-pr-plan.sh"))
        .current_dir(ws.path())
        .env_clear()
        .envs(TEST_ENV)
        .envs([("PATH", path.as_str()), ("MANIFESTS", ".")]);
    collect(script)
}

#[test]
fn the_ci_script_passes_pending_changes_and_fails_invalid_manifests() {
    let moto = Moto::start();
    let ws = pending(&moto);
    let pending = pr_plan_script(&ws);
    pending.assert_code(0);
    assert!(
        pending.stdout.starts_with("<!-- kms-operator-plan -->\n### kms-operator plan\n\n**Plan: 1 change(s)"),
        "{}",
        pending.stdout
    );

    ws.write("broken.yaml", &key("broken", "keySpec: RSA_1"));
    let invalid = pr_plan_script(&ws);
    invalid.assert_code(1);
    assert!(invalid.stdout.contains("**The manifests are invalid; nothing was planned.**"), "{}", invalid.stdout);
    assert!(invalid.stdout.contains("spec.keySpec"), "{}", invalid.stdout);
}
