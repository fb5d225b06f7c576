//! `load` and `ManifestSet::validate` against real files in temporary directories.

use std::fs;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::{ManifestSet, ReadLimits, load};
use crate::api::validate::Issue;

pub(super) const ACCOUNT: &str = "\
apiVersion: kmsoperator.dev/v1alpha1
kind: AwsAccount
metadata: {name: core-security}
spec:
  accountId: \"484357440923\"
  region: ap-southeast-2
";

pub(super) const KEY: &str = "\
apiVersion: kmsoperator.dev/v1alpha1
kind: KmsKey
metadata: {name: datamesh, namespace: platform-kms}
spec:
  accountRef: core-security
";

pub(super) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create test dir");
    }
    fs::write(&path, text).expect("write test manifest");
    path
}

pub(super) fn load_one(text: &str) -> (TempDir, PathBuf, ManifestSet, Vec<Issue>) {
    let dir = TempDir::new().expect("temp dir");
    let file = write(dir.path(), "manifests.yaml", text);
    let (set, issues) = load(std::slice::from_ref(&file), ReadLimits::default());
    (dir, file, set, issues)
}

pub(super) fn only_issue(issues: &[Issue]) -> &Issue {
    assert_eq!(issues.len(), 1, "expected one issue, got:\n{}", render(issues));
    &issues[0]
}

pub(super) fn render(issues: &[Issue]) -> String {
    issues.iter().map(|i| format!("  {i}\n")).collect()
}

#[test]
fn multi_document_files_load_every_kind_and_skip_empty_documents() {
    let text = format!(
        "{ACCOUNT}---\n{KEY}---\n# only a comment\n---\n\
apiVersion: kmsoperator.dev/v1alpha1
kind: KmsAlias
metadata: {{name: datamesh, namespace: platform-kms}}
spec: {{name: alias/datamesh, keyRef: {{name: datamesh}}}}
---
apiVersion: kmsoperator.dev/v1alpha1
kind: KmsGrant
metadata: {{name: s3, namespace: platform-kms}}
spec:
  keyRef: {{name: datamesh}}
  name: s3
  granteePrincipal: arn:aws:iam::111122223333:role/s3
  operations: [Encrypt]
...
"
    );
    let (_dir, file, set, issues) = load_one(&text);
    assert!(issues.is_empty(), "{}", render(&issues));
    assert_eq!((set.accounts.len(), set.keys.len(), set.aliases.len(), set.grants.len()), (1, 1, 1, 1));
    assert_eq!(set.accounts[0].source.file, file);
    assert_eq!(set.accounts[0].source.line, Some(1));
    assert_eq!(set.keys[0].source.line, Some(8));
    assert_eq!(set.aliases[0].source.line, Some(16));
    assert_eq!(set.grants[0].source.line, Some(21));
    assert!(set.account("core-security").is_some());
    assert!(set.key("platform-kms", "datamesh").is_some());
    assert!(set.key("default", "datamesh").is_none());
    assert!(set.validate().is_empty(), "{}", render(&set.validate()));
}

#[test]
fn directories_are_read_recursively_in_order_and_skip_other_files() {
    let dir = TempDir::new().expect("temp dir");
    write(dir.path(), "b/key.yml", KEY);
    write(dir.path(), "a/account.yaml", ACCOUNT);
    write(dir.path(), "a/nested/deeper/other.YAML", &KEY.replace("datamesh", "other"));
    write(dir.path(), "README.md", "not yaml: [");
    write(dir.path(), ".github/workflows/ci.yml", "on: push\n");
    let (set, issues) = load(&[dir.path().to_path_buf()], ReadLimits::default());
    assert!(issues.is_empty(), "{}", render(&issues));
    assert_eq!(set.accounts.len(), 1);
    let keys: Vec<&str> = set.keys.iter().filter_map(|k| k.object.metadata.name.as_deref()).collect();
    assert_eq!(keys, ["other", "datamesh"], "a/nested/... sorts before b/");
    assert!(set.keys[1].source.file.ends_with("b/key.yml"));
}

