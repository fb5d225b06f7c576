//! Manifests are read by their `apiVersion`: a known version of the group as that version, an
//! unknown one refused with the versions this binary knows, another group's as before.

use super::tests::{ACCOUNT, KEY, load_one, only_issue, render};

#[test]
fn an_unknown_version_of_the_group_is_refused_naming_the_file_the_document_and_the_known_versions() {
    // The second document is written for a newer kms-operator, with a field v1alpha1 lacks.
    let newer = "apiVersion: kmsoperator.dev/v1alpha2\nkind: KmsKey\nmetadata: {name: newer, namespace: platform-kms}\nspec: {accountRef: core-security, keyAgreement: ECDH}\n";
    let (_dir, file, set, issues) = load_one(&format!("{ACCOUNT}---\n{newer}"));
    let issue = only_issue(&issues);
    assert_eq!(issue.field, "apiVersion");
    assert_eq!((issue.file.as_deref(), issue.line), (Some(file.as_path()), Some(8)), "{issue}");
    let text = issue.to_string();
    assert!(text.contains("KmsKey platform-kms/newer"), "names the document's object: {text}");
    assert!(
        issue.problem.contains("\"kmsoperator.dev/v1alpha2\"")
            && issue.problem.contains("does not know")
            && issue.problem.contains("reads kmsoperator.dev/v1alpha1"),
        "{issue}"
    );
    assert!(
        issue.fix.contains("apiVersion: kmsoperator.dev/v1alpha1")
            && issue.fix.contains("serves kmsoperator.dev/v1alpha2"),
        "{issue}"
    );
    assert!(!text.contains("keyAgreement"), "a newer version's fields are not judged as v1alpha1's: {text}");
    assert!(set.keys.is_empty(), "the object is not loaded");
    assert_eq!(set.accounts.len(), 1, "the file's other documents are");
    assert_eq!(set.broken.len(), 1, "references to it are not reported again as missing");
}

#[test]
fn the_known_version_is_read_as_itself() {
    let (_dir, _file, set, issues) = load_one(&format!("{ACCOUNT}---\n{KEY}"));
    assert!(issues.is_empty(), "{}", render(&issues));
    assert_eq!((set.accounts.len(), set.keys.len()), (1, 1));
}

#[test]
fn another_group_is_skipped_or_refused_as_before() {
    // Another group's own kinds are skipped with a note.
    let (_dir, _file, set, issues) =
        load_one(&format!("apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\n---\n{KEY}"));
    assert!(issues.is_empty(), "{}", render(&issues));
    assert_eq!(set.keys.len(), 1);
    assert!(set.skipped[0].contains("skipped apps/v1 Deployment web"), "{:?}", set.skipped);

    // One of our kinds under another group is a mistaken apiVersion: refused, the spec still
    // read as the stored version so that its own problems show in the same run.
    let (_dir, _file, set, issues) = load_one(
        "apiVersion: kms.example.com/v1alpha1\nkind: KmsKey\nmetadata: {name: k, namespace: apps}\nspec: {accountRef: a, polcy: {}}\n",
    );
    assert_eq!(issues.len(), 2, "{}", render(&issues));
    assert_eq!(issues[0].field, "apiVersion");
    assert!(
        issues[0].problem.contains("\"kms.example.com/v1alpha1\" is not kmsoperator.dev/v1alpha1"),
        "{}",
        issues[0]
    );
    assert_eq!(issues[0].fix, "set apiVersion: kmsoperator.dev/v1alpha1");
    assert_eq!(issues[1].field, "spec.polcy");
    assert!(set.keys.is_empty());
}
