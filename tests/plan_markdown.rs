//! `plan --output markdown`, the pull-request comment of docs/gitops.md, from the binary against
//! a local KMS: the verdict first, errors and refusals before changes, a policy change as a
//! `diff` block, the exit codes CI relies on, and the same text for the same live state.

mod support;

use support::cli::{Output, TEST_ENV, collect, kms_operator, run_json};
use support::manifests::{Workspace, account_with, alias, grant, key, key_in, namespace};
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

/// The manifests before a change: the account, the key `logs`, and the key `old` (deletion
/// policy `policy`) with an alias and a grant, all applied.
fn before_removal(moto: &Moto, policy: &str) -> Workspace {
    let ws = Workspace::new();
    ws.write("account.yaml", &account_with(&moto.endpoint(), "allowedNamespaces: {}"));
    ws.write("logs.yaml", &key("logs", &admin("KmsAdmin")));
    ws.write(
        "old.yaml",
        &key("old", &format!("description: old\ndeletion: {{policy: {policy}, pendingWindowDays: 7}}")),
    );
    ws.write("alias.yaml", &alias("old", "name: alias/old\nkeyRef: {name: old}"));
    ws.write(
        "grant.yaml",
        &grant("old", "keyRef: {name: old}\nname: reader\ngranteePrincipal: arn:aws:iam::123456789012:role/r\noperations: [Decrypt]"),
    );
    run_json("apply", ws.path()).assert_code(0);
    ws
}

/// The same manifests without the key `old`, its alias and its grant.
fn after_removal(before: &Workspace) -> Workspace {
    let after = Workspace::new();
    for file in ["account.yaml", "logs.yaml"] {
        std::fs::copy(before.path().join(file), after.path().join(file)).expect("copy");
    }
    after
}

fn plan_against_base(after: &Workspace, before: &Workspace, output: &str) -> Output {
    let base = before.path().to_str().expect("path");
    kms_operator(&["plan", "-f", ".", "--base", base, "-o", output], after.path())
}

#[test]
fn a_removed_delete_key_is_flagged_at_the_top_and_its_deletion_planned_first() {
    let moto = Moto::start();
    let before = before_removal(&moto, "Delete");
    let old = run_json("plan", before.path()).resource("KmsKey", "old")["status"]["keyId"].as_str().unwrap().to_owned();
    let after = after_removal(&before);

    let output = plan_against_base(&after, &before, "markdown");
    output.assert_code(2);
    let text = &output.stdout;
    let flag = format!(
        "### kms-operator plan\n\n> **Removing KmsKey apps/old schedules deletion of key {old} (account 123456789012, eu-west-1) in 7 days.**\n"
    );
    assert!(text.starts_with(&flag), "{text}");
    assert!(
        text.contains(
            "**Plan: 3 change(s) to 3 resource(s) (3 removed from the manifests); 2 in sync; 0 with errors.**"
        ),
        "{text}"
    );
    let removed = text.find("#### Removed from the manifests").expect("a section of removals");
    for change in [
        format!("`- schedule deletion of key {old} in eu-west-1 after 7 days`"),
        format!("`- delete alias alias/old in eu-west-1 (pointing at {old})`"),
        format!("on {old} in eu-west-1: KmsGrant deleted`"),
    ] {
        let at = text.find(&change).unwrap_or_else(|| panic!("{change} in:\n{text}"));
        assert!(removed < at, "{text}");
    }
    assert!(!text.contains("#### Changes"), "nothing else changes: {text}");

    let json = plan_against_base(&after, &before, "json");
    json.assert_code(2);
    let rows = json.json();
    let rows = rows.as_array().expect("rows");
    let first: Vec<(&str, &str)> =
        rows.iter().take(3).map(|r| (r["kind"].as_str().unwrap(), r["name"].as_str().unwrap())).collect();
    assert_eq!(first, vec![("KmsKey", "old"), ("KmsAlias", "old"), ("KmsGrant", "old")], "removals first");
    assert!(rows.iter().take(3).all(|r| r["removed"] == true));
    assert_eq!(rows[0]["schedulesKeyDeletion"], true);
    assert!(rows.iter().skip(3).all(|r| r.get("removed").is_none()));
    assert_eq!(json.writes(), 0, "a plan writes nothing");

    let text = plan_against_base(&after, &before, "text");
    assert!(
        text.stdout.starts_with(&format!("! Removing KmsKey apps/old schedules deletion of key {old} ")),
        "{}",
        text.stdout
    );
}

#[test]
fn a_removed_retain_key_is_released_without_a_flag() {
    let moto = Moto::start();
    let before = before_removal(&moto, "Retain");
    let after = after_removal(&before);
    let output = plan_against_base(&after, &before, "markdown");
    output.assert_code(2);
    assert!(!output.stdout.contains("schedules deletion"), "{}", output.stdout);
    assert!(
        output.stdout.contains("`- remove tags: kmsoperator.dev/owner=\"kms-operator/apps/old\"`"),
        "{}",
        output.stdout
    );
    assert!(output.stdout.contains("deletion.policy is Retain"), "{}", output.stdout);
}

#[test]
fn a_base_that_removes_nothing_changes_nothing_in_the_plan() {
    let moto = Moto::start();
    let ws = applied(&moto);
    let plain = markdown_plan(&ws);
    let based = kms_operator(&["plan", "-f", ".", "--base", ".", "-o", "markdown"], ws.path());
    based.assert_code(0);
    assert_eq!(based.stdout, plain.stdout);

    let unreadable = kms_operator(&["plan", "-f", ".", "--base", "missing/"], ws.path());
    unreadable.assert_code(1);
    assert!(unreadable.stderr.contains("error: --base: missing/"), "{}", unreadable.stderr);
    assert!(unreadable.stdout.is_empty(), "nothing planned when the removals are unknown: {}", unreadable.stdout);
}

/// deploy/ci/kms-operator-pr-plan.sh with this binary, outside any CI platform (so it posts
/// nothing and prints the comment).
fn pr_plan_script(ws: &Workspace) -> Output {
    pr_plan_script_with(ws, &[])
}

fn pr_plan_script_with(ws: &Workspace, env: &[(&str, &str)]) -> Output {
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_kms-operator"));
    let path = format!("{}:{}", binary.parent().expect("bin dir").display(), std::env::var("PATH").unwrap_or_default());
    let mut script = std::process::Command::new("bash");
    script
        .arg(support::moto::project_root().join("deploy/ci/kms-operator-pr-plan.sh"))
        .current_dir(ws.path())
        .env_clear()
        .envs(TEST_ENV)
        .envs([("PATH", path.as_str()), ("MANIFESTS", ".")])
        .envs(env.iter().copied());
    collect(script)
}

#[test]
fn the_ci_script_puts_what_the_request_removes_at_the_top_of_the_comment() {
    let moto = Moto::start();
    let before = before_removal(&moto, "Delete");
    let after = after_removal(&before);
    let base = before.path().to_str().expect("path");
    let output = pr_plan_script_with(&after, &[("BASE_MANIFESTS", base)]);
    output.assert_code(0);
    assert!(
        output.stdout.starts_with(
            "<!-- kms-operator-plan -->\n### kms-operator plan\n\n> **Removing KmsKey apps/old schedules deletion of key "
        ),
        "{}",
        output.stdout
    );
    assert!(output.stdout.contains(" in 7 days.**"), "{}", output.stdout);
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
