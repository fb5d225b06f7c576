//! Which namespaces an account admits (`allowedNamespaces`) and which may adopt keys the
//! operator did not create (`permissions.adoptionNamespaces`). An absent selector selects no
//! namespace; `{}` selects every one.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::core::{Selector, SelectorExt};

use super::{Labels, Reason, Refusal};
use crate::api::validate::Issue;
use crate::api::{AwsAccountSpec, ObjectName};

/// Whether `selector` selects a namespace with `labels`. Absent selects nothing, and so does
/// a selector Kubernetes could not parse (account validation reports it): failing closed.
pub fn selects(selector: Option<&LabelSelector>, labels: &Labels) -> bool {
    selector.is_some_and(|selector| Selector::try_from(selector.clone()).is_ok_and(|parsed| parsed.matches(labels)))
}

fn shown(selector: &LabelSelector) -> String {
    serde_json::to_string(selector).unwrap_or_else(|_| "(unprintable selector)".to_owned())
}

fn shown_labels(labels: &Labels) -> String {
    if labels.is_empty() {
        return "no labels".to_owned();
    }
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("labels {}", pairs.join(", "))
}

/// Why `object`'s namespace may not use the account `account` (named so in messages), if it
/// may not.
pub fn namespace_refusal(
    object: &ObjectName,
    account: &str,
    spec: &AwsAccountSpec,
    labels: &Labels,
) -> Option<Refusal> {
    let namespace = object.namespace.as_deref().unwrap_or("default");
    if selects(spec.allowed_namespaces.as_ref(), labels) {
        return None;
    }
    let (problem, fix) = match &spec.allowed_namespaces {
        None => (
            format!(
                "namespace {namespace} may not use AwsAccount {account}: its spec.allowedNamespaces is not set, which admits no namespace"
            ),
            format!(
                "ask the platform team to set spec.allowedNamespaces on AwsAccount {account} to a label selector that selects namespace {namespace} ({{}} admits every namespace)"
            ),
        ),
        Some(selector) => (
            format!(
                "namespace {namespace} may not use AwsAccount {account}: its {} do not match spec.allowedNamespaces {}",
                shown_labels(labels),
                shown(selector)
            ),
            format!(
                "label namespace {namespace} to match, or ask the platform team to admit it in AwsAccount {account}"
            ),
        ),
    };
    Some(Refusal::new(
        Reason::NamespaceNotAllowed,
        Issue::new(Some(object.clone()), "metadata.namespace", problem, fix),
    ))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;
    use crate::api::Kind;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn spec(allowed: Option<LabelSelector>) -> AwsAccountSpec {
        let mut spec: AwsAccountSpec =
            serde_json::from_value(serde_json::json!({"accountId": "484357440923", "region": "eu-west-1"})).unwrap();
        spec.allowed_namespaces = allowed;
        spec
    }

    fn key_in(namespace: &str) -> ObjectName {
        ObjectName::new(Kind::KmsKey, Some(namespace), "k")
    }

    #[test]
    fn an_absent_selector_admits_no_namespace_and_says_how_to_change_that() {
        let refusal = namespace_refusal(&key_in("apps"), "sec", &spec(None), &labels(&[])).expect("refused");
        assert_eq!(refusal.reason, Reason::NamespaceNotAllowed);
        let text = refusal.issue.to_string();
        assert!(
            text.starts_with("KmsKey apps/k: metadata.namespace: namespace apps may not use AwsAccount sec"),
            "{text}"
        );
        assert!(text.contains("admits no namespace") && text.contains("{} admits every namespace"), "{text}");
    }

    #[test]
    fn an_empty_selector_admits_every_namespace() {
        assert!(
            namespace_refusal(&key_in("apps"), "sec", &spec(Some(LabelSelector::default())), &labels(&[])).is_none()
        );
    }

    #[test]
    fn labels_and_expressions_are_honoured() {
        let selector = LabelSelector {
            match_labels: Some(labels(&[("kmsoperator.dev/tenant", "platform")])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "env".into(),
                operator: "In".into(),
                values: Some(vec!["prod".into(), "stage".into()]),
            }]),
        };
        let account = spec(Some(selector));
        let both = labels(&[("kmsoperator.dev/tenant", "platform"), ("env", "prod")]);
        assert!(namespace_refusal(&key_in("ok"), "sec", &account, &both).is_none());
        let refusal =
            namespace_refusal(&key_in("apps"), "sec", &account, &labels(&[("kmsoperator.dev/tenant", "platform")]))
                .expect("refused");
        assert!(refusal.issue.problem.contains("labels kmsoperator.dev/tenant=platform do not match"), "{refusal}");
    }

    #[test]
    fn a_selector_kubernetes_cannot_parse_selects_nothing() {
        let broken = LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "Equals".into(),
                values: Some(vec!["x".into()]),
            }]),
        };
        assert!(!selects(Some(&broken), &labels(&[("a", "x")])));
        assert!(!selects(None, &labels(&[("a", "x")])));
    }
}