#[test]
fn broken_yaml_reports_file_and_line() {
    let text =
        format!("{KEY}---\napiVersion: kmsoperator.dev/v1alpha1\nkind: KmsKey\nmetadata: {{name: x\nspec: {{}}\n");
    let (_dir, file, set, issues) = load_one(&text);
    assert_eq!(set.keys.len(), 1, "documents before the error still load");
    let issue = only_issue(&issues);
    assert_eq!(issue.file.as_deref(), Some(file.as_path()));
    let text = issue.to_string();
    assert!(text.starts_with(&format!("{}:{}: ", file.display(), issue.line.unwrap_or(0))), "{text}");
    assert!(matches!(issue.line, Some(9..=10)), "line of the unclosed flow mapping: {text}");
    assert!(
        issue.problem.contains("not valid YAML") && issue.problem.contains("rest of the file was not read"),
        "{text}"
    );
    assert!(text.contains("Fix: "), "{text}");

    let (_dir, _file, _set, issues) = load_one("apiVersion: kmsoperator.dev/v1alpha1\nkind: KmsKey\n  bad: indent\n");
    let issue = only_issue(&issues);
    assert_eq!(issue.line, Some(3), "{issue}");
}

#[test]
fn unknown_fields_name_the_path_and_line_and_suggest_the_field() {
    let text = format!("{KEY}  polcy: {{}}\n  rotation:\n    periodDay: 90\n");
    let (_dir, file, set, issues) = load_one(&text);
    assert!(set.keys.is_empty());
    let issue = only_issue(&issues);
    assert_eq!(issue.field, "spec.polcy");
    assert_eq!(issue.line, Some(6));
    let text = issue.to_string();
    assert!(
        text.starts_with(&format!(
            "{}:6: KmsKey platform-kms/datamesh: spec.polcy: unknown field `polcy`",
            file.display()
        )),
        "{text}"
    );
    assert!(issue.fix.contains("did you mean `policy`?") && issue.fix.contains("accountRef"), "{text}");

    let text = format!("{KEY}  rotation:\n    periodDay: 90\n");
    let (_dir, _file, _set, issues) = load_one(&text);
    let issue = only_issue(&issues);
    assert_eq!(issue.field, "spec.rotation.periodDay");
    assert_eq!(issue.line, Some(7));
    assert!(issue.fix.contains("`periodDays`"), "{issue}");
}

#[test]
fn unknown_top_level_and_metadata_fields() {
    let text = KEY.replace("namespace: platform-kms", "namepsace: platform-kms") + "sepc: {}\n";
    let (_dir, _file, set, issues) = load_one(&text);
    assert!(set.keys.is_empty());
    let metadata = issues.iter().find(|i| i.field == "metadata.namepsace").expect("metadata typo");
    assert!(metadata.fix.contains("did you mean `namespace`?"), "{metadata}");
    let top = issues.iter().find(|i| i.field == "sepc").expect("top-level typo");
    assert!(top.problem.contains("unknown field `sepc`") && top.fix.contains("`spec`"), "{top}");
    assert_eq!(top.line, Some(6));
}

#[test]
fn unknown_kind_lists_the_four_kinds() {
    let (_dir, _file, set, issues) = load_one(&KEY.replace("kind: KmsKey", "kind: KmsKeys"));
    assert!(set.is_empty());
    let issue = only_issue(&issues);
    assert_eq!((issue.field.as_str(), issue.line), ("kind", Some(2)));
    assert!(issue.problem.contains("\"KmsKeys\" is not a kind"), "{issue}");
    for kind in ["AwsAccount", "KmsKey", "KmsAlias", "KmsGrant"] {
        assert!(issue.fix.contains(kind), "{issue}");
    }
    assert!(issue.fix.contains("did you mean KmsKey?"), "{issue}");
}

