//! Taking over what the operator did not create is the platform team's to allow: a `KmsAlias`
//! with `spec.adopt: true` may take over an existing alias only from a namespace the account's
//! `permissions.adoptionNamespaces` selects.

use super::{Reason, Refusal};
use crate::api::ObjectName;
use crate::api::validate::Issue;

/// The refusal of `spec.adopt: true` from a namespace that may not adopt.
pub fn alias_adoption_refusal(object: &ObjectName, account: &str) -> Refusal {
    let namespace = object.namespace.as_deref().unwrap_or("default");
    Refusal::new(
        Reason::NotPermitted,
        Issue::new(
            Some(object.clone()),
            "spec.adopt",
            format!(
                "is true, but AwsAccount {account} lets only the namespaces of its spec.permissions.adoptionNamespaces take over aliases the operator did not create, and they do not include {namespace}"
            ),
            format!(
                "remove spec.adopt and choose an alias name nobody holds, or ask the platform team to add namespace {namespace} to spec.permissions.adoptionNamespaces"
            ),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Kind;

    #[test]
    fn the_refusal_names_the_field_the_account_and_the_fix() {
        let object = ObjectName::new(Kind::KmsAlias, Some("team-b"), "legacy");
        let refusal = alias_adoption_refusal(&object, "sec");
        assert_eq!(refusal.reason, Reason::NotPermitted);
        let text = refusal.issue.to_string();
        assert!(text.starts_with("KmsAlias team-b/legacy: spec.adopt: is true, but AwsAccount sec"), "{text}");
        assert!(text.contains("do not include team-b. Fix: remove spec.adopt"), "{text}");
    }
}
