//! `Namespace` manifests (`apiVersion: v1`) in a local run: they carry the labels that the
//! accounts' namespace selectors match, as a cluster's Namespaces would. Nothing else of them
//! is used.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use serde_yaml_ng::Value;

use super::Source;
use crate::api::decoding;
use crate::api::validate::Issue;
use crate::api::validate::names::is_dns_label;

/// A namespace's name and labels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamespaceManifest {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// Whether a document is a core `Namespace`.
pub(super) fn is_namespace(value: &Value) -> bool {
    value.get("apiVersion").and_then(Value::as_str) == Some("v1")
        && value.get("kind").and_then(Value::as_str) == Some("Namespace")
}

/// The namespace, or an issue saying why it cannot be read.
pub(super) fn decode_namespace(value: Value, source: &Source, issues: &mut Vec<Issue>) -> Option<NamespaceManifest> {
    let at = |field: &str, problem: String, fix: &str| {
        Issue::new(None, field, problem, fix).in_file(&source.file, source.line_of(field))
    };
    let namespace: Namespace = match decoding::decode(value, None) {
        Ok(namespace) => namespace,
        Err(mut issue) => {
            issue.problem = format!("the Namespace cannot be read: {}", issue.problem);
            issues.push(source.locate(*issue));
            return None;
        }
    };
    let name = namespace.metadata.name.unwrap_or_default();
    if !is_dns_label(&name) {
        issues.push(at(
            "metadata.name",
            format!("Namespace name {name:?} is not a valid namespace name"),
            "use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters",
        ));
        return None;
    }
    Some(NamespaceManifest { name, labels: namespace.metadata.labels.unwrap_or_default() })
}