#[test]
fn envelope_problems() {
    let (_dir, _file, _set, issues) = load_one(&KEY.replace("kmsoperator.dev/v1alpha1", "kmsoperator.dev/v1"));
    let issue = only_issue(&issues);
    assert_eq!(issue.field, "apiVersion");
    assert!(
        issue.problem.contains("\"kmsoperator.dev/v1\"") && issue.fix.contains("kmsoperator.dev/v1alpha1"),
        "{issue}"
    );

    let (_dir, _file, _set, issues) = load_one(&KEY.replace("apiVersion: kmsoperator.dev/v1alpha1\n", ""));
    assert_eq!(only_issue(&issues).field, "apiVersion");

    let (_dir, _file, _set, issues) = load_one(&KEY.replace("name: datamesh, ", ""));
    let issue = only_issue(&issues);
    assert_eq!(issue.field, "metadata.name");
    assert!(issue.to_string().contains("KmsKey platform-kms/<unnamed>"), "{issue}");

    let (_dir, _file, _set, issues) = load_one("replicaCount: 3\nimage: {tag: v1}\n");
    let issue = only_issue(&issues);
    assert_eq!((issue.field.as_str(), issue.line), ("", Some(1)));
    assert!(issue.problem.contains("neither apiVersion nor kind"), "{issue}");

    // Another group's object beside the keys (a ConfigMap) is skipped with a note.
    let (_dir, _file, set, issues) =
        load_one(&format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings}}\n---\n{KEY}"));
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(set.keys.len(), 1);
    assert_eq!(set.skipped.len(), 1);
    assert!(set.skipped[0].contains("skipped v1 ConfigMap settings"), "{:?}", set.skipped);

    // ... but a kind that looks like one of ours is a typo, whatever its group.
    let (_dir, _file, _set, issues) = load_one("apiVersion: v1\nkind: KmsKeys\nmetadata: {name: x}\n");
    let issue = only_issue(&issues);
    assert!(issue.problem.contains("\"KmsKeys\" (apiVersion \"v1\") is not a kind"), "{issue}");

    let (_dir, _file, _set, issues) = load_one("---\n- just\n- a list\n");
    let issue = only_issue(&issues);
    assert_eq!(issue.line, Some(2));
    assert!(issue.problem.contains("sequence, not a mapping"), "{issue}");
}

#[test]
fn wrong_types_and_missing_fields_name_the_field() {
    let account = ACCOUNT.replace("\"484357440923\"", "484357440923");
    let (_dir, _file, set, issues) = load_one(&account);
    assert!(set.is_empty());
    let issue = only_issue(&issues);
    assert_eq!((issue.field.as_str(), issue.line), ("spec.accountId", Some(5)));
    assert!(issue.problem.contains("invalid type: integer"), "{issue}");
    assert!(issue.fix.contains("quotes"), "{issue}");

    let (_dir, _file, _set, issues) = load_one(&format!("{KEY}  rotation: {{periodDays: often}}\n"));
    let issue = only_issue(&issues);
    assert_eq!(issue.field, "spec.rotation.periodDays");
    assert!(issue.problem.contains("\"often\""), "{issue}");

    let (_dir, _file, _set, issues) = load_one(&KEY.replace("  accountRef: core-security\n", "  region: us-east-1\n"));
    let issue = only_issue(&issues);
    assert_eq!((issue.field.as_str(), issue.problem.as_str()), ("spec.accountRef", "is missing"));

    let (_dir, _file, _set, issues) = load_one(&format!("{KEY}  deletion: {{policy: Destroy}}\n"));
    let issue = only_issue(&issues);
    assert_eq!(issue.field, "spec.deletion.policy");
    assert!(issue.fix.contains("Retain, Delete"), "{issue}");
}

#[test]
fn duplicates_name_both_files() {
    let dir = TempDir::new().expect("temp dir");
    let first = write(dir.path(), "a.yaml", KEY);
    let second = write(dir.path(), "b.yaml", &format!("{ACCOUNT}---\n{KEY}"));
    let (set, issues) = load(&[dir.path().to_path_buf()], ReadLimits::default());
    assert_eq!(set.keys.len(), 1);
    assert_eq!(set.keys[0].source.file, first);
    let issue = only_issue(&issues);
    assert_eq!(issue.file.as_deref(), Some(second.as_path()));
    assert_eq!(issue.line, Some(10), "metadata.name of the second declaration");
    assert!(issue.problem.contains(&format!("{}:1", first.display())), "{issue}");
    assert!(issue.to_string().contains("KmsKey platform-kms/datamesh"), "{issue}");
}

#[test]
fn the_same_file_twice_is_read_once() {
    let dir = TempDir::new().expect("temp dir");
    let file = write(dir.path(), "key.yaml", KEY);
    let (set, issues) = load(&[dir.path().to_path_buf(), file], ReadLimits::default());
    assert!(issues.is_empty(), "{}", render(&issues));
    assert_eq!(set.keys.len(), 1);
}

#[test]
fn namespace_defaults_to_default() {
    let (_dir, _file, set, issues) = load_one(&KEY.replace(", namespace: platform-kms", ""));
    assert!(issues.is_empty(), "{}", render(&issues));
    assert_eq!(set.keys[0].object.metadata.namespace.as_deref(), Some("default"));
    assert!(set.key("default", "datamesh").is_some());
}

