use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;
use crate::api::conditions::{ConditionUpdate, READY, SYNCED};
use crate::api::{Kind, ObjectName, Reason};
use crate::aws::CallSummary;
use crate::engine::change::{Action, KeyHandle, NewKeyPlan, TagChange};
use crate::engine::{EngineError, Finding};
use crate::local::runner::Command;

fn row(kind: Kind, name: &str, outcome: Outcome, changes: Vec<Change>) -> ResourceResult {
    let namespace = (kind != Kind::AwsAccount).then_some("apps");
    ResourceResult {
        object: ObjectName::new(kind, namespace, name),
        changes,
        blockers: Vec::new(),
        notices: Vec::new(),
        outcome,
        ready: ConditionUpdate::new(READY, true, Reason::Available, ""),
        synced: ConditionUpdate::new(SYNCED, true, Reason::InSync, ""),
        status: json!({"region": "eu-west-1"}),
        id: None,
        state: None,
        removed: false,
        export: None,
    }
}

fn change(action: Action) -> Change {
    Change { region: "eu-west-1".into(), key: KeyHandle::Existing("k-1".into()), action }
}

fn policy(admin: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": admin}, "Action": "kms:*", "Resource": "*"}]})
}

fn plan(results: Vec<ResourceResult>) -> RunOutput {
    RunOutput { command: Command::Plan, results, calls: CallSummary::default() }
}

fn policy_and_tag_change() -> ResourceResult {
    row(
        Kind::KmsKey,
        "logs",
        Outcome::Pending,
        vec![
            change(Action::PutPolicy {
                from: Some(policy("arn:aws:iam::1:role/A")),
                to: policy("arn:aws:iam::1:role/B"),
                bypass_lockout_check: false,
            }),
            change(Action::Tag(vec![TagChange { key: "Env".into(), from: Some("dev".into()), to: "prod".into() }])),
        ],
    )
}

#[test]
fn a_plan_reads_as_a_pull_request_comment() {
    let refused = ResourceResult::refused(
        ObjectName::new(Kind::KmsAlias, Some("apps"), "stolen"),
        Reason::ForeignKey,
        "the key belongs to namespace team-b".into(),
    );
    let output =
        plan(vec![row(Kind::AwsAccount, "sec", Outcome::InSync, Vec::new()), policy_and_tag_change(), refused]);
    let expected = r#"### kms-operator plan

**Plan: 2 change(s) to 1 resource(s); 1 in sync; 1 with errors.**

#### Errors and refusals

- **KmsAlias apps/stolen**: `ForeignKey` the key belongs to namespace team-b

#### Changes

<details>
<summary><b>KmsKey apps/logs (eu-west-1)</b>: 2 change(s): 2 to change</summary>

- `~ update key policy of k-1 in eu-west-1`
  ```diff
    ...
          "Principal": {
            "AWS": [
  -           "arn:aws:iam::1:role/A"
  +           "arn:aws:iam::1:role/B"
            ]
          },
    ...
  ```
- `~ tags: Env: "dev" -> "prod"`

</details>

<details>
<summary>1 resource(s) in sync</summary>

- AwsAccount sec

</details>
"#;
    assert_eq!(markdown(&output), expected);
}

#[test]
fn errors_come_before_changes_and_each_changed_resource_has_its_own_section() {
    let mut blocked = row(Kind::KmsKey, "blocked", Outcome::Blocked, Vec::new());
    blocked.blockers.push(Finding::new(Reason::KeyPendingDeletion, "restore it first"));
    let failed = row(
        Kind::KmsGrant,
        "g",
        Outcome::Failed(EngineError::Unresolved("KmsKey apps/nope is not among the manifests".into())),
        Vec::new(),
    );
    let created = row(
        Kind::KmsKey,
        "new",
        Outcome::Pending,
        vec![Change {
            region: "eu-west-1".into(),
            key: KeyHandle::New,
            action: Action::CreateKey(NewKeyPlan {
                description: "new".into(),
                key_spec: "SYMMETRIC_DEFAULT".into(),
                key_usage: "ENCRYPT_DECRYPT".into(),
                multi_region: false,
                material: crate::aws::model::KeyMaterial { origin: "AWS_KMS".into(), ..Default::default() },
                policy: policy("arn:aws:iam::1:role/A"),
                tags: BTreeMap::new(),
                bypass_lockout_check: false,
            }),
        }],
    );
    let text = markdown(&plan(vec![policy_and_tag_change(), created, blocked, failed]));
    let errors = text.find("#### Errors and refusals").expect("errors section");
    let changes = text.find("#### Changes").expect("changes section");
    assert!(errors < changes, "{text}");
    assert!(text.contains("- **KmsKey apps/blocked (eu-west-1)**: `KeyPendingDeletion` restore it first"), "{text}");
    assert!(text.contains("- **KmsGrant apps/g (eu-west-1)**: `ReferenceNotReady` KmsKey apps/nope"), "{text}");
    assert_eq!(text.matches("<details>").count(), 2, "one per changed resource, none in sync: {text}");
    assert!(text.contains("<summary><b>KmsKey apps/new (eu-west-1)</b>: 1 change(s): 1 to add</summary>"), "{text}");
    assert!(text.contains("  - `description: \"new\"`"), "{text}");
}

