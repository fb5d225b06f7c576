//! No re-delegation through the key policy. A principal outside the key's account that may
//! call `kms:CreateGrant` can grant use of the key to any principal of any account, out of the
//! operator's sight, as a `KmsGrant` may not. So an `Allow` whose actions cover
//! `kms:CreateGrant` for such a principal must hold only for grants an AWS service makes on the
//! caller's behalf: `Bool kms:GrantIsForAWSResource: true`, or `kms:ViaService` pinned to named
//! service endpoints (the builder's `services` statements), unless the account sets
//! `permissions.delegateGrants`.
//!
//! The rule reads the key's whole desired policy document, as compiled (the builder's output,
//! `statements` included, or the parsed `policyDocument`), never the Rust types of the spec, so
//! it judges exactly what KMS would be sent.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::Refusal;
use super::principals::{ACCOUNT_KEYS, ARN_KEY, Named, Permitted, Refusals, arn_account, classify, named, shown};
use super::wildcard::{Wildcards, matches};
use crate::api::ObjectName;
use crate::api::iam::{self, ConditionValue};
use crate::api::validate::names::is_account_id;
use crate::api::validate::path;

const CREATE_GRANT: &str = "kms:CreateGrant";
const GRANT_FOR_AWS_RESOURCE: &str = "kms:GrantIsForAWSResource";
const VIA_SERVICE: &str = "kms:ViaService";

/// Where the statements of a compiled document were written, so that a refusal names the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatementOrigin {
    /// `spec.policy`: the builder's own statements come first (`generated` of them), then
    /// `spec.policy.statements` in order.
    Builder { generated: usize },
    /// `spec.policyDocument`, as written.
    Document,
}

impl StatementOrigin {
    fn locate(self, index: usize) -> (String, String) {
        match self {
            StatementOrigin::Builder { generated } if index >= generated => {
                (path::item("spec.policy.statements", index - generated), "statement".to_owned())
            }
            StatementOrigin::Builder { .. } => ("spec.policy".to_owned(), format!("builder statement {index}")),
            StatementOrigin::Document => ("spec.policyDocument".to_owned(), format!("Statement[{index}]")),
        }
    }
}

/// Every statement of `document` that lets a principal outside the account create grants
/// without the condition that keeps the grants to AWS services.
pub fn check_delegation(
    document: &Value,
    origin: StatementOrigin,
    object: &ObjectName,
    permitted: Permitted<'_>,
) -> Vec<Refusal> {
    let mut out = Refusals::new(object, permitted);
    if permitted.spec.permissions.as_ref().is_some_and(|p| p.delegate_grants) {
        return out.list;
    }
    let own = permitted.spec.account_id.as_str();
    for statement in iam::statements(document) {
        let Some(outside) = delegates(statement, own) else {
            continue;
        };
        let (field, label) = origin.locate(statement.index);
        let label = named(&label, statement);
        out.add(
            &field,
            format!(
                "{label} allows {CREATE_GRANT} to {outside}, outside account {own}, without the condition Bool {GRANT_FOR_AWS_RESOURCE}: true; that principal could grant use of the key to any principal of any account"
            ),
            format!(
                "add \"Condition\": {{\"Bool\": {{\"{GRANT_FOR_AWS_RESOURCE}\": \"true\"}}}} to the statement (grants then serve only AWS services such as EBS or RDS), or leave {CREATE_GRANT} out of its actions; a platform team that means to let other accounts delegate sets spec.permissions.delegateGrants: true on AwsAccount {}",
                permitted.account
            ),
        );
    }
    out.list
}

/// The principal outside `own` that may create grants through this statement without the
/// AWS-resource condition, if any.
fn delegates(statement: iam::Statement<'_>, own: &str) -> Option<String> {
    if !statement.allows() || !covers_create_grant(statement.body) {
        return None;
    }
    let conditions = statement.condition_values();
    let outside = outside_principal(statement, own, &conditions)?;
    if grants_only_for_aws_resources(&conditions) || pinned_to_services(&conditions) {
        return None;
    }
    Some(outside)
}

/// Whether the statement's actions include `kms:CreateGrant`, as IAM matches them: wildcards
/// and any case in `Action`, everything not excluded in `NotAction`.
fn covers_create_grant(body: &Map<String, Value>) -> bool {
    let covered = |list: &Value| {
        iam::one_or_many(list)
            .into_iter()
            .filter_map(Value::as_str)
            .any(|pattern| matches(pattern, CREATE_GRANT, Wildcards::Iam))
    };
    match (body.get("Action"), body.get("NotAction")) {
        (Some(actions), _) => covered(actions),
        (None, Some(excluded)) => !covered(excluded),
        (None, None) => false,
    }
}