#[test]
fn unreadable_paths_and_empty_inputs() {
    let dir = TempDir::new().expect("temp dir");
    let missing = dir.path().join("nope.yaml");
    let (_set, issues) = load(std::slice::from_ref(&missing), ReadLimits::default());
    let issue = only_issue(&issues);
    assert_eq!(issue.file.as_deref(), Some(missing.as_path()));
    assert!(issue.problem.contains("cannot be read"), "{issue}");

    let empty = dir.path().join("empty");
    fs::create_dir(&empty).expect("mkdir");
    let (_set, issues) = load(std::slice::from_ref(&empty), ReadLimits::default());
    assert!(only_issue(&issues).problem.contains("no *.yaml or *.yml files"));

    let comments = write(dir.path(), "comments.yaml", "# nothing here\n---\n");
    let (set, issues) = load(&[comments], ReadLimits::default());
    assert!(set.is_empty());
    assert!(only_issue(&issues).problem.contains("no manifests found"));

    let (_set, issues) = load(&[], ReadLimits::default());
    assert!(only_issue(&issues).problem.contains("no paths were given"));
}

#[test]
fn validate_places_rule_issues_on_the_field_line() {
    let text = format!("{ACCOUNT}---\n{KEY}  rotation:\n    periodDays: 30\n  tags:\n    aws:team: x\n");
    let (_dir, file, set, issues) = load_one(&text);
    assert!(issues.is_empty(), "{}", render(&issues));
    let found = set.validate();
    let period = found.iter().find(|i| i.field == "spec.rotation.periodDays").expect("period issue");
    assert_eq!(
        period.to_string(),
        format!(
            "{}:14: KmsKey platform-kms/datamesh: spec.rotation.periodDays: 30 is outside 90..2560. Fix: set a value from 90 to 2560 days (default 365).",
            file.display()
        )
    );
    let tag = found.iter().find(|i| i.field == "spec.tags[\"aws:team\"]").expect("tag issue");
    assert_eq!(tag.line, Some(16));
}

#[test]
fn validate_reports_a_namespace_on_an_account_with_its_line() {
    let text = ACCOUNT.replace("{name: core-security}", "{name: core-security, namespace: kms}");
    let (_dir, _file, set, issues) = load_one(&text);
    assert!(issues.is_empty(), "{}", render(&issues));
    let found = set.validate();
    let issue = only_issue(&found);
    assert_eq!((issue.field.as_str(), issue.line), ("metadata.namespace", Some(3)));
    assert!(issue.to_string().contains("AwsAccount core-security: metadata.namespace"), "{issue}");
}

#[test]
fn validate_checks_references_across_the_set() {
    let text = format!(
        "{KEY}---\n{}---\n\
apiVersion: kmsoperator.dev/v1alpha1
kind: KmsAlias
metadata: {{name: a, namespace: platform-kms}}
spec: {{name: alias/a, keyRef: {{name: datamsh}}}}
---
apiVersion: kmsoperator.dev/v1alpha1
kind: KmsGrant
metadata: {{name: g, namespace: other}}
spec:
  keyRef: {{name: datamesh}}
  name: g
  granteePrincipal: arn:aws:iam::111122223333:role/s3
  operations: [Encrypt]
---
apiVersion: kmsoperator.dev/v1alpha1
kind: KmsAlias
metadata: {{name: b, namespace: platform-kms}}
spec: {{name: alias/b, targetKeyId: 1234abcd-12ab-34cd-56ef-1234567890ab, accountRef: core-security}}
",
        KEY.replace("name: datamesh", "name: second")
    );
    let (_dir, file, set, issues) = load_one(&text);
    assert!(issues.is_empty(), "{}", render(&issues));
    let found = set.validate();

    let account = found
        .iter()
        .find(|i| i.field == "spec.accountRef" && i.object.as_ref().is_some_and(|o| o.name == "datamesh"))
        .expect("missing account for the key");
    assert_eq!(account.line, Some(5));
    assert!(
        account.problem.contains("\"core-security\"") && account.fix.contains("add an AwsAccount named core-security"),
        "{account}"
    );
    assert!(
        found.iter().any(|i| i.field == "spec.accountRef" && i.object.as_ref().is_some_and(|o| o.name == "b")),
        "alias b's accountRef is missing too:\n{}",
        render(&found)
    );

    let alias = found.iter().find(|i| i.field == "spec.keyRef.name").expect("alias keyRef");
    assert_eq!(alias.file.as_deref(), Some(file.as_path()));
    assert!(
        alias.to_string().contains("KmsAlias platform-kms/a: spec.keyRef.name: names KmsKey \"datamsh\""),
        "{alias}"
    );
    assert!(alias.fix.contains("datamesh, second"), "{alias}");

    let grant = found
        .iter()
        .find(|i| i.object.as_ref().is_some_and(|o| o.name == "g"))
        .expect("grant keyRef in another namespace");
    assert!(grant.fix.contains("no KmsKey there yet"), "{grant}");
}

