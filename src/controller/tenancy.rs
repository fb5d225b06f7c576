//! Which namespaces may use an `AwsAccount`: its `allowedNamespaces` label selector, matched
//! against the namespace's labels before any call to AWS.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::core::{Selector, SelectorExt};

/// `Ok(())` when `namespace` (with `labels`) may use the account, else the reason it may not.
pub fn admitted(
    account: &str,
    selector: Option<&LabelSelector>,
    namespace: &str,
    labels: &BTreeMap<String, String>,
) -> Result<(), String> {
    let Some(selector) = selector else {
        return Ok(());
    };
    let parsed = Selector::try_from(selector.clone())
        .map_err(|e| format!("AwsAccount {account} has an invalid spec.allowedNamespaces: {e}"))?;
    if parsed.matches(labels) {
        return Ok(());
    }
    let wanted = serde_json::to_string(selector).unwrap_or_default();
    Err(format!(
        "namespace {namespace} may not use AwsAccount {account}: its labels do not match spec.allowedNamespaces {wanted}; label the namespace or ask the platform team to allow it"
    ))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn no_selector_admits_every_namespace() {
        assert!(admitted("sec", None, "anything", &BTreeMap::new()).is_ok());
    }

    #[test]
    fn match_labels_and_expressions_are_honoured() {
        let selector = LabelSelector {
            match_labels: Some(labels(&[("kmsoperator.dev/tenant", "platform")]).into_iter().collect()),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "env".into(),
                operator: "In".into(),
                values: Some(vec!["prod".into(), "stage".into()]),
            }]),
        };
        assert!(
            admitted("sec", Some(&selector), "ok", &labels(&[("kmsoperator.dev/tenant", "platform"), ("env", "prod")]))
                .is_ok()
        );
        let refused =
            admitted("sec", Some(&selector), "apps", &labels(&[("kmsoperator.dev/tenant", "platform")])).unwrap_err();
        assert!(refused.contains("namespace apps may not use AwsAccount sec"), "{refused}");
    }
}
