//! Who a grant gives access to, and which account's keys an alias or grant may point at.

use super::Refusal;
use super::principals::{Permitted, Refusals, arn_account};
use crate::api::validate::names::parse_key_target;
use crate::api::{KeyPointer, KmsGrant, ObjectName};

/// A grant's grantee and retiring principal must be in permitted accounts, and it may not hand
/// on `CreateGrant`: a grantee that can create grants can pass the access to any principal of
/// any account, out of reach of these rules.
pub fn check_grant(grant: &KmsGrant, object: &ObjectName, permitted: Permitted<'_>) -> Vec<Refusal> {
    let mut out = Refusals::new(object, permitted);
    let spec = &grant.spec;
    let principals = [
        ("spec.granteePrincipal", Some(spec.grantee_principal.as_str())),
        ("spec.retiringPrincipal", spec.retiring_principal.as_deref()),
    ];
    for (field, principal) in principals {
        if let Some((principal, account)) = principal.and_then(|p| arn_account(p).map(|a| (p, a))) {
            out.account(field, principal, account);
        }
    }
    if let Some(i) = spec.operations.iter().position(|op| op == "CreateGrant") {
        out.add(
            &format!("spec.operations[{i}]"),
            "CreateGrant would let the grantee create grants of its own, for any principal in any account, beyond what the account permits".to_owned(),
            "list the operations the grantee itself needs; services that hold keys through grants (EBS, RDS) get CreateGrant from the key policy's services".to_owned(),
        );
    }
    out.list.extend(check_target_account(object, &spec.pointer(), permitted));
    out.list
}

/// A `targetKeyId` written as an ARN must name a key of the account `accountRef` names: the
/// operator acts on keys of that account only.
pub fn check_target_account(object: &ObjectName, pointer: &KeyPointer<'_>, permitted: Permitted<'_>) -> Vec<Refusal> {
    let mut out = Refusals::new(object, permitted);
    let arn = pointer.target_key_id.and_then(parse_key_target).and_then(|target| target.arn);
    if let Some(arn) = arn.filter(|arn| arn.account != permitted.spec.account_id) {
        out.add(
            "spec.targetKeyId",
            format!(
                "is a key in account {}, but AwsAccount {} is account {}",
                arn.account, permitted.account, permitted.spec.account_id
            ),
            "point spec.accountRef at the AwsAccount of the key's account, or name a key of this account".to_owned(),
        );
    }
    out.list
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tenancy::Reason;
    use crate::api::{AwsAccountSpec, Kind};

    const OWN: &str = "484357440923";
    const PARTNER: &str = "339712836516";
    const STRANGER: &str = "999988887777";
    const KEY: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    fn account() -> AwsAccountSpec {
        serde_json::from_value(serde_json::json!({"accountId": OWN, "region": "eu-west-1", "permissions": {"principalAccounts": [PARTNER]}}))
            .unwrap()
    }

    fn check(spec: serde_json::Value) -> Vec<Refusal> {
        let mut grant = KmsGrant::new("g", serde_json::from_value(spec).unwrap());
        grant.metadata.namespace = Some("team-b".into());
        let object = ObjectName::of(Kind::KmsGrant, &grant.metadata);
        let account = account();
        check_grant(&grant, &object, Permitted { account: "sec", spec: &account })
    }

    fn grant(grantee: &str, operations: &[&str]) -> serde_json::Value {
        serde_json::json!({"keyRef": {"name": "k"}, "name": "g", "granteePrincipal": grantee, "operations": operations})
    }

    #[test]
    fn grantees_of_permitted_accounts_pass() {
        assert!(check(grant(&format!("arn:aws:iam::{PARTNER}:role/app"), &["Decrypt"])).is_empty());
    }

    #[test]
    fn a_grantee_or_retiring_principal_of_another_account_is_refused() {
        let mut spec = grant(&format!("arn:aws:iam::{STRANGER}:role/app"), &["Decrypt"]);
        spec["retiringPrincipal"] = serde_json::json!(format!("arn:aws:iam::{STRANGER}:root"));
        let found = check(spec);
        let fields: Vec<&str> = found.iter().map(|r| r.issue.field.as_str()).collect();
        assert_eq!(fields, vec!["spec.granteePrincipal", "spec.retiringPrincipal"]);
        assert!(found.iter().all(|r| r.reason == Reason::NotPermitted));
    }

    #[test]
    fn create_grant_is_never_handed_on() {
        let found = check(grant(&format!("arn:aws:iam::{OWN}:role/app"), &["Decrypt", "CreateGrant"]));
        assert_eq!(found[0].issue.field, "spec.operations[1]");
        assert!(found[0].issue.problem.contains("any principal in any account"), "{}", found[0].issue);
    }

    #[test]
    fn a_target_arn_in_another_account_is_refused() {
        let spec = serde_json::json!({"targetKeyId": format!("arn:aws:kms:eu-west-1:{STRANGER}:key/{KEY}"), "accountRef": "sec", "name": "g", "granteePrincipal": format!("arn:aws:iam::{OWN}:role/app"), "operations": ["Decrypt"]});
        let found = check(spec);
        assert_eq!(found[0].issue.field, "spec.targetKeyId");
        assert!(found[0].issue.problem.contains("account 999988887777, but AwsAccount sec is account 484357440923"));
        let own = serde_json::json!({"targetKeyId": format!("arn:aws:kms:eu-west-1:{OWN}:key/{KEY}"), "accountRef": "sec", "name": "g", "granteePrincipal": format!("arn:aws:iam::{OWN}:role/app"), "operations": ["Decrypt"]});
        assert!(check(own).is_empty());
    }
}