#[test]
fn validate_checks_alias_regions_against_the_key() {
    let text = format!(
        "{ACCOUNT}---\n{KEY}  multiRegion: true\n  replicas: [{{region: us-west-2}}]\n---\n\
apiVersion: kmsoperator.dev/v1alpha1
kind: KmsAlias
metadata: {{name: west, namespace: platform-kms}}
spec: {{name: alias/a, keyRef: {{name: datamesh}}, region: us-west-2}}
---
apiVersion: kmsoperator.dev/v1alpha1
kind: KmsAlias
metadata: {{name: east, namespace: platform-kms}}
spec: {{name: alias/a, keyRef: {{name: datamesh}}, region: us-east-1}}
"
    );
    let (_dir, _file, set, issues) = load_one(&text);
    assert!(issues.is_empty(), "{}", render(&issues));
    let found = set.validate();
    let issue = only_issue(&found);
    assert!(issue.to_string().contains("KmsAlias platform-kms/east: spec.region: \"us-east-1\""), "{issue}");
    assert!(issue.fix.contains("ap-southeast-2, us-west-2"), "{issue}");
}

#[test]
fn duplicate_yaml_keys_are_reported_at_their_line() {
    let (_dir, _file, _set, issues) = load_one(&KEY.replace("{name: datamesh,", "{name: datamesh, name: other,"));
    let issue = only_issue(&issues);
    assert_eq!(issue.line, Some(3));
    assert!(issue.problem.contains("a mapping repeats a key"), "{issue}");
    assert!(!issue.problem.contains("name"), "no key of the file is quoted: {issue}");
    assert!(issue.fix.contains("repeated keys"), "{issue}");
}

fn alias(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: kmsoperator.dev/v1alpha1\nkind: KmsAlias\nmetadata: {{name: {name}, namespace: platform-kms}}\nspec: {spec}\n"
    )
}

fn grant(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: kmsoperator.dev/v1alpha1\nkind: KmsGrant\nmetadata: {{name: {name}, namespace: platform-kms}}\nspec: {spec}\n"
    )
}

#[test]
fn two_objects_managing_one_alias_are_refused_with_both_places() {
    let text = format!(
        "{ACCOUNT}---\n{KEY}---\n{}---\n{}",
        alias("first", "{name: alias/app, keyRef: {name: datamesh}}"),
        // The same alias, reached through an explicit region equal to the key's primary.
        alias("second", "{name: alias/app, keyRef: {name: datamesh}, region: ap-southeast-2}"),
    );
    let (_dir, file, set, issues) = load_one(&text);
    assert!(issues.is_empty(), "{}", render(&issues));
    let found = set.validate();
    let issue = only_issue(&found);
    assert_eq!(issue.object.as_ref().map(|o| o.name.as_str()), Some("second"));
    assert_eq!((issue.field.as_str(), issue.line), ("spec.name", Some(22)));
    assert!(
        issue.problem.contains(&format!(
            "manages alias alias/app in account core-security, ap-southeast-2, which KmsAlias platform-kms/first ({}:17) already manages",
            file.display()
        )),
        "{issue}"
    );
    assert!(issue.fix.starts_with("keep one of the two: each alias in KMS"), "{issue}");
}

#[test]
fn the_same_alias_name_in_two_regions_is_two_aliases() {
    let key = KEY.replace(
        "accountRef: core-security",
        "accountRef: core-security\n  multiRegion: true\n  replicas: [{region: us-west-2}]",
    );
    let text = format!(
        "{ACCOUNT}---\n{key}---\n{}---\n{}",
        alias("primary", "{name: alias/app, keyRef: {name: datamesh}}"),
        alias("replica", "{name: alias/app, keyRef: {name: datamesh}, region: us-west-2}"),
    );
    let (_dir, _file, set, issues) = load_one(&text);
    assert!(issues.is_empty(), "{}", render(&issues));
    let found = set.validate();
    assert!(found.is_empty(), "{}", render(&found));
}