/// The first principal the statement allows that is not provably in `own`: another account's
/// id or ARN, a service, an unverifiable principal, everyone (`*`) unless a condition pins the
/// caller to `own`, or everyone but a few (`NotPrincipal`).
fn outside_principal(statement: iam::Statement<'_>, own: &str, conditions: &[ConditionValue<'_>]) -> Option<String> {
    if statement.has_not_principal() {
        return Some("every principal NotPrincipal does not list".to_owned());
    }
    statement.principals().into_iter().find_map(|principal| {
        let (kind, value) = (principal.kind, shown(principal.text()));
        match classify(kind, value) {
            Named::Account(account) if account == own => None,
            Named::Everyone if caller_pinned_to(conditions, own) => None,
            Named::Everyone => Some("every principal (\"*\")".to_owned()),
            Named::Account(_) | Named::Service | Named::Unverifiable => Some(format!("{kind} principal {value}")),
        }
    })
}

/// Whether some condition lets only callers of `own` through: a positive match of the caller's
/// account (or ARN) where every value is in `own`.
fn caller_pinned_to(conditions: &[ConditionValue<'_>], own: &str) -> bool {
    let mut verdicts: BTreeMap<(&str, String), bool> = BTreeMap::new();
    for condition in conditions {
        let (operator, value) = (condition.operator, shown(condition.text()));
        let key = condition.key.to_ascii_lowercase();
        let account_key = ACCOUNT_KEYS.contains(&key.as_str());
        if (!account_key && key != ARN_KEY) || !is_positive_match(operator) {
            continue;
        }
        let account = if account_key { Some(value).filter(|v| is_account_id(v)) } else { arn_account(value) };
        let all_own = verdicts.entry((operator, key)).or_insert(true);
        *all_own &= account == Some(own);
    }
    verdicts.values().any(|all_own| *all_own)
}

fn is_positive_match(operator: &str) -> bool {
    let base = operator.strip_prefix("ForAnyValue:").unwrap_or(operator);
    matches!(base, "StringEquals" | "StringEqualsIgnoreCase" | "StringLike" | "ArnEquals" | "ArnLike")
}

/// `Bool kms:GrantIsForAWSResource: true` (not `BoolIfExists`, not a list with `false`).
fn grants_only_for_aws_resources(conditions: &[ConditionValue<'_>]) -> bool {
    let is_true = |v: &Value| v == &Value::Bool(true) || v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"));
    // By key as written: a list must be all true, and an empty list is no condition.
    let mut verdicts: BTreeMap<&str, bool> = BTreeMap::new();
    for condition in conditions {
        if condition.operator == "Bool" && condition.key.eq_ignore_ascii_case(GRANT_FOR_AWS_RESOURCE) {
            *verdicts.entry(condition.key).or_insert(true) &= is_true(condition.value);
        }
    }
    verdicts.values().any(|all_true| *all_true)
}

/// `kms:ViaService` matched with `StringEquals` (which reads no wildcard) against named
/// endpoints: only those AWS services can then make the call, for their own resources, as with
/// the condition above. Condition blocks are ANDed, so one such block is enough.
fn pinned_to_services(conditions: &[ConditionValue<'_>]) -> bool {
    conditions.iter().any(|condition| {
        condition.key.eq_ignore_ascii_case(VIA_SERVICE)
            && matches!(condition.operator, "StringEquals" | "StringEqualsIgnoreCase")
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::tenancy::Reason;
    use crate::api::{AwsAccountSpec, Kind};

    const OWN: &str = "484357440923";
    const PARTNER: &str = "339712836516";

    fn account(delegate: bool) -> AwsAccountSpec {
        serde_json::from_value(json!({"accountId": OWN, "region": "eu-west-1", "permissions": {"principalAccounts": [PARTNER], "delegateGrants": delegate}}))
            .unwrap()
    }

    fn check_with(statements: Vec<Value>, origin: StatementOrigin, delegate: bool) -> Vec<Refusal> {
        let spec = account(delegate);
        let object = ObjectName::new(Kind::KmsKey, Some("team-b"), "k");
        check_delegation(&json!({"Statement": statements}), origin, &object, Permitted { account: "sec", spec: &spec })
    }

    fn check(statement: Value) -> Vec<Refusal> {
        check_with(vec![statement], StatementOrigin::Document, false)
    }

    fn allow(principal: Value, actions: Value) -> Value {
        json!({"Effect": "Allow", "Principal": principal, "Action": actions, "Resource": "*"})
    }

    fn partner_root() -> Value {
        json!({"AWS": format!("arn:aws:iam::{PARTNER}:root")})
    }

    #[test]
    fn every_action_pattern_that_covers_create_grant_is_refused_for_another_account() {
        for actions in [
            json!("kms:CreateGrant"),
            json!("kms:Create*"),
            json!("kms:*"),
            json!("*"),
            json!("KMS:creategrant"),
            json!(["kms:Decrypt", "kms:*Grant"]),
            json!("kms:Create?rant"),
        ] {
            let found = check(allow(partner_root(), actions.clone()));
            assert_eq!(found.len(), 1, "{actions}");
            assert_eq!(found[0].reason, Reason::NotPermitted);
            assert_eq!(found[0].issue.field, "spec.policyDocument");
            assert!(
                found[0]
                    .issue
                    .problem
                    .contains("Statement[0] allows kms:CreateGrant to AWS principal arn:aws:iam::339712836516:root"),
                "{}",
                found[0].issue
            );
            assert!(
                found[0].issue.fix.contains("kms:GrantIsForAWSResource")
                    && found[0].issue.fix.contains("delegateGrants: true")
            );
        }
        for actions in [json!("kms:CreateKey"), json!(["kms:Decrypt", "kms:ListGrants"]), json!("s3:*")] {
            assert!(check(allow(partner_root(), actions.clone())).is_empty(), "{actions}");
        }
    }

    #[test]
    fn not_action_covers_create_grant_unless_it_excludes_it() {
        let not_action = |excluded: Value| json!({"Effect": "Allow", "Principal": partner_root(), "NotAction": excluded, "Resource": "*"});
        assert_eq!(check(not_action(json!("kms:Decrypt"))).len(), 1);
        assert!(check(not_action(json!(["kms:Decrypt", "kms:Create*"]))).is_empty());
        assert!(check(not_action(json!("*"))).is_empty());
    }

    #[test]
    fn the_aws_resource_condition_or_service_endpoints_keep_grants_to_aws_services() {
        let with = |condition: Value| {
            let mut statement = allow(partner_root(), json!("kms:*"));
            statement["Condition"] = condition;
            check(statement)
        };
        assert!(with(json!({"Bool": {"kms:GrantIsForAWSResource": "true"}})).is_empty());
        assert!(with(json!({"Bool": {"kms:grantisforawsresource": true}})).is_empty());
        assert!(with(json!({"Bool": {"kms:GrantIsForAWSResource": ["true"]}})).is_empty());
        assert!(with(json!({"StringEquals": {"kms:ViaService": ["rds.eu-west-1.amazonaws.com", "ec2.eu-west-1.amazonaws.com"]}})).is_empty());
        // Condition blocks are ANDed: a wide one beside an exact one still needs the exact one.
        assert!(with(json!({"StringEquals": {"kms:ViaService": "rds.eu-west-1.amazonaws.com"}, "StringLike": {"kms:ViaService": "*"}})).is_empty());
        for weak in [
            json!({"Bool": {"kms:GrantIsForAWSResource": "false"}}),
            json!({"Bool": {"kms:GrantIsForAWSResource": ["true", "false"]}}),
            json!({"BoolIfExists": {"kms:GrantIsForAWSResource": "true"}}),
            json!({"Bool": {"aws:SecureTransport": "true"}}),
            json!({"StringLike": {"kms:ViaService": "*.amazonaws.com"}}),
            json!({"StringEqualsIfExists": {"kms:ViaService": "rds.eu-west-1.amazonaws.com"}}),
            json!({"ForAnyValue:StringEquals": {"kms:ViaService": "rds.eu-west-1.amazonaws.com"}}),
        ] {
            assert_eq!(with(weak.clone()).len(), 1, "{weak}");
        }
    }

    #[test]
    fn principals_of_the_account_itself_may_create_grants() {
        assert!(check(allow(json!({"AWS": format!("arn:aws:iam::{OWN}:role/admin")}), json!("kms:*"))).is_empty());
        assert!(check(allow(json!({"AWS": OWN}), json!("kms:CreateGrant"))).is_empty());
        let everyone = |condition: Value| {
            let mut statement = allow(json!("*"), json!("kms:CreateGrant"));
            statement["Condition"] = condition;
            check(statement)
        };
        assert!(everyone(json!({"StringEquals": {"kms:CallerAccount": OWN}})).is_empty());
        assert!(everyone(json!({"ArnLike": {"aws:PrincipalArn": format!("arn:aws:iam::{OWN}:role/*")}})).is_empty());
        assert_eq!(everyone(json!({"StringEquals": {"kms:CallerAccount": [OWN, PARTNER]}})).len(), 1);
        assert_eq!(everyone(json!({})).len(), 1);
    }

    #[test]
    fn services_unverifiable_principals_and_not_principal_count_as_outside() {
        assert_eq!(check(allow(json!({"Service": "logs.eu-west-1.amazonaws.com"}), json!("kms:*"))).len(), 1);
        assert_eq!(check(allow(json!({"AWS": "AROAEXAMPLEID123456"}), json!("kms:*"))).len(), 1);
        let not_principal = json!({"Effect": "Allow", "NotPrincipal": {"AWS": format!("arn:aws:iam::{OWN}:root")}, "Action": "kms:CreateGrant", "Resource": "*"});
        assert_eq!(check(not_principal).len(), 1);
        let deny = json!({"Effect": "Deny", "Principal": partner_root(), "Action": "kms:*", "Resource": "*"});
        assert!(check(deny).is_empty());
    }

    #[test]
    fn builder_documents_name_the_statement_the_user_wrote() {
        let builder_own = allow(json!({"AWS": format!("arn:aws:iam::{OWN}:root")}), json!("kms:*"));
        let found = check_with(
            vec![builder_own, allow(partner_root(), json!("kms:*"))],
            StatementOrigin::Builder { generated: 1 },
            false,
        );
        assert_eq!(found[0].issue.field, "spec.policy.statements[0]");
    }

    #[test]
    fn the_account_may_permit_delegation() {
        assert!(check_with(vec![allow(partner_root(), json!("kms:*"))], StatementOrigin::Document, true).is_empty());
    }
}