#[test]
fn drift_and_notes_have_sections_of_their_own() {
    let drift = row(
        Kind::KmsKey,
        "observed",
        Outcome::Drifted,
        vec![change(Action::UpdateDescription { from: "a".into(), to: "b".into() })],
    );
    let mut noted = row(Kind::AwsAccount, "local", Outcome::InSync, Vec::new());
    noted.notices.push(Finding::new(Reason::AccountNotVerified, "verifyAccount is false: not checked"));
    let text = markdown(&plan(vec![drift, noted]));
    assert!(!text.contains("#### Changes"), "drift is no change: {text}");
    let drift_at = text.find("#### Drift left as it is (managementPolicy: Observe)").expect("drift section");
    assert!(text[drift_at..].contains("- `~ description: \"a\" -> \"b\"`"), "{text}");
    assert!(
        text.contains("#### Notes\n\n- **AwsAccount local (eu-west-1)**: verifyAccount is false: not checked"),
        "{text}"
    );
}

#[test]
fn text_from_manifests_and_aws_cannot_break_the_markup() {
    assert_eq!(code("a`b"), "``a`b``");
    assert_eq!(code("`x`"), "`` `x` ``");
    assert_eq!(escape("*bold* <details> [link](x) a_b\nnext"), r"\*bold\* \<details\> \[link\](x) a\_b next");
    assert_eq!(html("<b>&"), "&lt;b&gt;&amp;");
    let block = fenced("diff", &["+ \"```\"".to_owned()], "");
    assert_eq!(block, "````diff\n+ \"```\"\n````\n");

    let mut tricky = row(
        Kind::KmsKey,
        "logs",
        Outcome::Pending,
        vec![change(Action::UpdateDescription { from: "</details>".into(), to: "``shell``".into() })],
    );
    tricky.object.name = "a<b>".into();
    let text = markdown(&plan(vec![tricky]));
    assert!(text.contains("<summary><b>KmsKey apps/a&lt;b&gt; (eu-west-1)</b>"), "{text}");
    assert!(text.contains("- ```~ description: \"</details>\" -> \"``shell``\"```"), "{text}");
    assert_eq!(text.matches("</details>\n").count(), 1, "{text}");
}

#[test]
fn removals_come_first_with_every_key_deletion_above_the_verdict() {
    let mut doomed =
        row(Kind::KmsKey, "old", Outcome::Pending, vec![change(Action::ScheduleDeletion { pending_window_days: 7 })]);
    doomed.status = json!({"accountId": "111122223333", "region": "eu-west-1"});
    doomed.removed = true;
    let mut gone = row(Kind::KmsAlias, "gone", Outcome::InSync, Vec::new());
    gone.removed = true;
    let kept = row(
        Kind::KmsKey,
        "kept",
        Outcome::Pending,
        vec![change(Action::UpdateDescription { from: "a".into(), to: "b".into() })],
    );
    let text = markdown(&plan(vec![doomed, gone, kept]));
    assert!(
        text.starts_with("### kms-operator plan\n\n> **Removing KmsKey apps/old schedules deletion of key k-1 (account 111122223333, eu-west-1) in 7 days.**\n"),
        "{text}"
    );
    let verdict = text
        .find("**Plan: 2 change(s) to 2 resource(s) (1 removed from the manifests); 0 in sync; 0 with errors.**")
        .expect("verdict");
    let removed = text.find("#### Removed from the manifests").expect("removals");
    let changes = text.find("#### Changes").expect("changes");
    assert!(verdict < removed && removed < changes, "{text}");
    assert!(
        text.contains(
            "- KmsAlias apps/gone (eu-west-1), removed from the manifests: deleting it changes nothing in KMS"
        ),
        "{text}"
    );
    assert!(!text.contains("resource(s) in sync"), "a removed object is not in sync: {text}");
    let kept = text.find("KmsKey apps/kept (eu-west-1)</b>").expect("the kept key's section");
    assert!(changes < kept, "{text}");
}
