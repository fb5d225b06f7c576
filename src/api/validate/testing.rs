//! Builders and assertions shared by the rule tests: objects come from YAML, as users write them.

use serde::de::DeserializeOwned;

use super::Issue;
use crate::api::{AwsAccount, AwsAccountSpec, KmsAlias, KmsGrant, KmsKey};

fn parse<T: DeserializeOwned>(yaml: &str) -> T {
    match serde_yaml_ng::from_str(yaml) {
        Ok(value) => value,
        Err(err) => panic!("test YAML does not parse: {err}\n{yaml}"),
    }
}

pub(crate) const ACCOUNT_ID: &str = "484357440923";

pub(crate) fn account_spec() -> AwsAccountSpec {
    parse(&format!("{{accountId: '{ACCOUNT_ID}', region: ap-southeast-2}}"))
}

pub(crate) fn account(spec: &str) -> AwsAccount {
    AwsAccount::new("core-security", parse(spec))
}

pub(crate) fn key(spec: &str) -> KmsKey {
    let mut key = KmsKey::new("datamesh", parse(spec));
    key.metadata.namespace = Some("platform-kms".into());
    key
}

pub(crate) fn alias(spec: &str) -> KmsAlias {
    let mut alias = KmsAlias::new("datamesh", parse(spec));
    alias.metadata.namespace = Some("platform-kms".into());
    alias
}

pub(crate) fn grant(spec: &str) -> KmsGrant {
    let mut grant = KmsGrant::new("s3-replication", parse(spec));
    grant.metadata.namespace = Some("platform-kms".into());
    grant
}

/// The issue on `field`, after checking that its message reads
/// `<object>: <field>: <problem>. Fix: <fix>` with the given fragments.
pub(crate) fn assert_issue<'a>(
    issues: &'a [Issue],
    object: &str,
    field: &str,
    problem: &[&str],
    fix: &str,
) -> &'a Issue {
    let Some(issue) = issues.iter().find(|i| i.field == field) else {
        panic!("no issue on {field}; got:\n{}", render(issues));
    };
    let text = issue.to_string();
    assert!(text.starts_with(&format!("{object}: {field}: ")), "{text}");
    for part in problem {
        assert!(issue.problem.contains(part), "problem lacks {part:?}: {text}");
    }
    assert!(text.contains(". Fix: "), "{text}");
    assert!(issue.fix.contains(fix), "fix lacks {fix:?}: {text}");
    issue
}

pub(crate) fn assert_clean(issues: &[Issue]) {
    assert!(issues.is_empty(), "expected no issues, got:\n{}", render(issues));
}

pub(crate) fn assert_no_issue_on(issues: &[Issue], field: &str) {
    assert!(issues.iter().all(|i| i.field != field), "expected no issue on {field}, got:\n{}", render(issues));
}

fn render(issues: &[Issue]) -> String {
    issues.iter().map(|i| format!("  {i}\n")).collect()
}
