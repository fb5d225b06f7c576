//! Rules on `metadata` that every kind shares.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::issue::{Issues, quote};
use super::names::{is_dns_label, is_dns_subdomain};
use crate::api::{Kind, ObjectName};

/// Starts the issue list of one object, with the checks on its name and namespace.
pub(crate) fn issues_for(kind: Kind, meta: &ObjectMeta) -> Issues {
    let name = meta.name.as_deref().unwrap_or_default();
    let namespace = meta.namespace.as_deref();
    let mut issues = Issues::new(ObjectName::new(kind, namespace, name));

    if name.is_empty() {
        issues.add(
            "metadata.name",
            "is missing",
            format!("give the {kind} a name, e.g. metadata: {{name: my-{}}}", kind.as_str().to_lowercase()),
        );
    } else if !is_dns_subdomain(name) {
        issues.add(
            "metadata.name",
            format!("{} is not a valid Kubernetes name", quote(name)),
            "use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters",
        );
    }

    match namespace {
        Some(ns) if !kind.is_namespaced() => issues.add(
            "metadata.namespace",
            format!("{kind} is cluster-scoped but has namespace {}", quote(ns)),
            "remove metadata.namespace",
        ),
        Some(ns) if !is_dns_label(ns) => issues.add(
            "metadata.namespace",
            format!("{} is not a valid namespace name", quote(ns)),
            "use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters",
        ),
        _ => {}
    }
    issues
}
