//! Which accounts a key's policy opens the key to. Every account id and IAM ARN a tenant can
//! write into `policy` or `policyDocument` must be the account's own or one of its
//! `principalAccounts`; `Allow` with `NotPrincipal` (everyone but a few) is refused, and an
//! `Allow` to every principal (`"*"`) counts only when a condition pins the caller to permitted
//! accounts, since a trivial condition opens the key as wide as none.

use serde_json::Value;

use super::{Reason, Refusal};
use crate::api::iam;
use crate::api::validate::names::{is_account_id, parse_arn};
use crate::api::validate::{Issue, path};
use crate::api::{AwsAccountSpec, KmsKey, ObjectName, PolicySpec};

/// What one account lets its tenants name, and how messages call it.
#[derive(Clone, Copy, Debug)]
pub struct Permitted<'a> {
    /// The `AwsAccount`'s name.
    pub account: &'a str,
    pub spec: &'a AwsAccountSpec,
}

impl Permitted<'_> {
    pub fn allows(&self, account_id: &str) -> bool {
        self.spec.permitted_accounts().contains(&account_id)
    }

    fn listed(&self) -> String {
        self.spec.permitted_accounts().join(", ")
    }

    fn fix_for(&self, account_id: &str) -> String {
        format!(
            "name a principal of a permitted account ({}), or ask the platform team to add {account_id} to spec.permissions.principalAccounts of AwsAccount {}",
            self.listed(),
            self.account
        )
    }
}

/// Collects the refusals of one object.
pub(super) struct Refusals<'a> {
    object: &'a ObjectName,
    permitted: Permitted<'a>,
    pub(super) list: Vec<Refusal>,
}

impl<'a> Refusals<'a> {
    pub(super) fn new(object: &'a ObjectName, permitted: Permitted<'a>) -> Self {
        Refusals { object, permitted, list: Vec::new() }
    }

    pub(super) fn add(&mut self, field: &str, problem: String, fix: String) {
        self.list.push(Refusal::new(Reason::NotPermitted, Issue::new(Some(self.object.clone()), field, problem, fix)));
    }

    /// Refuses `account_id` at `field` unless the account permits it.
    pub(super) fn account(&mut self, field: &str, what: &str, account_id: &str) {
        if !self.permitted.allows(account_id) {
            let problem = format!(
                "{what} is in account {account_id}, which AwsAccount {} does not permit its tenants to name",
                self.permitted.account
            );
            let fix = self.permitted.fix_for(account_id);
            self.add(field, problem, fix);
        }
    }

    pub(super) fn permitted(&self) -> Permitted<'a> {
        self.permitted
    }
}

/// The account an IAM principal ARN belongs to, if it is one.
pub(super) fn arn_account(value: &str) -> Option<&str> {
    parse_arn(value).filter(|arn| matches!(arn.service, "iam" | "sts") && is_account_id(arn.account)).map(|a| a.account)
}

/// Everything a key's spec opens the key to, checked against the account.
pub fn check_key(key: &KmsKey, object: &ObjectName, permitted: Permitted<'_>) -> Vec<Refusal> {
    let mut out = Refusals::new(object, permitted);
    let spec = &key.spec;
    if spec.bypass_policy_lockout_safety_check && !permitted.spec.permissions().bypass_policy_lockout_safety_check {
        out.add(
            "spec.bypassPolicyLockoutSafetyCheck",
            format!(
                "is true, but AwsAccount {} does not permit it: a key that skips the check can be left with a policy nobody may ever change again",
                permitted.account
            ),
            format!(
                "remove spec.bypassPolicyLockoutSafetyCheck, or ask the platform team to set spec.permissions.bypassPolicyLockoutSafetyCheck: true on AwsAccount {}",
                permitted.account
            ),
        );
    }
    if let Some(policy) = &spec.policy {
        check_builder(&mut out, policy);
    }
    if let Some(document) = spec.policy_document.as_deref() {
        // Text that does not parse is validation's to report; nothing in it can be checked.
        if let Ok(document) = serde_json::from_str::<Value>(document) {
            for statement in iam::statements(&document) {
                let label = format!("Statement[{}]", statement.index);
                check_statement(&mut out, "spec.policyDocument", &label, statement);
            }
        }
    }
    out.list
}