#[test]
fn two_grants_of_one_name_on_one_key_are_refused() {
    let spec = |principal: &str| {
        format!(
            "{{keyRef: {{name: datamesh}}, name: same, granteePrincipal: \"arn:aws:iam::111122223333:role/{principal}\", operations: [Decrypt]}}"
        )
    };
    let text = format!("{ACCOUNT}---\n{KEY}---\n{}---\n{}", grant("g1", &spec("a")), grant("g2", &spec("b")));
    let (_dir, _file, set, issues) = load_one(&text);
    assert!(issues.is_empty(), "{}", render(&issues));
    let found = set.validate();
    let issue = only_issue(&found);
    assert_eq!(issue.object.as_ref().map(|o| o.name.as_str()), Some("g2"));
    assert!(
        issue.problem.contains(
            "manages grant same on KmsKey platform-kms/datamesh in ap-southeast-2, which KmsGrant platform-kms/g1"
        ),
        "{issue}"
    );
}

#[test]
fn two_keys_importing_one_key_by_id_and_by_arn_are_refused() {
    let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
    let by_id =
        KEY.replace("accountRef: core-security", &format!("accountRef: core-security\n  import: {{keyId: {id}}}"));
    let by_arn = KEY.replace("name: datamesh", "name: other").replace(
        "accountRef: core-security",
        &format!(
            "accountRef: core-security\n  import: {{keyId: \"arn:aws:kms:ap-southeast-2:484357440923:key/{id}\"}}"
        ),
    );
    let text = format!("{ACCOUNT}---\n{by_id}---\n{by_arn}");
    let (_dir, _file, set, issues) = load_one(&text);
    assert!(issues.is_empty(), "{}", render(&issues));
    let found = set.validate();
    let issue = only_issue(&found);
    assert_eq!(
        (issue.field.as_str(), issue.object.as_ref().map(|o| o.name.as_str())),
        ("spec.import.keyId", Some("other"))
    );
    assert!(issue.problem.contains(&format!("manages key {id} in account core-security")), "{issue}");
}

#[test]
fn namespace_manifests_bring_their_labels() {
    let namespaces = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: platform-kms\n  labels: {kmsoperator.dev/tenant: platform}\nstatus: {phase: Active}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: bare}\n";
    let (_dir, _file, set, issues) = load_one(&format!("{namespaces}---\n{KEY}"));
    assert!(issues.is_empty(), "{issues:?}");
    assert!(set.skipped.is_empty(), "{:?}", set.skipped);
    assert_eq!(set.labels("platform-kms").get("kmsoperator.dev/tenant").map(String::as_str), Some("platform"));
    assert!(set.labels("bare").is_empty());
    assert!(set.labels("never-declared").is_empty(), "a namespace without a manifest has no labels");
}

#[test]
fn a_namespace_declared_twice_or_badly_named_is_reported() {
    let twice = "apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: apps, labels: {a: b}}\n";
    let (_dir, _file, _set, issues) = load_one(twice);
    let issue = only_issue(&issues);
    assert_eq!((issue.field.as_str(), issue.line), ("metadata.name", Some(7)));
    assert!(issue.problem.contains("Namespace apps is declared twice: first in"), "{issue}");

    let (_dir, _file, set, issues) = load_one("apiVersion: v1\nkind: Namespace\nmetadata: {name: Apps_1}\n");
    assert!(set.namespaces.is_empty());
    assert!(only_issue(&issues).problem.contains("\"Apps_1\" is not a valid namespace name"));
}

#[test]
fn a_status_block_is_refused_because_status_is_the_operator_s() {
    let (_dir, _file, set, issues) =
        load_one(&format!("{KEY}status:\n  keyId: 1234abcd-12ab-34cd-56ef-1234567890ab\n"));
    assert!(set.keys.is_empty(), "an object with a status block is not loaded");
    let issue = only_issue(&issues);
    assert_eq!((issue.field.as_str(), issue.line), ("status", Some(6)));
    assert!(
        issue
            .to_string()
            .contains("KmsKey platform-kms/datamesh: status: is set, but status is written by the operator"),
        "{issue}"
    );
    assert!(issue.fix.contains("remove the status: block"), "{issue}");
}
