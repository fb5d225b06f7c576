//! `kms-operator validate`: bad input is rejected with the file, the object, the field and
//! the fix, and nothing reaches AWS. (Each rule's message is unit-tested in api::validate.)

mod support;

use support::cli::kms_operator;
use support::manifests::Workspace;

const ACCOUNT: &str = "apiVersion: kmsoperator.dev/v1alpha1\nkind: AwsAccount\nmetadata: {name: sec}\nspec: {accountId: \"111122223333\", region: eu-west-1, allowedNamespaces: {}}\n";

fn validate(files: &[(&str, &str)]) -> support::cli::Output {
    let ws = Workspace::new();
    for (name, text) in files {
        ws.write(name, text);
    }
    kms_operator(&["validate", "-f", "."], ws.path())
}

fn key(spec: &str) -> String {
    format!(
        "apiVersion: kmsoperator.dev/v1alpha1\nkind: KmsKey\nmetadata: {{name: k, namespace: apps}}\nspec:\n  accountRef: sec\n{spec}"
    )
}

/// Exit 1 and one error line that contains every `part`.
fn assert_rejected(output: &support::cli::Output, parts: &[&str]) {
    output.assert_code(1);
    let line = output.stderr.lines().find(|l| parts.iter().all(|p| l.contains(p)));
    assert!(line.is_some(), "no error line with {parts:?}:\n{}", output.stderr);
}

#[test]
fn valid_manifests_pass() {
    let output = validate(&[("a.yaml", ACCOUNT), ("k.yaml", &key("  rotation: {periodDays: 90}\n"))]);
    output.assert_code(0);
    assert!(output.stdout.contains("2 resource(s) valid"), "{}", output.stdout);
}

#[test]
fn the_examples_are_valid() {
    let examples = support::moto::project_root().join("deploy/examples");
    let output = kms_operator(&["validate", "-f", examples.to_str().unwrap()], &examples);
    output.assert_code(0);
}

#[test]
fn broken_yaml_names_file_and_line() {
    let output = validate(&[
        ("a.yaml", ACCOUNT),
        ("k.yaml", "apiVersion: kmsoperator.dev/v1alpha1\nkind: KmsKey\nmetadata: {name: k\nspec: {}\n"),
    ]);
    assert_rejected(&output, &["k.yaml:4", "not valid YAML", "Fix:"]);
}

#[test]
fn an_out_of_range_value_names_object_field_and_fix() {
    let output = validate(&[("a.yaml", ACCOUNT), ("k.yaml", &key("  rotation:\n    periodDays: 30\n"))]);
    assert_rejected(&output, &["k.yaml:7", "KmsKey apps/k", "spec.rotation.periodDays", "90", "2560", "Fix:"]);
    let output = validate(&[("a.yaml", ACCOUNT), ("k.yaml", &key("  deletion: {pendingWindowDays: 3}\n"))]);
    assert_rejected(&output, &["KmsKey apps/k", "spec.deletion.pendingWindowDays", "Fix:"]);
}

#[test]
fn an_unknown_field_names_its_path_and_the_likely_fix() {
    let output = validate(&[("a.yaml", ACCOUNT), ("k.yaml", &key("  polcy: {}\n"))]);
    assert_rejected(&output, &["KmsKey apps/k", "spec.polcy", "unknown field", "policy"]);
}

#[test]
fn a_missing_reference_is_reported_but_not_a_broken_one() {
    let alias = "apiVersion: kmsoperator.dev/v1alpha1\nkind: KmsAlias\nmetadata: {name: a, namespace: apps}\nspec: {name: alias/app, keyRef: {name: other}}\n";
    let output = validate(&[("a.yaml", ACCOUNT), ("alias.yaml", alias)]);
    assert_rejected(&output, &["alias.yaml", "KmsAlias apps/a", "spec.keyRef.name", "other", "Fix:"]);

    // A key that exists but fails to load is reported once, not again as missing.
    let alias = alias.replace("other", "k");
    let output = validate(&[("a.yaml", ACCOUNT), ("k.yaml", &key("  typo: 1\n")), ("alias.yaml", &alias)]);
    output.assert_code(1);
    assert!(!output.stderr.contains("spec.keyRef.name"), "{}", output.stderr);
}

#[test]
fn a_missing_account_is_reported_with_the_accounts_that_exist() {
    let output =
        validate(&[("a.yaml", ACCOUNT), ("k.yaml", &key("").replace("accountRef: sec", "accountRef: security"))]);
    assert_rejected(&output, &["KmsKey apps/k", "spec.accountRef", "security", "sec"]);
}

#[test]
fn an_open_policy_is_refused() {
    let doc = r#"  policyDocument: '{"Version": "2012-10-17", "Statement": [{"Sid": "Open", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}]}'
"#;
    let output = validate(&[("a.yaml", ACCOUNT), ("k.yaml", &key(doc))]);
    assert_rejected(&output, &["KmsKey apps/k", "spec.policyDocument", "Condition"]);
}