fn check_builder(out: &mut Refusals<'_>, policy: &PolicySpec) {
    for (list, principals) in [("administrators", &policy.administrators), ("users", &policy.users)] {
        let field = path::child("spec.policy", list);
        for (i, principal) in principals.iter().enumerate() {
            if let Some(account) = arn_account(principal) {
                out.account(&path::item(&field, i), principal, account);
            }
        }
    }
    for (i, account) in policy.trusted_accounts.iter().enumerate() {
        out.account(&path::item("spec.policy.trustedAccounts", i), "the trusted account", account);
    }
    for (i, service) in policy.services.iter().enumerate() {
        let field = path::child(&path::item("spec.policy.services", i), "callerAccounts");
        for (j, account) in service.caller_accounts.iter().flatten().enumerate() {
            out.account(&path::item(&field, j), "the caller account", account);
        }
    }
    for (i, statement) in policy.statements.iter().enumerate() {
        if let Value::Object(body) = statement.to_json() {
            check_statement(out, &path::item("spec.policy.statements", i), "statement", iam::Statement::alone(&body));
        }
    }
}

pub(super) fn named(label: &str, statement: iam::Statement<'_>) -> String {
    match statement.sid() {
        Some(sid) => format!("{label} (Sid {sid:?})"),
        None => label.to_owned(),
    }
}

/// How a principal id or condition value that is not a string (not IAM) is shown.
pub(super) fn shown(value: Option<&str>) -> &str {
    value.unwrap_or("(not a string)")
}

/// Deny statements only take access away, so only Allow statements are checked.
fn check_statement(out: &mut Refusals<'_>, field: &str, label: &str, statement: iam::Statement<'_>) {
    if !statement.allows() {
        return;
    }
    let label = named(label, statement);
    if statement.has_not_principal() {
        out.add(
            field,
            format!("{label} is an Allow with NotPrincipal, which allows every principal of every account except the ones listed"),
            "name the principals to allow in Principal instead".to_owned(),
        );
    }
    let mut everyone = false;
    for principal in statement.principals() {
        let (kind, value) = (principal.kind, shown(principal.text()));
        match classify(kind, value) {
            Named::Everyone => everyone = true,
            Named::Account(account) => out.account(field, &format!("{label} principal {value}"), account),
            Named::Service => {}
            Named::Unverifiable => out.add(
                field,
                format!("{label} names the {kind} principal {value:?}, which cannot be tied to a permitted account"),
                "name IAM roles, users or account roots by ARN or account id (or AWS services by their service principal)".to_owned(),
            ),
        }
    }
    if everyone {
        check_pinned(out, field, &label, statement);
    }
}

pub(super) enum Named<'a> {
    Everyone,
    Account(&'a str),
    Service,
    Unverifiable,
}

pub(super) fn classify<'a>(kind: &str, value: &'a str) -> Named<'a> {
    match kind {
        "AWS" if value == "*" => Named::Everyone,
        "AWS" if is_account_id(value) => Named::Account(value),
        "AWS" | "Federated" => arn_account(value).map_or(Named::Unverifiable, Named::Account),
        "Service" => Named::Service,
        _ => Named::Unverifiable,
    }
}

/// Condition keys that say which account the caller is in.
pub(super) const ACCOUNT_KEYS: [&str; 2] = ["kms:calleraccount", "aws:principalaccount"];
pub(super) const ARN_KEY: &str = "aws:principalarn";

