//! Rules on a `KmsGrant`: its name, principals, operations and constraints.

use std::collections::BTreeMap;

use super::Issue;
use super::issue::{quote, suggest};
use super::meta::issues_for;
use super::names::{first_bad_grant_name_char, principal_arn_problem};
use super::path;
use super::reference::check_key_pointer;
use crate::api::catalog::{GRANT_OPERATIONS, MAX_GRANT_NAME_CHARS};
use crate::api::{Kind, KmsGrant};

pub fn validate_grant(grant: &KmsGrant) -> Vec<Issue> {
    let mut issues = issues_for(Kind::KmsGrant, &grant.metadata);
    let spec = &grant.spec;

    check_key_pointer(&mut issues, &spec.pointer());

    let chars = spec.name.chars().count();
    if spec.name.is_empty() {
        issues.add(
            "spec.name",
            "is empty",
            "name the grant, e.g. name: s3-replication (KMS uses it to make CreateGrant idempotent)",
        );
    } else if chars > MAX_GRANT_NAME_CHARS {
        issues.add(
            "spec.name",
            format!("is {chars} characters, over the KMS limit of {MAX_GRANT_NAME_CHARS}"),
            format!("shorten the grant name to at most {MAX_GRANT_NAME_CHARS} characters"),
        );
    }
    if let Some(bad) = first_bad_grant_name_char(&spec.name) {
        issues.add(
            "spec.name",
            format!("{} contains {bad:?}, which KMS does not allow in grant names", quote(&spec.name)),
            "use only letters, digits, ':', '/', '_' and '-'",
        );
    }

    let principals = [
        ("spec.granteePrincipal", Some(spec.grantee_principal.as_str())),
        ("spec.retiringPrincipal", spec.retiring_principal.as_deref()),
    ];
    for (field, principal) in principals {
        if let Some((problem, fix)) = principal.and_then(principal_arn_problem) {
            issues.add(field, problem, fix);
        }
    }

    if spec.operations.is_empty() {
        issues.add(
            "spec.operations",
            "is empty, so the grant would allow nothing",
            "list the operations to allow, e.g. [Encrypt, Decrypt, GenerateDataKey]",
        );
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, operation) in spec.operations.iter().enumerate() {
        let at = path::item("spec.operations", i);
        if !GRANT_OPERATIONS.contains(&operation.as_str()) {
            issues.add(
                &at,
                format!("{} is not a grant operation", quote(operation)),
                suggest(operation, GRANT_OPERATIONS),
            );
        } else if let Some(first) = seen.insert(operation, i) {
            issues.add(
                &at,
                format!("{} is already listed at spec.operations[{first}]", quote(operation)),
                "list each operation once",
            );
        }
    }

    if let Some(constraints) = &spec.constraints {
        let set = |c: &Option<BTreeMap<String, String>>| c.as_ref().is_some_and(|m| !m.is_empty());
        if set(&constraints.encryption_context_equals) && set(&constraints.encryption_context_subset) {
            issues.add(
                "spec.constraints",
                "sets both encryptionContextEquals and encryptionContextSubset",
                "keep one: encryptionContextEquals requires exactly that context, encryptionContextSubset requires at least it",
            );
        }
    }
    issues.into_vec()
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_clean, assert_issue, grant};
    use super::*;

    const GRANT: &str = "KmsGrant platform-kms/s3-replication";
    const GRANTEE: &str = "arn:aws:iam::111122223333:role/s3-replication";

    fn with(extra: &str) -> Vec<Issue> {
        validate_grant(&grant(&format!(
            "{{keyRef: {{name: logs}}, name: s3-replication, granteePrincipal: '{GRANTEE}', operations: [Encrypt, Decrypt]{extra}}}"
        )))
    }

    #[test]
    fn a_sound_grant_passes() {
        assert_clean(&with(
            ", retiringPrincipal: 'arn:aws:iam::111122223333:root', constraints: {encryptionContextEquals: {app: x}, encryptionContextSubset: {}}",
        ));
    }

    #[test]
    fn operations_empty_unknown_or_duplicated() {
        let issues = validate_grant(&grant(&format!(
            "{{keyRef: {{name: logs}}, name: g, granteePrincipal: '{GRANTEE}', operations: []}}"
        )));
        assert_issue(&issues, GRANT, "spec.operations", &["empty"], "Encrypt, Decrypt");

        let issues = validate_grant(&grant(&format!(
            "{{keyRef: {{name: logs}}, name: g, granteePrincipal: '{GRANTEE}', operations: [decrypt, Decrypt, Encrypt, Encrypt, Teleport]}}"
        )));
        assert_issue(
            &issues,
            GRANT,
            "spec.operations[0]",
            &["\"decrypt\" is not a grant operation"],
            "did you mean Decrypt?",
        );
        assert_issue(
            &issues,
            GRANT,
            "spec.operations[3]",
            &["\"Encrypt\" is already listed at spec.operations[2]"],
            "once",
        );
        let unknown = assert_issue(&issues, GRANT, "spec.operations[4]", &["\"Teleport\""], "use one of CreateGrant");
        assert!(!unknown.fix.contains("did you mean"), "{unknown}");
    }

    #[test]
    fn grant_name_rules() {
        let issues = validate_grant(&grant(&format!(
            "{{keyRef: {{name: logs}}, name: '', granteePrincipal: '{GRANTEE}', operations: [Encrypt]}}"
        )));
        assert_issue(&issues, GRANT, "spec.name", &["empty"], "name the grant");
        let long = "g".repeat(257);
        let issues = validate_grant(&grant(&format!(
            "{{keyRef: {{name: logs}}, name: {long}, granteePrincipal: '{GRANTEE}', operations: [Encrypt]}}"
        )));
        assert_issue(&issues, GRANT, "spec.name", &["257 characters"], "at most 256");
        let issues = validate_grant(&grant(&format!(
            "{{keyRef: {{name: logs}}, name: 's3 replication', granteePrincipal: '{GRANTEE}', operations: [Encrypt]}}"
        )));
        assert_issue(&issues, GRANT, "spec.name", &["contains ' '"], "':', '/', '_' and '-'");
    }

    #[test]
    fn principals_must_be_arns() {
        let issues = validate_grant(&grant(
            "{keyRef: {name: logs}, name: g, granteePrincipal: s3.amazonaws.com, retiringPrincipal: admin, operations: [Encrypt]}",
        ));
        assert_issue(
            &issues,
            GRANT,
            "spec.granteePrincipal",
            &["\"s3.amazonaws.com\" is not an IAM principal ARN"],
            "arn:aws:iam::",
        );
        assert_issue(&issues, GRANT, "spec.retiringPrincipal", &["\"admin\""], "arn:aws:iam::");
    }

    #[test]
    fn both_constraints() {
        let issues = with(", constraints: {encryptionContextEquals: {a: b}, encryptionContextSubset: {c: d}}");
        assert_issue(
            &issues,
            GRANT,
            "spec.constraints",
            &["both encryptionContextEquals and encryptionContextSubset"],
            "keep one",
        );
    }

    #[test]
    fn key_pointer_rules_apply_to_grants() {
        let issues = validate_grant(&grant(&format!(
            "{{name: g, granteePrincipal: '{GRANTEE}', operations: [Encrypt], region: west}}"
        )));
        assert_issue(&issues, GRANT, "spec.keyRef", &["neither"], "targetKeyId");
        assert_issue(&issues, GRANT, "spec.region", &["\"west\""], "us-east-1");
        let issues = validate_grant(&grant(&format!(
            "{{name: g, granteePrincipal: '{GRANTEE}', operations: [Encrypt], targetKeyId: nope, accountRef: core}}"
        )));
        assert_issue(&issues, GRANT, "spec.targetKeyId", &["\"nope\""], "key id");
    }
}