/// An Allow to `"*"` must be pinned to permitted accounts by a condition that holds only for
/// callers in them: a positive string or ARN match (not `ForAllValues:`, which holds for a
/// missing key, nor `...IfExists`) on the caller's account or ARN, with every value permitted.
fn check_pinned(out: &mut Refusals<'_>, field: &str, label: &str, statement: iam::Statement<'_>) {
    let mut pinned = false;
    for condition in statement.condition_values() {
        let (operator, value) = (condition.operator, shown(condition.text()));
        let key = condition.key.to_ascii_lowercase();
        let account_key = ACCOUNT_KEYS.contains(&key.as_str());
        if !account_key && key != ARN_KEY {
            continue;
        }
        let base = operator.strip_prefix("ForAnyValue:").unwrap_or(operator);
        let positive =
            matches!(base, "StringEquals" | "StringEqualsIgnoreCase" | "StringLike" | "ArnEquals" | "ArnLike");
        if !positive {
            continue;
        }
        pinned = true;
        let account = if account_key { Some(value).filter(|v| is_account_id(v)) } else { arn_account(value) };
        match account {
            Some(account) => out.account(field, &format!("{label} condition {key} {value}"), account),
            None => out.add(
                field,
                format!("{label} allows \"*\" with {operator} {key} {value:?}, which does not name one account"),
                format!(
                    "write the exact account id (or an ARN with an exact account id) of a permitted account: {}",
                    out.permitted().listed()
                ),
            ),
        }
    }
    if !pinned {
        out.add(
            field,
            format!("{label} allows every AWS principal (\"*\") and no condition limits the callers to permitted accounts"),
            format!(
                "name the principals instead of \"*\", or add a condition such as StringEquals kms:CallerAccount with permitted accounts ({})",
                out.permitted().listed()
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Kind;

    const OWN: &str = "484357440923";
    const PARTNER: &str = "339712836516";
    const STRANGER: &str = "999988887777";

    fn account(extra: serde_json::Value) -> AwsAccountSpec {
        let mut spec = serde_json::json!({"accountId": OWN, "region": "eu-west-1", "permissions": {"principalAccounts": [PARTNER]}});
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        serde_json::from_value(spec).unwrap()
    }

    fn key(spec: serde_json::Value) -> KmsKey {
        let mut full = serde_json::json!({"accountRef": "sec"});
        if let (Some(full), Some(spec)) = (full.as_object_mut(), spec.as_object()) {
            full.extend(spec.clone());
        }
        let mut key = KmsKey::new("k", serde_json::from_value(full).unwrap());
        key.metadata.namespace = Some("team-b".into());
        key
    }

    fn refusals(spec: serde_json::Value) -> Vec<Refusal> {
        refusals_in(spec, &account(serde_json::json!({})))
    }

    fn refusals_in(spec: serde_json::Value, account: &AwsAccountSpec) -> Vec<Refusal> {
        let key = key(spec);
        let object = ObjectName::of(Kind::KmsKey, &key.metadata);
        check_key(&key, &object, Permitted { account: "sec", spec: account })
    }

    fn fields(refusals: &[Refusal]) -> Vec<&str> {
        refusals.iter().map(|r| r.issue.field.as_str()).collect()
    }

    fn document(statement: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"policyDocument": serde_json::json!({"Version": "2012-10-17", "Statement": [statement]}).to_string()})
    }

    #[test]
    fn own_and_partner_accounts_pass_everywhere_in_the_builder() {
        let spec = serde_json::json!({"policy": {
            "administrators": [format!("arn:aws:iam::{OWN}:role/Admin")],
            "users": [format!("arn:aws:iam::{PARTNER}:role/app")],
            "trustedAccounts": [PARTNER],
            "services": [{"name": "rds", "callerAccounts": [PARTNER, OWN]}],
        }});
        assert!(refusals(spec).is_empty());
    }

    #[test]
    fn a_stranger_anywhere_in_the_builder_is_refused_where_it_is_written() {
        let spec = serde_json::json!({"policy": {
            "administrators": [format!("arn:aws:iam::{STRANGER}:role/Admin")],
            "users": [format!("arn:aws:sts::{STRANGER}:assumed-role/app/s")],
            "trustedAccounts": [PARTNER, STRANGER],
            "services": [{"name": "rds", "callerAccounts": [STRANGER]}],
        }});
        let found = refusals(spec);
        assert_eq!(
            fields(&found),
            vec![
                "spec.policy.administrators[0]",
                "spec.policy.users[0]",
                "spec.policy.trustedAccounts[1]",
                "spec.policy.services[0].callerAccounts[0]"
            ]
        );
        let text = found[2].issue.to_string();
        assert!(
            text.starts_with(
                "KmsKey team-b/k: spec.policy.trustedAccounts[1]: the trusted account is in account 999988887777"
            ),
            "{text}"
        );
        assert!(
            text.contains(&format!("{OWN}, {PARTNER}")) && text.contains("spec.permissions.principalAccounts"),
            "{text}"
        );
        assert!(found.iter().all(|r| r.reason == Reason::NotPermitted));
    }

    #[test]
    fn without_principal_accounts_only_the_owner_may_be_named() {
        let bare: AwsAccountSpec =
            serde_json::from_value(serde_json::json!({"accountId": OWN, "region": "eu-west-1"})).unwrap();
        let found = refusals_in(serde_json::json!({"policy": {"trustedAccounts": [PARTNER]}}), &bare);
        assert_eq!(fields(&found), vec!["spec.policy.trustedAccounts[0]"]);
        assert!(refusals_in(serde_json::json!({"policy": {"trustedAccounts": [OWN]}}), &bare).is_empty());
    }

    #[test]
    fn document_principals_by_id_arn_and_federation() {
        for principal in [
            serde_json::json!({"AWS": STRANGER}),
            serde_json::json!({"AWS": format!("arn:aws:iam::{STRANGER}:root")}),
            serde_json::json!({"AWS": [format!("arn:aws:iam::{OWN}:root"), format!("arn:aws-cn:iam::{STRANGER}:role/x")]}),
            serde_json::json!({"Federated": format!("arn:aws:iam::{STRANGER}:saml-provider/corp")}),
        ] {
            let found = refusals(document(
                serde_json::json!({"Sid": "S", "Effect": "Allow", "Principal": principal, "Action": "kms:Decrypt", "Resource": "*"}),
            ));
            assert_eq!(fields(&found), vec!["spec.policyDocument"], "{principal}");
            assert!(found[0].issue.problem.contains("Statement[0] (Sid \"S\") principal"), "{}", found[0].issue);
        }
        let fine = serde_json::json!({"Effect": "Allow", "Principal": {"AWS": [PARTNER, format!("arn:aws:iam::{OWN}:role/x")], "Service": "logs.eu-west-1.amazonaws.com"}, "Action": "kms:Decrypt", "Resource": "*"});
        assert!(refusals(document(fine)).is_empty());
    }

    #[test]
    fn deny_statements_may_name_anyone() {
        let deny = serde_json::json!({"Effect": "Deny", "Principal": {"AWS": STRANGER}, "NotPrincipal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"});
        assert!(refusals(document(deny)).is_empty());
    }

    #[test]
    fn allow_with_not_principal_is_refused() {
        let statement = serde_json::json!({"Effect": "Allow", "NotPrincipal": {"AWS": format!("arn:aws:iam::{OWN}:root")}, "Action": "kms:Decrypt", "Resource": "*"});
        let found = refusals(document(statement));
        assert!(found[0].issue.problem.contains("Allow with NotPrincipal"), "{}", found[0].issue);
    }

    #[test]
    fn unverifiable_principals_are_refused() {
        for principal in [
            serde_json::json!({"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}),
            serde_json::json!({"Federated": "cognito-identity.amazonaws.com"}),
            serde_json::json!({"AWS": "AROAEXAMPLEID123456"}),
        ] {
            let statement = serde_json::json!({"Effect": "Allow", "Principal": principal, "Action": "kms:Decrypt", "Resource": "*"});
            let found = refusals(document(statement));
            assert!(found[0].issue.problem.contains("cannot be tied to a permitted account"), "{}", found[0].issue);
        }
    }

    #[test]
    fn everyone_needs_a_condition_pinning_permitted_accounts() {
        let open = |condition: serde_json::Value| {
            refusals(document(
                serde_json::json!({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*", "Condition": condition}),
            ))
        };
        assert!(open(serde_json::json!({"StringEquals": {"kms:CallerAccount": [OWN, PARTNER]}})).is_empty());
        assert!(open(serde_json::json!({"StringEquals": {"aws:PrincipalAccount": OWN}, "StringLike": {"kms:ViaService": "rds.*"}})).is_empty());
        assert!(
            open(serde_json::json!({"ArnLike": {"aws:PrincipalArn": format!("arn:aws:iam::{PARTNER}:role/app-*")}}))
                .is_empty()
        );
        // A trivial condition, or one that does not pin the account, opens the key to everyone.
        for trivial in [
            serde_json::json!({"Bool": {"aws:SecureTransport": "true"}}),
            serde_json::json!({"StringLike": {"kms:ViaService": "*"}}),
            serde_json::json!({"ForAllValues:StringEquals": {"kms:CallerAccount": OWN}}),
            serde_json::json!({"StringEqualsIfExists": {"kms:CallerAccount": OWN}}),
            serde_json::json!({"StringNotEquals": {"kms:CallerAccount": OWN}}),
            serde_json::json!({"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}),
        ] {
            let found = open(trivial.clone());
            assert!(found.iter().any(|r| r.issue.problem.contains("no condition limits")), "{trivial}: {found:?}");
        }
        let stranger = open(serde_json::json!({"StringEquals": {"kms:CallerAccount": [OWN, STRANGER]}}));
        assert!(
            stranger[0].issue.problem.contains("kms:calleraccount 999988887777 is in account 999988887777"),
            "{}",
            stranger[0].issue
        );
        let wildcard = open(serde_json::json!({"StringLike": {"kms:CallerAccount": "*"}}));
        assert!(wildcard[0].issue.problem.contains("does not name one account"), "{}", wildcard[0].issue);
    }

    #[test]
    fn bypassing_the_lockout_check_needs_the_account_to_permit_it() {
        let found = refusals(serde_json::json!({"bypassPolicyLockoutSafetyCheck": true}));
        assert_eq!(fields(&found), vec!["spec.bypassPolicyLockoutSafetyCheck"]);
        assert!(found[0].issue.fix.contains("spec.permissions.bypassPolicyLockoutSafetyCheck: true"));
        let permitting = account(serde_json::json!({"permissions": {"bypassPolicyLockoutSafetyCheck": true}}));
        assert!(refusals_in(serde_json::json!({"bypassPolicyLockoutSafetyCheck": true}), &permitting).is_empty());
    }
}
